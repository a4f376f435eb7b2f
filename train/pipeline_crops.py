"""The 28x28 inputs the reader really makes, labelled from generated scenes, to fine-tune on.

The model was trained on (augmented) MNIST digits, but at serving time it sees what
webapp.pipeline makes of a photo or a canvas: binarised, stroke-normalised, mnistified crops,
with their own stroke, centring and noise. This module runs the pipeline's own stages
(segmentation, then normalisation of every whole region and every candidate split) on scenes
drawn from MNIST *training* digits, and labels each crop by the truth digit its box matches.
Torch-free; the training loop reads the saved .npz (see train.train --extra-crops).

    python -m train.pipeline_crops --seed 1000 --count 2000 --digits 0:54000 --out runs/crops/train.npz
"""
from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from webapp import binarize, pipeline, segment
from webapp.scenes import KINDS, DigitSource, Scene, make_scene
from webapp.scoring import iou

log = logging.getLogger(__name__)

MATCH_IOU = 0.5  # a crop takes a truth digit's label when their boxes overlap this much (IoU) ...
OTHER_COVER = 0.25  # ... and it covers no more than this share of any other truth digit's box
#                     (a merged pair whose box happens to match its larger digit is not that digit)
PIECE_COVER = 0.8  # a split piece must also cover this share of its digit's box: the half of a
#                    single digit cut in two overlaps it by IoU ~0.5 and must not be taught as it
NOT_A_DIGIT = -1  # label of a crop that shows no single digit: a touching pair read whole, a stray mark


@dataclass
class LabelledCrop:
    image: np.ndarray  # uint8 28x28, white on black
    label: int  # 0-9, or NOT_A_DIGIT
    piece: bool  # a piece of a split region rather than a whole region


def _intersection(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0)


def match(box: tuple[int, int, int, int], truth: list[tuple[int, int, int, int]], piece: bool = False) -> int | None:
    """Index of the single truth digit this crop box shows, or None when it shows none or several."""
    found = classify(box, truth, piece)
    return found if found is not None and found >= 0 else None


def classify(box: tuple[int, int, int, int], truth: list[tuple[int, int, int, int]], piece: bool = False) -> int | None:
    """The truth digit a crop shows (its index), NOT_A_DIGIT when it clearly shows none, or None when unclear.

    Not a digit: a box holding two digits (the whole of a touching pair, which the reader must
    rather split), or touching no digit at all (a scribble or a speck the region rules let
    through). Unclear, so left out: a fragment of a digit (the stroke of a 7 cut off looks
    exactly like a 1 once normalised), and a split piece that misses part of its digit.
    """
    scores = [iou(box, t) for t in truth]
    best = int(np.argmax(scores)) if truth else -1
    if not truth or scores[best] == 0.0:
        return NOT_A_DIGIT
    if scores[best] < MATCH_IOU:
        return None
    for k, t in enumerate(truth):
        cover = _intersection(box, t) / max(t[2] * t[3], 1)
        if k != best and cover > OTHER_COVER:
            return NOT_A_DIGIT
        if k == best and piece and cover < PIECE_COVER:
            return None
    return best


def _retry_options(frame: "pipeline._Frame", options: dict[int, list[list[int]]]) -> list[pipeline.Crop]:
    """The two-way splits the canvas retry may try (pipeline._retry_splits), without its model test.

    On the canvas the reader cuts unsure or pinched regions after its first model call; here
    every region it could cut is cut, so the pieces of digits drawn into each other are learnt.
    """
    if frame.photo:
        return []
    extra: list[pipeline.Crop] = []
    for i, opts in options.items():
        region = frame.regions[i]
        if len(opts) > 1 or region.aspect < pipeline.RETRY_ASPECT:
            continue
        rmask = segment.region_mask(frame.comps, region)
        splits = [c for c in (segment.split_candidates(rmask, 2, w) for w in pipeline.RETRY_WINDOWS) if c]
        splits = [c for k, c in enumerate(splits) if c not in splits[:k]]
        for option in pipeline._split_crops(i, region, frame, splits, rmask):
            extra.extend(option)
    return extra


