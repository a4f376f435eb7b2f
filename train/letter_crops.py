"""Crops of written letters, labelled "not a digit", so the model learns to doubt them.

The model was trained on digits alone, so a letter reaches it as the digit it most resembles,
often surely: a lone "h" or an "n" on a canvas reads as a digit. This module writes short words
in OpenCV's Hershey fonts (plain and script, upright and slanted, thin and thick), on a canvas or
on lit, blurred, JPEG-compressed paper, runs the reader's own segmentation and normalisation on
them and keeps the whole crop of every region: the training loop teaches such crops the uniform
answer (train.train.digit_loss), so they fall below the reader's confidence bar.

Letters a reader could take for a digit (o, l, s, z, g, q, b, ...) are never written: the model
should still read a round "o" as 0. Torch-free; the .npz is read by `digitcam train --extra-crops`.

    python -m train.letter_crops --count 3000 --out runs/letters/train.npz
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import cv2
import numpy as np

from train.pipeline_crops import NOT_A_DIGIT, crop_pixels
from webapp import photo_effects as fx
from webapp import model_inputs, pipeline
from webapp.arguments import POSITIVE

log = logging.getLogger(__name__)

LETTERS = "acdefhkmnprtuvwxyACEFHKMNPRUVWXY"  # none of them is read as a digit by a careful reader
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
         cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
MIN_ASPECT = 0.45  # narrower crops (a letter's lone stem) look like a 1 and are left out
SIZE = (480, 240)  # w, h of each rendered sample


def _word(rng: np.random.Generator) -> str:
    letters = "".join(rng.choice(list(LETTERS), int(rng.integers(1, 6))))
    return letters.lower() if rng.random() < 0.6 else letters


def _ink(rng: np.random.Generator, fonts: list[Path]) -> np.ndarray:
    """Coverage (float32, SIZE) of one or two words, slanted, rotated and sized at random: in a
    Hershey font, or (half the time, when `fonts` are given) in one of those font files."""
    if fonts and rng.random() < 0.5:
        return _slant(_font_ink(rng, fonts[rng.integers(len(fonts))]), rng)
    w, h = SIZE
    canvas = np.zeros((h, w), np.uint8)
    font = int(FONTS[rng.integers(len(FONTS))]) | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    height = rng.uniform(30, 90)  # of a capital, pixels
    _, base_h = cv2.getTextSize("H", font, 1.0, 1)[0]
    scale = height / base_h
    thick = max(1, round(height * rng.uniform(0.05, 0.18)))
    y = rng.uniform(0.45, 0.7) * h
    x = rng.uniform(0.03, 0.2) * w
    for _ in range(int(rng.integers(1, 3))):
        word = _word(rng)
        cv2.putText(canvas, word, (round(x), round(y)), font, scale, 255, thick, cv2.LINE_AA)
        x += cv2.getTextSize(word + " ", font, scale, thick)[0][0]
    return _slant(canvas, rng)


def _font_ink(rng: np.random.Generator, path: Path) -> np.ndarray:
    """One or two words drawn with a TrueType or OpenType font file (uint8, SIZE), thickened at random."""
    from PIL import Image, ImageDraw, ImageFont  # only needed with --fonts

    w, h = SIZE
    height = rng.uniform(30, 90)  # of the em square's cap height, roughly
    font = ImageFont.truetype(str(path), size=max(8, round(height * 1.4)))
    words = " ".join(_word(rng) for _ in range(int(rng.integers(1, 3))))
    image = Image.new("L", (w, h), 0)
    stroke = round(height * rng.uniform(0.0, 0.05))
    ImageDraw.Draw(image).text((rng.uniform(0.03, 0.2) * w, rng.uniform(0.45, 0.7) * h), words, font=font,
                               fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255)
    return np.asarray(image)


def _slant(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shear and rotate drawn words at random; coverage as float32 in [0, 1]."""
    h, w = canvas.shape
    shear, angle = rng.uniform(-0.3, 0.3), rng.uniform(-8, 8)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[0, 1] += shear
    m[0, 2] -= shear * h / 2
    return cv2.warpAffine(canvas, m, (w, h)).astype(np.float32) / 255


def _render(rng: np.random.Generator, fonts: list[Path]) -> tuple[np.ndarray, str]:
    """A BGR sample and the reader mode a user would pick: a canvas drawing or a photo of paper."""
    w, h = SIZE
    ink = _ink(rng, fonts)
    img = np.empty((h, w, 3), np.float32)
    if rng.random() < 0.5:
        dark = rng.random() < 0.4
        img[:] = (20, 20, 20) if dark else (250, 250, 250)
        pen = (240, 240, 240) if dark else tuple(fx.PENS.values())[rng.integers(len(fx.PENS))]
        return fx.blend(img, ink, pen).clip(0, 255).astype(np.uint8), "canvas"
    img[:] = tuple(fx.PAPERS.values())[rng.integers(len(fx.PAPERS))]
    img = fx.blend(img, ink, tuple(fx.PENS.values())[rng.integers(len(fx.PENS))])
    img *= fx.lighting((w, h), rng, shadow=rng.random() < 0.3)[..., None]
    img = fx.camera(img, rng, rng.uniform(0, 1.5))
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 95))])
    return cv2.imdecode(data, cv2.IMREAD_COLOR), "camera"


def sample_crops(image: np.ndarray, mode: str) -> list[np.ndarray]:
    """The reader's whole crop (uint8 28x28) of every region it would read in `image`."""
    gray, _ = pipeline.work_gray(image)
    frame = pipeline._segment(gray, mode, pipeline._Clock())
    crops, options = model_inputs.normalize(frame)
    out = []
    for i, opts in options.items():
        x, y, w, h = frame.regions[i].box
        if len(opts[0]) == 1 and w >= MIN_ASPECT * h:
            out.append(crop_pixels(crops[opts[0][0]]))
    return out


def build(count: int, seed: int, fonts: list[Path] | None = None) -> dict[str, np.ndarray]:
    """Crops of `count` rendered samples, as arrays for np.savez (the layout of train.pipeline_crops);
    `fonts`: font files to write half of them with, beside the Hershey fonts."""
    rng = np.random.default_rng([seed, 29])
    images: list[np.ndarray] = []
    started = time.perf_counter()
    for _ in range(count):
        images += sample_crops(*_render(rng, fonts or []))
    log.info("%d samples, %d crops, %.0f s", count, len(images), time.perf_counter() - started)
    return {"images": np.array(images, np.uint8).reshape(-1, 28, 28),
            "labels": np.full(len(images), NOT_A_DIGIT, np.int64)}


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(prog="python -m train.letter_crops", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=POSITIVE, default=3000, help="rendered samples (default: 3000)")
    p.add_argument("--seed", type=int, default=1000, help="random seed (default: 1000)")
    p.add_argument("--fonts", type=Path, nargs="+", default=[], metavar="FILE",
                   help="TrueType/OpenType files (handwriting fonts, e.g. from Debian's fonts-bwht, fonts-breip, "
                        "fonts-kristi) to write half the samples with; needs Pillow (default: Hershey fonts only)")
    p.add_argument("--out", type=Path, required=True, help=".npz file to write (keep it under runs/)")
    args = p.parse_args(argv)
    missing = [str(f) for f in args.fonts if not f.is_file()]
    if missing:
        raise SystemExit(f"font file not found: {', '.join(missing)}")
    arrays = build(args.count, args.seed, args.fonts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays, seed=args.seed)
    log.info("wrote %d crops to %s", len(arrays["labels"]), args.out)


if __name__ == "__main__":
    main()
