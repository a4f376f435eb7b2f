"""Stage 5: a frame's regions as the model's 28x28 inputs, each region whole and cut at its candidate splits.

A Frame is what stages 2-4 found in one image. Each accepted region becomes a list of options
(the whole region, then each split), every option a list of crops, and all crops of a frame go
to the model in one batch: a split is chosen by how surely the model reads its pieces (choice.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from webapp import binarize, segment, text_rules
from webapp.mnistify import mnistify

MIN_PIECE_INK = 0.12  # each piece of a split must hold at least 12% of the region's ink
SPLIT_PIECE_HEIGHT = text_rules.X_HEIGHT  # on a canvas, a split piece shorter than this (x typical digit height) is a
#   stroke cut off a digit, not one of two digits (drawings F1 seeds 0, 2 0.9910, 0.9835 -> 0.9918, 0.9887,
#   seed 1 same; segment.MIN_HEIGHT's "too small" instead: seed 2 0.9861; 0.85: seed 1 0.9885 -> 0.9901 but
#   held-out seed 3 0.9842 -> 0.9827; pages, read as photos, never meet the rule)


@dataclass
class Crop:
    region: int  # index into the regions list
    box: tuple[int, int, int, int]  # working pixels
    image: np.ndarray  # 28x28 model input


@dataclass
class Frame:
    """What stages 2-4 found in one frame (working pixels)."""

    ink: np.ndarray
    mask: np.ndarray
    ruled: np.ndarray  # ink removed as ruled or grid lines
    comps: segment.Components
    regions: list[segment.Region]
    digit_h: float  # typical digit height, 0 when unknown
    photo: bool
    doubted: bool = False  # voted light-on-dark but read as dark ink, to be read as chalk too (pipeline._binarize)

    @property
    def stroke_target(self) -> float:
        return binarize.MNIST_STROKE_ALL_INK if self.photo else binarize.MNIST_STROKE


def digit_input(ink: np.ndarray, mask: np.ndarray, width: float | None = None,
                target: float = binarize.MNIST_STROKE) -> np.ndarray:
    """One digit's ink crop and mask -> the model's 28x28 input (stroke width, then MNIST geometry)."""
    masked = cv2.bitwise_and(ink, mask)
    return mnistify(binarize.normalize_stroke(masked, mask, target=target, width=width))


def normalize(frame: Frame) -> tuple[list[Crop], dict[int, list[list[int]]]]:
    """Stage 5: every candidate's crops (whole and split), with each region's options as crop indices."""
    return crops_of({i: r for i, r in enumerate(frame.regions) if r.reason is None}, frame)


def crops_of(regions: dict[int, segment.Region], frame: Frame, first: int = 0
             ) -> tuple[list[Crop], dict[int, list[list[int]]]]:
    """The crops of `regions` (by index in the frame), whole and split, and each one's options as
    crop indices counted from `first`."""
    crops: list[Crop] = []
    options: dict[int, list[list[int]]] = {}
    for i, region in regions.items():
        options[i] = []
        for option in _crops_for(i, region, frame):
            options[i].append(list(range(first + len(crops), first + len(crops) + len(option))))
            crops.extend(option)
    return crops, options


def _crops_for(index: int, region: segment.Region, frame: Frame) -> list[list[Crop]]:
    """The whole region, then each candidate split: a list of options, each a list of crops."""
    rmask = segment.region_mask(frame.comps, region)
    whole = whole_crop(index, region, frame, rmask, frame.stroke_target)
    return [[whole]] + split_crops(index, region, frame, region.splits, rmask)


def whole_crop(index: int, region: segment.Region, frame: Frame, rmask: np.ndarray, target: float) -> Crop:
    """The region read as one digit, its strokes brought to `target` width (`rmask`: its region_mask)."""
    x, y, w, h = region.box
    return Crop(index, region.box, digit_input(frame.ink[y : y + h, x : x + w], rmask, region.stroke or None, target))


def split_crops(index: int, region: segment.Region, frame: Frame, splits: list[list[tuple[int, int]]],
                rmask: np.ndarray) -> list[list[Crop]]:
    """The crops of each split (column ranges of the region; `rmask`: its region_mask); splits leaving
    a piece nearly empty are skipped, and so are those leaving one too short to be a digit
    (_not_a_digit), even in a region too wide to read whole: a 2 with a long tail is one
    wide digit, and its halves are shorter than digits."""
    x, y, w, h = region.box
    rink = frame.ink[y : y + h, x : x + w]
    target = frame.stroke_target
    options = []
    total = max(int(np.count_nonzero(rmask)), 1)
    for cuts in splits:
        pieces = []
        for a, b in cuts:
            piece = rmask[:, a:b]
            rows = np.flatnonzero(piece.any(axis=1))
            if np.count_nonzero(piece) < MIN_PIECE_INK * total or len(rows) == 0:
                break
            r0, r1 = rows[0], rows[-1] + 1
            if _not_a_digit(int(r1 - r0), frame):
                break
            img = digit_input(rink[r0:r1, a:b], piece[r0:r1], region.stroke or None, target)
            pieces.append(Crop(index, (x + a, y + int(r0), b - a, int(r1 - r0)), img))
        else:
            options.append(pieces)
    return options


def _not_a_digit(h: int, frame: Frame) -> bool:
    """Whether a piece of a split, `h` pixels tall, is too short to be one of two digits.

    Only on a canvas: in photos the short pieces of a cursive word, read unsure, are what mark
    it as text (real-dev CER 0.29 -> 0.34 when photos had the rule too).
    """
    return not frame.photo and h < SPLIT_PIECE_HEIGHT * frame.digit_h
