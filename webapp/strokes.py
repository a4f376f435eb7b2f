"""Pages of pen-stroke digits drawn from a few polylines: self-contained inputs for the server's
tests and `digitcam bench`, needing no data set (typeset fonts do not look handwritten enough).
"""
from __future__ import annotations

import cv2
import numpy as np

Stroke = list[tuple[float, float]]  # points in a unit box: x right, y down


def _arc(cx: float, cy: float, rx: float, ry: float, start: float = 0, end: float = 360, n: int = 24) -> Stroke:
    t = np.radians(np.linspace(start, end, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


GLYPHS: dict[str, list[Stroke]] = {
    "0": [_arc(0.5, 0.5, 0.33, 0.45)],
    "1": [[(0.58, 0.05), (0.45, 0.95)]],
    "2": [_arc(0.5, 0.3, 0.32, 0.25, 190, 380, 12) + [(0.15, 0.95), (0.9, 0.93)]],
    "3": [_arc(0.45, 0.27, 0.3, 0.22, 200, 450, 12) + _arc(0.45, 0.72, 0.35, 0.24, 270, 500, 14)],
    "4": [[(0.6, 0.05), (0.12, 0.62), (0.9, 0.62)], [(0.68, 0.3), (0.68, 0.97)]],
    "5": [[(0.85, 0.05), (0.3, 0.05), (0.25, 0.45)] + _arc(0.5, 0.68, 0.32, 0.27, 235, 480, 14)],
    "6": [[(0.7, 0.05), (0.3, 0.45)] + _arc(0.5, 0.7, 0.3, 0.26, 180, 540, 20)],
    "7": [[(0.1, 0.08), (0.9, 0.08), (0.4, 0.97)]],
    "8": [_arc(0.5, 0.27, 0.25, 0.22), _arc(0.5, 0.73, 0.32, 0.24)],
    "9": [_arc(0.5, 0.3, 0.3, 0.25), [(0.8, 0.3), (0.7, 0.97)]],
    "+": [[(0.15, 0.58), (0.85, 0.55)], [(0.52, 0.3), (0.48, 0.82)]],  # signs half a digit tall, about mid-height
    "=": [[(0.15, 0.45), (0.85, 0.45)], [(0.15, 0.68), (0.85, 0.68)]],
}


def render_page(lines: list[str], *, dark: bool = False, size: tuple[int, int] = (480, 640),
                height: int = 110, origin: tuple[int, int] = (50, 60)) -> np.ndarray:
    """A BGR page with `lines` written in pen strokes: dark ink on paper, or light on a dark canvas."""
    paper, ink = ((30, 30, 30), (245, 245, 245)) if dark else ((235, 235, 235), (40, 40, 40))
    page = np.full((*size, 3), paper, np.uint8)
    width, pen = 0.6 * height, max(2, height // 10)
    for row, text in enumerate(lines):
        x, y = origin[0], origin[1] + row * int(height * 1.6)
        for char in text:
            draw_char(page, char, x, y, height, pen, ink)
            x += int(width * (1.2 if char == " " else 1.0)) + height // 10
    return page


def draw_char(img: np.ndarray, char: str, x: float, y: float, height: float, pen: int,
              ink: tuple[int, int, int] = (0, 0, 0)) -> None:
    """One character of GLYPHS (others draw nothing), `height` tall and 0.6 of it wide, top left at
    (x, y), with a round pen `pen` pixels wide."""
    width = 0.6 * height
    for stroke in GLYPHS.get(char, []):
        points = np.array([(x + px * width, y + py * height) for px, py in stroke], np.int32)
        cv2.polylines(img, [points], False, ink, pen, cv2.LINE_AA)
