"""Binarisation: ink is found the same in light and shadow, either polarity, with rules removed."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.pipeline_helpers import page, rule, shadow, write
from webapp.binarize import (
    CANVAS_SPREAD,
    LOW_MIN,
    ink_and_paper,
    ink_map,
    light_on_dark,
    MNIST_STROKE,
    normalize_stroke,
    quiet,
    remove_lines,
    stroke_width,
    threshold_ink,
    threshold_ink_labelled,
    to_gray,
)


def written_page() -> tuple[np.ndarray, np.ndarray]:
    """A page with '4096' written across it, and the true ink mask."""
    img = page()
    write(img, "4096", 40, 160, scale=3.0, thickness=8)
    truth = to_gray(img) < 128
    return img, truth


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


def test_dark_ink_on_paper_and_light_ink_on_a_dark_canvas_are_told_apart():
    img, _ = written_page()
    gray = to_gray(img)
    assert not light_on_dark(gray)
    assert light_on_dark(255 - gray)


def test_one_thin_stroke_on_a_dark_canvas_is_light_ink():
    canvas = np.full((480, 640), 30, np.uint8)
    cv2.line(canvas, (300, 200), (290, 260), 230, 3)  # a small 1
    assert light_on_dark(canvas)
    assert not light_on_dark(255 - canvas)


def test_a_blot_wider_than_the_background_kernel_is_full_ink_on_a_flat_canvas_only():
    canvas = np.full((280, 280), 250, np.uint8)
    cv2.circle(canvas, (140, 140), 60, 0, -1)  # far wider than the 35 px closing of a 280 px frame
    flat, paper, _ = ink_and_paper(canvas, light_ink=False, canvas=True)
    assert flat[140, 140] > 0.9 * 255 and paper.min() >= 250 - CANVAS_SPREAD
    closed = ink_and_paper(canvas, light_ink=False).ink  # as a photo, where paper may be shaded
    assert closed[140, 140] < 0.5 * 255


def test_a_shadow_across_the_page_does_not_change_what_is_ink():
    img, truth = written_page()
    mask = threshold_ink(ink_map(to_gray(shadow(img, darkest=0.4)))) > 0
    assert iou(mask, truth) > 0.85


def test_paper_in_deep_shadow_is_not_ink():
    img, truth = written_page()
    ink = ink_map(to_gray(shadow(img, darkest=0.3)))
    assert np.percentile(ink[~truth], 99) < 0.1 * 255
    assert np.median(ink[truth]) > 0.5 * 255


def test_a_hard_shadow_edge_leaves_no_more_than_a_pen_line_of_ink():
    img = page(480, 640)
    img[:, 320:] = 110  # a lamp's hard shadow: the right half of the sheet lies in shade
    img = cv2.GaussianBlur(img, (5, 5), 0)
    inked = np.flatnonzero((threshold_ink(ink_map(to_gray(img))) > 0).any(axis=0))
    assert len(inked) <= 8  # columns holding any "ink": a thin line, not a band that swallows digits


def test_digits_across_a_hard_shadow_edge_keep_their_shape():
    img, truth = written_page()
    img[:, 200:] = (img[:, 200:] * 0.5).astype(np.uint8)  # the edge runs through the 0
    mask = threshold_ink(ink_map(to_gray(img))) > 0
    assert iou(mask, truth) > 0.85


def test_light_on_dark_drawing_gives_the_same_mask_as_dark_on_light():
    img, truth = written_page()
    inverted = 255 - to_gray(img)
    assert iou(threshold_ink(ink_map(inverted)) > 0, truth) > 0.85


def test_ruled_lines_are_removed_and_the_digits_kept():
    img, truth = written_page()
    mask = threshold_ink(ink_map(to_gray(rule(img, vertical=True))))
    clean, lines = remove_lines(mask, digit_height=60)
    assert np.count_nonzero(lines) > 0
    assert iou(clean > 0, truth) > 0.85


def tilted_rules(img: np.ndarray, degrees: float, spacing: int = 40, colour=(150, 120, 90)) -> np.ndarray:
    """Ruled paper photographed at a tilt: thin lines across the page rising by `degrees`."""
    out = img.copy()
    h, w = out.shape[:2]
    rise = round(np.tan(np.radians(degrees)) * w)
    for y in range(-rise, h + abs(rise), spacing):
        cv2.line(out, (0, y + rise), (w - 1, y), colour, 1, cv2.LINE_AA)
    return out


def away_from(truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Ink of `mask` more than 3 px from the true ink (a rule's remains, not a digit's soft edge)."""
    near = cv2.dilate(truth.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    return (mask > 0) & ~near


@pytest.mark.parametrize("degrees", [-5, -2, 2, 5])
def test_rules_tilted_with_the_page_are_removed_and_the_digits_kept(degrees):
    img, truth = written_page()
    mask = threshold_ink(ink_map(to_gray(tilted_rules(img, degrees))))
    clean, lines = remove_lines(mask, digit_height=60)
    # Of ~4000 rule pixels, only stubs where a rule crosses a corner too briefly to be seen are left.
    assert np.count_nonzero(away_from(truth, clean)) < 0.03 * np.count_nonzero(away_from(truth, mask))
    assert iou(clean > 0, truth) > 0.85


def test_rules_are_found_in_faint_ink_where_they_run_unbroken():
    img, truth = written_page()
    img = tilted_rules(img, 3, colour=(150, 150, 150))  # faint: only bits next to the digits reach the mask
    ink = ink_map(to_gray(img))
    mask = threshold_ink(ink)
    faint = cv2.threshold(ink, LOW_MIN * 255, 255, cv2.THRESH_BINARY)[1]
    clean, _ = remove_lines(mask, digit_height=60, guide=faint)
    assert np.count_nonzero(away_from(truth, clean)) < 0.03 * np.count_nonzero(away_from(truth, mask))


def test_a_tall_thin_one_is_not_taken_for_a_rule():
    img = page(300, 300)
    cv2.line(img, (150, 20), (150, 280), (30, 30, 30), 3)  # a 1, 260 px tall
    mask = threshold_ink(ink_map(to_gray(img)))
    clean, lines = remove_lines(mask, digit_height=260)
    assert not lines.any() and np.array_equal(clean, mask)


def test_a_broad_leaning_stroke_leaves_no_thin_edge_that_passes_for_a_rule():
    # A 1 drawn with a marker, slanted a few degrees, alone (so its height is unknown): the
    # opening along its length keeps it whole, and no edge of it is a line one pixel wide.
    img = page(280, 280)
    cv2.line(img, (150, 30), (120, 250), (30, 30, 30), 20, cv2.LINE_AA)
    mask = threshold_ink(ink_map(to_gray(img)))
    clean, lines = remove_lines(mask, digit_height=0.0)
    assert not lines.any() and np.array_equal(clean, mask)


def test_stroke_width_measures_a_drawn_stroke():
    for thickness in (3, 7, 15):
        mask = np.zeros((100, 100), np.uint8)
        cv2.line(mask, (20, 10), (70, 90), 255, thickness)
        assert abs(stroke_width(mask) - thickness) <= 1.5


def test_thin_strokes_are_thickened_and_thick_ones_thinned_towards_mnist():
    thin = np.zeros((100, 60), np.uint8)
    cv2.line(thin, (30, 5), (30, 95), 255, 2)
    thick = np.zeros((100, 60), np.uint8)
    cv2.line(thick, (30, 5), (30, 95), 255, 25)
    target = MNIST_STROKE * 100 / 20  # MNIST's stroke at this crop's scale
    for mask in (thin, thick):
        before = abs(stroke_width(mask) - target)
        after = abs(stroke_width(normalize_stroke(mask, mask)) - target)
        assert after < before


def test_the_labelled_mask_comes_with_its_own_components():
    img, truth = written_page()
    cv2.circle(img, (560, 60), 3, (200, 200, 200), -1)  # a faint dot: weak ink without a seed
    mask, labels, stats = threshold_ink_labelled(ink_map(to_gray(shadow(img, darkest=0.4))))
    assert iou(mask > 0, truth) > 0.85
    inked = np.flatnonzero(stats[1:, 4] > 0) + 1
    assert len(inked) == cv2.connectedComponents(mask, connectivity=8)[0] - 1
    for i in inked:  # each listed component is exactly its mask pixels, box and area
        x, y, w, h, area = stats[i]
        assert np.count_nonzero(mask[labels == i]) == area
        assert np.count_nonzero(labels[y : y + h, x : x + w] == i) == area


def test_a_clean_frame_is_left_as_it_is_and_a_grainy_one_is_rid_of_its_noise():
    """Sensor noise (a webcam's gain in dim light) is median-filtered away; a clean frame, the usual
    case, is not touched at all, so the filter cannot soften its thin strokes."""
    img, truth = written_page()
    gray = to_gray(img)
    assert quiet(gray) is gray
    rng = np.random.default_rng(0)
    grainy = np.clip(gray + rng.normal(0, 12, gray.shape), 0, 255).astype(np.uint8)
    paper = ~cv2.dilate(truth.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    before, after = grainy[paper].std(), quiet(grainy)[paper].std()
    assert after < 0.5 * before  # the paper is nearly flat again
    assert iou(threshold_ink(ink_map(quiet(grainy))) > 0, truth) > 0.8
