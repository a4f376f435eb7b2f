"""Decoding uploads and files: every bad input is a clear ImageError, every good layout becomes BGR uint8."""
from __future__ import annotations

import os
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest

from webapp.decode import ImageError, decode_image, decode_scaled, image_size, load_image, read_file


def encode(img: np.ndarray, ext: str, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok
    return buf.tobytes()


@pytest.fixture
def photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "ext, params",
    [(".png", ()), (".jpg", ()), (".webp", (cv2.IMWRITE_WEBP_QUALITY, 80)), (".webp", (cv2.IMWRITE_WEBP_QUALITY, 101))],
    ids=["png", "jpeg", "webp-lossy", "webp-lossless"],
)
def test_header_size_matches_the_decoded_image(photo, ext, params):
    data = encode(photo, ext, *params)
    _, width, height = image_size(data)
    assert (width, height) == (50, 30)
    assert decode_image(data).shape == (30, 50, 3)


def test_empty_input_is_refused():
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")


def test_undecodable_bytes_are_refused():
    with pytest.raises(ImageError, match="not a JPEG, PNG or WebP"):
        decode_image(b"GIF89a this is not one of ours" * 10)


def test_a_png_cut_after_its_header_is_refused(photo):
    data = encode(photo, ".png")
    with pytest.raises(ImageError):
        decode_image(data[:60])


def test_a_jpeg_without_a_frame_header_is_refused():
    with pytest.raises(ImageError, match="JPEG"):
        decode_image(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 7)


def _png_claiming(width: int, height: int) -> bytes:
    """A small, valid-looking PNG whose header claims a huge size (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk)) + b"\x00" * 64


def test_a_huge_png_is_refused_from_its_header_alone():
    with pytest.raises(ImageError, match="40000x30000 = 1200 MP; the limit is 25 MP"):
        decode_image(_png_claiming(40000, 30000))


def test_an_image_just_over_the_limit_does_not_claim_to_be_the_limit():
    with pytest.raises(ImageError, match="= 25.005 MP; the limit is 25.000 MP"):
        decode_image(_png_claiming(5001, 5000))


def test_a_huge_jpeg_is_refused_from_its_header_alone(photo):
    data = bytearray(encode(photo, ".jpg"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 20000, 20000)  # height, width
    with pytest.raises(ImageError, match="20000x20000"):
        decode_image(bytes(data))


def test_pixel_and_byte_limits_are_parameters(photo):
    data = encode(photo, ".png")
    with pytest.raises(ImageError, match="limit"):
        decode_image(data, max_pixels=1000)
    with pytest.raises(ImageError, match="bytes; the limit"):
        decode_image(data, max_bytes=10)


@pytest.fixture
def big_jpeg() -> bytes:
    """A 400x300 JPEG: gray bands, so a smaller decode can be compared with the full one."""
    img = np.repeat(np.linspace(0, 250, 400, dtype=np.uint8)[None, :, None], 300, axis=0).repeat(3, axis=2)
    return encode(img, ".jpg", cv2.IMWRITE_JPEG_QUALITY, 95)


def test_a_jpeg_over_the_pixel_limit_is_decoded_at_the_largest_fraction_under_it(big_jpeg):
    half, factor = decode_scaled(big_jpeg, max_pixels=40_000)  # 120,000 pixels; a half is 30,000
    assert factor == 2 and half.shape == (150, 200, 3)
    quarter, factor = decode_scaled(big_jpeg, max_pixels=20_000, gray=True)
    assert factor == 4 and quarter.shape == (75, 100)
    full = decode_image(big_jpeg)
    assert abs(int(half[75, 100, 0]) - int(full[150, 200, 0])) <= 3  # the same picture, smaller
    assert decode_scaled(big_jpeg)[1] == 1  # under the limit: decoded whole


def test_shrinking_is_for_jpegs_only_and_has_a_floor(big_jpeg):
    with pytest.raises(ImageError, match="MP even at 1/8 of its size: send it smaller"):
        decode_scaled(big_jpeg, max_pixels=1_000)  # 1/8 would still be 50x38
    with pytest.raises(ImageError, match="limit"):
        decode_image(big_jpeg, max_pixels=40_000)  # decode_image keeps every pixel or refuses
    with pytest.raises(ImageError, match="1200 MP; the limit is 25 MP:"):
        decode_scaled(_png_claiming(40000, 30000))  # PNG cannot be decoded smaller: its header is enough


def test_a_progressive_jpeg_over_the_limit_is_refused_not_shrunk(big_jpeg):
    """libjpeg holds all of a progressive JPEG's coefficients, whatever size it outputs."""
    progressive = encode(decode_image(big_jpeg), ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    with pytest.raises(ImageError, match=r"MP: send it smaller") as refused:
        decode_scaled(progressive, max_pixels=40_000)  # the baseline file is decoded at half size (above)
    assert "1/8" not in str(refused.value)
    assert decode_scaled(progressive)[1] == 1


def test_a_one_pixel_image_decodes():
    assert decode_image(encode(np.zeros((1, 1, 3), np.uint8), ".png")).shape == (1, 1, 3)


def test_grayscale_png_becomes_three_channels():
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    out = decode_image(encode(gray, ".png"))
    assert out.shape == (5, 25, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :, 0], gray) and np.array_equal(out[:, :, 2], gray)


