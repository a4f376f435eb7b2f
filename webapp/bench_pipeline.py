"""`digitcam bench-pipeline`: how long one frame takes, stage by stage, on one thread.

Frames are generated pages (640x480, about ten digits, JPEG quality 80, as a browser sends them).
Two loops over the same frames: JPEG bytes -> result (`read_bytes`, no drawing), and the server's
full job, JPEG bytes -> result -> annotated frame -> JPEG bytes. Prints medians and 95th percentiles.
Run it on an idle machine: other busy processes inflate every figure.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from webapp.arguments import POSITIVE
from webapp.recognizer import Recognizer
from webapp.scenes import DigitSource, add_data_option, make_scene

WARMUP = 5  # first calls allocate buffers and load kernels; not counted
PAGE_MODE = {"pages": "camera", "drawings": "canvas", "boards": "camera", "worksheets": "camera",
             "words": "camera"}  # what the page sends
WORDS = ("the quick brown fox jumps over a lazy dog while seven hens sing about their home and garden "
         "every morning").split()


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_data_option(parser)
    parser.add_argument("--frames", type=POSITIVE, default=20, help="distinct generated frames (default: 20)")
    parser.add_argument("--repeats", type=int, default=10, help="passes over the frames (default: 10)")
    parser.add_argument("--kind", choices=list(PAGE_MODE), default="pages",
                        help="frame kind (default: pages; boards: chalk, read twice, as dark and as light ink; "
                             "worksheets: printed words with handwritten answers; "
                             "words: a page of printed words and no digit, the reader's slowest kind of frame)")
    parser.add_argument("--digits", type=int, default=10, help="digits per frame (default: 10)")
    parser.add_argument("--seed", type=int, default=1, help="scene seed (default: 1)")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--mode", choices=["auto", "camera", "canvas"], default=None,
                        help="reading mode (default: what the page sends: camera for pages, canvas for drawings)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return parser


def frames(source: DigitSource, kind: str, count: int, digits: int, seed: int) -> tuple[list[bytes], float]:
    """Generated 640x480 scenes, JPEG-encoded at quality 80, and their mean digit count."""
    out, placed = [], 0
    for i in range(count):
        if kind == "words":
            image, labels = words_page(np.random.default_rng([seed, i])), []
        else:
            scene = make_scene(source, kind, i, seed, size=(640, 480), n_digits=digits)
            image, labels = scene.image, scene.labels
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        out.append(buf.tobytes())
        placed += len(labels)
    return out, placed / max(count, 1)


def words_page(rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A photographed page (BGR) filled with lines of printed words and no digit: hundreds of letters,
    each a mark the reader must find, read and turn down."""
    w, h = size
    img = np.full((h, w, 3), int(rng.integers(200, 240)), np.uint8)
    font = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX][rng.integers(3)]
    scale = h / 440 * rng.uniform(0.9, 1.2)
    step = round(45 * scale)
    for y in range(step, h - 10, step):
        x = 20
        while x < w - 40:
            word = WORDS[rng.integers(len(WORDS))]
            cv2.putText(img, word, (x, y), font, scale, (40, 40, 60), 2, cv2.LINE_AA)
            x += cv2.getTextSize(word, font, scale, 2)[0][0] + round(18 * scale)
    return cv2.GaussianBlur(img, (3, 3), 0)


def measure(data: list[bytes], recognizer: Recognizer, repeats: int, mode: str = "auto") -> dict[str, list[float]]:
    """Per-stage times (ms) of read_bytes, plus wall times with and without annotation+encoding."""
    from webapp.annotate import encode_jpeg
    from webapp.pipeline import read_bytes

    for blob in data[:WARMUP]:
        encode_jpeg(read_bytes(blob, recognizer, mode=mode, annotate=True).annotated)
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for blob in data:
            start = time.perf_counter()
            reading = read_bytes(blob, recognizer, mode=mode, annotate=False)
            times.setdefault("wall: bytes -> result", []).append(1000 * (time.perf_counter() - start))
            for stage, ms in reading.timings_ms.items():
                times.setdefault(stage, []).append(ms)
            start = time.perf_counter()
            reading = read_bytes(blob, recognizer, mode=mode, annotate=True)
            mid = time.perf_counter()
            encoded = encode_jpeg(reading.annotated)
            end = time.perf_counter()
            times.setdefault("annotate", []).append(reading.timings_ms.get("annotate", 0.0))
            times.setdefault("encode JPEG", []).append(1000 * (end - mid))
            times.setdefault("wall: + annotate + JPEG", []).append(1000 * (end - start))
            times.setdefault("(annotated JPEG kB)", []).append(len(encoded) / 1000)
    return times


def run(args: argparse.Namespace) -> int:
    source = DigitSource.for_command(args.data)
    cv2.setNumThreads(1)  # one thread for OpenCV too, as a server worker would run
    recognizer = Recognizer(args.model, provider="cpu", threads=1)
    data, mean_digits = frames(source, args.kind, args.frames, args.digits, args.seed)
    mode = args.mode or PAGE_MODE[args.kind]
    times = measure(data, recognizer, args.repeats, mode)
    stats = {k: {"median": round(float(np.median(v)), 3), "p95": round(float(np.percentile(v, 95)), 3)}
             for k, v in times.items()}
    if args.json:
        print(json.dumps({"frames": len(data), "mode": mode, "digits_per_frame": mean_digits, "runs": len(data) * args.repeats,
                          "ms": stats}))
        return 0
    print(f"{len(data)} {args.kind} frames 640x480 ({mean_digits:.1f} digits each on average, JPEG q80) "
          f"x {args.repeats} passes, one thread, mode {mode}")
    print(f"{'stage (ms)':<28}{'median':>9}{'p95':>9}")
    for k, s in stats.items():
        print(f"{k:<28}{s['median']:>9.2f}{s['p95']:>9.2f}")
    return 0
