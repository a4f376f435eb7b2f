"""One digit drawn in pieces, alone on a canvas or a sheet, is read as one digit; digits apart stay apart.

With nothing else in the frame the pieces set the typical digit height themselves, so none of them
looks small enough to be a piece of another (segment's merge rule); the reader then also reads the
pieces together (joins.as_one_digit).
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from webapp.pipeline import read_frame

HEAD = [(130, 60), (80, 20), (30, 60), (60, 120), (130, 90), (130, 60)]  # a 9's loop ...
STEM = [(140, 130), (130, 290)]  # ... and its stem, drawn apart from it
ONE = [(60, 40), (90, 0), (90, 190)]
SEVEN = [(20, 0), (150, 0), (70, 190)]


def canvas(strokes: list[list[tuple[int, int]]], scale: float = 1.0, pen: int = 14, light_on_dark: bool = False,
           size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A drawing-pad frame: each stroke a polyline, shifted to the pad's middle and scaled."""
    paper, ink = (0, 255) if light_on_dark else (255, 0)
    img = np.full((size[1], size[0], 3), paper, np.uint8)
    for stroke in strokes:
        points = (np.array(stroke, np.float32) * scale + (220, 60)).astype(np.int32)
        cv2.polylines(img, [points], False, (ink, ink, ink), max(2, round(pen * scale)), cv2.LINE_AA)
    return img


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("light_on_dark", [False, True])
def test_a_nine_whose_head_is_apart_from_its_stem_is_read_as_a_nine(recognizer, scale, light_on_dark):
    """Read apart, the head is a sure 0 and the stem a sure 1: this canvas read "0 1"."""
    reading = read_frame(canvas([HEAD, STEM], scale, light_on_dark=light_on_dark), recognizer, mode="canvas")
    assert reading.lines == ["9"]
    assert reading.rejected == 0  # the pieces are not also outlined as rejected marks


@pytest.mark.parametrize("mode", ["camera", "auto"])
def test_the_nine_on_a_sheet_held_to_a_camera_is_read_as_a_nine(recognizer, mode):
    """The same drawing photographed: grey paper lit from one side, sensor noise, blur and JPEG."""
    photo = canvas([HEAD, STEM]).astype(np.float32) * 0.75 + 40
    photo *= np.linspace(1.0, 0.7, photo.shape[1])[None, :, None]
    photo += np.random.default_rng(0).normal(0, 4, photo.shape)
    photo = cv2.GaussianBlur(np.clip(photo, 0, 255).astype(np.uint8), (3, 3), 0)
    jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 80])[1]
    assert read_frame(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), recognizer, mode=mode).lines == ["9"]


def test_the_same_strokes_a_line_apart_are_two_digits(recognizer):
    """A loop and a stroke under it with a line's gap between them are a 0 and a 1 on two lines."""
    lower = [(x, y + 120) for x, y in STEM]
    assert read_frame(canvas([HEAD, lower]), recognizer, mode="canvas").lines == ["0", "1"]


@pytest.mark.parametrize("gap", [40, 80])
def test_two_digits_written_one_under_the_other_stay_two(recognizer, gap):
    lower = [(x + 10, y + 190 + gap) for x, y in SEVEN]
    assert read_frame(canvas([ONE, lower], scale=0.8), recognizer, mode="canvas").lines == ["1", "7"]


def test_two_ones_a_few_pixels_apart_one_under_the_other_stay_two(recognizer):
    """Rows a few pixels apart are two lines, however tight: read together, the two 1s were one 1."""
    img = np.full((480, 640, 3), 255, np.uint8)
    cv2.line(img, (300, 40), (300, 200), (0, 0, 0), 12, cv2.LINE_AA)
    cv2.line(img, (300, 220), (300, 380), (0, 0, 0), 12, cv2.LINE_AA)
    assert read_frame(img, recognizer, mode="canvas").lines == ["1", "1"]


