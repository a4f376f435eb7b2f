"""Read the handwritten digits in image files (PNG, JPEG, WebP) and print what was found.

With --json, one JSON object per image per line; an image that cannot be read gives
{"image": PATH, "error": MESSAGE} and the others are still read (the exit status is then 1).
A folder reads the PNG, JPEG and WebP files directly in it, in name order.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterator

import cv2

from webapp.arguments import POSITIVE, out_folder
from webapp.decode import ImageError, read_file, read_stream
from webapp.pipeline import MODES, Reading, decode_timed, read_decoded
from webapp.recognizer import Recognizer

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # what a folder given as IMAGE is read for ...
OUR_PICTURES = (".annotated.png", ".stages.png")  # ... but for the pictures --annotate wrote into it on an earlier run


def build_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="image files to read; a folder reads the PNG, JPEG and WebP files in it (not its "
                             "sub-folders); - reads one from standard input (e.g. a camera tool's pipe)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image per line (default: a summary)")
    parser.add_argument("--annotate", metavar="OUT_DIR", type=out_folder,
                        help="write NAME.annotated.png for each image into OUT_DIR (default: none)")
    parser.add_argument("--teach", action="store_true",
                        help="with --annotate, also write NAME.stages.png: binary image, components, model crops")
    parser.add_argument("--mode", choices=MODES, default="auto",
                        help="camera (paper photo), canvas (screen drawing) or auto (default: auto)")
    parser.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="auto",
                        help="onnxruntime provider; auto uses CUDA when available (default: auto)")
    parser.add_argument("--threads", type=POSITIVE, default=1, help="onnxruntime threads (default: 1)")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model file (default: the shipped model)")


def _out_stem(name: str) -> str:
    """The input's own name (never its directories) made safe for a file name; "stdin" for -."""
    if name == "-":  # the argument itself: ./- is a file named -
        return "stdin"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).stem) or "image"


def _out_name(stem: str, index: int, suffix: str) -> str:
    return f"{index:03d}-{stem}.{suffix}.png" if index else f"{stem}.{suffix}.png"


def _summary(path: str, reading: Reading) -> str:
    lines = reading.lines or ["(no digits)"]
    text = " | ".join(lines)
    sure = ", ".join(f"{d.label}:{d.confidence:.2f}" for d in reading.digits)
    return (f"{path}: {text}   [{len(reading.digits)} digits, {reading.rejected} rejected, "
            f"{reading.timings_ms['total']:.1f} ms]" + (f"\n    {sure}" if sure else ""))


def _write_annotations(out_dir: Path, stem: str, index: int, reading: Reading) -> Iterator[Path]:
    """Write STEM.annotated.png (and STEM.stages.png when the reading has a teaching composite),
    yielding each path once written, so one written before a failure is still reported."""
    pictures = {"annotated": reading.annotated, "stages": reading.composite}
    for kind, picture in pictures.items():
        if picture is not None:
            out = out_dir / _out_name(stem, index, kind)
            try:
                ok = cv2.imwrite(str(out), picture)
            except cv2.error:
                ok = False
            if not ok:
                raise ImageError(f"could not write {out}")
            yield out


def _out_dir_problem(out_dir: Path | None, teach: bool) -> str | None:
    """Why --annotate/--teach cannot be honoured (None when they can): checked before any reading."""
    if teach and out_dir is None:
        return "--teach writes its pictures into the --annotate folder: give --annotate OUT_DIR too"
    if out_dir is None:
        return None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--annotate {out_dir}: cannot create the folder ({exc.strerror or exc})"
    return None


def _inputs(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The images to read, each folder among `names` replaced by the image files directly in it
    (IMAGE_SUFFIXES, any case, not OUR_PICTURES; sorted by name), and why each folder left as it is
    gives nothing."""
    out: list[str] = []
    empty: dict[str, str] = {}
    for name in names:
        path = Path(name)
        if name == "-" or not path.is_dir():
            out.append(name)
            continue
        try:
            found = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                           and not p.name.endswith(OUR_PICTURES))
        except OSError as exc:
            found, empty[name] = [], f"cannot list the folder ({exc.strerror or exc})"
        if not found:
            empty.setdefault(name, "a folder with no PNG, JPEG or WebP file in it")
            out.append(name)
        out += found
    return out, empty


def _standard_input() -> bytes:
    """The image piped in for `-`, with errors that say it is standard input."""
    if sys.stdin is None:
        raise ImageError("no standard input to read")
    data = read_stream(sys.stdin.buffer)
    if not data:
        raise ImageError("standard input is empty")
    return data


def run(args: argparse.Namespace) -> int:
    problem = _out_dir_problem(args.annotate, args.teach)
    if args.images.count("-") > 1:
        problem = "- (standard input) can be read only once"
    if problem:
        print(f"digitcam read: {problem}", file=sys.stderr)
        return 2
    recognizer = Recognizer(args.model, provider=args.provider, threads=args.threads)  # a bad model: webapp.cli says so
    images, empty = _inputs(args.images)
    stems = [_out_stem(p) for p in images]  # "a b.png" and "a_b.png" would share a name
    failed = 0
    for i, name in enumerate(images):
        # Two inputs with the same file name get numbered outputs instead of overwriting each other.
        index = i + 1 if stems.count(stems[i]) > 1 else 0
        try:
            if name in empty:
                raise ImageError(empty[name])
            data = _standard_input() if name == "-" else read_file(Path(name))
            decoded = decode_timed(data, shrink=True)  # a 50 MP phone JPEG is read at 1/2-1/8 size
            reading = read_decoded(decoded, recognizer, mode=args.mode, annotate=bool(args.annotate),
                                   debug=args.teach)
        except ImageError as exc:
            failed += 1
            print(json.dumps({"image": name, "error": str(exc)}) if args.json else f"{name}: error: {exc}", flush=True)
            continue
        print(json.dumps({"image": name, **reading.to_dict()}) if args.json else _summary(name, reading), flush=True)
        if args.annotate:
            try:
                for out in _write_annotations(args.annotate, stems[i], index, reading):
                    print(f"{name}: wrote {out}", file=sys.stderr, flush=True)
            except ImageError as exc:
                failed += 1
                print(f"{name}: error: {exc}", file=sys.stderr, flush=True)
    return 1 if failed else 0
