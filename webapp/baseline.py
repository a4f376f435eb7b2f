"""A textbook digit reader, kept only as the yardstick the real pipeline is measured against.

It does what a first tutorial does: global Otsu threshold (dark ink on light paper assumed), drop
components smaller than a fixed pixel count, squash each component's bounding box to 28x28 without
keeping its aspect or centring its mass, classify, and group boxes into lines by vertical overlap.
Same recognizer and same result type as `webapp.pipeline.read_frame`, so the same scorer applies.
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from webapp.pipeline import Digit, Reading
from webapp.recognizer import Recognizer

MIN_AREA = 30  # components with fewer pixels are noise: a fixed count, whatever the image size
SIZE = 28
SPACE_GAP = 0.6  # a horizontal gap wider than 0.6 median box heights starts a new number


def binarize(gray: np.ndarray) -> np.ndarray:
    """Ink = 255 where the pixel is darker than one global Otsu threshold."""
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return mask


def components(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x, y, w, h) of 8-connected components of at least MIN_AREA pixels."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [tuple(int(v) for v in stats[i, :4]) for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= MIN_AREA]


def crops(mask: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Each box's pixels resized straight to 28x28: batch [N, 1, 28, 28] in [0, 1]."""
    batch = np.zeros((len(boxes), 1, SIZE, SIZE), np.float32)
    for i, (x, y, w, h) in enumerate(boxes):
        batch[i, 0] = cv2.resize(mask[y : y + h, x : x + w], (SIZE, SIZE), interpolation=cv2.INTER_AREA) / 255.0
    return batch


def group(digits: list[Digit]) -> list[str]:
    """Lines top to bottom: a box joins the current line if its centre lies within the line's rows."""
    lines: list[list[Digit]] = []
    for d in sorted(digits, key=lambda d: d.box[1] + d.box[3] / 2):
        cy = d.box[1] + d.box[3] / 2
        if lines and min(o.box[1] for o in lines[-1]) <= cy <= max(o.box[1] + o.box[3] for o in lines[-1]):
            lines[-1].append(d)
        else:
            lines.append([d])
    if not digits:
        return []
    height = float(np.median([d.box[3] for d in digits]))
    out = []
    for line in lines:
        line.sort(key=lambda d: d.box[0])
        text = str(line[0].label)
        for prev, d in zip(line, line[1:]):
            text += (" " if d.box[0] - (prev.box[0] + prev.box[2]) > SPACE_GAP * height else "") + str(d.label)
        out.append(text)
    return out


def read_frame(image: np.ndarray, recognizer: Recognizer) -> Reading:
    """Read a BGR frame the textbook way; returns the pipeline's Reading (no annotation)."""
    times: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = (now - clock) * 1000
        clock = now

    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    mask = binarize(gray)
    lap("binarize")
    boxes = components(mask)
    lap("components")
    probs = recognizer.predict(crops(mask, boxes)) if boxes else np.zeros((0, 10), np.float32)
    lap("classify")
    digits = [Digit(int(p.argmax()), float(p.max()), box, [float(v) for v in p]) for box, p in zip(boxes, probs)]
    lines = group(digits)
    lap("group")
    times["total"] = (time.perf_counter() - start) * 1000
    return Reading(digits=digits, lines=lines, rejected=0, timings_ms=times, annotated=None, stages={})
