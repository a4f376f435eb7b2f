"""Region rules: specks dropped, pieces merged, wide regions offered splits, non-digits rejected by name."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.pipeline_helpers import INK, page, scribble, write
from webapp import segment
from webapp.binarize import ink_map, threshold_ink, to_gray
from webapp.segment import SPLIT_ASPECT, find_regions, typical_height


def regions_of(img: np.ndarray):
    ink = ink_map(to_gray(img))
    regions, _, digit_h = find_regions(threshold_ink(ink), ink=ink)
    return regions, digit_h


def test_typical_height_follows_the_ink_not_the_number_of_specks():
    heights = np.array([3] * 20 + [60, 62, 58])
    areas = np.array([5] * 20 + [600, 640, 580])
    assert 58 <= typical_height(heights, np.sqrt(areas)) <= 62


def test_digits_are_read_beside_a_big_shadow_band():
    img = page(300, 480)
    write(img, "4711", 40, 200)
    img[20:280, 330:420] = 120  # a dark band, taller than any digit
    regions, digit_h = regions_of(img)
    assert 40 <= digit_h <= 70
    assert sum(r.reason is None for r in regions) == 4


def test_a_wide_patch_of_shade_does_not_set_the_digit_height():
    mask = np.zeros((300, 640), np.uint8)
    write(mask, "4711", 40, 240, scale=1.5, thickness=4, colour=255)
    mask[30:110, 150:450] = 255  # shade taken for ink: inkier than all the digits, too wide to be one
    regions, _, digit_h = find_regions(mask)
    assert 25 <= digit_h <= 45
    assert sum(r.reason is None for r in regions) == 4


def test_a_lone_speck_is_dropped_silently():
    img = page()
    write(img, "47", 60, 160)
    cv2.circle(img, (350, 60), 2, (INK, INK, INK), -1)
    regions, _ = regions_of(img)
    assert len(regions) == 2
    assert all(r.reason is None and r.box[0] < 300 for r in regions)


def test_a_five_with_a_detached_bar_is_one_region():
    img = page()
    cv2.ellipse(img, (200, 150), (35, 35), 0, -150, 150, (INK,) * 3, 6)  # the belly
    cv2.line(img, (168, 80), (168, 125), (INK,) * 3, 6)  # the stem
    cv2.line(img, (178, 68), (235, 68), (INK,) * 3, 6)  # the bar, not touching
    regions, _ = regions_of(img)
    assert len(regions) == 1 and regions[0].reason is None
    assert regions[0].box[1] <= 66  # the bar is inside the region's box


def test_a_five_whose_bar_starts_past_its_body_is_one_region():
    img = page()
    cv2.line(img, (170, 80), (170, 120), (INK,) * 3, 6)  # the stem
    cv2.ellipse(img, (180, 148), (14, 30), 0, -140, 140, (INK,) * 3, 6)  # a narrow belly
    cv2.line(img, (194, 74), (236, 70), (INK,) * 3, 6)  # the bar, begun where the belly ends
    regions, _ = regions_of(img)
    assert len(regions) == 1 and regions[0].reason is None
    assert regions[0].box[1] <= 68  # the bar is inside the region's box


def test_a_flat_five_whose_bar_runs_on_past_its_body_is_one_region():
    img = page()
    cv2.line(img, (170, 96), (168, 120), (INK,) * 3, 7)  # the stem
    cv2.ellipse(img, (186, 140), (22, 20), 0, -120, 140, (INK,) * 3, 7)  # a flat belly
    cv2.line(img, (212, 84), (290, 80), (INK,) * 3, 7)  # the bar, begun past the belly: wider than a broad digit
    regions, _ = regions_of(img)
    assert len(regions) == 1 and regions[0].reason is None
    assert regions[0].box[0] + regions[0].box[2] >= 290  # the whole bar is inside the region's box


def test_a_minus_sign_written_close_after_a_one_is_not_taken_for_its_bar():
    """A - at mid-height beside a 1 passed the 5's-bar rule, and the "1-" read as nothing: "1 - 2"
    read "2". A 5's bar is at the top of the digit."""
    img = page(300, 480)
    for stroke in ([(60, 60), (60, 240)], [(100, 150), (160, 150)], [(200, 90), (260, 80), (210, 240), (280, 240)]):
        cv2.polylines(img, [np.array(stroke, np.int32)], False, (INK,) * 3, 12, cv2.LINE_AA)
    regions, _ = regions_of(img)
    ones = [r for r in regions if r.box[0] < 70]
    assert len(ones) == 1 and ones[0].box[2] < 20  # the 1 alone, no wider than its stroke


