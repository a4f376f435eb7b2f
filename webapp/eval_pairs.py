"""`digitcam eval-pairs`: two drawn digits side by side, apart, touching or drawn into each other.

Two MNIST *test* digits (a fixed seed picks them, their height and their pen) are redrawn as even
canvas strokes (webapp/glyphs.py) on a 640x480 canvas, the second starting where the first ends
less `overlap` times the digit height, `overlap` drawn uniformly from -0.15 (a gap) to 0.15 (the
boxes share 15% of a height). The pair is read in canvas mode and counts as read right when the
reader says exactly those two digits. Results come by how far the boxes overlap: pairs apart are
as hard as their two digits alone, and the rest is what touching costs the reader's cuts.
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from webapp import glyphs, pipeline
from webapp.eval_glyphs import CANVAS
from webapp.recognizer import Recognizer
from webapp.scenes import CANVAS_STROKE, DigitSource, add_drawn_options

OVERLAP = (-0.15, 0.15)  # the second box starts this share of a digit height inside the first (negative: a gap)
BUCKETS = (("apart", -1.0, -0.05), ("touching", -0.05, 0.05), ("drawn into each other", 0.05, 1.0))
HEIGHTS = (60.0, 200.0)  # digit height in canvas pixels, drawn uniformly (two fit side by side)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_drawn_options(parser, 600, "pairs", "digits, sizes, pens and overlaps")
    return parser


def draw_pair(source: DigitSource, rng: np.random.Generator) -> tuple[np.ndarray, list[int], float]:
    """A BGR canvas holding two redrawn test digits in a row, their labels and their overlap."""
    first, second = rng.choice(len(source.labels), size=2, replace=False)
    height = int(rng.uniform(*HEIGHTS))
    pen = height * rng.uniform(*CANVAS_STROKE)
    overlap = float(rng.uniform(*OVERLAP))
    ink = np.zeros((CANVAS[1], CANVAS[0]), np.float32)
    x = 100
    for index in (first, second):
        glyph = glyphs.redrawn(source.images[index], height, pen)[: CANVAS[1] - 60, : CANVAS[0] - x]
        h, w = glyph.shape
        ink[60 : 60 + h, x : x + w] = np.maximum(ink[60 : 60 + h, x : x + w], glyph)
        x = max(0, x + w - int(overlap * height))
        if x >= CANVAS[0]:
            break
    canvas = cv2.cvtColor((255 - 255 * ink).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return canvas, [int(source.labels[first]), int(source.labels[second])], overlap


def evaluate(recognizer: Recognizer, source: DigitSource, count: int, seed: int) -> dict[str, dict[str, float]]:
    """Per overlap bucket: pairs, the share read right and the share read as a single digit."""
    rng = np.random.default_rng(seed)
    tally = {name: [0, 0, 0] for name, _, _ in BUCKETS}
    for _ in range(count):
        canvas, labels, overlap = draw_pair(source, rng)
        got = [d.label for d in pipeline.read_frame(canvas, recognizer, mode="canvas", annotate=False).digits]
        name = next(n for n, lo, hi in BUCKETS if lo < overlap <= hi)
        tally[name][0] += 1
        tally[name][1] += got == labels
        tally[name][2] += len(got) == 1
    return {name: {"pairs": n, "right": round(right / n, 4) if n else 0.0, "one_digit": round(one / n, 4) if n else 0.0}
            for name, (n, right, one) in tally.items()}


def run(args: argparse.Namespace) -> int:
    source = DigitSource.for_command(args.data)
    recognizer = Recognizer(args.model, provider="cpu", threads=1)
    result = {"seed": args.seed, "buckets": evaluate(recognizer, source, args.count, args.seed)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.count} pairs of MNIST test digits (seed {args.seed}) redrawn side by side on a "
          f"{CANVAS[0]}x{CANVAS[1]} canvas, read in canvas mode")
    print(f"  {'pair':<24}{'second box starts':>20}{'pairs':>8}{'read right':>12}{'read as one':>13}")
    for (name, lo, hi), row in zip(BUCKETS, result["buckets"].values()):
        span = f"{max(lo, OVERLAP[0]):+.2f} to {min(hi, OVERLAP[1]):+.2f} h in"
        print(f"  {name:<24}{span:>20}{row['pairs']:>8}{row['right']:>12.2%}{row['one_digit']:>13.2%}")
    return 0
