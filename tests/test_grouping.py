"""Reading order: left to right within a line, lines top to bottom, numbers split at wide gaps."""
from __future__ import annotations

import math

from webapp.grouping import group, line_strings


def row(x0: int, y0: int, text: str, h: int = 40, w: int = 24, step: int = 30, slope: float = 0.0) -> tuple[list, list]:
    """Boxes for `text` written from (x0, y0); spaces leave a gap; slope = dy/dx of the line."""
    boxes, labels, x = [], [], x0
    for ch in text:
        if ch != " ":
            boxes.append((x, round(y0 + slope * (x - x0)), w, h))
            labels.append(ch)
        x += step
    return boxes, labels


def read(boxes, labels) -> list[str]:
    return line_strings(group(boxes), labels)


def test_one_line_reads_left_to_right_whatever_the_input_order():
    boxes, labels = row(10, 50, "4711")
    order = [2, 0, 3, 1]
    assert read([boxes[i] for i in order], [labels[i] for i in order]) == ["4711"]


def test_a_wide_gap_separates_two_numbers_on_a_line():
    boxes, labels = row(10, 50, "4711  23")
    assert read(boxes, labels) == ["4711 23"]


def test_numbers_far_apart_on_one_line_stay_one_line():
    b1, l1 = row(10, 100, "42", slope=0.2)
    b2, l2 = row(400, 100 + round(0.2 * 390), "17", slope=0.2)  # 10 digit heights further along
    b3, l3 = row(10, 300, "5")
    assert read(b1 + b2 + b3, l1 + l2 + l3) == ["42 17", "5"]


def test_lines_are_listed_top_to_bottom():
    b1, l1 = row(10, 200, "805")
    b2, l2 = row(10, 50, "4711")
    assert read(b1 + b2, l1 + l2) == ["4711", "805"]


def test_a_slanted_line_is_one_line_in_writing_order():
    for degrees in (-35, 30):
        boxes, labels = row(10, 300, "237845", step=40, slope=math.tan(math.radians(degrees)))
        assert read(boxes, labels) == ["237845"]


def test_a_raised_digit_stays_on_its_line():
    boxes, labels = row(10, 50, "7123")
    x, y, w, h = boxes[3]
    boxes[3] = (x, y - 18, w, h)
    assert read(boxes, labels) == ["7123"]


def test_two_close_slanted_lines_are_not_merged():
    b1, l1 = row(10, 100, "1234", slope=0.3)
    b2, l2 = row(10, 180, "5678", slope=0.3)
    assert read(b1 + b2, l1 + l2) == ["1234", "5678"]


def test_a_lone_digit_on_the_next_line_is_not_read_into_the_number_above():
    """Left of the number's start and a line lower, it is its nearest neighbour at a step as
    steep as a slanted line may take, but the number itself runs level."""
    boxes, labels = row(170, 85, "9476", h=50, w=45, step=57)
    assert read(boxes + [(70, 210, 35, 50)], labels + ["7"]) == ["9476", "7"]


def test_a_short_number_below_and_left_of_a_line_starts_its_own_line():
    b1, l1 = row(200, 100, "64672 02", h=40, w=26)
    b2, l2 = row(60, 200, "59", h=40, w=26)
    assert read(b1 + b2, l1 + l2) == ["64672 02", "59"]


def test_two_lone_digits_on_different_lines_follow_the_frame_s_level_lines():
    b1, l1 = row(140, 70, "5223", h=30, w=22, step=28)
    b2, l2 = row(140, 290, "78856 6478", h=30, w=22, step=28)
    lone = [(128, 145, 18, 28), (37, 211, 20, 31)]  # a 6, then an 8 a line lower and 90 px left
    assert read(b1 + b2 + lone, l1 + l2 + ["6", "8"]) == ["5223", "6", "8", "78856 6478"]


def test_a_line_slanted_as_steeply_as_its_neighbour_step_stays_whole():
    for degrees in (-40, 35):
        b1, l1 = row(10, 300, "4711", step=40, slope=math.tan(math.radians(degrees)))
        b2, l2 = row(10, 300 + (400 if degrees < 0 else -250), "23", step=40, slope=math.tan(math.radians(degrees)))
        lines = read(b1 + b2, l1 + l2)
        assert sorted(lines) == ["23", "4711"], lines


def test_one_odd_step_does_not_break_a_level_line():
    """A 4 written close under the 3's corner is an odd step (a slope of 5), not the line's course."""
    boxes, labels = [(0, 100, 26, 40), (24, 100, 26, 40), (48, 100, 26, 40), (52, 122, 26, 40)], list("1234")
    assert read(boxes, labels) == ["1234"]


def test_alone_in_view_two_digits_a_line_apart_are_two_lines_and_a_slanted_pair_is_one_number():
    assert read([(60, 60, 30, 50), (150, 150, 30, 50)], ["6", "6"]) == ["6", "6"]
    boxes, labels = row(60, 200, "42", h=50, w=30, step=40, slope=math.tan(math.radians(-40)))
    assert read(boxes, labels) == ["42"]


def test_nothing_to_group():
    assert group([]) == [] and line_strings([], []) == []
