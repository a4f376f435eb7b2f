"""MNIST training digits redrawn as a drawing pad's even strokes, normalised as the reader does.

A digit drawn on the page's canvas reaches the model as an even pen stroke brought to MNIST's
width, not as MNIST's scanned ink: loops are rounder, ends are blunt, and a blot the writer's pen
left is a filled blob. This module redraws a slice of the training digits the way the drawing
scenes do (webapp/glyphs.py: the digit's skeleton at 40-300 px tall, with a canvas pen) and puts
each through `mnistify`, so a network can learn from the crops a canvas gives (`digitcam train
--extra-crops`). Torch-free.

    python -m train.redrawn_digits --digits 0:27000 --seed 101 --out runs/redrawn/a.npz
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from webapp import glyphs
from webapp.mnistify import mnistify
from webapp.scenes import ASPECT, CANVAS_STROKE

log = logging.getLogger(__name__)

HEIGHTS = (40.0, 300.0)  # px, drawn uniformly: from a small digit to one filling a phone's pad


def redraw(images: np.ndarray, seed: int) -> np.ndarray:
    """uint8 [N, 28, 28]: each MNIST digit redrawn at a random height, pen and aspect, then mnistified."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(images), 28, 28), np.uint8)
    for k, image in enumerate(images):
        height = rng.uniform(*HEIGHTS)
        ink = glyphs.redrawn(image, round(height), height * rng.uniform(*CANVAS_STROKE), rng.uniform(*ASPECT))
        out[k] = np.round(mnistify(ink) * 255).astype(np.uint8)
    return out


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(prog="python -m train.redrawn_digits", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None, help="MNIST folder (default: as digitcam train)")
    p.add_argument("--digits", default="0:60000",
                   help="slice START:END of the MNIST training digits to redraw, so a validation set can "
                        "hold digits the training set never shows (default: 0:60000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the heights, pens and aspects (default: 0)")
    p.add_argument("--out", type=Path, required=True, help=".npz file to write (keep it under runs/)")
    args = p.parse_args(argv)
    from train import data as mnist

    data_dir = mnist.data_dir_or_exit(args.data)
    images, labels, start, end = mnist.training_slice(data_dir, args.digits)
    started = time.perf_counter()
    redrawn = redraw(images, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=redrawn, labels=labels, seed=args.seed, digits=np.array([start, end]))
    log.info("wrote %d redrawn digits to %s, %.0f s", end - start, args.out, time.perf_counter() - started)


if __name__ == "__main__":
    main()
