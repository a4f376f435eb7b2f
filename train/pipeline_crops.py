"""The 28x28 inputs the reader really makes, labelled from generated scenes, to fine-tune on.

The model was trained on (augmented) MNIST digits, but at serving time it sees what
webapp.pipeline makes of a photo or a canvas: binarised, stroke-normalised, mnistified crops,
with their own stroke, centring and noise. This module runs the pipeline's own stages
(segmentation, then normalisation of every whole region and every candidate split) on scenes
drawn from MNIST *training* digits, and labels each crop by the truth digit whose ink it holds.
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

from webapp import model_inputs, pipeline, retries, segment
from webapp.arguments import POSITIVE
from webapp.scenes import KINDS, TOUCHING, DigitSource, Scene, make_scene

log = logging.getLogger(__name__)

OWNED_SHARE = 0.6  # a crop is read for a digit only when this share of its ink is digits' ink ...
STRAY_SHARE = 0.25  # ... and it is no digit when less than this is (a scribble, a speck, a line left over)
OWN_COVER = 0.85  # a crop shows a digit when it holds this share of that digit's ink ...
OWN_SHARE = 0.75  # ... and that digit owns this share of the crop's digit ink (a 1 may keep a hook
#                   of a touching 2's tail, as the reader's split piece of it does)
SECOND_COVER = 0.5  # a crop holding this share of a second digit's ink, or ...
SECOND_SHARE = 0.35  # ... in which a second digit owns this share of the digit ink, shows no single digit
GROW = 5  # px, a square kernel: owner labels spread 2 px each way to claim the ink binarisation adds around strokes
NOT_A_DIGIT = -1  # label of a crop that shows no single digit: a touching pair read whole, a stray mark


@dataclass
class LabelledCrop:
    image: np.ndarray  # uint8 28x28, white on black
    label: int  # 0-9, or NOT_A_DIGIT
    piece: bool  # a piece of a split region rather than a whole region


def classify(counts: np.ndarray, totals: np.ndarray) -> int | None:
    """The truth digit a crop shows (its index), NOT_A_DIGIT when it clearly shows none, or None when unclear.

    Judged by whose ink the crop holds, not by box overlap: the box of a split piece of a 1 can
    cover a third of a touching 2's box (its tail runs under the 1) while holding only a hook of
    its ink. `counts[0]` is the crop's ink that is no digit's, `counts[k + 1]` its ink of digit
    k, `totals[k]` all of digit k's ink the reader kept. No digit: most of two digits (a touching
    pair read whole, or cut in the wrong place), or hardly any digit ink. Unclear, so left out: a
    fragment of a digit (the stroke of a 7 cut off looks exactly like a 1 once normalised).
    """
    ink = int(counts.sum())
    owned = counts[1:].astype(np.float64)
    if ink == 0 or owned.sum() < STRAY_SHARE * ink:
        return NOT_A_DIGIT
    share = owned / owned.sum()
    cover = owned / np.maximum(totals, 1)
    order = np.argsort(-owned)
    best, second = int(order[0]), (int(order[1]) if len(order) > 1 else None)
    if second is not None and (cover[second] >= SECOND_COVER or share[second] >= SECOND_SHARE):
        return NOT_A_DIGIT
    if owned.sum() < OWNED_SHARE * ink or cover[best] < OWN_COVER or share[best] < OWN_SHARE:
        return None
    return best


def _owner_at_work_scale(scene: Scene, shape: tuple[int, int]) -> np.ndarray:
    """The scene's owner map at the reader's working size, grown over the ink binarisation adds."""
    owner = scene.owner
    if owner.shape != shape:
        owner = cv2.resize(owner, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    grown = cv2.dilate(owner, np.ones((GROW, GROW), np.uint8))
    return np.where(owner > 0, owner, grown)


def _ink_counts(crop: model_inputs.Crop, frame: "model_inputs.Frame", owner: np.ndarray, n: int) -> np.ndarray:
    """How much of the crop's own ink (its region's components inside its box) each digit owns."""
    region = frame.regions[crop.region]
    rx, ry, _, _ = region.box
    x, y, w, h = crop.box
    mask = segment.region_mask(frame.comps, region)[y - ry : y - ry + h, x - rx : x - rx + w] > 0
    return np.bincount(owner[y : y + h, x : x + w][mask], minlength=n + 1)


def _retry_options(frame: "model_inputs.Frame", options: dict[int, list[list[int]]]) -> list[model_inputs.Crop]:
    """The two-way splits the canvas retry may try (retries.retry_splits), without its model test.

    On the canvas the reader cuts unsure or pinched regions after its first model call; here
    every region it could cut is cut, so the pieces of digits drawn into each other are learnt.
    """
    extra: list[model_inputs.Crop] = []
    for i, region, rmask, splits in retries.retry_candidates(frame, options):
        for option in model_inputs.split_crops(i, region, frame, splits, rmask):
            extra.extend(option)
    return extra


def crop_pixels(crop: model_inputs.Crop) -> np.ndarray:
    """A crop's model input, [0, 1] float, as the uint8 28x28 image the .npz files store."""
    return np.clip(np.rint(crop.image * 255), 0, 255).astype(np.uint8)


