"""Labelled pipeline crops for fine-tuning: each crop gets the truth digit its box shows, or none."""
from __future__ import annotations

import numpy as np
import pytest

from train.pipeline_crops import NOT_A_DIGIT, build, classify, match, scene_crops
from webapp.scenes import DigitSource, make_scene


@pytest.fixture(scope="module")
def train_digits(mnist_dir):
    return DigitSource.from_dir(mnist_dir, split="train")


def test_a_crop_takes_the_label_of_the_digit_it_frames():
    truth = [(10, 10, 20, 30), (40, 10, 20, 30)]
    assert match((41, 11, 19, 29), truth) == 1


def test_a_crop_far_from_every_digit_is_not_labelled():
    assert match((200, 200, 20, 30), [(10, 10, 20, 30)]) is None
    assert match((10, 10, 20, 30), []) is None


def test_a_merged_pair_is_not_labelled_as_its_larger_digit():
    wide, narrow = (10, 10, 30, 30), (38, 10, 8, 30)  # a 0 with a 1 touching it
    merged = (10, 10, 36, 30)
    assert match(merged, [wide]) == 0  # alone, the box matches the 0 ...
    assert match(merged, [wide, narrow]) is None  # ... but it also holds the whole 1


def test_a_touching_pair_read_whole_and_a_stray_mark_are_taught_as_no_digit():
    wide, narrow = (10, 10, 30, 30), (38, 10, 8, 30)
    assert classify((10, 10, 36, 30), [wide, narrow]) == NOT_A_DIGIT
    assert classify((200, 200, 20, 30), [wide, narrow]) == NOT_A_DIGIT
    assert classify((200, 200, 20, 30), []) == NOT_A_DIGIT


def test_a_fragment_of_a_digit_is_left_out_rather_than_taught_either_way():
    seven = (10, 10, 20, 30)
    its_stem = (20, 20, 8, 20)  # IoU 0.27: normalised, it looks exactly like a 1
    assert classify(its_stem, [seven]) is None


def test_half_of_one_digit_cut_in_two_is_not_taught_as_that_digit():
    digit = (10, 10, 20, 30)
    left_half = (10, 10, 11, 30)  # IoU 0.55 with the digit
    assert match(left_half, [digit]) == 0
    assert match(left_half, [digit], piece=True) is None
    assert classify(left_half, [digit], piece=True) is None
    assert match((10, 10, 19, 30), [digit], piece=True) == 0  # a piece that is nearly all of it


@pytest.mark.parametrize("kind", ["pages", "drawings"])
def test_crops_of_a_scene_are_28x28_images_labelled_with_its_digits(train_digits, kind):
    scene = make_scene(train_digits, kind, 0, seed=1000)
    crops, missed = scene_crops(scene)
    assert len(crops) >= len(scene.labels) - missed > 0
    assert all(c.image.shape == (28, 28) and c.image.dtype == np.uint8 and c.image.max() > 128 for c in crops)
    assert {c.label for c in crops} - {NOT_A_DIGIT} <= set(scene.labels)


def test_touching_drawn_digits_give_split_pieces_labelled_with_their_digits(train_digits):
    scenes = [make_scene(train_digits, "drawings", i, seed=1000) for i in range(12)]
    touching = [s for s in scenes if "touching" in s.traits]
    pieces = [(c, s) for s in touching for c in scene_crops(s)[0] if c.piece and c.label != NOT_A_DIGIT]
    assert pieces, "no piece of a touching pair was matched to its digit"
    assert all(c.label in s.labels for c, s in pieces)


def test_build_returns_arrays_ready_for_training(train_digits):
    arrays = build(train_digits, ["drawings"], 2, seed=1000)
    n = len(arrays["labels"])
    assert n > 0 and arrays["images"].shape == (n, 28, 28) and arrays["images"].dtype == np.uint8
    assert arrays["labels"].min() >= NOT_A_DIGIT and arrays["labels"].max() <= 9
    assert len(arrays["kind"]) == len(arrays["piece"]) == n
