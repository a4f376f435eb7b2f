"""`digitcam eval-scenes`: box precision/recall/F1 and exact lines on generated scenes with known truth.

Scenes are drawn from MNIST *test* digits (see webapp/scenes.py) with a fixed seed, so two runs of
the same command score the same images. With --baseline the textbook reader is scored beside the
pipeline on the very same images.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from webapp import evaluation
from webapp.arguments import NON_NEGATIVE, POSITIVE, real
from webapp.recognizer import Recognizer
from webapp.scenes import KINDS, DigitSource, Scene, add_data_option, dimmed, grainy, make_scene, turned

HEADLINE = ("precision", "recall", "f1", "lines_exact", "digits_exact")


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_data_option(parser)
    parser.add_argument("--count", type=POSITIVE, default=100, help="scenes of each kind (default: 100)")
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default: 0)")
    parser.add_argument("--seeds", type=seed_list, default=None, metavar="LIST",
                        help="several scene seeds instead, e.g. 0-4 or 0,2,5: a line per seed, then all pooled; a "
                             "reader tuned on a few seeds reads them better than others, so judge it on many")
    parser.add_argument("--kind", choices=[*KINDS, "all"], default="all", help="which scenes (default: all)")
    parser.add_argument("--noise", type=real(0.0, 255.0), default=0.0, metavar="SIGMA",
                        help="add sensor noise of this standard deviation (gray levels, every channel) to each "
                             "scene before reading, as a webcam's gain does in dim light (default: 0, none)")
    parser.add_argument("--dim", type=real(0.0, 1.0, above=True), default=1.0, metavar="FACTOR",
                        help="darken each scene to this share of its brightness before any --noise, as a room "
                             "too dim for the camera's exposure leaves a frame (default: 1, as made)")
    parser.add_argument("--turn", type=float, default=0.0, metavar="DEGREES",
                        help="turn each scene by this many degrees (counter-clockwise; its canvas grown to hold it "
                             "all) before any --dim and --noise, as a sheet held askew (default: 0, as made)")
    parser.add_argument("--traits", action="store_true", help="also print scores per scene trait (ruled, shadow, ...)")
    parser.add_argument("--blame", action="store_true",
                        help="also read each missed digit from its own ink alone, to count the misses a better "
                             "model would fix (read wrong or unsure even alone) apart from the reader's")
    parser.add_argument("--failures", type=NON_NEGATIVE, default=0, metavar="N",
                        help="list the N worst scenes of each kind with truth and reading (default: 0)")
    evaluation.add_reader_options(parser, auto_default="pass the scene's own mode",
                                  annotate_help="write every scene the pipeline misreads, truth in green, reading in red")
    return parser


def seed_list(text: str) -> list[int]:
    """'0-4' or '0,2,5' (or both, '0-2,7') -> the seeds, in the order given."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like 0-4 or 0,2,5, not {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"no seed in {text!r}")
    return seeds


def evaluate(source: DigitSource, kinds: list[str], count: int, seed: int,
             reader_fns: dict[str, evaluation.Reader], blame: Recognizer | None = None, noise: float = 0.0,
             dim: float = 1.0, turn: float = 0.0) -> dict[str, dict[str, list[evaluation.SceneScore]]]:
    """scores[reader][kind] for the first `count` scenes of each kind (each scene built once); with
    a `blame` recognizer, the pipeline's misses are told apart too (evaluation.blame); with `dim` under
    1 and `noise`, the scenes are darkened (scenes.dimmed), then made grainy (scenes.grainy) first, and
    with `turn` turned before that (scenes.turned)."""
    scores: dict[str, dict[str, list[evaluation.SceneScore]]] = {r: {k: [] for k in kinds} for r in reader_fns}
    for kind in kinds:
        for i in range(count):
            scene = make_scene(source, kind, i, seed)
            if turn:
                scene = turned(scene, turn)
            if dim < 1.0:
                scene = dimmed(scene, dim)
            if noise:
                scene = grainy(scene, noise, seed)
            for name, read in reader_fns.items():
                reading = read(scene.image, scene.mode)
                score = evaluation.score_scene(scene, reading)
                if blame is not None and name == "pipeline":
                    score.blame = evaluation.blame(scene, reading, blame)
                scores[name][kind].append(score)
    return scores


def _blame_line(counts: dict[str, int]) -> str:
    missed = counts["model"] + counts["reader"]
    return (f"  pipeline misses {missed}: {counts['model']} read wrong or under the bar even from the digit's own "
            f"ink alone (the model's), {counts['reader']} read right alone (the reader's; "
            f"{counts['touching']} in scenes with touching digits)")


