"""Drawing results: boxes and labels big enough for a projector, and a teaching composite.

The composite shows what each stage did (ink map, binary mask with removed ruled lines,
components, and the 28x28 crops the model actually saw), so a class can follow the pipeline.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
SURE = 0.9  # labels at or above this confidence are drawn green, below it orange
GREEN, ORANGE, RED, WHITE, BLACK = (40, 170, 40), (0, 140, 255), (40, 40, 220), (255, 255, 255), (0, 0, 0)
BLUE = (235, 160, 60)  # BGR: ink read on its own (pencil beside print) in the binary stage
CROP_ZOOM = 3  # each 28x28 crop is shown 84 px wide in the two-column composite (4x in one column)
PANEL_WIDTH = 640  # composite panels are scaled to this width ...
PANEL_MAX_HEIGHT = 2 * PANEL_WIDTH  # ... unless that makes them taller than this: a 200x1 frame would be 128,000 px
TITLE_HEIGHT = 34  # each panel's title strip
TAG_SHRINK = 0.85  # where no place near a digit is free for its tag, try again this much smaller ...
TAG_TO_DIGIT = 0.6  # a tag's text is at most this share of the median digit's height ...
MIN_FONT = 0.45  # ... down to this (below it a tag is unreadable), then take the least covered place


def _scale_for(image: np.ndarray) -> tuple[float, int]:
    """Font scale and line thickness that read from the back of a classroom at any image size."""
    side = min(image.shape[:2])
    font = max(0.5, side / 520)
    return font, max(2, round(side / 240))


Rect = tuple[int, int, int, int]  # x0, y0, x1, y1


def _tag_rect(img_shape: tuple[int, ...], text: str, x: int, y: int, font: float, thick: int) -> Rect:
    """Where _label draws a tag whose bottom-left corner is asked at (x, y): kept inside the image."""
    return _fit_tag(img_shape, cv2.getTextSize(text, FONT, font, thick), x, y)


def _fit_tag(img_shape: tuple[int, ...], text_size: tuple[tuple[int, int], int], x: int, y: int) -> Rect:
    """_tag_rect for a text whose cv2.getTextSize is known."""
    (tw, th), base = text_size
    h, w = img_shape[:2]
    x = int(min(max(x, 0), max(w - tw - 6, 0)))
    y = int(min(max(y, th + base + 6), h))
    return x, y - th - base - 6, x + tw + 6, y


def _label(img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int], font: float, thick: int) -> Rect:
    """Text on a filled tag whose bottom-left corner is (x, y), kept inside the image; returns the tag."""
    x0, y0, x1, y1 = _tag_rect(img.shape, text, x, y, font, thick)
    (_, _), base = cv2.getTextSize(text, FONT, font, thick)
    cv2.rectangle(img, (x0, y0), (x1, y1), colour, cv2.FILLED)
    cv2.putText(img, text, (x0 + 3, y1 - base - 3), FONT, font, WHITE, thick, cv2.LINE_AA)
    return x0, y0, x1, y1


def draw_reading(image: np.ndarray, digits: Sequence, rejected_boxes: Sequence[tuple[int, int, int, int]] = ()) -> np.ndarray:
    """Copy of the frame with each digit boxed and tagged 'label confidence%'; rejects in thin red."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    _, thick = _scale_for(out)
    for x, y, w, h in rejected_boxes:
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), RED, max(1, thick // 2))
    colours = [GREEN if d.confidence >= SURE else ORANGE for d in digits]
    for d, colour in zip(digits, colours):
        x, y, w, h = d.box
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), colour, thick)
    for tag, colour in zip(tag_layout(out.shape, digits, rejected_boxes), colours):
        _label(out, tag.text, tag.x, tag.y, colour, tag.size, max(1, thick - 1))
    return out


class Tag(NamedTuple):
    text: str
    size: float  # cv2 font scale
    x: int  # bottom-left corner, as _label takes it
    y: int
    rect: Rect  # the filled tag's extent


def tag_layout(shape: tuple[int, ...], digits: Sequence,
               rejected_boxes: Sequence[tuple[int, int, int, int]] = ()) -> list[Tag]:
    """Where each digit's tag goes, so that none covers another tag, another digit's box or a rejected
    mark while any free place is left (see _place). Text is no taller than the writing: a big photo
    of small writing keeps it in view."""
    font, thick = _scale_for(np.empty(shape[:2], np.uint8))
    if digits:
        (_, unit), _ = cv2.getTextSize("0", FONT, 1.0, max(1, thick - 1))
        font = max(MIN_FONT, min(font, TAG_TO_DIGIT * float(np.median([d.box[3] for d in digits])) / unit))
    boxes = [(x, y, x + w, y + h) for x, y, w, h in (d.box for d in digits)]
    marks = [(x, y, x + w, y + h) for x, y, w, h in rejected_boxes]
    tags: list[Tag] = []
    for i, d in enumerate(digits):
        taken = np.array([t.rect for t in tags] + boxes[:i] + boxes[i + 1 :] + marks + [boxes[i]], np.int64).reshape(-1, 4)
        tags.append(_place(shape, d.label, d.confidence, d.box, font, max(1, thick - 1), thick, taken))
    return tags