def test_transparent_pixels_of_an_rgba_png_become_white_paper():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[2:8, 4:6] = (20, 20, 20, 255)  # an opaque dark stroke on a clear background
    out = decode_image(encode(rgba, ".png"))
    assert out.shape == (10, 10, 3)
    assert (out[0, 0] == 255).all() and (out[5, 5] == 20).all()


def test_sixteen_bit_png_is_scaled_to_eight_bits():
    deep = np.full((4, 4, 3), 65535, np.uint16)
    deep[0, 0] = (0, 32896, 65535)
    out = decode_image(encode(deep, ".png"))
    assert out.dtype == np.uint8
    assert tuple(out[0, 0]) == (0, 128, 255) and (out[3, 3] == 255).all()


def test_load_image_reports_a_missing_file_without_its_directory(tmp_path):
    with pytest.raises(ImageError, match="cannot read missing.png"):
        load_image(tmp_path / "missing.png")


def test_read_file_refuses_a_folder_and_a_device_and_stops_a_pipe_at_the_limit(tmp_path, photo):
    """/dev/zero was read until memory ran out; a pipe is read, as `cat x.png | digitcam read /dev/stdin`."""
    with pytest.raises(ImageError, match="is a folder"):
        read_file(tmp_path)
    with pytest.raises(ImageError, match="is a device"):
        read_file("/dev/zero")
    picture = encode(photo, ".png")
    for body, limit in ((picture, len(picture)), (picture, len(picture) - 1)):
        r, w = os.pipe()
        writer = threading.Thread(target=lambda: (os.write(w, body), os.close(w)))
        writer.start()
        try:
            if limit < len(body):
                with pytest.raises(ImageError, match="more than the limit"):
                    read_file(f"/dev/fd/{r}", max_bytes=limit)
            else:
                assert read_file(f"/dev/fd/{r}", max_bytes=limit) == body
        finally:
            writer.join()
            os.close(r)


def test_load_image_reads_a_file(tmp_path, photo):
    path = tmp_path / "p.jpg"
    path.write_bytes(encode(photo, ".jpg"))
    assert load_image(path).shape == (30, 50, 3)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_gray_decoding_gives_the_gray_of_the_colour_image(photo, ext):
    data = encode(cv2.GaussianBlur(photo, (5, 5), 0), ext)
    gray = decode_image(data, gray=True)
    assert gray.shape == (30, 50) and gray.dtype == np.uint8
    expected = cv2.cvtColor(decode_image(data), cv2.COLOR_BGR2GRAY)
    assert np.abs(gray.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("depth", [8, 16])
def test_partly_transparent_ink_is_blended_onto_white_paper(depth):
    """Black ink at alpha a shows as 255 * (1 - a): at half alpha, mid gray."""
    alphas = np.array([0, 64, 128, 191, 255])
    rgba = np.zeros((1, 5, 4), np.uint16 if depth == 16 else np.uint8)
    rgba[0, :, 3] = alphas * 257 if depth == 16 else alphas
    out = decode_image(encode(rgba, ".png"))
    assert out[0, :, 0].tolist() == [255, 191, 127, 64, 0]  # round(255 - a), all three channels alike
    assert (out[0, :, 0] == out[0, :, 2]).all()
