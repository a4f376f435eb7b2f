"""Augmentation aimed at real pens and cameras, ending in the serving side's own normalisation.

Every training digit is distorted (affine, elastic, stroke thickness, blur) at twice the MNIST
resolution, then cut out and re-normalised by `webapp.mnistify` exactly as the reader does with
camera crops, then given camera-like contrast and noise. Torch-free, so it runs in loader workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from webapp.mnistify import SIZE, mnistify

UP = 2  # work at 56x56 so thickness and elastic changes can be finer than one MNIST pixel
PAD = 14  # room around the upscaled digit so rotation and shear never clip it


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges; defaults chosen to keep MNIST accuracy while widening style."""

    p_affine: float = 0.9
    rotate_deg: float = 15.0
    shear: float = 0.25
    aspect: float = 0.2  # x/y scale ratio varies within 1 +- aspect
    p_elastic: float = 0.3
    elastic_alpha: float = 3.0  # displacement, pixels at the 2x scale
    elastic_grid: int = 5  # control points per side of the displacement field
    p_thickness: float = 0.5
    p_blur: float = 0.25
    p_contrast: float = 0.3
    p_noise: float = 0.3
    p_shift: float = 0.2


def _affine(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    h, w = img.shape
    angle = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    shear = rng.uniform(-cfg.shear, cfg.shear)
    ratio = 1.0 + rng.uniform(-cfg.aspect, cfg.aspect)
    c, s = np.cos(angle), np.sin(angle)
    lin = np.array([[c, -s], [s, c]]) @ np.array([[1, shear], [0, 1]]) @ np.diag([ratio, 1.0])
    centre = np.array([w / 2, h / 2])
    m = np.hstack([lin, (centre - lin @ centre)[:, None]]).astype(np.float32)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)


def _elastic(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Smooth random displacement: a coarse random grid, upsampled (cheaper than blurring)."""
    h, w = img.shape
    coarse = rng.uniform(-1, 1, (2, cfg.elastic_grid, cfg.elastic_grid)).astype(np.float32)
    dx = cv2.resize(coarse[0], (w, h), interpolation=cv2.INTER_CUBIC) * cfg.elastic_alpha
    dy = cv2.resize(coarse[1], (w, h), interpolation=cv2.INTER_CUBIC) * cfg.elastic_alpha
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + dx, gy + dy, cv2.INTER_LINEAR, borderValue=0)


def _thickness(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    if rng.random() < 0.6:
        return cv2.dilate(img, kernel, iterations=int(rng.integers(1, 3)))
    thinner = cv2.erode(img, kernel)
    # A pen never erases a digit: keep the original when erosion would leave almost nothing.
    return thinner if thinner.sum() > 0.35 * img.sum() else img


def augment(digit: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """Return a new float32 [28, 28] digit in [0, 1] from a uint8 MNIST digit."""
    img = digit.astype(np.float32) / 255.0
    img = cv2.resize(img, (SIZE * UP, SIZE * UP), interpolation=cv2.INTER_LINEAR)
    img = cv2.copyMakeBorder(img, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=0)
    if rng.random() < cfg.p_affine:
        img = _affine(img, rng, cfg)
    if rng.random() < cfg.p_elastic:
        img = _elastic(img, rng, cfg)
    if rng.random() < cfg.p_thickness:
        img = _thickness(img, rng)
    if rng.random() < cfg.p_blur:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.8))
    out = mnistify(img)
    if rng.random() < cfg.p_shift:
        m = np.float32([[1, 0, rng.uniform(-1.5, 1.5)], [0, 1, rng.uniform(-1.5, 1.5)]])
        out = cv2.warpAffine(out, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < cfg.p_contrast:
        out = out ** rng.uniform(0.6, 1.6) * rng.uniform(0.6, 1.0)
    if rng.random() < cfg.p_noise:
        out = out + rng.normal(0, rng.uniform(0.02, 0.08), out.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
