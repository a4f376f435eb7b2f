"""Argparse value types shared by the commands, so a bad number is a usage error, not a traceback
or a silent oddity (--count 0 scoring F1 1.0, --port 99999 overflowing, --limit -5 slicing)."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Callable


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An int argument from `minimum` up to `maximum` (no upper bound when None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            span = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: give a number {span}")
        return value
    return parse


def real(minimum: float, maximum: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """A float argument at least `minimum` (greater than it when `above`) and at most `maximum`."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        low_ok = value > minimum if above else value >= minimum
        if not math.isfinite(value) or not low_ok or (maximum is not None and value > maximum):
            low = f"above {minimum:g}" if above else f"at least {minimum:g}"
            span = f"{low} and at most {maximum:g}" if maximum is not None else low
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number {span}")
        return value
    return parse


POSITIVE = whole(1)
NON_NEGATIVE = whole(0)
PORT = whole(1, 65535)
FRACTION = real(0.0, 1.0)


def out_folder(text: str) -> Path:
    """A folder to write into: it may not exist yet, but it must be able to (checked, not created)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a file of that name exists; give a folder")
    parent = next((p for p in [path, *path.parents] if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot create a folder there ({parent} is not writable)")
    return path


def in_file(text: str) -> Path:
    """A file to read, which must exist (a folder or a missing path is a usage error, not a traceback)."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: " + ("is a folder, not a file" if path.is_dir() else "no such file"))
    return path