def scene_crops(scene: Scene) -> tuple[list[LabelledCrop], int]:
    """Every labelled crop (digits and NOT_A_DIGIT) the pipeline makes of one scene, and how many
    truth digits got no crop."""
    gray = binarize.to_gray(scene.image)
    scale = min(1.0, pipeline.WORK_MAX_SIDE / max(gray.shape))
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    truth = [tuple(round(v * scale) for v in b) for b in scene.boxes]
    frame = pipeline._segment(gray, scene.mode, pipeline._Clock())
    crops, options = pipeline._normalize(frame)
    whole = {opts[0][0] for opts in options.values()}
    candidates = [(c, k not in whole) for k, c in enumerate(crops)]
    candidates += [(c, True) for c in _retry_options(frame, options)]
    found: list[LabelledCrop] = []
    covered: set[int] = set()
    for crop, piece in candidates:
        k = classify(crop.box, truth, piece)
        if k is None:
            continue
        if k != NOT_A_DIGIT:
            covered.add(k)
        image = np.clip(np.rint(crop.image * 255), 0, 255).astype(np.uint8)
        found.append(LabelledCrop(image, scene.labels[k] if k != NOT_A_DIGIT else NOT_A_DIGIT, piece))
    return found, len(truth) - len(covered)


def build(source: DigitSource, kinds: list[str], count: int, seed: int) -> dict[str, np.ndarray]:
    """Crops of the first `count` scenes of each kind, as arrays for np.savez."""
    images, labels, kind_of, pieces = [], [], [], []
    for kind in kinds:
        started, missed, truths, before = time.perf_counter(), 0, 0, len(labels)
        for i in range(count):
            scene = make_scene(source, kind, i, seed)
            found, lost = scene_crops(scene)
            missed += lost
            truths += len(scene.labels)
            for c in found:
                images.append(c.image)
                labels.append(c.label)
                kind_of.append(KINDS.index(kind))
                pieces.append(c.piece)
        n_piece = sum(pieces[before:])
        n_not = sum(label == NOT_A_DIGIT for label in labels[before:])
        log.info("%s: %d scenes, %d truth digits, %d crops (%d whole, %d split pieces; %d not a digit), "
                 "%d truth digits without a crop, %.0f s", kind, count, truths, len(labels) - before,
                 len(labels) - before - n_piece, n_piece, n_not, missed, time.perf_counter() - started)
    return {"images": np.array(images, np.uint8).reshape(-1, 28, 28), "labels": np.array(labels, np.int64),
            "kind": np.array(kind_of, np.int8), "piece": np.array(pieces, bool)}


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(prog="python -m train.pipeline_crops", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None, help="MNIST folder (default: as digitcam train)")
    p.add_argument("--seed", type=int, default=1000,
                   help="scene seed; keep it far from the evaluation seeds 0-4 (default: 1000)")
    p.add_argument("--count", type=int, default=1000, help="scenes of each kind (default: 1000)")
    p.add_argument("--kind", choices=[*KINDS, "all"], default="all", help="which scenes (default: all)")
    p.add_argument("--digits", default="0:60000",
                   help="slice START:END of the MNIST training digits to draw from, so a validation set can "
                        "use digits the training crops never show (default: 0:60000)")
    p.add_argument("--out", type=Path, required=True, help=".npz file to write (keep it under runs/)")
    args = p.parse_args(argv)
    from train import data as mnist

    data_dir = args.data or mnist.default_data_dir()
    if data_dir is None:
        raise SystemExit("no MNIST folder: pass --data DIR")
    start, end = (int(v) for v in args.digits.split(":"))
    full = DigitSource.from_dir(data_dir, split="train")
    source = DigitSource(full.images[start:end], full.labels[start:end])
    kinds = list(KINDS) if args.kind == "all" else [args.kind]
    arrays = build(source, kinds, args.count, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays, seed=args.seed, digits=np.array([start, end]))
    log.info("wrote %d crops to %s", len(arrays["labels"]), args.out)


if __name__ == "__main__":
    main()
