"""A sheet held askew: its lines' course is measured on the digits read, and a frame whose lines run
8 degrees or more off level is read again turned level (webapp/level.py), its boxes given back in
the frame's own pixels."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from webapp import level
from webapp.pipeline import read_frame


def turned(image: np.ndarray, angle: float) -> np.ndarray:
    """The image turned by `angle` degrees (counter-clockwise) on a canvas that holds all of it."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    size = (int(h * abs(m[0, 1]) + w * abs(m[0, 0])), int(h * abs(m[0, 0]) + w * abs(m[0, 1])))
    m[:, 2] += (size[0] / 2 - w / 2, size[1] / 2 - h / 2)
    return cv2.warpAffine(image, m, size, borderMode=cv2.BORDER_REPLICATE)


def boxes_along(angle: float, count: int = 4) -> list[tuple[int, int, int, int]]:
    """Digit boxes 40 px tall, 60 px apart, on a line falling `angle` degrees to the right."""
    step = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))]) * 60
    return [(int(100 + k * step[0]), int(200 + k * step[1]), 28, 40) for k in range(count)]


@pytest.mark.parametrize("angle", [-20.0, -9.0, 0.0, 12.0, 25.0])
def test_the_course_of_a_line_of_digits_is_measured_in_degrees(angle):
    assert level.line_angle(boxes_along(angle)) == pytest.approx(angle, abs=1.0)


def test_numbers_of_fewer_than_three_digits_give_no_course():
    """A 1 beside a 7 seldom sits level: two digits are not trusted for a course."""
    assert level.line_angle(boxes_along(30.0, count=2)) == 0.0
    assert level.line_angle([]) == 0.0


def test_a_box_turned_and_given_back_is_the_box_around_its_own_ink():
    """A thin stroke's level box, turned back by its corners, would be far wider than the stroke."""
    image = np.zeros((200, 300), np.uint8)
    cv2.line(image, (150, 60), (150, 140), 255, 3)  # a 1 standing upright in the frame
    turn = level.Turn(image.shape, 20.0)
    level_image = turn.image(image)
    ys, xs = np.nonzero(level_image > 127)
    box = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    x, y, w, h = turn.back(box, level_image[box[1] : box[1] + box[3], box[0] : box[0] + box[2]] > 127)
    assert abs(x - 148) <= 3 and abs(y - 58) <= 3 and w <= 10 and abs(h - 84) <= 4
    assert turn.back(box)[2] > 25  # by its corners


def test_a_photo_of_a_number_held_askew_is_read_as_when_held_level(real_dev_dir, recognizer, monkeypatch):
    """Real-dev 020, "7123" written rising (a photo), turned 20 degrees more: read as it was, each
    box on its digit. Read as it comes, its 2 fell apart into a 7 and a 1 and its 3 sat on a line of
    its own ("3", "7171")."""
    image = cv2.imread(str(real_dev_dir / "020.jpg"))
    plain = read_frame(image, recognizer, mode="camera", annotate=False)
    assert plain.lines == ["7123"]
    askew = turned(image, 20.0)
    reading = read_frame(askew, recognizer, mode="camera", annotate=False)
    assert reading.lines == ["7123"]
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 20.0, 1.0)
    m[:, 2] += (askew.shape[1] / 2 - w / 2, askew.shape[0] / 2 - h / 2)
    for was, now in zip(plain.digits, reading.digits):
        centre = m[:, :2] @ (was.box[0] + was.box[2] / 2, was.box[1] + was.box[3] / 2) + m[:, 2]
        x, y, bw, bh = now.box
        assert abs(x + bw / 2 - centre[0]) < bw / 2 and abs(y + bh / 2 - centre[1]) < bh / 2
    monkeypatch.setattr(level, "TURN_MIN", float("inf"))  # never read again turned level
    assert read_frame(askew, recognizer, mode="camera", annotate=False).lines != ["7123"]
