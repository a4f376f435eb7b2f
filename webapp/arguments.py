"""Argparse value types shared by the commands, so a bad number is a usage error, not a traceback
or a silent oddity (--count 0 scoring F1 1.0, --port 99999 overflowing, --limit -5 slicing)."""
from __future__ import annotations

import argparse
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
        if not low_ok or (maximum is not None and value > maximum) or value != value:
            low = f"above {minimum:g}" if above else f"at least {minimum:g}"
            span = f"{low} and at most {maximum:g}" if maximum is not None else low
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number {span}")
        return value
    return parse


POSITIVE = whole(1)
NON_NEGATIVE = whole(0)
PORT = whole(1, 65535)
FRACTION = real(0.0, 1.0)
