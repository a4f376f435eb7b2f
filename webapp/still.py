"""A camera frame that shows what the last frame read showed: its reading can be drawn again.

A phone on a stand, or a webcam over a sheet, sends the same page many times a second, and
reading it afresh gives the same answer for the full cost of the pipeline. Comparing the frame
with the last one read, as a coarse grid of cell means, costs a fraction of a millisecond: when
no cell moved, the last reading is drawn on the new frame instead. A pen stroke through a cell
moves its mean by tens of gray levels, so writing, a hand or a moved sheet means a fresh read, and
so does a reading older than the app's STILL_MAX_AGE_S.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from webapp import annotate as draw
from webapp.binarize import to_gray

if TYPE_CHECKING:  # pipeline imports nothing from here; kept lazy all the same
    from webapp.pipeline import Reading

GRID = (80, 60)  # cells across and down: 8x8 px each in a 640x480 frame
LEVELS = 6  # a frame is the same when no cell's mean moved more than this many gray levels
#             (sensor noise and JPEG move a cell's mean by 1-2; a 2 px stroke through a cell by ~25)


@dataclass(frozen=True)
class Still:
    """What a camera frame showed when it was last read, and what was read."""

    size: tuple[int, int]  # height, width: a frame decoded gray (no picture asked) shows what its colour decode does
    cells: np.ndarray  # GRID gray cell means, uint8
    digits: list  # pipeline.Digit, in reading order
    lines: list[str]
    rejected: int
    drawn_rejects: list[tuple[int, int, int, int]]  # rejected boxes drawn on the annotated frame


def cell_means(image: np.ndarray) -> np.ndarray:
    """The frame as GRID gray cell means (INTER_AREA averages each cell's pixels)."""
    return to_gray(cv2.resize(image, GRID, interpolation=cv2.INTER_AREA))


def remember(image: np.ndarray, reading: Reading) -> Still:
    """The Still of a frame just read (`reading` is the pipeline's Reading of `image`)."""
    return Still(image.shape[:2], cell_means(image), list(reading.digits), list(reading.lines), reading.rejected,
                 list(reading.drawn_rejects))


def shows_same(image: np.ndarray, still: Still) -> bool:
    """Whether `image` shows what `still` did: same size, and no cell moved more than LEVELS."""
    if image.shape[:2] != still.size:
        return False
    return cv2.norm(cell_means(image), still.cells, cv2.NORM_INF) <= LEVELS


def redraw(image: np.ndarray, still: Still) -> np.ndarray:
    """The new frame annotated with the last reading: the live picture, the same boxes."""
    return draw.draw_reading(image, still.digits, still.drawn_rejects)
