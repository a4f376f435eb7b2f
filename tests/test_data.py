"""The MNIST idx reader: both encodings, and errors that name the broken file."""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from train.data import SHA256, DataError, checksum, download, load_split, read_idx


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    blob = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        blob = gzip.compress(blob)
    path.write_bytes(blob)
    return path


def make_split(folder: Path, n: int = 5, gz: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz)
    return images, labels


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_a_tiny_idx_split_round_trips(tmp_path, gz):
    images, labels = make_split(tmp_path, gz=gz)
    got_images, got_labels = load_split(tmp_path, "train")
    assert np.array_equal(got_images, images)
    assert np.array_equal(got_labels, labels.astype(np.int64))


def test_a_missing_file_is_named(tmp_path):
    make_split(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_split(tmp_path, "test")


def test_a_bad_magic_number_is_reported_with_the_file(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"PK\x03\x04 not an idx file at all")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*magic"):
        read_idx(bad)


def test_a_truncated_file_is_reported(tmp_path):
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((3, 28, 28)), gz=False)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="expected 2352 data bytes"):
        read_idx(path)


def test_a_corrupt_gzip_is_reported(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(DataError, match="cannot read"):
        read_idx(path)


def test_labels_must_match_images(tmp_path):
    make_split(tmp_path, n=5)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4), gz=True)
    with pytest.raises(DataError, match="4 labels for 5 images"):
        load_split(tmp_path, "train")


def test_a_command_without_an_mnist_folder_exits_saying_how_to_give_one(monkeypatch, tmp_path):
    from train import data

    monkeypatch.setattr(data, "default_data_dir", lambda: None)
    with pytest.raises(SystemExit, match=r"no MNIST folder found: pass --data DIR \(needed for the check\)"):
        data.data_dir_or_exit(None, "needed for the check")
    with pytest.raises(SystemExit, match=r"pass --data DIR$"):
        data.data_dir_or_exit(None)
    assert data.data_dir_or_exit(tmp_path) == tmp_path  # --data wins over any default


def test_checksum_identifies_the_data(tmp_path):
    make_split(tmp_path)
    first = checksum(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(5, 3), gz=True)
    assert checksum(tmp_path) != first


def test_the_shared_mnist_has_the_standard_shapes(mnist_dir):
    images, labels = load_split(mnist_dir, "test")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert set(np.unique(labels)) == set(range(10))


class Mirror:
    """A static file server on loopback standing in for a download mirror."""

    def __init__(self, folder: Path):
        handler = functools.partial(QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_download_skips_a_mirror_with_wrong_files_and_keeps_only_verified_ones(mnist_dir, tmp_path):
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in SHA256:
        (tampered / name).write_bytes(b"not the real file")
    bad, good = Mirror(tampered), Mirror(mnist_dir)  # the shared copy, served, never copied into the repo
    try:
        download(tmp_path / "data", mirrors=(bad.url, bad.url + "missing/", good.url))
    finally:
        bad.close()
        good.close()
    for name, digest in SHA256.items():
        assert hashlib.sha256((tmp_path / "data" / name).read_bytes()).hexdigest() == digest
    assert load_split(tmp_path / "data", "test")[0].shape == (10_000, 28, 28)


def test_download_fails_clearly_when_no_mirror_has_the_right_file(tmp_path):
    empty = Mirror(tmp_path)
    try:
        with pytest.raises(DataError, match="right SHA256"):
            download(tmp_path / "data", mirrors=(empty.url,))
    finally:
        empty.close()
