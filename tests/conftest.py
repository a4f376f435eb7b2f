"""Shared fixtures: paths to the shared data (skipping clearly where absent) and the model."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def _shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the shared data beside the checkout")
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The four MNIST idx files in ../shared/data/mnist (skips where absent)."""
    return _shared_path("data", "mnist")


@pytest.fixture(scope="session")
def real_dev_dir() -> Path:
    """The real photos and drawings in ../shared/data/real-dev (skips where absent)."""
    return _shared_path("data", "real-dev")


@pytest.fixture(scope="session")
def recognizer():
    """The shipped model, loaded once for the whole test session (CPU, one thread)."""
    from webapp.recognizer import Recognizer

    return Recognizer(provider="cpu", threads=1)


@pytest.fixture(scope="session")
def pair_recognizer():
    """The shipped model reading canvases with members 0 and 1, as photos are read: the pair that read
    canvases before the canvas member (2026-12-02). Tests of the reader's rules whose examples were
    found among that pair's doubts use it to show what each rule changes; the canvas member reads
    several of those examples right with the rule or without it."""
    from webapp.recognizer import Recognizer

    return Recognizer(provider="cpu", threads=1, means={"canvas": [0, 1]})


@pytest.fixture(scope="session")
def dejavu_font() -> Path:
    """DejaVu Sans as matplotlib (of the 'train' extra) ships it: a TrueType font the letter
    detector never learnt from. Skips without matplotlib or Pillow."""
    matplotlib = pytest.importorskip("matplotlib", reason="the DejaVu font comes with the 'train' extra (matplotlib)")
    pytest.importorskip("PIL", reason="drawing with a TrueType font needs Pillow (the 'train' extra)")
    path = Path(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    if not path.is_file():
        pytest.skip(f"no DejaVu Sans font at {path}")
    return path
