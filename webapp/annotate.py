"""Drawing results: boxes and labels big enough for a projector, and a teaching composite.

The composite shows what each stage did (ink map, binary mask with removed ruled lines,
components, and the 28x28 crops the model actually saw), so a class can follow the pipeline.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
SURE = 0.9  # labels at or above this confidence are drawn green, below it orange
GREEN, ORANGE, RED, WHITE, BLACK = (40, 170, 40), (0, 140, 255), (40, 40, 220), (255, 255, 255), (0, 0, 0)
CROP_ZOOM = 3  # each 28x28 crop is shown 84 px wide in the composite
PANEL_WIDTH = 640  # composite panels are scaled to this width
TAG_FIT = 1.15  # a tag may stick out a little past its box, never onto the neighbour's tag
MIN_FONT = 0.45  # below this a tag is unreadable: the confidence then moves under the box


def _scale_for(image: np.ndarray) -> tuple[float, int]:
    """Font scale and line thickness that read from the back of a classroom at any image size."""
    side = min(image.shape[:2])
    font = max(0.5, side / 520)
    return font, max(2, round(side / 240))


def _label(img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int], font: float, thick: int) -> None:
    """Text on a filled tag whose bottom-left corner is (x, y), kept inside the image."""
    (tw, th), base = cv2.getTextSize(text, FONT, font, thick)
    h, w = img.shape[:2]
    x = int(min(max(x, 0), max(w - tw - 6, 0)))
    y = int(min(max(y, th + base + 6), h))
    cv2.rectangle(img, (x, y - th - base - 6), (x + tw + 6, y), colour, cv2.FILLED)
    cv2.putText(img, text, (x + 3, y - base - 3), FONT, font, WHITE, thick, cv2.LINE_AA)


def draw_reading(image: np.ndarray, digits: Sequence, rejected_boxes: Sequence[tuple[int, int, int, int]] = ()) -> np.ndarray:
    """Copy of the frame with each digit boxed and tagged 'label confidence%'; rejects in thin red."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    font, thick = _scale_for(out)
    for x, y, w, h in rejected_boxes:
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), RED, max(1, thick // 2))
    for d in digits:
        x, y, w, h = d.box
        colour = GREEN if d.confidence >= SURE else ORANGE
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), colour, thick)
        _tag(out, d.label, d.confidence, (x, y, w, h), colour, font, max(1, thick - 1), thick)
    return out


def _fitting_font(text: str, width: float, font: float, thick: int) -> float:
    (tw, _), _ = cv2.getTextSize(text, FONT, font, thick)
    return min(font, font * width / max(tw + 6, 1))


def _tag(img: np.ndarray, label: int, confidence: float, box: tuple[int, int, int, int],
         colour: tuple[int, int, int], font: float, thick: int, gap: int) -> None:
    """'7 98%' above the box; where digits stand close, '7' above and '98%' below instead."""
    x, y, w, h = box
    room = TAG_FIT * w
    text = f"{label} {round(100 * confidence)}%"
    size = _fitting_font(text, room, font, thick)
    if size >= MIN_FONT:
        _label(img, text, x, y - gap, colour, size, thick)
        return
    _label(img, str(label), x, y - gap, colour, max(MIN_FONT, _fitting_font(str(label), room, font, thick)), thick)
    pct = f"{round(100 * confidence)}%"
    pct_size = max(MIN_FONT, _fitting_font(pct, room, font, thick))
    (_, th), base = cv2.getTextSize(pct, FONT, pct_size, thick)
    _label(img, pct, x, y + h + gap + th + base + 6, colour, pct_size, thick)


def _panel(img: np.ndarray, title: str) -> np.ndarray:
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    scale = PANEL_WIDTH / w
    panel = cv2.resize(img, (PANEL_WIDTH, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    _label(panel, title, 0, 30, BLACK, 0.7, 2)
    return panel


def colour_components(labels: np.ndarray) -> np.ndarray:
    """A label image as colours (background black), so each component stands out."""
    n = int(labels.max()) + 1
    rng = np.random.default_rng(7)
    palette = rng.integers(60, 256, (n, 3), dtype=np.uint8)
    palette[0] = 0
    return palette[labels]


def crop_sheet(crops: np.ndarray, captions: Sequence[str], width: int = PANEL_WIDTH) -> np.ndarray:
    """Tile [N, 28, 28] crops (in [0, 1]) zoomed, each with its caption underneath."""
    cell = 28 * CROP_ZOOM
    per_row = max(1, width // (cell + 8))
    rows = max(1, -(-len(crops) // per_row))
    sheet = np.full((rows * (cell + 30) + 8, width, 3), 40, np.uint8)
    for i, (crop, caption) in enumerate(zip(crops, captions)):
        r, c = divmod(i, per_row)
        x, y = 8 + c * (cell + 8), 8 + r * (cell + 30)
        tile = cv2.resize((np.clip(crop, 0, 1) * 255).astype(np.uint8), (cell, cell), interpolation=cv2.INTER_NEAREST)
        sheet[y : y + cell, x : x + cell] = tile[:, :, None]
        cv2.putText(sheet, caption, (x, y + cell + 20), FONT, 0.55, WHITE, 1, cv2.LINE_AA)
    return sheet


def teaching_composite(annotated: np.ndarray, stages: dict[str, np.ndarray], crops: np.ndarray, captions: Sequence[str]) -> np.ndarray:
    """Stack the annotated frame, the stage images and the model's crops into one picture."""
    panels = [_panel(annotated, "result")]
    titles = {"ink": "ink (background removed)", "binary": "binary (red: ruled lines removed)", "components": "components"}
    for key, title in titles.items():
        if key in stages:
            panels.append(_panel(stages[key], title))
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
