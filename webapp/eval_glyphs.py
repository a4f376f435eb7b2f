"""`digitcam eval-glyphs`: where drawn digits are lost, one digit at a time.

Each of N MNIST *test* digits (a fixed seed picks them) is redrawn as an even canvas stroke
(webapp/glyphs.py, as the drawing scenes do) and placed alone on a 640x480 canvas, as the page's
drawing pad sends it. It is read three ways:
  1. as MNIST has it, normalised alone: what the model misses on clean input;
  2. redrawn, normalised alone (mnistify, no reader): what the redraw costs;
  3. redrawn, on the canvas, through the whole reader (canvas mode).
A digit is missed when read wrong or below the model's confidence bar. "Lost by the reader" counts
the digits read right in (2) but missed in (3): the reader's own share, as against the glyph's.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import cv2
import numpy as np

from webapp import glyphs, pipeline
from webapp.evaluation import read_right
from webapp.mnistify import mnistify
from webapp.recognizer import Recognizer
from webapp.scenes import ASPECT, CANVAS_STROKE, LIGHT_ON_DARK, DigitSource, add_drawn_options

CANVAS = (640, 480)  # the drawing pad's export (static/pad.js EXPORT_WIDTH, 4:3)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_drawn_options(parser, 1000, "digits", "digits, sizes and pens")
    parser.add_argument("--heights", type=float, nargs=2, default=(60.0, 420.0), metavar=("MIN", "MAX"),
                        help="digit height in canvas pixels, drawn uniformly (default: 60 420)")
    return parser


@dataclass
class Drawn:
    """One redrawn digit: its label, the MNIST original, the redrawn ink (0-1) and its canvas (BGR)."""

    label: int
    original: np.ndarray
    ink: np.ndarray
    canvas: np.ndarray


def draw_digits(source: DigitSource, count: int, seed: int, heights: tuple[float, float]) -> list[Drawn]:
    """`count` test digits redrawn at random heights and pens, each alone on a JPEG'd canvas."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(source.labels), size=min(count, len(source.labels)), replace=False)
    out = []
    for i in picks:
        height = min(rng.uniform(*heights), CANVAS[1] - 8)
        width = height * rng.uniform(*CANVAS_STROKE)
        ink = glyphs.redrawn(source.images[i], round(height), width, rng.uniform(*ASPECT))
        ink = ink[: CANVAS[1], : CANVAS[0]]
        page = np.full((CANVAS[1], CANVAS[0]), 255.0)
        y = int(rng.integers(0, CANVAS[1] - ink.shape[0] + 1))
        x = int(rng.integers(0, CANVAS[0] - ink.shape[1] + 1))
        page[y : y + ink.shape[0], x : x + ink.shape[1]] *= 1 - ink
        if rng.random() < LIGHT_ON_DARK:
            page = 255 - page
        _, jpeg = cv2.imencode(".jpg", page.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 93))])
        out.append(Drawn(int(source.labels[i]), source.images[i], ink, cv2.imdecode(jpeg, cv2.IMREAD_COLOR)))
    return out


def _hits(recognizer: Recognizer, images: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """Whether each image, normalised alone, is read right at or above the model's bar (redrawn ink
    is given a recognizer reading canvases, Recognizer.on_canvas, as the reader would read it)."""
    probs = recognizer.predict(np.stack([mnistify(im) for im in images])[:, None])
    return read_right(recognizer, probs, labels)


def evaluate(recognizer: Recognizer, drawn: list[Drawn]) -> dict[str, float | int]:
    """Shares missed each way, and the reader's outcomes on the canvases (see the module's doc)."""
    labels = np.array([d.label for d in drawn])
    as_is = _hits(recognizer, [d.original for d in drawn], labels)
    alone = _hits(recognizer.on_canvas(), [d.ink for d in drawn], labels)
    outcome = []
    for d in drawn:
        got = [g.label for g in pipeline.read_frame(d.canvas, recognizer, mode="canvas", annotate=False).digits]
        outcome.append("right" if got == [d.label] else "unread" if not got else "wrong")
    outcome = np.array(outcome)
    n = len(drawn)
    return {"digits": n, "missed_as_is": round(1 - as_is.mean(), 4), "missed_redrawn_alone": round(1 - alone.mean(), 4),
            "reader_right": round(float(np.mean(outcome == "right")), 4),
            "reader_unread": round(float(np.mean(outcome == "unread")), 4),
            "reader_wrong": round(float(np.mean(outcome == "wrong")), 4),
            "lost_by_reader": int(np.sum(alone & (outcome != "right"))),
            "saved_by_reader": int(np.sum(~alone & (outcome == "right")))}


def run(args: argparse.Namespace) -> int:
    lo, hi = args.heights
    if not 20 <= lo <= hi <= CANVAS[1] - 8:
        raise SystemExit(f"--heights must satisfy 20 <= MIN <= MAX <= {CANVAS[1] - 8}")
    source = DigitSource.for_command(args.data)
    recognizer = Recognizer(args.model, provider="cpu", threads=1)
    result = {"seed": args.seed, "heights": [lo, hi],
              **evaluate(recognizer, draw_digits(source, args.count, args.seed, (lo, hi)))}
    if args.json:
        print(json.dumps(result))
        return 0
    n = result["digits"]
    print(f"{n} MNIST test digits (seed {args.seed}), {lo:g}-{hi:g} px tall on a {CANVAS[0]}x{CANVAS[1]} canvas; "
          f"missed = wrong or under the bar {recognizer.min_confidence:g}")
    print(f"  as MNIST has them, normalised alone    missed {result['missed_as_is']:.2%}")
    print(f"  redrawn as canvas strokes, alone       missed {result['missed_redrawn_alone']:.2%}")
    print(f"  redrawn, on the canvas, by the reader  right {result['reader_right']:.2%}, "
          f"unread {result['reader_unread']:.2%}, wrong or more {result['reader_wrong']:.2%}")
    print(f"  lost by the reader (read right alone): {result['lost_by_reader']}; "
          f"saved by it (missed alone): {result['saved_by_reader']}")
    return 0
