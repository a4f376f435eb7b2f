"""Read the four MNIST idx files (gzip or raw) and, on request, download them."""
from __future__ import annotations

import gzip
import hashlib
import logging
import os
import struct
import urllib.request
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# SHA256 of the .gz files, as listed in ../shared/data/mnist/SHA256SUMS.
SHA256 = {
    "train-images-idx3-ubyte.gz": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "train-labels-idx1-ubyte.gz": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "t10k-images-idx3-ubyte.gz": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "t10k-labels-idx1-ubyte.gz": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_DTYPE = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(Exception):
    """An input file is missing or not what it should be (an idx file, a checkpoint); the message names it."""


def default_data_dir() -> Path | None:
    """$DIGITCAM_DATA, else ../shared/data/mnist beside the checkout or the working dir."""
    env = os.environ.get("DIGITCAM_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    for base in (Path.cwd(), here):
        cand = base.parent / "shared" / "data" / "mnist"
        if cand.is_dir():
            return cand
    return None


def data_dir_or_exit(given: Path | None, hint: str = "") -> Path:
    """A command's --data folder, else default_data_dir(); exits with a clear message (and a `hint`,
    when given) where neither names one."""
    folder = given or default_data_dir()
    if folder is None:
        raise SystemExit(f"no MNIST folder found: pass --data DIR{f' ({hint})' if hint else ''}")
    return folder


def read_idx(path: Path) -> np.ndarray:
    """Parse one idx file (gzip-compressed or raw) into a numpy array."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPE:
        raise DataError(f"{path}: not an idx file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated idx header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_DTYPE[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: expected {expected} data bytes for shape {shape}, found {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def _find(data_dir: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (data_dir / name).is_file():
            return data_dir / name
    raise DataError(f"{data_dir / (stem + '.gz')}: missing (nor is the uncompressed {stem} there); give --data "
                    "the folder holding MNIST's four idx files, or fetch them with: digitcam train --download --data DIR")


def load_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 [N, 28, 28], labels int64 [N]) of 'train' or 't10k'/'test'."""
    key = "train" if split == "train" else "test"
    img_path = _find(data_dir, FILES[f"{key}_images"])
    lbl_path = _find(data_dir, FILES[f"{key}_labels"])
    images, labels = read_idx(img_path), read_idx(lbl_path)
    if images.ndim != 3:
        raise DataError(f"{img_path}: expected a 3-D image array, got shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{lbl_path}: {len(labels)} labels for {len(images)} images")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{lbl_path}: labels outside 0-9")
    return images, labels.astype(np.int64)


def training_slice(data_dir: Path, digits: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The training digits START:END named by a crop maker's --digits (images, labels, start, end), so a
    validation set can hold digits its training set never shows; a clear exit for a bad slice."""
    try:
        start, end = (int(v) for v in digits.split(":"))
    except ValueError:
        raise SystemExit(f"--digits must be START:END, not {digits!r}") from None
    images, labels = load_split(data_dir, "train")
    if not 0 <= start < end <= len(labels):
        raise SystemExit(f"--digits {digits}: the slice must lie within 0:{len(labels)}")
    return images[start:end], labels[start:end], start, end


def checksum(data_dir: Path) -> str:
    """SHA256 over the four files' contents (in a fixed order), to identify the training data."""
    h = hashlib.sha256()
    for stem in FILES.values():
        h.update(_find(data_dir, stem).read_bytes())
    return h.hexdigest()


def download(data_dir: Path, mirrors: tuple[str, ...] = MIRRORS) -> None:
    """Fetch missing .gz files from the mirrors in turn, verifying each SHA256 before keeping it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, digest in SHA256.items():
        target = data_dir / name
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest:
            continue
        for mirror in mirrors:
            try:
                with urllib.request.urlopen(mirror + name, timeout=60) as resp:
                    blob = resp.read()
            except OSError as exc:
                log.warning("download of %s from %s failed: %s", name, mirror, exc)
                continue
            if hashlib.sha256(blob).hexdigest() != digest:
                log.warning("%s from %s has the wrong SHA256; ignored", name, mirror)
                continue
            target.write_bytes(blob)
            break
        else:
            raise DataError(f"{target}: could not download a copy with the right SHA256")
