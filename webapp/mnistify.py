"""Turn a cropped digit into a 28x28 MNIST-style image; shared by serving and training.

MNIST digits were size-normalised to fit a 20x20 box (keeping the aspect ratio, anti-aliased)
and then placed in a 28x28 field so that their centre of mass sits at the centre. The reader
feeds the model crops made by this function, and the training augmentation passes its digits
through it too, so the network sees the same geometry in both places.
"""
from __future__ import annotations

import cv2
import numpy as np

SIZE = 28  # side of the model's input, pixels
BOX = 20  # the longest side of the digit after scaling, as in MNIST
INK_FLOOR = 0.05  # pixels fainter than this (after scaling to [0, 1]) don't count as ink


def _as_unit_float(ink: np.ndarray) -> np.ndarray:
    if ink.ndim != 2:
        raise ValueError(f"mnistify needs a 2-D ink map, got shape {ink.shape}")
    img = ink.astype(np.float32)
    if np.issubdtype(ink.dtype, np.integer):
        img /= float(np.iinfo(ink.dtype).max)
    return np.clip(img, 0.0, 1.0)


def _ink_crop(ink: np.ndarray) -> np.ndarray | None:
    """The ink's bounding box as float32 in [0, 1], or None when there is no ink.

    uint8 maps (what the reader passes, tens per frame) take a fast path: the box is found on
    the uint8 pixels with OpenCV and only the crop is converted. Same result as the general path.
    """
    if ink.ndim != 2:
        raise ValueError(f"mnistify needs a 2-D ink map, got shape {ink.shape}")
    if ink.dtype == np.uint8:
        inked = cv2.threshold(ink, int(INK_FLOOR * 255), 255, cv2.THRESH_BINARY)[1]
        x, y, w, h = cv2.boundingRect(inked)
        if w == 0 or h == 0:
            return None
        return ink[y : y + h, x : x + w].astype(np.float32) * np.float32(1 / 255)
    img = _as_unit_float(ink)
    ys, xs = np.nonzero(img > INK_FLOOR)
    if len(xs) == 0:
        return None
    return img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the longest side is BOX pixels; INTER_AREA anti-aliases when shrinking."""
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(crop, (new_w, new_h), interpolation=interp)


def mnistify(ink: np.ndarray, normalize_contrast: bool = True) -> np.ndarray:
    """Return a float32 [28, 28] image in [0, 1], white digit on black, MNIST geometry.

    `ink` is a 2-D map where ink is bright and background is 0 (uint8, uint16 or float in
    [0, 1]); only its non-background part matters, so loose crops are fine. With
    `normalize_contrast` the brightest ink is stretched to 1, as in MNIST, so faint pencil
    and bold marker look alike to the model. An empty map gives an all-zero image.
    """
    crop = _ink_crop(ink)
    if crop is None:
        return np.zeros((SIZE, SIZE), np.float32)
    digit = _fit_box(crop)
    if normalize_contrast:
        peak = cv2.minMaxLoc(digit)[1]
        if peak > 0:
            digit *= np.float32(1 / peak)  # resizing never overshoots the crop's range: stays in [0, 1]
    moments = cv2.moments(digit)
    if moments["m00"] <= 0:
        return np.zeros((SIZE, SIZE), np.float32)
    cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    # Translate so the centre of mass lands on the centre of the 28x28 field.
    shift = np.float32([[1, 0, (SIZE - 1) / 2 - cx], [0, 1, (SIZE - 1) / 2 - cy]])
    out = cv2.warpAffine(digit, shift, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
    return np.clip(out, 0.0, 1.0, out=out)


def mnistify_batch(inks: list[np.ndarray]) -> np.ndarray:
    """Normalise several ink maps into one float32 batch [N, 1, 28, 28] for the model."""
    batch = np.zeros((len(inks), 1, SIZE, SIZE), np.float32)
    for i, ink in enumerate(inks):
        batch[i, 0] = mnistify(ink)
    return batch
