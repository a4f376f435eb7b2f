"""The annotated frame a class sees: every tag readable, none hiding another or the writing."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from webapp.annotate import PANEL_MAX_HEIGHT, PANEL_WIDTH, TITLE_HEIGHT, draw_reading, tag_layout, teaching_composite


@dataclass
class Mark:
    label: int
    confidence: float
    box: tuple[int, int, int, int]


def overlap(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def corners(box):
    x, y, w, h = box
    return x, y, x + w, y + h


def test_tags_of_digits_in_a_forms_boxes_cover_no_other_tag_and_no_other_digit():
    # A student number in the comb of a form: ten 40 px digits 48 px apart, a row of letters above.
    shape = (352, 1600, 3)
    digits = [Mark(i % 10, 0.99 if i % 3 else 0.75, (600 + 48 * i, 190, 30, 40)) for i in range(10)]
    digits += [Mark(4, 0.95, (600 + 48 * i, 120, 30, 40)) for i in (1, 3)]
    tags = tag_layout(shape, digits)
    for i, tag in enumerate(tags):
        assert all(overlap(tag.rect, other.rect) == 0 for other in tags[:i])
        assert all(overlap(tag.rect, corners(d.box)) == 0 for j, d in enumerate(digits) if j != i)
        assert tag.text.startswith(str(digits[i].label))


def test_tags_keep_off_rejected_writing_where_there_is_room():
    digits = [Mark(7, 0.81, (400, 300, 40, 60))]
    word = (300, 230, 200, 60)  # the rest of the word, rejected, right above the 7
    (tag,) = tag_layout((600, 800, 3), digits, [word])
    assert overlap(tag.rect, corners(word)) == 0 and tag.text == "7 81%"


def test_a_big_photo_of_small_writing_gets_tags_no_taller_than_the_writing():
    digits = [Mark(3, 1.0, (500, 800, 40, 60)), Mark(5, 0.97, (700, 800, 40, 60))]
    for tag in tag_layout((1600, 1200, 3), digits):
        assert tag.rect[3] - tag.rect[1] <= 60


def test_the_drawn_frame_shows_each_tag_in_the_digits_colour():
    img = np.full((200, 300, 3), 255, np.uint8)
    digits = [Mark(2, 0.99, (50, 80, 40, 60)), Mark(7, 0.6, (150, 80, 40, 60))]
    out = draw_reading(img, digits)
    for d, tag, colour in zip(digits, tag_layout(img.shape, digits), [(40, 170, 40), (0, 140, 255)]):
        x0, y0, x1, y1 = tag.rect
        assert (out[y0 + 1, x0 + 1] == colour).all()


def test_stage_titles_sit_above_the_pictures_not_on_them():
    annotated = np.full((480, 640, 3), 200, np.uint8)
    stages = {"ink": np.zeros((480, 640), np.uint8)}
    composite = teaching_composite(annotated, stages, np.zeros((1, 28, 28)), ["1 99%"])
    assert (composite[TITLE_HEIGHT : TITLE_HEIGHT + 480, :PANEL_WIDTH] == 200).all()


def test_the_one_column_composite_stacks_every_panel_at_full_panel_width():
    annotated = np.full((480, 640, 3), 200, np.uint8)
    stages = {"ink": np.zeros((480, 640), np.uint8), "binary": np.zeros((480, 640), np.uint8)}
    wide = teaching_composite(annotated, stages, np.zeros((3, 28, 28)), ["1 99%"] * 3)
    tall = teaching_composite(annotated, stages, np.zeros((3, 28, 28)), ["1 99%"] * 3, columns=1)
    assert wide.shape[1] == 2 * PANEL_WIDTH and tall.shape[1] == PANEL_WIDTH
    assert tall.shape[0] > 3 * (TITLE_HEIGHT + 480)  # result, ink and binary one above the other, then the crops
    assert (tall[TITLE_HEIGHT : TITLE_HEIGHT + 480] == 200).all()


def test_the_one_column_composite_shows_crops_and_captions_larger_for_a_phone():
    """A phone shows the 640 px composite about 360 px wide: crops are drawn 4x (112 px), not 3x, and
    their captions in taller, bolder type, so they stay legible."""
    annotated = np.full((480, 640, 3), 200, np.uint8)
    crops = np.ones((1, 28, 28))
    wide = teaching_composite(annotated, {}, crops, ["7 99%"])
    tall = teaching_composite(annotated, {}, crops, ["7 99%"], columns=1)

    def sheet_ink(picture: np.ndarray) -> tuple[int, int]:
        """Width of the white crop tile and height of the caption's text, in the crop sheet at the bottom."""
        white = (picture[TITLE_HEIGHT + 480 :] == 255).all(axis=2)
        tile_rows = np.flatnonzero(white.sum(axis=1) >= 60)  # the caption's strokes are never that wide
        tile_cols = np.flatnonzero(white[tile_rows].any(axis=0))
        below = picture[TITLE_HEIGHT + 480 + tile_rows.max() + 1 :]
        text_rows = np.flatnonzero((below > 120).any(axis=(1, 2)))
        return tile_cols.max() - tile_cols.min() + 1, text_rows.max() - text_rows.min() + 1

    (wide_tile, wide_text), (tall_tile, tall_text) = sheet_ink(wide), sheet_ink(tall)
    assert (wide_tile, tall_tile) == (84, 112)
    assert tall_text >= 1.5 * wide_text


def test_a_tall_narrow_frame_makes_panels_no_taller_than_the_cap_centred_at_the_usual_width():
    """A 1 px wide frame scaled to 640 px wide would make a 200 px tall one 128,000 px tall (3 GB)."""
    annotated = np.full((200, 1, 3), 200, np.uint8)
    stages = {"ink": np.full((200, 1), 255, np.uint8), "components": np.zeros((200, 1, 3), np.uint8)}
    for columns in (1, 2):
        composite = teaching_composite(annotated, stages, np.zeros((1, 28, 28)), ["1 99%"], columns=columns)
        assert composite.shape[0] < 3 * (TITLE_HEIGHT + PANEL_MAX_HEIGHT) + 400  # three panels, crops
        assert composite.shape[1] == columns * PANEL_WIDTH
    picture = composite[TITLE_HEIGHT : TITLE_HEIGHT + PANEL_MAX_HEIGHT, :PANEL_WIDTH]
    lit = np.flatnonzero(picture[:, :, 0].max(axis=0))
    assert len(lit) == 6 and abs(lit.mean() - PANEL_WIDTH / 2) < 2  # 1 px scaled 6.4x, in the middle