def test_a_sure_digit_is_not_given_up_for_a_less_sure_reading_of_the_whole(recognizer):
    """A 1 over a bar over a small 2 (a fraction): the 1 reads at 0.99, the 2 at about 0.7, the whole
    as a 1 at about 0.75. The whole must beat the surest piece, not the least sure one."""
    img = np.full((480, 640, 3), 255, np.uint8)
    strokes = [[(300, 70), (300, 170)], [(250, 185), (350, 185)],
               [(275, 215), (300, 200), (325, 215), (320, 240), (275, 290), (328, 290)]]
    for stroke in strokes:
        cv2.polylines(img, [np.array(stroke, np.int32)], False, (0, 0, 0), 12, cv2.LINE_AA)
    assert read_frame(img, recognizer, mode="canvas").lines == ["1", "2"]


def test_a_five_whose_short_bar_stands_apart_is_read_in_its_number(recognizer):
    """A small 5 between two 7s, its bar a short slanted dash the pen left well off its body: too far
    and too short for segment's merge rules, both pieces went unread and "7 5 7" read "7 7". Read
    together they are a sure 5 (joins._piece_pairs)."""
    seven = [(60, 150), (150, 150), (90, 330)]
    body = [(230, 200), (226, 250), (245, 262), (252, 290), (240, 320), (215, 322)]
    bar = [(252, 195), (285, 182)]
    img = np.full((480, 640, 3), 255, np.uint8)
    for stroke in (seven, body, bar, [(x + 330, y) for x, y in seven]):
        cv2.polylines(img, [np.array(stroke, np.int32)], False, (0, 0, 0), 12, cv2.LINE_AA)
    assert read_frame(img, recognizer, mode="canvas").lines == ["757"]


def test_a_five_drawn_as_a_hook_over_a_belly_is_read_in_its_number(mnist_dir, recognizer, monkeypatch):
    """A generated drawing (seed 65, scene 66, MNIST test digits redrawn) whose "2765" has a 5 drawn in
    two pieces: a hook (bar and stem) over a belly, their rows shared. Each is too tall to be a piece
    for segment's merge rules and reads unsure alone, so both went unread; read together, they are
    the 5 (joins.PAIR_STACKED)."""
    from webapp import joins
    from webapp.scenes import DigitSource, make_scene

    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", 66, 65)
    assert scene.lines == ["8 58 9", "2765 01"]
    assert read_frame(scene.image, recognizer, mode="canvas").lines == scene.lines
    monkeypatch.setattr(joins, "PAIR_STACKED", float("inf"))  # no two marks are stacked pieces
    assert read_frame(scene.image, recognizer, mode="canvas").lines == ["8 58 9", "276 01"]


def test_a_four_whose_bar_end_is_drawn_apart_and_misread_is_read_whole(mnist_dir, pair_recognizer, monkeypatch):
    """A generated drawing (seed 69, scene 35) whose "54" has a 4 drawn in two pieces: the left end of
    its bar apart from the rest. Apart, the short piece reads as a doubtful 6 and the rest as a
    doubtful 1, so "54" read "561"; read together, they are the 4 (joins.PAIR_SHORT_DOUBT).
    (The shipped canvas members read the short piece a little more surely, at 0.91, so the shipped
    file reads "561" there: the rule is shown with the pair of conftest.)"""
    from webapp import joins
    from webapp.scenes import DigitSource, make_scene

    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", 35, 69)
    assert scene.lines == ["54 6"]
    assert read_frame(scene.image, pair_recognizer, mode="canvas").lines == scene.lines
    monkeypatch.setattr(joins, "PAIR_SHORT_DOUBT", 0.0)  # a mark read at all is no piece
    assert read_frame(scene.image, pair_recognizer, mode="canvas").lines == ["561 6"]


def test_a_five_whose_bar_is_drawn_apart_is_read_whole_though_its_body_reads_as_a_zero(mnist_dir, recognizer,
                                                                                      pair_recognizer, monkeypatch):
    """A generated drawing (seed 63, scene 94) whose "572" has a 5 with its bar drawn apart, above its
    body. The body alone reads as a 0 at about 0.92, so the pair was not tried as one digit and "572"
    read "072"; read together, they are a sure 5 (joins.PAIR_DOUBT)."""
    from webapp import joins
    from webapp.scenes import DigitSource, make_scene

    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", 94, 63)
    assert scene.lines == ["572", "87 4"]
    assert read_frame(scene.image, recognizer, mode="canvas").lines == scene.lines
    assert read_frame(scene.image, pair_recognizer, mode="canvas").lines == scene.lines  # the rule's case (conftest)
    monkeypatch.setattr(joins, "PAIR_DOUBT", 0.9)  # the body's reading is too sure to be a piece
    assert read_frame(scene.image, pair_recognizer, mode="canvas").lines == ["072", "87 4"]


