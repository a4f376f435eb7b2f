"""Bytes -> BGR image, with size, pixel and format limits checked before the costly decode.

OpenCV cannot read an image's size without decoding all of it, so the dimensions are read from
the PNG, JPEG or WebP header here first: a small file that claims 100 megapixels (a
"decompression bomb") is refused before any memory is spent on it. A baseline JPEG over the
limit may instead be decoded at 1/2, 1/4 or 1/8 of its size (decode_scaled): libjpeg scales in
the DCT, row by row, so only the small image is held, and a phone's 50 MP photo still reads. A
progressive JPEG is not: libjpeg keeps every coefficient of the whole picture (a 5 kB file
claiming 1,600 MP took 4.7 GB), so over the limit it is refused.
"""
from __future__ import annotations

import stat
import struct
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

MAX_BYTES = 16_000_000  # bigger uploads are refused unread
MAX_PIXELS = 25_000_000  # about a 6000x4000 phone photo; more is refused before decoding

JPEG_SCALES = {2: (cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_GRAYSCALE_2),  # factor: (colour, gray)
               4: (cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
               8: (cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_GRAYSCALE_8)}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_JPEG_BASELINE = {0xC0, 0xC1}  # sequential Huffman: decoded row by row, so it can be decoded smaller
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # markers with no length field


class ImageError(ValueError):
    """The input is not an image digitcam will read; the message is fit to show a user."""


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ImageError("truncated PNG: no image header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    return _jpeg_frame(data)[1:]


def _jpeg_frame(data: bytes) -> tuple[int, int, int]:
    """The JPEG's start-of-frame marker (its coding: baseline, progressive, ...), width and height."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ImageError("damaged JPEG: bad marker before the image header")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return marker, width, height
        if marker == 0xDA or length < 2:  # start of scan before any frame header
            break
        pos += 2 + length
    raise ImageError("truncated or damaged JPEG: no frame header")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise ImageError("truncated or damaged WebP: no image header")


def image_size(data: bytes) -> tuple[str, int, int]:
    """Return (format, width, height) from the header alone; ImageError if it is not PNG/JPEG/WebP."""
    if data.startswith(_PNG_SIGNATURE):
        return ("png", *_png_size(data))
    if data.startswith(b"\xff\xd8"):
        return ("jpeg", *_jpeg_size(data))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ("webp", *_webp_size(data))
    raise ImageError("not a JPEG, PNG or WebP image")


def _to_bgr8(img: np.ndarray) -> np.ndarray:
    """Convert any decoded layout (gray, gray+alpha, BGRA, 16-bit) to BGR uint8."""
    if img.dtype == np.uint16:
        img >>= 8  # in place: a 25 MP RGBA picture is 200 MB at 16 bits
        img = img.astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageError(f"unsupported sample type {img.dtype}")
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    channels = img.shape[2]
    if channels == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return img
    if channels in (2, 4):
        # Transparent pixels become white paper: a canvas PNG with a clear background reads as drawn.
        # colour * a + 255 * (1 - a) = 255 - (255 - colour) * a, in uint8 with OpenCV's rounding: float
        # temporaries took 1.1 GB for a 25 MP picture.
        colour = cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR) if channels == 2 else img[:, :, :3]
        alpha = cv2.cvtColor(img[:, :, -1], cv2.COLOR_GRAY2BGR)
        shade = cv2.multiply(255 - colour, alpha, scale=1 / 255)  # uint8 255 - x never wraps
        return np.subtract(255, shade, out=shade)
    raise ImageError(f"unsupported image with {channels} channels")


def decode_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS, gray: bool = False) -> np.ndarray:
    """Decode PNG, JPEG or WebP bytes to a BGR uint8 image, refusing what breaks the limits.

    `gray=True` returns a gray HxW image instead: libjpeg then decodes only the luma plane (the
    same values as BGR -> gray, in about a third of the time), for readers that draw nothing.
    """
    return decode_scaled(data, max_bytes=max_bytes, max_pixels=max_pixels, gray=gray, shrink=False)[0]


def decode_scaled(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS, gray: bool = False,
                  shrink: bool = True) -> tuple[np.ndarray, int]:
    """decode_image, but a baseline JPEG over `max_pixels` is decoded at the largest size libjpeg
    offers under it (1/2, 1/4 or 1/8; with `shrink`) rather than refused.

    Returns the image and its factor: input pixels per decoded pixel along each side (1, 2, 4, 8).
    Digits need no more than 100 px, and the reader works on 1280 px at most, so nothing is lost.
    """
    if not data:
        raise ImageError("empty file")
    if len(data) > max_bytes:
        raise ImageError(f"file is {len(data):,} bytes; the limit is {max_bytes:,}")
    kind, width, height = image_size(data)
    if width <= 0 or height <= 0:
        raise ImageError(f"image header gives an empty size {width}x{height}")
    factor = 1
    if width * height > max_pixels:
        fits = [f for f in JPEG_SCALES if -(-width // f) * -(-height // f) <= max_pixels]
        shrinkable = shrink and kind == "jpeg" and _jpeg_frame(data)[0] in _JPEG_BASELINE
        if not (shrinkable and fits):
            size, limit = _megapixels(width * height, max_pixels)
            beyond = " even at 1/8 of its size" if shrinkable else ""
            raise ImageError(f"image is {width}x{height} = {size} MP; the limit is {limit} MP{beyond}: "
                             "send it smaller (a digit needs no more than 100 px)")
        factor = fits[0]
    # JPEG never has alpha or 16 bits; IMREAD_COLOR (and its reduced forms) also applies EXIF orientation.
    if kind == "jpeg":
        colour_flag, gray_flag = JPEG_SCALES.get(factor, (cv2.IMREAD_COLOR, cv2.IMREAD_GRAYSCALE))
        flags = gray_flag if gray else colour_flag
    else:
        flags = cv2.IMREAD_UNCHANGED
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None or img.size == 0:
        raise ImageError(f"cannot decode this {kind.upper()} image (damaged or unsupported)")
    if gray and img.ndim == 2 and img.dtype == np.uint8:
        return img, factor
    img = _to_bgr8(img)
    return (cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else img), factor


def _megapixels(pixels: int, limit: int) -> tuple[str, str]:
    """Both in megapixels, with as few decimals as tell them apart ("25.005" against "25.000")."""
    for decimals in range(7):
        a, b = f"{pixels / 1e6:.{decimals}f}", f"{limit / 1e6:.{decimals}f}"
        if a != b:
            return a, b
    return a, b


def load_image(path: str | Path, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read and decode an image file under the same rules as uploaded bytes."""
    return decode_image(read_file(path, max_bytes=max_bytes), max_bytes=max_bytes, max_pixels=max_pixels)


def read_file(path: str | Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """An image file's bytes, refused unread when it is bigger than an upload may be.

    Nothing is read past the limit: a pipe (`cat seven.png | digitcam read /dev/stdin`) has no size
    to check first, nor has a file still growing. Devices are refused (/dev/zero never ends).
    """
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"{path.name} is a folder, not an image file")
        if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            raise ImageError(f"{path.name} is a device, not an image file")
        if info.st_size > max_bytes:
            raise ImageError(f"file is {info.st_size:,} bytes; the limit is {max_bytes:,}")
        with path.open("rb") as f:
            return read_stream(f, max_bytes=max_bytes)
    except OSError as exc:
        raise ImageError(f"cannot read {path.name}: {exc.strerror or exc}") from exc


def read_stream(stream: BinaryIO, *, max_bytes: int = MAX_BYTES) -> bytes:
    """All of a stream's bytes (standard input: `digitcam read -`), never more than the limit plus one."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(f"more than the limit of {max_bytes:,} bytes")
    return data
