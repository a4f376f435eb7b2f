"""`digitcam eval-sums`: sums written on a canvas, as a teacher does in class ("12 + 7 = 19").

Each sum is two numbers, a sign (+, -, x, a division sign or :), an = and the answer, its digits
MNIST *test* digits redrawn as even canvas strokes (webapp/glyphs.py, as the drawing scenes do) and
its signs drawn by hand: straight strokes a little askew and round dots, with the digits' pen, from
half the digits' height to a little taller than them. The scenes hold no signs, so this is where a
sign read as a digit shows. A sum is read right when the reader says exactly its digits in order
(numbers may be split or joined differently); a sign's extra digits are those read beyond the sum's.
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from webapp import glyphs, pipeline
from webapp.eval_glyphs import CANVAS
from webapp.recognizer import Recognizer
from webapp.scenes import ASPECT, CANVAS_STROKE, LIGHT_ON_DARK, DigitSource, add_drawn_options

SIGNS = ("+", "-", "x", "÷", ":")
HEIGHTS = (50.0, 90.0)  # digit height in canvas pixels, drawn uniformly (a sum of 7-9 marks fits a line)
SIGN_SIZE = (0.5, 1.1)  # a sign's width and height against the digits' ink height, drawn uniformly
SHAKE = 0.04  # each stroke end strays by this share of the sign's size (a hand, not a ruler)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_drawn_options(parser, 300, "sums", "sums, digits, sizes and pens")
    return parser


def sign_strokes(sign: str, size: float, pen: float, rng: np.random.Generator) -> list[np.ndarray]:
    """A hand-drawn sign in a `size` box (top left at 0, 0): polylines, one point for a dot."""
    def end(x: float, y: float) -> tuple[float, float]:
        return x * size + rng.normal(0, SHAKE * size), y * size + rng.normal(0, SHAKE * size)

    gap = rng.uniform(0.3, 0.45)  # between an = sign's bars and a division sign's dots and bar
    shapes = {
        "+": [[end(0, 0.5), end(1, 0.5)], [end(0.5, 0), end(0.5, 1)]],
        "x": [[end(0, 0), end(1, 1)], [end(1, 0), end(0, 1)]],
        "-": [[end(0, 0.5), end(1, 0.5)]],
        "=": [[end(0, 0.5 - gap / 2), end(1, 0.5 - gap / 2)], [end(0, 0.5 + gap / 2), end(1, 0.5 + gap / 2)]],
        "÷": [[end(0, 0.5), end(1, 0.5)], [(0.5 * size, (0.5 - gap) * size)], [(0.5 * size, (0.5 + gap) * size)]],
        ":": [[(0.5 * size, (0.5 - gap) * size)], [(0.5 * size, (0.5 + gap) * size)]],
    }
    return [np.array(s, np.float64) for s in shapes[sign]]


def _sum(sign: str, rng: np.random.Generator) -> list[str]:
    """The marks of one true sum, e.g. ["47", "+", "8", "=", "55"]."""
    a, b = (int(v) for v in rng.integers(1, 100, size=2))
    if sign in "÷:":
        return [str(a * b), sign, str(b), "=", str(a)]
    if sign == "-":
        a, b = max(a, b), min(a, b)
    return [str(a), sign, str(b), "=", str({"+": a + b, "-": a - b, "x": a * b}[sign])]


def draw_sum(source: DigitSource, rng: np.random.Generator) -> tuple[np.ndarray, str, str]:
    """A BGR canvas holding one sum on a line, its sign and its digits in order."""
    sign = SIGNS[rng.integers(len(SIGNS))]
    marks = _sum(sign, rng)
    height = rng.uniform(*HEIGHTS)
    pen = height * rng.uniform(*CANVAS_STROKE)
    by_label = [np.flatnonzero(source.labels == d) for d in range(10)]
    ink = np.zeros((CANVAS[1], CANVAS[0]), np.float32)
    x, base, digit_h, drawn = 20.0, rng.uniform(height + 20, CANVAS[1] - 20), 0.7 * height, ""
    for mark in marks:
        if mark[0].isdigit():
            for char in mark:
                index = by_label[int(char)][rng.integers(len(by_label[int(char)]))]
                glyph = glyphs.redrawn(source.images[index], round(height), pen, rng.uniform(*ASPECT))
                h, w = glyph.shape
                if x + w >= CANVAS[0]:
                    break
                top, left = int(base - h), int(x)
                ink[top : top + h, left : left + w] = np.maximum(ink[top : top + h, left : left + w], glyph)
                digit_h, drawn, x = h, drawn + char, x + w + height * rng.uniform(0.08, 0.25)
            x += height * 0.15
            continue
        size = digit_h * rng.uniform(*SIGN_SIZE)
        origin = np.array([x, base - digit_h / 2 - size / 2])
        layer = np.zeros_like(ink)
        for stroke in sign_strokes(mark, size, pen, rng):
            points = np.round((stroke + origin) * 16).astype(np.int32)
            if len(points) == 1:
                cv2.circle(layer, tuple(points[0]), round(0.6 * pen * 16), 1.0, -1, cv2.LINE_AA, 4)
            else:
                cv2.polylines(layer, [points], False, 1.0, max(1, round(pen)), cv2.LINE_AA, 4)
        ink = np.maximum(ink, layer)
        x += size + height * 0.3
    paper = 255 - 255 * ink
    if rng.random() < LIGHT_ON_DARK:
        paper = 255 - paper
    return cv2.cvtColor(paper.astype(np.uint8), cv2.COLOR_GRAY2BGR), sign, drawn


def evaluate(recognizer: Recognizer, source: DigitSource, count: int, seed: int) -> dict[str, dict[str, float]]:
    """Per sign: sums, the share read right, and extra digits read per sum (the signs' doing)."""
    rng = np.random.default_rng(seed)
    tally = {sign: [0, 0, 0] for sign in SIGNS}
    for _ in range(count):
        canvas, sign, digits = draw_sum(source, rng)
        got = "".join(str(d.label) for d in pipeline.read_frame(canvas, recognizer, mode="canvas", annotate=False).digits)
        tally[sign][0] += 1
        tally[sign][1] += got == digits
        tally[sign][2] += max(0, len(got) - len(digits))
    return {sign: {"sums": n, "right": round(right / n, 4) if n else 0.0, "extra_per_sum": round(extra / n, 3) if n else 0.0}
            for sign, (n, right, extra) in tally.items()}


def run(args: argparse.Namespace) -> int:
    source = DigitSource.for_command(args.data)
    recognizer = Recognizer(args.model, provider="cpu", threads=1)
    result = {"seed": args.seed, "signs": evaluate(recognizer, source, args.count, args.seed)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.count} sums (seed {args.seed}) of redrawn MNIST test digits and hand-drawn signs on a "
          f"{CANVAS[0]}x{CANVAS[1]} canvas, read in canvas mode; every sum ends in '= answer'")
    print(f"  {'sign':<6}{'sums':>6}{'read right':>12}{'extra digits per sum':>22}")
    for sign, row in result["signs"].items():
        print(f"  {sign:<6}{row['sums']:>6}{row['right']:>12.2%}{row['extra_per_sum']:>22.3f}")
    return 0
