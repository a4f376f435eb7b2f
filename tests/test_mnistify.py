"""The shared digit normalisation: MNIST geometry for any crop, the same in training and serving."""
from __future__ import annotations

import numpy as np
import pytest

from webapp.mnistify import BOX, SIZE, mnistify, mnistify_batch


def ink_bbox(img: np.ndarray, floor: float = 0.1) -> tuple[int, int]:
    ys, xs = np.nonzero(img > floor)
    return ys.max() - ys.min() + 1, xs.max() - xs.min() + 1


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return float((ys * img).sum() / img.sum()), float((xs * img).sum() / img.sum())


def test_a_tall_stroke_fits_the_20_pixel_box_keeping_its_aspect():
    ink = np.zeros((300, 200), np.uint8)
    ink[50:250, 90:130] = 255  # 200 tall, 40 wide
    out = mnistify(ink)
    assert out.shape == (SIZE, SIZE) and out.dtype == np.float32
    h, w = ink_bbox(out)
    assert BOX - 1 <= h <= BOX + 1
    assert 3 <= w <= 6  # 40/200 of 20 px, plus anti-aliased edges


def test_the_centre_of_mass_lands_in_the_middle_whatever_the_crop_offset():
    ink = np.zeros((120, 120), np.float32)
    ink[5:40, 70:110] = 1.0
    ink[5:12, 10:110] = 1.0  # an L-ish shape far from the crop's centre
    cy, cx = centre_of_mass(mnistify(ink))
    assert abs(cy - (SIZE - 1) / 2) < 0.6 and abs(cx - (SIZE - 1) / 2) < 0.6


def test_faint_ink_is_stretched_to_full_contrast():
    ink = np.zeros((60, 60), np.float32)
    ink[10:50, 25:35] = 0.3
    assert mnistify(ink).max() == pytest.approx(1.0, abs=1e-3)
    assert mnistify(ink, normalize_contrast=False).max() < 0.4


def test_an_empty_crop_gives_an_empty_digit():
    assert not mnistify(np.zeros((10, 10), np.uint8)).any()


def test_a_tiny_crop_is_scaled_up():
    ink = np.zeros((6, 6), np.uint8)
    ink[1:5, 2:4] = 255
    assert ink_bbox(mnistify(ink))[0] >= BOX - 1


def test_colour_input_is_refused():
    with pytest.raises(ValueError, match="2-D"):
        mnistify(np.zeros((10, 10, 3), np.uint8))


def test_mnist_digits_come_back_nearly_unchanged(mnist_dir):
    from train.data import load_split

    images, _ = load_split(mnist_dir, "test")
    diffs = [np.abs(mnistify(img) - img / 255.0).mean() for img in images[:200]]
    assert np.median(diffs) < 0.08  # MNIST was made this way: only sub-pixel shifts differ


def test_batches_have_the_model_shape():
    inks = [np.eye(30, dtype=np.uint8) * 255, np.ones((5, 40), np.uint8) * 255]
    assert mnistify_batch(inks).shape == (2, 1, SIZE, SIZE)
