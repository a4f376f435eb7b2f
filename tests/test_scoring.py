"""The scorer on cases small enough to work out by hand."""
from __future__ import annotations

import pytest

from webapp.scoring import Counts, box_counts, cer, char_errors, edit_distance, error_kinds, iou, lines_exact, match

A = (0, 0, 10, 10)
B = (20, 0, 10, 10)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (A, A, 1.0),
        (A, B, 0.0),  # disjoint
        (A, (5, 0, 10, 10), 50 / 150),  # half overlap: 50 shared of 150 covered
        (A, (0, 0, 10, 5), 0.5),  # one box inside the other, half its area
        (A, (10, 0, 10, 10), 0.0),  # touching edges share no area
        (A, (0, 0, 0, 0), 0.0),  # an empty box never overlaps
    ],
)
def test_iou_of_hand_made_boxes(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)
    assert iou(b, a) == pytest.approx(expected)


def test_a_right_box_with_the_right_label_is_a_hit():
    c = box_counts([(A, 3), (B, 7)], [(B, 7), (A, 3)])
    assert (c.tp, c.fp, c.fn) == (2, 0, 0)
    assert c.f1 == 1.0


def test_a_wrong_label_is_a_miss_and_a_false_positive():
    c = box_counts([(A, 3), (B, 7)], [(A, 8), (B, 7)])
    assert (c.tp, c.fp, c.fn) == (1, 1, 1)
    assert (c.precision, c.recall, c.f1) == (0.5, 0.5, 0.5)


def test_overlap_below_the_threshold_is_a_miss():
    # IoU of A with (5, 0, 10, 10) is 1/3 < 0.4; with (4, 0, 10, 10) it is 60/140 = 0.43.
    assert box_counts([(A, 1)], [((5, 0, 10, 10), 1)]).tp == 0
    assert box_counts([(A, 1)], [((4, 0, 10, 10), 1)]).tp == 1


def test_a_duplicate_detection_counts_once():
    c = box_counts([(A, 5)], [(A, 5), ((1, 0, 10, 10), 5)])
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)
    assert c.precision == 0.5 and c.recall == 1.0
    assert c.f1 == pytest.approx(2 / 3)


def test_matching_is_one_to_one_and_maximal():
    # Detection 0 overlaps both truths; greedy by IoU would give it to truth 1 and leave truth 0
    # unmatched. The maximum matching pairs 0-0 and 1-1.
    truth = [((0, 0, 10, 10), 4), ((6, 0, 10, 10), 4)]
    found = [((4, 0, 10, 10), 4), ((10, 0, 10, 10), 4)]  # IoUs: 0.43/0.67 and 0/0.43
    assert iou(truth[1][0], found[0][0]) > iou(truth[0][0], found[0][0]) >= 0.4
    assert match(truth, found) == [(0, 0), (1, 1)]


def test_empty_truth_and_empty_reading_is_perfect():
    c = box_counts([], [])
    assert (c.precision, c.recall, c.f1) == (1.0, 1.0, 1.0)


def test_anything_read_from_an_empty_image_is_a_false_positive():
    c = box_counts([], [(A, 1)])
    assert (c.tp, c.fp, c.fn) == (0, 1, 0)
    assert c.precision == 0.0 and c.f1 == 0.0


def test_counts_add_up_over_images():
    total = Counts(3, 1, 0) + Counts(1, 0, 2)
    assert (total.tp, total.fp, total.fn) == (4, 1, 2)
    assert total.f1 == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))


def test_lines_must_match_in_order_and_number_split():
    assert lines_exact(["4711 23", "805"], ["4711 23", "805"])
    assert not lines_exact(["805", "4711 23"], ["4711 23", "805"])
    assert not lines_exact(["471123", "805"], ["4711 23", "805"])
    assert lines_exact(["471123", "805"], ["4711 23", "805"], ignore_spaces=True)
    assert not lines_exact(["4711 23 805"], ["4711 23", "805"], ignore_spaces=True)


@pytest.mark.parametrize(
    "a, b, expected",
    [("", "", 0), ("123", "123", 0), ("123", "", 3), ("", "12", 2), ("1234", "1284", 1),
     ("1234", "124", 1), ("124", "1234", 1), ("4321", "1234", 4), ("kitten", "sitting", 3)],
)
def test_edit_distance(a, b, expected):
    assert edit_distance(a, b) == expected


def test_character_errors_ignore_spaces_and_join_lines():
    assert char_errors(["47 11"], ["4711"]) == (0, 4)
    assert char_errors(["47", "11"], ["4711"]) == (0, 4)
    assert char_errors(["4 7 1"], ["4711"]) == (1, 4)


def test_every_digit_read_from_an_image_without_digits_is_an_insertion():
    assert char_errors(["12", "3"], []) == (3, 0)
    # Over two images: 1 substitution in 4 true digits plus 3 insertions = 4 / 4.
    assert cer([(["4712"], ["4711"]), (["123"], [])]) == 1.0
    assert cer([([], [])]) == 0.0


def test_errors_are_sorted_into_kinds():
    truth = [(A, 1), (B, 2), ((40, 0, 10, 10), 3), ((60, 0, 10, 10), 4)]
    found = [(A, 7),  # right place, wrong label: a misread (and a false detection)
             ((20, 0, 10, 3), 2),  # a third of B: box off
             ((60, 0, 10, 10), 4),  # a hit
             ((90, 0, 10, 10), 5)]  # nothing there
    # (40, 0, 10, 10) is not found at all.
    assert error_kinds(truth, found) == {"miss: misread": 1, "miss: box off": 1, "miss: not found": 1,
                                         "false: wrong label/duplicate": 1, "false: box off": 1,
                                         "false: no digit there": 1}