def _table(rows: dict[str, dict[str, float]], title: str) -> str:
    head = f"{title:<26}" + "".join(f"{h:>13}" for h in ("images",) + HEADLINE)
    lines = [head]
    for name, s in rows.items():
        lines.append(f"{name:<26}{s['images']:>13}" + "".join(f"{s[h]:>13.4f}" for h in HEADLINE))
    return "\n".join(lines)


def _span(seeds: list[int]) -> str:
    """'5-11' for a run of seeds, else '0,2,5'."""
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _worst(scores: list[evaluation.SceneScore], n: int) -> list[str]:
    bad = sorted((s for s in scores if not s.exact), key=lambda s: s.counts.f1)[:n]
    return [f"  {s.scene.kind} #{s.scene.index} F1 {s.counts.f1:.2f} {','.join(s.scene.traits)}\n"
            f"      truth {s.scene.lines}\n      read  {s.lines}" for s in bad]


def _draw(scene: Scene, reading) -> np.ndarray:
    img = scene.image.copy()
    for x, y, w, h in scene.boxes:
        cv2.rectangle(img, (x - 1, y - 1), (x + w, y + h), (0, 170, 0), 1)
    for d in reading.digits:
        x, y, w, h = d.box
        cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), (0, 0, 230), 1)
        cv2.putText(img, str(d.label), (x, max(12, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 230), 1, cv2.LINE_AA)
    return img


def _annotate(out_dir: Path, scores: list[evaluation.SceneScore], read: evaluation.Reader) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for s in scores:
        if not s.exact:
            reading = read(s.scene.image, s.scene.mode)
            cv2.imwrite(str(out_dir / f"{s.scene.kind}-{s.scene.index:04d}.png"), _draw(s.scene, reading))
            written += 1
    return written


def run(args: argparse.Namespace) -> int:
    source = DigitSource.for_command(args.data)
    kinds = list(KINDS) if args.kind == "all" else [args.kind]
    if args.seeds and (args.failures or args.annotate):
        raise SystemExit("--failures and --annotate name scenes by index: use them with one --seed, not --seeds")
    recognizer = Recognizer(args.model, provider="cpu", threads=1)
    reader_fns = evaluation.readers(recognizer, args.baseline, args.auto_mode)
    per_seed = {seed: evaluate(source, kinds, args.count, seed, reader_fns, recognizer if args.blame else None,
                               args.noise, args.dim, args.turn) for seed in args.seeds or [args.seed]}
    scores = {r: {k: [s for run in per_seed.values() for s in run[r][k]] for k in kinds} for r in reader_fns}
    result = {**({"seeds": args.seeds} if args.seeds else {"seed": args.seed}), "count": args.count,
              **({"noise": args.noise} if args.noise else {}), **({"dim": args.dim} if args.dim < 1.0 else {}),
              **({"turn": args.turn} if args.turn else {}),
              "readers": {r: {k: evaluation.summary(v) for k, v in per.items()} for r, per in scores.items()},
              "errors": {r: {k: evaluation.errors(v) for k, v in per.items()} for r, per in scores.items()}}
    if args.seeds:
        result["per_seed"] = {r: {k: {str(seed): evaluation.summary(run[r][k]) for seed, run in per_seed.items()}
                                  for k in kinds} for r in reader_fns}
    if args.blame:
        result["blame"] = {k: {c: sum(s.blame[c] for s in scores["pipeline"][k]) for c in ("model", "reader", "touching")}
                           for k in kinds}
    if args.traits:
        result["traits"] = {r: {k: evaluation.by_trait(v) for k, v in per.items()} for r, per in scores.items()}
    if args.json:
        print(json.dumps(result))
    else:
        for kind in kinds:
            if args.seeds:
                for r in scores:
                    print(_table(result["per_seed"][r][kind], f"{kind}, {r}, by seed"))
            title = f"seeds {_span(args.seeds)} pooled" if args.seeds else f"seed {args.seed}"
            print(_table({r: result["readers"][r][kind] for r in scores}, f"{kind} ({title})"))
            for r in scores:
                print(f"  {r} errors: " + (", ".join(f"{k} {n}" for k, n in result["errors"][r][kind].items()) or "none"))
            if args.blame:
                print(_blame_line(result["blame"][kind]))
            if args.traits:
                for r in scores:
                    print(_table(result["traits"][r][kind], f"  {r} by trait"))
            for line in _worst(scores["pipeline"][kind], args.failures):
                print(line)
            print()
    if args.annotate:
        n = sum(_annotate(args.annotate, scores["pipeline"][k], reader_fns["pipeline"]) for k in kinds)
        if not args.json:
            print(f"wrote {n} misread scenes to {args.annotate}")
    return 0
