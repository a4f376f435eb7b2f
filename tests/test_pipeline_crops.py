"""Labelled pipeline crops for fine-tuning: each crop gets the truth digit whose ink it holds, or none."""
from __future__ import annotations

import numpy as np
import pytest

from tests.pipeline_helpers import PAPER, page, paste_digit, reference_digits
from train.pipeline_crops import NOT_A_DIGIT, build, classify, scene_crops
from webapp.scenes import DigitSource, Scene, make_scene


@pytest.fixture(scope="module")
def train_digits(mnist_dir):
    return DigitSource.from_dir(mnist_dir, split="train")


def ink(unowned: int, *owned: int) -> np.ndarray:
    """A crop's ink counts: first what no digit owns, then each digit's share of it."""
    return np.array([unowned, *owned])


TOTALS = np.array([1000, 1500, 600])  # all the ink of three digits, say a 7, a 2 and a 1


def test_a_crop_holding_one_digit_is_taught_as_that_digit():
    assert classify(ink(0, 0, 1500, 0), TOTALS) == 1
    assert classify(ink(40, 980, 0, 0), TOTALS) == 0  # with a little noise or ruled line left over


def test_a_split_piece_of_a_1_keeping_a_hook_of_a_touching_2_is_that_1():
    # The reader's piece of a 1 whose box covers a third of the 2's box: the ink is what counts.
    assert classify(ink(0, 0, 180, 580), TOTALS) == 2


def test_a_touching_pair_read_whole_is_taught_as_no_digit():
    assert classify(ink(0, 0, 1500, 600), TOTALS) == NOT_A_DIGIT
    assert classify(ink(0, 0, 700, 600), TOTALS) == NOT_A_DIGIT  # cut in the wrong place: half the 2 and the 1


def test_a_stray_mark_is_taught_as_no_digit():
    assert classify(ink(500, 30, 0, 0), TOTALS) == NOT_A_DIGIT
    assert classify(ink(0, 0, 0, 0), TOTALS) == NOT_A_DIGIT
    assert classify(ink(300), np.array([], np.int64)) == NOT_A_DIGIT  # a page without digits


def test_a_fragment_of_a_digit_is_left_out_rather_than_taught_either_way():
    assert classify(ink(0, 400, 0, 0), TOTALS) is None  # the stem of a 7 looks exactly like a 1
    assert classify(ink(0, 0, 750, 0), TOTALS) is None  # half of a 2 cut in two


def test_a_digit_half_hidden_by_other_marks_is_left_out():
    assert classify(ink(800, 1000, 0, 0), TOTALS) is None


def pasted_scene(digits, step: int) -> Scene:
    """MNIST digits pasted on a page `step` px apart, with the owner of every ink pixel."""
    img, owner = page(), np.zeros((240, 480), np.int16)
    for i, (digit, _) in enumerate(digits):
        alone = page()
        paste_digit(img, digit, 60 + i * step, 150, 64)
        paste_digit(alone, digit, 60 + i * step, 150, 64)
        owner[alone[..., 0] < PAPER - 60] = i + 1
    labels = [label for _, label in digits]
    return Scene(image=img, kind="pages", index=0, boxes=[], labels=labels, lines=[], traits=(), owner=owner)


def test_the_pieces_a_touching_2_and_1_are_cut_into_are_taught_as_that_2_and_that_1(mnist_dir, recognizer):
    # MNIST test digits 7 2 1 pasted 60 px apart: the 2's tail runs under the 1 and touches it,
    # so the 1's piece covers a third of the 2's box. Taught as "no digit", the model learnt to doubt it.
    scene = pasted_scene(reference_digits(mnist_dir, recognizer, 3), step=60)
    assert scene.labels == [7, 2, 1]
    crops, missed = scene_crops(scene)
    assert missed == 0
    assert sorted(c.label for c in crops if c.piece) == [1, 2]
    assert [c.label for c in crops if not c.piece] == [7, NOT_A_DIGIT]  # the 7, and the pair read whole


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


def test_more_touching_scenes_can_be_asked_for_without_changing_the_others(train_digits):
    default = [make_scene(train_digits, "pages", i, seed=1000) for i in range(12)]
    more = [make_scene(train_digits, "pages", i, seed=1000, touching=0.5) for i in range(12)]
    assert sum("touching" in s.traits for s in more) > sum("touching" in s.traits for s in default)
    same = [(a, b) for a, b in zip(default, more) if "touching" not in b.traits]
    assert same and all(np.array_equal(a.image, b.image) for a, b in same)


def test_build_returns_arrays_ready_for_training(train_digits):
    arrays = build(train_digits, ["drawings"], 2, seed=1000)
    n = len(arrays["labels"])
    assert n > 0 and arrays["images"].shape == (n, 28, 28) and arrays["images"].dtype == np.uint8
    assert arrays["labels"].min() >= NOT_A_DIGIT and arrays["labels"].max() <= 9
    assert len(arrays["kind"]) == len(arrays["piece"]) == n
