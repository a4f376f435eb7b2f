"""`digitcam eval`: MNIST test accuracy and speed of an ONNX model, torch-free.

Reads the test idx files, classifies every digit with onnxruntime exactly as the server would
(the Recognizer), and times batches of 10 digits on one CPU thread.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from train import data as mnist
from webapp.arguments import POSITIVE
from webapp.recognizer import Recognizer


def accuracy(recognizer: Recognizer, images: np.ndarray, labels: np.ndarray, batch: int = 500) -> tuple[float, np.ndarray]:
    """Return (accuracy, probabilities [N, 10]) for uint8 digits [N, 28, 28]."""
    probs = []
    for start in range(0, len(images), batch):
        x = images[start : start + batch].astype(np.float32)[:, None] / 255.0
        probs.append(recognizer.predict(x))
    p = np.concatenate(probs) if probs else np.zeros((0, 10), np.float32)
    return float((p.argmax(1) == labels).mean()) if len(labels) else 0.0, p


def ms_per_digit(recognizer: Recognizer, images: np.ndarray, batch: int = 10, repeats: int = 300) -> float:
    """Median milliseconds per digit over `repeats` calls on batches of `batch` real digits."""
    x = images[:batch].astype(np.float32)[:, None] / 255.0
    for _ in range(20):  # warm-up: first runs allocate
        recognizer.predict(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        recognizer.predict(x)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000 / batch)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data", type=Path, default=None,
                        help="folder with the MNIST idx files (default: $DIGITCAM_DATA, else ../shared/data/mnist)")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="cpu",
                        help="onnxruntime provider (default: cpu, so speed figures are comparable)")
    parser.add_argument("--threads", type=POSITIVE, default=1, help="onnxruntime threads for the timing (default: 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def run(args: argparse.Namespace) -> int:
    data_dir = mnist.data_dir_or_exit(args.data)
    images, labels = mnist.load_split(data_dir, "test")
    rec = Recognizer(args.model, provider=args.provider, threads=args.threads)
    acc, probs = accuracy(rec, images, labels)
    result = {"model": str(rec.path), "test_digits": int(len(labels)), "accuracy": round(acc, 5),
              "errors": int((probs.argmax(1) != labels).sum()),
              "ms_per_digit_batch10": round(ms_per_digit(rec, images), 4),
              "threads": args.threads, "providers": rec.providers}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"model      {result['model']}")
        print(f"MNIST test {result['accuracy'] * 100:.2f}% ({result['errors']} errors in {result['test_digits']})")
        print(f"speed      {result['ms_per_digit_batch10']:.3f} ms per digit (batch 10, {args.threads} thread(s), median)")
    return 0
