"""Small real inputs for the reading-pipeline tests: pages, shadows, rules, MNIST digits, drawn digits."""
from __future__ import annotations

import cv2
import numpy as np

PAPER = 235
INK = 30


def page(h: int = 240, w: int = 480, level: int = PAPER) -> np.ndarray:
    """A blank BGR page."""
    return np.full((h, w, 3), level, np.uint8)


def shadow(img: np.ndarray, darkest: float = 0.45) -> np.ndarray:
    """Darken the page from full light at the left to `darkest` at the right (a lamp off to one side)."""
    w = img.shape[1]
    ramp = np.linspace(1.0, darkest, w, dtype=np.float32)[None, :, None]
    return (img.astype(np.float32) * ramp).astype(np.uint8)


def rule(img: np.ndarray, spacing: int = 40, colour: tuple[int, int, int] = (150, 120, 90), vertical: bool = False) -> np.ndarray:
    """Ruled (or, with vertical=True, squared) paper: thin lines every `spacing` pixels."""
    out = img.copy()
    h, w = out.shape[:2]
    for y in range(spacing // 2, h, spacing):
        cv2.line(out, (0, y), (w - 1, y), colour, 1)
    if vertical:
        for x in range(spacing // 2, w, spacing):
            cv2.line(out, (x, 0), (x, h - 1), colour, 1)
    return out


def paste_digit(img: np.ndarray, digit: np.ndarray, x: int, y: int, height: int, ink: int = INK) -> tuple[int, int, int, int]:
    """Draw an MNIST digit (white on black, uint8) as dark ink (`ink`: its gray level; pencil is
    lighter); return the ink's box (x, y, w, h)."""
    ys, xs = np.nonzero(digit > 40)
    crop = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    scale = height / crop.shape[0]
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), height), interpolation=cv2.INTER_LINEAR)
    h, w = crop.shape
    region = img[y : y + h, x : x + w].astype(np.float32)
    region = region * (1 - crop[:, :, None]) + ink * crop[:, :, None]
    img[y : y + h, x : x + w] = region.astype(np.uint8)
    return x, y, w, h


def lay_ink(img: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Lay ink coverage `alpha` (float in [0, 1], as webapp.glyphs draws digits) on a BGR page, top left at (x, y)."""
    h, w = alpha.shape
    region = img[y : y + h, x : x + w].astype(np.float32)
    img[y : y + h, x : x + w] = (region * (1 - alpha[..., None]) + INK * alpha[..., None]).astype(np.uint8)


def write(img: np.ndarray, text: str, x: int, y: int, scale: float = 2.5, thickness: int = 7, colour=(INK, INK, INK)) -> None:
    """Draw text with a Hershey font: digits in thick strokes read much like handwriting to the model;
    words in thin ones are print."""
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def scribble(img: np.ndarray, x: int, y: int, size: int, seed: int = 0) -> None:
    """A tangle of crossing strokes, like a crossed-out word."""
    rng = np.random.default_rng(seed)
    pts = rng.integers(0, size, (14, 2)) + np.array([x, y])
    cv2.polylines(img, [pts.astype(np.int32)], True, (INK, INK, INK), 3, cv2.LINE_AA)


def reference_digits(mnist_dir, recognizer, count: int, labels: list[int] | None = None) -> list[tuple[np.ndarray, int]]:
    """The first MNIST test digits (of the wanted labels) the model reads correctly on their own.

    Tests about the pipeline should fail because of the pipeline, not because of one of the
    classifier's known MNIST mistakes.
    """
    from train.data import load_split
    from webapp.mnistify import mnistify

    images, truth = load_split(mnist_dir, "test")
    chosen: list[tuple[np.ndarray, int]] = []
    wanted = list(labels) if labels is not None else None
    for img, label in zip(images[:500], truth[:500]):
        if wanted is not None and (not wanted or int(label) != wanted[0]):
            continue
        probs = recognizer.predict(mnistify(img)[None, None])[0]
        if int(np.argmax(probs)) == label and probs.max() > 0.95:
            chosen.append((img, int(label)))
            if wanted is not None:
                wanted.pop(0)
            if len(chosen) == count:
                break
    assert len(chosen) == count, "not enough MNIST test digits the model reads"
    return chosen


def crops_read_again(recognizer, monkeypatch) -> list[int]:
    """A list that fills, as frames are read, with the size of each model call the reader makes of its
    own: crops read again (split, cut, at other stroke widths). A frame's first reading, taken before
    (Recognizer.first_reading), is handed to classify and not counted."""
    sizes: list[int] = []
    classify = recognizer.classify

    def counting(batch, first=None, alone=None):
        if first is None:
            sizes.append(len(batch))
        return classify(batch, first, alone)

    monkeypatch.setattr(recognizer, "classify", counting)
    return sizes
