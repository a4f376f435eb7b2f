"""A frame whose lines of digits run tilted (a sheet held askew to the camera) is read again turned level.

The model was trained on digits turned by up to 15 degrees, and a sheet held 10-20 degrees off
adds that to the writer's own slant: real-dev photos turned by 10 and 20 degrees were read with
a character error rate of 0.21 and 0.28 instead of 0.08 (docs/reader.md, "A sheet held askew").
The course is measured on the digits a first reading found, so a frame that runs level pays
nothing; one that does not is read twice, and the level reading is kept unless it has fewer
very sure digits.
"""
from __future__ import annotations

import cv2
import numpy as np

from webapp import grouping

TURN_MIN = 8.0  # numbers running at least this many degrees off level are read again turned level. Generated
#   pages tilt up to 6 degrees, and their perspective adds a little: 12 of 600 pages (seeds 0-2, 5-7) were read
#   again and 11 kept so, F1 0.9830 -> 0.9829; 12 of 3,000 drawings (seeds 0-2, 5-31), none scored otherwise.
#   At 10, real-dev photos turned by 10 degrees, whose numbers the first reading measured at 8-9 degrees, were
#   left as they were (CER 0.2019 against 0.1731 at 8)
LINE_DIGITS = 3  # the course is taken from numbers of this many digits or more: two give a slope as well, but
#   a 1 beside a 7 seldom sits level, and digits of different lines chained into one (a worksheet's answers) do
#   not make a number


def line_angle(boxes: list[tuple[int, int, int, int]], numbers: list[list[int]] | None = None) -> float:
    """The course of the numbers in degrees (positive: falling to the right, in image rows): the median,
    over their digits, of each number's least-squares slope through its digits' centres; 0 with no
    number of LINE_DIGITS or more digits. `numbers`: the boxes' numbers (lists of indices) when
    grouping.group has already found them."""
    if numbers is None:
        numbers = [number for line in grouping.group(boxes) for number in line]
    angles: list[float] = []
    for idx in numbers:
        if len(idx) < LINE_DIGITS:
            continue
        x, y = (np.array([boxes[i][k] + boxes[i][k + 2] / 2 for i in idx], float) for k in (0, 1))
        x -= x.mean()
        if (x * x).sum() < 1:
            continue
        slope = float((x * (y - y.mean())).sum() / (x * x).sum())  # least squares, as np.polyfit's
        angles += [float(np.degrees(np.arctan(slope)))] * len(idx)
    return float(np.median(angles)) if angles else 0.0


class Turn:
    """An image turned by `angle` degrees about its centre (counter-clockwise on screen for a positive
    angle, as cv2.getRotationMatrix2D), on a canvas grown to hold all of it, its edges carried out to
    fill the corners; and the way back for boxes."""

    def __init__(self, shape: tuple[int, ...], angle: float):
        h, w = shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        grown = np.ceil(np.array([h * sin + w * cos, h * cos + w * sin]) - 1e-6)  # 90 degrees: sin 1, cos 6e-17
        self.size = (int(grown[0]), int(grown[1]))  # width, height
        m[0, 2] += self.size[0] / 2 - w / 2
        m[1, 2] += self.size[1] / 2 - h / 2
        self.matrix, self.back_matrix, self.shape = m, cv2.invertAffineTransform(m), (h, w)

    def image(self, image: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(image, self.matrix, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def back(self, box: tuple[int, int, int, int], ink: np.ndarray | None = None) -> tuple[int, int, int, int]:
        """A box in the turned image -> the box holding it in the image's own pixels (clipped to it):
        the box of its `ink` (a mask of the box's pixels) turned back, when there is any; else of its
        corners, a box too big for a thin 1 once turned."""
        x, y, w, h = box
        ys, xs = np.nonzero(ink) if ink is not None else ((), ())
        if len(xs):
            corners = np.stack([np.r_[xs, xs + 1] + x, np.r_[ys, ys + 1] + y], axis=1).astype(float)
        else:
            corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], float)
        points = corners @ self.back_matrix[:, :2].T + self.back_matrix[:, 2]
        height, width = self.shape
        x0, y0 = np.clip(points.min(axis=0), 0, [width, height])
        x1, y1 = np.clip(points.max(axis=0), 0, [width, height])
        return int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))