def _covered(rects: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """For each rect [K, 4] (x0, y0, x1, y1), the area of it that the rects `taken` [M, 4] cover,
    counting overlaps among them twice."""
    a, b = rects[:, None, :], taken[None, :, :]
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return (np.maximum(w, 0) * np.maximum(h, 0)).sum(axis=1)


def _place(shape: tuple[int, ...], label: int, confidence: float, box: tuple[int, int, int, int],
           font: float, thick: int, gap: int, taken: np.ndarray) -> Tag:
    """The first free place near the box for '7 98%', else for '7' alone (the tag's colour still
    tells sure from unsure): above the box, below it, right, left; at the full size, then smaller.
    Where none is free, the least covered place seen. `taken` [M, 4]: rects a tag must not cover
    (the digit's own box among them). The places of one size are weighed in one array operation:
    looped in Python, this took about 2 ms a page of ten digits on a slow CPU."""
    x, y, w, h = box
    texts = (f"{label} {round(100 * confidence)}%", str(label))
    best: tuple[int, Tag] | None = None
    size = font
    while True:
        places = []
        for text in texts:
            measure = cv2.getTextSize(text, FONT, size, thick)
            (tw, th), base = measure
            tag_h = th + base + 6
            for px, py in ((x, y - gap), (x, y + h + gap + tag_h), (x + w + gap, y + tag_h), (x - gap - tw - 6, y + tag_h)):
                places.append(Tag(text, size, px, py, _fit_tag(shape, measure, px, py)))
        costs = _covered(np.array([t.rect for t in places], np.int64), taken)
        k = int(np.argmin(costs))  # the first of the least covered
        if costs[k] == 0:
            return places[k]
        if best is None or costs[k] < best[0]:
            best = (int(costs[k]), places[k])
        if size <= MIN_FONT:
            return best[1]
        size = max(MIN_FONT, size * TAG_SHRINK)


def _panel(img: np.ndarray, title: str) -> np.ndarray:
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    scale = min(PANEL_WIDTH / w, PANEL_MAX_HEIGHT / h)
    size = (min(PANEL_WIDTH, max(1, round(w * scale))), min(PANEL_MAX_HEIGHT, max(1, round(h * scale))))
    panel = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    if size[0] < PANEL_WIDTH:  # a tall, narrow frame: centred on a black panel of the usual width
        left = (PANEL_WIDTH - size[0]) // 2
        panel = cv2.copyMakeBorder(panel, 0, 0, left, PANEL_WIDTH - size[0] - left, cv2.BORDER_CONSTANT)
    strip = np.zeros((TITLE_HEIGHT, PANEL_WIDTH, 3), np.uint8)  # above the picture: a title never hides a tag
    cv2.putText(strip, title, (6, TITLE_HEIGHT - 10), FONT, 0.7, WHITE, 2, cv2.LINE_AA)
    return np.vstack([strip, panel])


def colour_components(labels: np.ndarray) -> np.ndarray:
    """A label image as colours (background black), so each component stands out."""
    n = int(labels.max()) + 1
    rng = np.random.default_rng(7)
    palette = rng.integers(60, 256, (n, 3), dtype=np.uint8)
    palette[0] = 0
    return palette[labels]


def crop_sheet(crops: np.ndarray, captions: Sequence[str], width: int = PANEL_WIDTH, zoom: int = CROP_ZOOM,
               text: float = 0.55) -> np.ndarray:
    """Tile [N, 28, 28] crops (in [0, 1]) `zoom` times larger, each with its caption (font scale
    `text`) underneath."""
    cell = 28 * zoom
    line = round(36 * text) + 10  # the caption's row: its text and a gap to the next tile
    per_row = max(1, width // (cell + 8))
    rows = max(1, -(-len(crops) // per_row))
    sheet = np.full((rows * (cell + line) + 8, width, 3), 40, np.uint8)
    for i, (crop, caption) in enumerate(zip(crops, captions)):
        r, c = divmod(i, per_row)
        x, y = 8 + c * (cell + 8), 8 + r * (cell + line)
        tile = cv2.resize((np.clip(crop, 0, 1) * 255).astype(np.uint8), (cell, cell), interpolation=cv2.INTER_NEAREST)
        sheet[y : y + cell, x : x + cell] = tile[:, :, None]
        cv2.putText(sheet, caption, (x, y + cell + line - 10), FONT, text, WHITE, max(1, round(2 * text)), cv2.LINE_AA)
    return sheet


def teaching_composite(annotated: np.ndarray, stages: dict[str, np.ndarray], crops: np.ndarray,
                       captions: Sequence[str], columns: int = 2) -> np.ndarray:
    """Stack the annotated frame, the stage images and the model's crops into one picture, its
    panels in two columns (a wide screen) or one (a phone, where two would shrink titles to a few pixels)."""
    panels = [_panel(annotated, "result")]
    titles = {"ink": "ink (background removed)", "binary": "binary (red: ruled lines removed; blue: faint ink read on its own)", "components": "components"}
    for key, title in titles.items():
        if key in stages:
            panels.append(_panel(stages[key], title))
    if columns == 1:
        # A phone shows this 640 px picture about 360 px wide: bigger tiles and captions stay legible.
        return np.vstack(panels + [crop_sheet(crops, captions, PANEL_WIDTH, zoom=4, text=0.95)])
    if len(panels) % 2:
        panels.append(np.zeros_like(panels[-1]))
    rows = []
    for a, b in zip(panels[::2], panels[1::2]):
        h = max(a.shape[0], b.shape[0])
        rows.append(np.hstack([cv2.copyMakeBorder(p, 0, h - p.shape[0], 0, 0, cv2.BORDER_CONSTANT) for p in (a, b)]))
    rows.append(crop_sheet(crops, captions, 2 * PANEL_WIDTH))
    return np.vstack(rows)


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes of a BGR (or gray) image."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
