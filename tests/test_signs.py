"""Telling a + or x sign from a digit by its strokes (webapp.signs)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from webapp.binarize import stroke_width
from webapp.signs import is_cross, is_sign, is_stacked
from webapp.strokes import GLYPHS, draw_char


def drawn(lines: list[tuple[tuple[int, int], tuple[int, int]]], pen: int = 8, size: int = 80) -> np.ndarray:
    """A uint8 0/255 mask cropped to the ink of straight pen strokes."""
    img = np.zeros((size, size), np.uint8)
    for a, b in lines:
        cv2.line(img, a, b, 255, pen, cv2.LINE_AA)
    mask = (img > 127).astype(np.uint8) * 255
    ys, xs = np.nonzero(mask)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def crossing(mask: np.ndarray) -> bool:
    return is_cross(mask, stroke_width(mask))


@pytest.mark.parametrize("pen", [3, 6, 10])
def test_a_plus_and_a_times_sign_are_crosses_whatever_the_pen(pen):
    assert crossing(drawn([((10, 42), (70, 38)), ((38, 10), (42, 70))], pen))  # a + written a little askew
    assert crossing(drawn([((12, 12), (68, 68)), ((68, 14), (14, 66))], pen))  # a x


def test_strokes_that_cross_off_their_middles_or_bend_are_not_crosses():
    """Strokes that meet but are not a + or a x sign: most pass the quick look at the corners and fail
    the tracing (crossed off the middle, a bent arm, two crossings, a fifth arm)."""
    assert not crossing(drawn([((20, 27), (60, 27)), ((40, 10), (40, 70))]))  # crossed near one end
    assert not crossing(drawn([((10, 40), (40, 40)), ((40, 10), (40, 70)), ((40, 40), (56, 40)),
                               ((56, 40), (66, 26))]))  # an arm bent like an open 4's
    assert not crossing(drawn([((10, 40), (70, 40)), ((40, 40), (40, 10)), ((40, 40), (24, 56))], pen=4))  # no opposite
    assert not crossing(drawn([((10, 40), (70, 40)), ((40, 10), (40, 70)), ((32, 22), (48, 22))]))  # two crossings
    assert not crossing(drawn([((10, 40), (70, 40)), ((40, 10), (40, 70)), ((40, 40), (62, 62))]))  # five arms
    assert not crossing(drawn([((10, 12), (70, 12)), ((40, 12), (40, 70))]))  # a T
    assert not crossing(drawn([((10, 40), (70, 40))]))  # a dash


def hand_drawn_plus(seed: int) -> np.ndarray:
    """A + as eval-sums draws it (strokes a little askew), 28-40 px across with a 9-15 px pen."""
    from webapp.eval_sums import sign_strokes

    rng = np.random.default_rng(seed)
    size, pen = rng.uniform(28, 40), rng.uniform(9, 15)
    img = np.zeros((80, 80), np.uint8)
    for stroke in sign_strokes("+", size, pen, rng):
        cv2.polylines(img, [np.round((stroke + 20) * 16).astype(np.int32)], False, 255, round(pen), cv2.LINE_AA, 4)
    mask = (img > 127).astype(np.uint8) * 255
    ys, xs = np.nonzero(mask)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def test_a_plus_drawn_with_a_thick_pen_is_still_a_cross():
    """Thinning shortens each arm of a thick pen's + by half the pen's width and may leave its
    crossing as a small block with no branch point; these were read as 4s (of 300 such signs, 280
    were crosses before, 290 now)."""
    for seed in (12, 14, 26, 39, 57):
        assert crossing(hand_drawn_plus(seed)), seed


def test_a_big_sign_drawn_with_a_thin_pen_is_still_a_cross():
    """Shrunk to 32 px, a 2-4 px pen on a 300 px sign broke up; it is traced at a larger scale."""
    for pen in (2, 4):
        assert crossing(drawn([((10, 160), (310, 156)), ((160, 10), (163, 310))], pen, size=320))


@pytest.mark.parametrize("pen", [4, 8, 14])
def test_an_even_plus_as_tall_as_the_digits_is_a_sign(pen):
    """Signs are mostly drawn smaller than digits, but not always; a tall one must be drawn evenly."""
    plus = drawn([((8, 41), (72, 39)), ((41, 8), (39, 72))], pen)
    assert is_sign(plus, stroke_width(plus), digit_h=plus.shape[0])
    assert is_sign(plus, stroke_width(plus), digit_h=plus.shape[0] / 1.1)
    assert is_sign(plus, stroke_width(plus), digit_h=plus.shape[0] / 1.3)  # written big, or a thick pen's box
    assert not is_sign(plus, stroke_width(plus), digit_h=plus.shape[0] / 1.6)  # a mark that tall is no sign


def test_a_4_drawn_like_a_plus_is_a_sign_only_when_small(mnist_dir):
    """MNIST test digit 5677 is a 4 drawn as a cross (its bar low on a tall stem): a sign when half
    the height of the digits around it, a digit among digits of its own height."""
    from train.data import load_split

    images, labels = load_split(mnist_dir, "test")
    assert labels[5677] == 4
    ink = cv2.resize(images[5677], (84, 84), interpolation=cv2.INTER_LINEAR)
    mask = (ink > 127).astype(np.uint8) * 255
    ys, xs = np.nonzero(mask)
    four = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert crossing(four)  # shaped as a cross ...
    assert is_sign(four, stroke_width(four), digit_h=2 * four.shape[0])  # ... a sign among taller digits
    assert not is_sign(four, stroke_width(four), digit_h=four.shape[0])  # ... a 4 among its own height


def dots_and_bars(marks: list, pen: int = 8) -> np.ndarray:
    """A uint8 0/255 mask of pen marks: (x, y) dots and ((x0, y0), (x1, y1)) strokes."""
    img = np.zeros((90, 90), np.uint8)
    for mark in marks:
        if isinstance(mark[0], tuple):
            cv2.line(img, mark[0], mark[1], 255, pen, cv2.LINE_AA)
        else:
            cv2.circle(img, mark, pen // 2 + 1, 255, -1, cv2.LINE_AA)
    return (img > 127).astype(np.uint8) * 255


def test_equals_colon_and_division_signs_are_stacked_signs():
    """Merged as pieces of one mark (as a 5's bar is with its body), an = read as a 2 and a : as an 8."""
    for marks in ([((15, 35), (75, 36)), ((15, 55), (75, 54))],  # =
                  [(45, 25), (45, 65)],  # :
                  [(45, 20), ((15, 45), (75, 45)), (45, 70)]):  # the division sign
        mask = dots_and_bars(marks)
        assert is_stacked(mask, stroke_width(mask))


def test_digits_in_two_pieces_are_not_stacked_signs():
    """A 5 with its bar apart, a 7 and a 4 drawn in two strokes: a piece of each is neither a bar nor a dot."""
    for marks in ([((30, 10), (70, 10)), ((30, 20), (30, 40)), ((30, 40), (60, 55)), ((60, 55), (30, 80))],
                  [((15, 10), (75, 10)), ((70, 22), (40, 85))],
                  [((30, 10), (15, 55)), ((15, 55), (75, 55)), ((55, 25), (55, 85))]):
        mask = dots_and_bars(marks[:1]) | dots_and_bars(marks[1:])
        assert not is_stacked(mask, stroke_width(mask))
    side_by_side = dots_and_bars([(25, 45), (65, 45)])  # two dots on one line are no :
    assert not is_stacked(side_by_side, stroke_width(side_by_side))


@pytest.mark.parametrize("char", [c for c in GLYPHS if c.isdigit()])
def test_no_drawn_digit_is_a_cross(char):
    img = np.zeros((140, 100, 3), np.uint8)
    draw_char(img, char, 10, 10, 120, 10, (255, 255, 255))
    mask = (img[:, :, 0] > 127).astype(np.uint8) * 255
    ys, xs = np.nonzero(mask)
    assert not crossing(mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def test_a_speck_or_an_empty_mask_is_not_a_cross():
    """Specks a pixel or two wide fade out when turned for the x test: an answer, not a crash."""
    for shape in ((1, 1), (2, 1), (1, 5)):
        assert not is_cross(np.full(shape, 255, np.uint8), 1.0)
    assert not is_cross(np.zeros((3, 3), np.uint8), 1.0)