def test_the_dot_of_an_i_beside_its_stem_does_not_make_it_a_tall_one():
    img = page()
    write(img, "47", 40, 160)
    cv2.line(img, (300, 125), (300, 158), (INK,) * 3, 6)  # an x-height stem
    cv2.circle(img, (314, 115), 5, (INK,) * 3, -1)  # its dot, dabbed off to the right
    regions, _ = regions_of(img)
    stems = [r for r in regions if r.box[0] > 250 and r.box[1] + r.box[3] >= 150]
    assert len(stems) == 1 and stems[0].box[1] >= 118


def test_a_short_digit_beside_another_is_not_taken_for_its_piece():
    img = page()
    write(img, "4", 60, 160)
    write(img, "2", 106, 160, scale=1.2, thickness=6)  # a small 2 written close after it: together too wide
    regions, _ = regions_of(img)
    assert len([r for r in regions if r.box[0] < 200]) == 2


def test_a_slanted_one_broken_in_two_is_one_region():
    img = page()
    write(img, "47", 40, 160)
    cv2.line(img, (330, 95), (320, 120), (INK,) * 3, 4)  # a thin-pen 1 leaning right,
    cv2.line(img, (318, 126), (308, 158), (INK,) * 3, 4)  # broken where the pen skipped
    regions, _ = regions_of(img)
    ones = [r for r in regions if r.box[0] > 250]
    assert len(ones) == 1 and ones[0].reason is None
    assert ones[0].box[1] <= 95 and ones[0].box[1] + ones[0].box[3] >= 158


def test_digits_side_by_side_stay_separate_regions():
    img = page()
    write(img, "71", 60, 160)
    regions, _ = regions_of(img)
    assert len(regions) == 2


def test_touching_digits_are_one_region_offered_splits():
    img = page()
    write(img, "0", 60, 160, thickness=9)
    write(img, "8", 96, 160, thickness=9)  # overlaps the 0's right side
    regions, _ = regions_of(img)
    assert len(regions) == 1 and regions[0].reason is None
    assert regions[0].splits and all(len(cuts) >= 2 for cuts in regions[0].splits)


def test_a_single_broad_digit_is_not_offered_splits():
    img = page()
    cv2.ellipse(img, (160, 150), (40, 36), 0, 0, 360, (INK,) * 3, 7)  # a round 0, slightly wider than tall
    regions, _ = regions_of(img)
    assert len(regions) == 1 and regions[0].reason is None
    assert 1.0 < regions[0].aspect <= SPLIT_ASPECT
    assert regions[0].splits == []


def test_a_scribble_is_rejected_as_one(recognizer):
    """A tangle with three loops, one more than an 8's, is left to the model (Region.loopy), which
    must read a sure 8 to keep it: it does not, so the frame reads only the 3, one mark rejected."""
    from webapp.pipeline import read_frame

    img = page()
    write(img, "3", 40, 160)
    scribble(img, 250, 80, 100)
    regions, _ = regions_of(img)
    assert sorted((r.reason or "", r.loopy) for r in regions) == [("", False), ("", True)]
    for mode in ("camera", "canvas"):
        reading = read_frame(img, recognizer, mode=mode)
        assert (reading.lines, reading.rejected) == (["3"], 1)


def test_a_blot_is_rejected():
    img = page()
    write(img, "3", 40, 160)
    cv2.circle(img, (300, 120), 35, (INK,) * 3, -1)
    regions, _ = regions_of(img)
    assert sorted(r.reason or "" for r in regions) == ["", "blot"]


