"""The `digitcam` command: one entry point, one module per subcommand.

Each subcommand's module is imported only when it runs, so `digitcam serve` never pays for
(or needs) torch. A module provides `build_parser(parser)` and `run(args) -> int | None`.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name -> (module, one-line help). Modules under train/ and export/ need the `train` extra.
# Top-level modules of the packages the `train` extra installs, and of digitcam's own requirements (pyproject.toml;
# tests/test_cli.py checks both against it).
TRAIN_EXTRA = {"torch", "onnx", "matplotlib", "tqdm", "PIL"}
REQUIRED = {"flask", "flask_socketio", "simple_websocket", "onnxruntime", "cv2", "numpy", "segno", "cryptography",
            "socketio"}
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train.train", "train the ResNet on MNIST (needs the 'train' extra)"),
    "export": ("export.onnx_export", "export a training checkpoint to ONNX, checked against PyTorch"),
    "ensemble": ("export.ensemble", "average several exported models in one ONNX file (no torch needed)"),
    "unmerge": ("export.unmerge", "take an ensemble file apart into its members and letter detector"),
    "eval": ("train.evaluate", "MNIST test accuracy and speed of an ONNX model (no torch needed)"),
    "read": ("webapp.read_cli", "read the handwritten digits in image files (--json, --annotate)"),
    "serve": ("webapp.serve_cli", "serve the live page (webcam, canvas, classroom); --lan for phones"),
    "bench": ("webapp.bench", "load-test a server with N Socket.IO clients on loopback"),
    "eval-scenes": ("webapp.eval_scenes", "box precision/recall/F1 and exact lines on generated scenes"),
    "eval-glyphs": ("webapp.eval_glyphs", "where drawn digits are lost: each MNIST test digit alone on a canvas"),
    "eval-pairs": ("webapp.eval_pairs", "two drawn digits side by side, apart, touching or drawn into each other"),
    "eval-sums": ("webapp.eval_sums", "sums drawn on a canvas ('12 + 7 = 19'): are signs read as digits?"),
    "eval-real": ("webapp.eval_real", "character error rate on the real-dev photos (../shared/data/real-dev)"),
    "bench-pipeline": ("webapp.bench_pipeline", "per-stage time of reading one 640x480 frame, one thread"),
}


def _top_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<15} {text}" for name, (_, text) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="digitcam",
        description="Read handwritten digits live from a webcam or a drawing canvas.",
        epilog=f"commands:\n{listing}\n\nRun 'digitcam COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help="what to do (see below)")
    parser.add_argument("--version", action="version", version=_version())
    return parser


def _missing(exc: ModuleNotFoundError) -> str:
    """What to install for a module that failed to import. The `train` extra brings training's tools,
    and a reinstall digitcam's own requirements: the extra would not bring back a broken base install."""
    name = exc.name or str(exc)
    top = (exc.name or "").split(".")[0]
    extra = "install the 'train' extra: pip install '.[train]' in digitcam's folder"
    again = "reinstall digitcam: pip install . in its folder"
    if top in TRAIN_EXTRA:
        return f"needs {name!r}, from the 'train' extra; {extra}"
    if top in REQUIRED:
        return f"needs {name!r}, one of digitcam's own requirements; {again}"
    return f"needs {name!r}; {again}, and for training's commands {extra}"


def _version() -> str:
    from webapp import __version__

    return f"digitcam {__version__}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv:
        top.print_help(sys.stderr)
        return 2
    if argv[0].startswith("-") and argv[0] != "-":  # a bare "-" is a (wrong) command, not an option
        if argv[0] != "-h" and not (len(argv[0]) > 2 and any(o.startswith(argv[0]) for o in ("--help", "--version"))):
            top.error(f"unknown option {argv[0]!r}: options come after the COMMAND, e.g. 'digitcam read --help'")
        top.parse_args(argv)
        return 0
    command = top.parse_args(argv[:1]).command
    module_name, text = COMMANDS[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top.exit(2, f"digitcam {command}: {_missing(exc)}\n")
    parser = argparse.ArgumentParser(prog=f"digitcam {command}", description=module.__doc__ or text,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.build_parser(parser)
    args = parser.parse_args(argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = module.run(args)
    except _user_errors() as exc:  # a missing or bad data set or model file: a message, not a traceback
        print(f"digitcam {command}: {exc}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that are the user's input, not a bug (imported only when something was raised)."""
    from train.data import DataError  # torch-free
    from webapp.recognizer import ModelError

    return DataError, ModelError


if __name__ == "__main__":
    sys.exit(main())
