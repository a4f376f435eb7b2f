"""Redrawn training digits: MNIST digits as a canvas pen draws them, in the geometry the model reads."""
from __future__ import annotations

import numpy as np
import pytest

from train import data as mnist
from train import pipeline_crops
from train.redrawn_digits import main, redraw
from webapp.evaluation import read_right


@pytest.fixture(scope="module")
def digits(mnist_dir):
    images, labels = mnist.load_split(mnist_dir, "train")
    return images[:60], labels[:60]


def test_redrawn_digits_are_mnist_shaped_white_on_black_and_fixed_by_their_seed(digits):
    images, _ = digits
    first, again, other = redraw(images[:8], seed=3), redraw(images[:8], seed=3), redraw(images[:8], seed=4)
    assert first.shape == (8, 28, 28) and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.max() == 255 and (first[:, :2].max(), first[:, -2:].max()) == (0, 0)  # inked, 20x20 box inside


def test_a_redrawn_digit_still_shows_its_own_digit(digits, recognizer):
    images, labels = digits
    redrawn = redraw(images, seed=0).astype(np.float32)[:, None] / 255.0
    assert read_right(recognizer, recognizer.predict(redrawn), labels).mean() >= 0.9


def test_the_command_writes_a_slice_with_its_labels(mnist_dir, tmp_path):
    out = tmp_path / "redrawn.npz"
    main(["--data", str(mnist_dir), "--digits", "100:110", "--seed", "5", "--out", str(out)])
    with np.load(out) as saved:
        _, labels = mnist.load_split(mnist_dir, "train")
        assert saved["images"].shape == (10, 28, 28)
        assert np.array_equal(saved["labels"], labels[100:110])


@pytest.mark.parametrize("command", [main, pipeline_crops.main])
@pytest.mark.parametrize("digits", ["7", "a:b", "50:10", "0:70000"])
def test_a_bad_slice_is_a_clear_error_for_both_crop_makers(mnist_dir, tmp_path, digits, command):
    with pytest.raises(SystemExit, match="--digits"):
        command(["--data", str(mnist_dir), "--digits", digits, "--out", str(tmp_path / "x.npz")])