def test_a_small_bold_blurred_zero_is_not_a_blot():
    img = page(120, 240)
    write(img, "11", 20, 80, scale=0.8, thickness=2)
    write(img, "0", 120, 80, scale=0.8, thickness=8)  # a marker 0, 19 px tall, its hole nearly shut by blur
    regions, _ = regions_of(cv2.GaussianBlur(img, (7, 7), 0))
    zero = [r for r in regions if r.box[0] > 100]
    assert len(zero) == 1 and zero[0].reason is None


def test_a_thick_one_written_small_that_fills_its_box_is_not_a_blot():
    img = page(120, 240)
    write(img, "32", 20, 80, scale=0.8, thickness=4)
    cv2.rectangle(img, (147, 64), (154, 80), (INK,) * 3, -1)  # a marker 1: 8 px wide, 17 px tall, full
    regions, _ = regions_of(cv2.GaussianBlur(img, (3, 3), 0))
    one = [r for r in regions if r.box[0] > 140]
    assert len(one) == 1 and 0.4 < one[0].box[2] / one[0].box[3] < 0.5 and one[0].reason is None


def test_a_dark_band_at_the_edge_of_the_frame_is_no_digit():
    img = page()
    write(img, "25", 150, 150)
    img[:, :40] = 20  # the desk beyond the sheet: background of its own, or else rejected as the paper edge
    regions, _ = regions_of(img)
    assert sorted(r.reason or "" for r in regions) in (["", ""], ["", "", "edge"])
    assert all(r.box[0] > 100 for r in regions if r.reason is None)


def a_seven_on_a_faint_line() -> np.ndarray:
    """"4711" on a photographed page, a faint line (a shadow's edge, a pencil rule) running down
    through its 7, from near the top of the page to near its foot: three digits tall."""
    img = page(300, 480)
    cv2.line(img, (118, 10), (118, 290), (165, 165, 165), 3, cv2.LINE_AA)
    write(img, "4711", 40, 180)  # the pen's ink over the line
    return img


def test_a_digit_joined_to_a_faint_line_is_carved_out_of_it():
    ink = ink_map(to_gray(a_seven_on_a_faint_line()))
    regions, _, digit_h = find_regions(threshold_ink(ink), ink=ink, photo=True)
    digits = sorted((r for r in regions if r.reason is None), key=lambda r: r.box[0])
    assert len(digits) == 4 and [r.carved for r in digits] == [False, True, False, False]
    x, y, w, h = digits[1].box
    assert 0.8 * digit_h <= h <= 1.2 * digit_h and x < 118 < x + w  # the 7 alone, not the line
    assert [r.reason for r in regions if r.reason] == ["too big"]  # what is left of the line


def test_without_carving_the_line_takes_its_digit_with_it(monkeypatch):
    monkeypatch.setattr(segment, "CARVE_REASONS", set())
    ink = ink_map(to_gray(a_seven_on_a_faint_line()))
    regions, _, _ = find_regions(threshold_ink(ink), ink=ink, photo=True)
    assert sum(r.reason is None for r in regions) == 3


def test_a_digit_that_a_faint_box_runs_through_is_carved_out_of_the_box():
    """"4725" in a box drawn in pencil round it, whose left side runs down through the 4: the box
    and the 4 are one mark, a frame round the other three."""
    img = page(240, 480)
    cv2.rectangle(img, (124, 70), (400, 190), (165, 165, 165), 3, cv2.LINE_AA)
    write(img, "4725", 120, 150)
    ink = ink_map(to_gray(img))
    regions, _, _ = find_regions(threshold_ink(ink), ink=ink, photo=True)
    digits = sorted((r for r in regions if r.reason is None), key=lambda r: r.box[0])
    x, _, w, _ = digits[0].box
    assert [r.carved for r in digits] == [True, False, False, False] and x < 124 < x + w  # the 4
    assert [r.reason for r in regions if r.reason] == ["frame"]


def test_a_box_drawn_around_a_number_is_a_frame_not_a_digit():
    img = page(240, 480)
    write(img, "472", 120, 150)
    cv2.rectangle(img, (90, 70), (330, 185), (INK,) * 3, 3)
    regions, _ = regions_of(img)
    assert sorted(r.reason or "" for r in regions) == ["", "", "", "frame"]