@pytest.mark.parametrize("seed, index, without", [
    (120, 59, ["19", "624", "7865 8201", "8536 794"]),
    (123, 37, ["70196 6"]),
])
def test_a_six_whose_loop_is_drawn_apart_inside_its_stems_box_is_read_whole(mnist_dir, recognizer, monkeypatch,
                                                                             seed, index, without):
    """Generated drawings with a 6 whose loop the pen left apart from its stem, a little over half the
    loop's box inside the stem's. The stem alone reads as a sure 1 and the loop as a doubtful 9, so the 6 was
    read "19"; digits side by side share little of their boxes, so the two are tried together, and
    kept as the surer 6 (joins.PAIR_HELD)."""
    from webapp import joins
    from webapp.scenes import DigitSource, make_scene

    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", index, seed)
    assert read_frame(scene.image, recognizer, mode="canvas").lines == scene.lines
    monkeypatch.setattr(joins, "PAIR_HELD", float("inf"))  # no mark is held in another's box
    assert read_frame(scene.image, recognizer, mode="canvas").lines == without


@pytest.mark.parametrize("seed, index, without", [
    (54, 25, ["0 0 53"]),
    (40, 92, ["07 9", "566 7"]),
])
def test_an_eight_whose_tail_crosses_its_loop_is_read_on_a_canvas(mnist_dir, recognizer, monkeypatch, seed, index,
                                                                    without):
    """Generated drawings with an 8 whose tail crosses its top loop, making three loops: one more than
    a digit has, so it was rejected as a scribble. On a canvas such a mark is read by the model and
    kept when it is a sure 8 (choice.LOOPY_SURE)."""
    from webapp import choice
    from webapp.scenes import DigitSource, make_scene

    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", index, seed)
    assert read_frame(scene.image, recognizer, mode="canvas").lines == scene.lines
    monkeypatch.setattr(choice, "LOOPY_SURE", 1.01)  # no reading is sure enough
    assert read_frame(scene.image, recognizer, mode="canvas").lines == without


def test_a_zero_touching_an_eight_is_not_lost_with_their_three_loops(mnist_dir, recognizer, monkeypatch):
    """Generated drawing seed 13, scene 46: the 0 and the 8 of "4083" touch, one mark with three loops
    (Region.loopy), which only a sure 8 may keep whole. Cut in two, both pieces read surely, and the
    0 was dropped for not being an 8. A mark cut into pieces that all read at LOOPY_SURE keeps them."""
    from webapp import choice
    from webapp.scenes import DigitSource, make_scene

    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", 46, 13)
    assert "6435 4083" in scene.lines
    assert read_frame(scene.image, recognizer, mode="canvas").lines == scene.lines
    monkeypatch.setattr(choice, "_surely_cut", lambda read, regions: set())  # pieces judged as the whole mark
    assert "6435 4 83" in read_frame(scene.image, recognizer, mode="canvas").lines


def test_a_five_in_two_pieces_does_not_make_its_number_a_word(mnist_dir, recognizer, pair_recognizer):
    """A generated drawing (seed 38, scene 5) whose "8615" has a 5 drawn in two pieces and a 1 drawn
    like a "y". Judged piece by piece, the 5's two short pieces and the doubted "y" made the line look
    like a word, and its sure 8 and 6 were dropped with it ("9", "5"). The text rules now judge the
    line again with the pieces read as one 5 (joins.as_one_digit): only the "y" is left out. (The
    shipped file's canvas member reads the "y" as a 1, so the whole line is read.)"""
    from webapp.scenes import DigitSource, make_scene

    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", 5, 38)
    assert scene.lines == ["9", "8615"]
    assert read_frame(scene.image, recognizer, mode="canvas").lines == scene.lines
    reading = read_frame(scene.image, pair_recognizer, mode="canvas")
    assert reading.lines == ["9", "86 5"]
    assert reading.rejected == 1