def scene_crops(scene: Scene) -> tuple[list[LabelledCrop], int]:
    """Every labelled crop (digits and NOT_A_DIGIT) the pipeline makes of one scene, and how many
    truth digits got no crop."""
    gray, _ = pipeline.work_gray(scene.image)
    frame = pipeline._segment(gray, scene.mode, pipeline._Clock())
    owner = _owner_at_work_scale(scene, gray.shape)
    n = len(scene.labels)
    totals = np.bincount(owner[frame.comps.labels > 0], minlength=n + 1)[1:]
    crops, options = model_inputs.normalize(frame)
    whole = {opts[0][0] for opts in options.values()}
    candidates = [(c, k not in whole) for k, c in enumerate(crops)]
    candidates += [(c, True) for c in _retry_options(frame, options)]
    found: list[LabelledCrop] = []
    covered: set[int] = set()
    for crop, piece in candidates:
        k = classify(_ink_counts(crop, frame, owner, n), totals)
        if k is None:
            continue
        if k != NOT_A_DIGIT:
            covered.add(k)
        found.append(LabelledCrop(crop_pixels(crop), scene.labels[k] if k != NOT_A_DIGIT else NOT_A_DIGIT, piece))
    return found, n - len(covered)


def build(source: DigitSource, kinds: list[str], count: int, seed: int,
          touching: float = TOUCHING) -> dict[str, np.ndarray]:
    """Crops of the first `count` scenes of each kind, as arrays for np.savez; `touching`: the share
    of scenes whose digits may run into each other."""
    images, labels, kind_of, pieces = [], [], [], []
    for kind in kinds:
        started, missed, truths, before = time.perf_counter(), 0, 0, len(labels)
        for i in range(count):
            scene = make_scene(source, kind, i, seed, touching=touching)
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
    p.add_argument("--count", type=POSITIVE, default=1000, help="scenes of each kind (default: 1000)")
    p.add_argument("--touching", type=float, default=TOUCHING,
                   help="share of scenes whose digits may touch: the pieces the reader cuts touching digits "
                   "into are rare at the scenes' default (default: %(default)s)")
    p.add_argument("--kind", nargs="+", choices=KINDS, default=["pages", "drawings"],
                   help="which scenes (default: pages drawings, the kinds the shipped model's crops came from)")
    p.add_argument("--digits", default="0:60000",
                   help="slice START:END of the MNIST training digits to draw from, so a validation set can "
                   "use digits the training crops never show (default: 0:60000)")
    p.add_argument("--out", type=Path, required=True, help=".npz file to write (keep it under runs/)")
    args = p.parse_args(argv)
    from train import data as mnist

    data_dir = mnist.data_dir_or_exit(args.data)
    images, labels, start, end = mnist.training_slice(data_dir, args.digits)
    source = DigitSource(images, labels)
    arrays = build(source, args.kind, args.count, args.seed, args.touching)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays, seed=args.seed, digits=np.array([start, end]), touching=args.touching)
    log.info("wrote %d crops to %s", len(arrays["labels"]), args.out)


if __name__ == "__main__":
    main()