def test_faint_show_through_is_not_a_candidate_beside_bold_writing():
    img = page()
    write(img, "8", 40, 160)
    write(img, "6", 300, 160, colour=(150, 150, 150))  # a mark from the back of the sheet
    regions, _ = regions_of(img)
    assert [r.box[0] < 200 for r in regions if r.reason is None] == [True]


def test_a_frame_with_too_many_candidates_keeps_the_inkiest(monkeypatch):
    import webapp.segment as segment

    monkeypatch.setattr(segment, "MAX_CANDIDATES", 3)
    img = page(240, 640)
    for i in range(6):
        write(img, "8", 20 + i * 100, 160, scale=2.0 + 0.6 * (i % 2))  # every other 8 bigger
    regions, _ = regions_of(img)
    live = [r for r in regions if r.reason is None]
    assert len(live) == 3 and sum(r.reason == "crowded" for r in regions) == 3
    assert all(((r.box[0] - 20) // 100) % 2 == 1 for r in live)  # the big ones


def _zeros(count: int, width: int = 140) -> np.ndarray:
    """`count` 0s (ellipses `width` x 60 px, a 14 px pen) side by side, touching, on a white canvas."""
    img = np.full((480, 640, 3), 255, np.uint8)
    for k in range(count):
        cv2.ellipse(img, (160 + (width - 4) * k, 240), (width // 2, 30), 0, 0, 360, (0, 0, 0), 14, cv2.LINE_AA)
    return img


def test_a_flat_zero_is_not_offered_a_cut_through_its_loop():
    """A 0 wider than tall is one loop across the region: cut in the middle, its halves read as a 6 and
    a 7, or a whole 6. Two touching 0s each keep their own loop, and are still offered the cut."""
    [zero], _ = regions_of(_zeros(1))
    assert zero.aspect > SPLIT_ASPECT and zero.splits == []
    [pair], _ = regions_of(_zeros(2, width=70))
    assert pair.reason is None and pair.splits != []


def test_a_flat_zero_on_a_canvas_is_read_as_a_zero(recognizer, monkeypatch):
    from webapp.pipeline import read_frame

    assert read_frame(_zeros(1), recognizer, mode="canvas").lines == ["0"]
    assert read_frame(_zeros(2, width=70), recognizer, mode="canvas").lines == ["00"]
    monkeypatch.setattr(segment, "LOOP_WIDE", float("inf"))  # every loop may be cut
    assert read_frame(_zeros(1), recognizer, mode="canvas").lines not in ([], ["0"])  # its halves read as digits


@pytest.mark.parametrize("photo", [True, False])
def test_a_digit_sized_mark_with_three_loops_is_left_to_the_model_but_four_loops_are_a_scribble(photo):
    """An 8 whose tail crosses its top loop has three loops, one more than a digit's: the region
    stays a candidate marked loopy, for the model to read (choice.without_loopy keeps only a sure
    8). A fourth loop makes it a scribble."""
    from webapp import segment

    mask = np.zeros((200, 200), np.uint8)
    for centre, axes in (((100, 60), (30, 28)), ((100, 135), (38, 36)), ((118, 45), (14, 12))):
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, 6)
    comps = segment.components(mask)
    region = segment.Region((62, 20, 78, 155), [int(i) for i in np.unique(comps.labels) if i])
    assert segment._count_holes(segment.region_mask(comps, region)) == 3
    gated = segment.gate(region, comps, 150.0, photo=photo)
    assert gated.reason is None and gated.loopy
    cv2.ellipse(mask, (100, 155), (12, 10), 0, 0, 360, 255, 5)  # a fourth loop in the lower one
    comps = segment.components(mask)
    region = segment.Region((62, 20, 78, 155), [int(i) for i in np.unique(comps.labels) if i])
    assert segment._count_holes(segment.region_mask(comps, region)) == 4
    assert segment.gate(region, comps, 150.0, photo=photo).reason == "scribble"
