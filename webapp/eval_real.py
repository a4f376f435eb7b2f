"""`digitcam eval-real`: character error rate and share read exactly on the real-dev photos.

Each image's lines are compared digit by digit (spaces ignored) with what a careful reader saw
(manifest.jsonl). Images without digits count every digit read as an error. This set is for
development: look at every failure, but never tune a constant to one image.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import cv2

from webapp import evaluation
from webapp.recognizer import Recognizer

log = logging.getLogger(__name__)



def default_dir() -> Path:
    """../shared/data/real-dev beside the working directory, else beside the checkout."""
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (base.parent / "shared" / "data" / "real-dev").is_dir():
            return base.parent / "shared" / "data" / "real-dev"
    return Path("../shared/data/real-dev")


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder with manifest.jsonl and the images (default: ../shared/data/real-dev)")
    parser.add_argument("--show-failures", action="store_true",
                        help="list only misread images, with the manifest's note on each")
    parser.add_argument("--invert", action="store_true",
                        help="read every image with light and dark swapped, as chalk on a blackboard (photos) "
                             "or a light-on-dark drawing: the truth is the same")
    parser.add_argument("--turn", type=float, default=0.0, metavar="DEGREES",
                        help="read every image turned by this many degrees (counter-clockwise; its canvas grown to "
                             "hold it all), as a sheet held askew: the truth is the same (default: 0)")
    evaluation.add_reader_options(parser, auto_default="from the manifest's kind",
                                  annotate_help="write the pipeline's annotated image for every photo")
    return parser


def _load(path: Path, invert: bool, turn: float = 0.0):
    from webapp.decode import load_image

    image = load_image(path)
    if turn:
        from webapp.level import Turn

        image = Turn(image.shape, turn).image(image)
    return cv2.bitwise_not(image) if invert else image


def evaluate(folder: Path, reader_fns: dict[str, evaluation.Reader],
             invert: bool = False, turn: float = 0.0) -> dict[str, list[evaluation.RealScore]]:
    """Scores of each reader on every image of the manifest (`invert`: light and dark swapped; `turn`:
    turned by so many degrees)."""
    from webapp.decode import ImageError

    scores: dict[str, list[evaluation.RealScore]] = {r: [] for r in reader_fns}
    for item in evaluation.load_manifest(folder):
        try:
            image = _load(folder / item.name, invert, turn)
        except (ImageError, OSError) as exc:  # an unreadable image reads as nothing: every digit missed
            log.warning("%s: %s", item.name, exc)
            for name in reader_fns:
                scores[name].append(evaluation.score_real(item, SimpleNamespace(digits=[], lines=[])))
            continue
        for name, read in reader_fns.items():
            scores[name].append(evaluation.score_real(item, read(image, evaluation.MODES.get(item.kind, "camera"))))
    return scores


def _cell(score: evaluation.RealScore, width: int = 24) -> str:
    text = ("ok " if score.exact else "XX ") + (" ".join(score.lines) or "-")
    return text if len(text) <= width else text[: width - 3] + "..."


def _report(scores: dict[str, list[evaluation.RealScore]], failures_only: bool) -> None:
    names = list(scores)
    print(f"{'image':<9}{'kind':<8}{'truth':<14}" + "".join(f"{n + ' read':<26}" for n in names))
    for row in zip(*scores.values()):
        item = row[0].item
        if failures_only and row[0].exact:
            continue
        cells = "".join(f"{_cell(s):<26}" for s in row)
        print(f"{item.name:<9}{item.kind:<8}{(' '.join(item.lines) or '-'):<14}{cells}")
        if failures_only and item.note:
            print(f"{'':<31}note: {item.note}")
    print()
    for name, per in scores.items():
        s = evaluation.real_summary(per)
        kinds = sorted({x.item.kind for x in per})
        by_kind = ", ".join(f"{k} {evaluation.real_summary(x for x in per if x.item.kind == k)['cer']:.3f}" for k in kinds)
        print(f"{name:<9} CER {s['cer']:.4f} ({s['edits']} edits / {s['chars']} digits), "
              f"read exactly {s['exact']:.3f} of {s['images']} images; CER by kind: {by_kind}")


def _annotate(folder: Path, out_dir: Path, recognizer: Recognizer, auto_mode: bool, invert: bool,
              turn: float = 0.0) -> None:
    from webapp import pipeline
    from webapp.decode import ImageError

    out_dir.mkdir(parents=True, exist_ok=True)
    for item in evaluation.load_manifest(folder):
        mode = "auto" if auto_mode else evaluation.MODES.get(item.kind, "camera")
        try:
            image = _load(folder / item.name, invert, turn)
        except (ImageError, OSError):
            continue  # already reported by evaluate()
        reading = pipeline.read_frame(image, recognizer, mode=mode, annotate=True)
        if reading.annotated is not None:
            cv2.imwrite(str(out_dir / (Path(item.name).stem + ".jpg")), reading.annotated)


def run(args: argparse.Namespace) -> int:
    args.dir = args.dir or default_dir()
    if not (args.dir / "manifest.jsonl").is_file():
        raise SystemExit(f"{args.dir}: no manifest.jsonl here (pass --dir to the real-dev folder)")
    recognizer = Recognizer(args.model, provider="cpu", threads=1)
    scores = evaluate(args.dir, evaluation.readers(recognizer, args.baseline, args.auto_mode), args.invert, args.turn)
    if args.json:
        print(json.dumps({
            "summary": {r: evaluation.real_summary(v) for r, v in scores.items()},
            "images": [{"image": row[0].item.name, "truth": row[0].item.lines,
                        **{r: s.lines for r, s in zip(scores, row)}} for row in zip(*scores.values())],
        }))
    else:
        _report(scores, args.show_failures)
    if args.annotate:
        _annotate(args.dir, args.annotate, recognizer, args.auto_mode, args.invert, args.turn)
    return 0
