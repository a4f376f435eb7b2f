"""`digitcam export`: turn a training checkpoint into the ONNX file the server loads.

The graph takes float32 pixels [N, 1, 28, 28] in [0, 1], white digit on black (MNIST polarity),
and outputs `probs` [N, 10]: normalisation and softmax live inside the graph, and the constants
a reader needs (input size, polarity, labels, accuracy, data checksum) travel as metadata.
Every export is checked with onnx.checker and against PyTorch on real MNIST test digits.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.onnx_files import INPUT_CONTRACT, add_metadata, int8_copy
from train import data as mnist
from train.evaluate import accuracy, ms_per_digit
from train.model import CheckpointError, DigitResNet, count_parameters, read_checkpoint
from webapp.recognizer import Recognizer

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOLERANCE = 1e-4  # max |probability difference| allowed between PyTorch and onnxruntime
LABELS = [str(i) for i in range(10)]


class ServingModel(nn.Module):
    """The trained network with its input normalisation before and softmax after."""

    def __init__(self, net: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net((pixels - self.mean) / self.std), dim=1)  # [N, 10]


def load_checkpoint(path: Path) -> tuple[ServingModel, dict]:
    """Rebuild the model from the checkpoint alone (it carries its constructor arguments)."""
    ckpt = read_checkpoint(path)
    cfg = ckpt["model_config"]
    net = DigitResNet(tuple(cfg["widths"]), tuple(cfg["blocks"]), cfg["stem_stride"], cfg["num_classes"])
    net.load_state_dict(ckpt["model"])
    norm = ckpt.get("normalisation", {"mean": 0.1307, "std": 0.3081})
    return ServingModel(net, norm["mean"], norm["std"]).eval(), ckpt


def export_onnx(model: nn.Module, out: Path, output: str = "probs") -> None:
    """Write the graph, its output named `output`, with a dynamic batch axis. Uses the TorchScript
    exporter (dynamo=False), which needs no onnxscript and gives a plain, small graph."""
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 1, 28, 28)
    with warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose; its deprecation notice is not news.
        warnings.filterwarnings("ignore", "You are using the legacy TorchScript", DeprecationWarning)
        torch.onnx.export(model, (dummy,), str(out), input_names=["pixels"], output_names=[output],
                          dynamic_axes={"pixels": {0: "batch"}, output: {0: "batch"}},
                          opset_version=OPSET, dynamo=False)


def check_parity(model: ServingModel, path: Path, images: np.ndarray) -> float:
    """Max |diff| of probabilities between PyTorch and onnxruntime on real digits."""
    x = images.astype(np.float32)[:, None] / 255.0
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = Recognizer(path, provider="cpu", threads=1).predict(x)
    return float(np.abs(expected - got).max())


def training_command(ckpt: dict) -> str:
    """Rebuild the `digitcam train` command line from the arguments saved in the checkpoint."""
    from train.train import build_parser

    defaults = vars(build_parser().parse_args([]))
    parts = ["digitcam train"]
    for key, value in ckpt.get("args", {}).items():
        if key in defaults and value != defaults[key]:
            flag = "--" + key.replace("_", "-")
            if value is True:
                parts.append(flag)
            elif isinstance(value, (list, tuple)):
                parts.append(f"{flag} {' '.join(map(str, value))}")
            else:
                parts.append(f"{flag} {value}")
    return " ".join(parts)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("checkpoint", type=Path, help="training checkpoint, e.g. runs/latest/last.pt")
    parser.add_argument("--out", type=Path, default=Path("model.onnx"),
                        help="ONNX file to write; a model card OUT.json is written beside it (default: model.onnx)")
    parser.add_argument("--data", type=Path, default=None,
                        help="MNIST folder for the parity check, accuracy and calibration "
                             "(default: $DIGITCAM_DATA, else ../shared/data/mnist)")
    parser.add_argument("--int8", action="store_true",
                        help="also write OUT-int8.onnx (static quantisation) and compare accuracy and speed")
    parser.add_argument("--note", default="", help="free text for the model card (how it was trained, caveats)")
    parser.add_argument("--parity-digits", type=int, default=2000,
                        help="real test digits used for the PyTorch/onnxruntime parity check (default: 2000)")
    return parser


def run(args: argparse.Namespace) -> int:
    model, ckpt = load_checkpoint(args.checkpoint)
    data_dir = mnist.data_dir_or_exit(args.data, "needed for the parity check")
    x_test, y_test = mnist.load_split(data_dir, "test")
    export_onnx(model, args.out)
    meta = {**INPUT_CONTRACT, "labels": json.dumps(LABELS), "model_config": json.dumps(ckpt["model_config"]),
            "training_data_sha256": ckpt.get("data_sha256", ""),
            "exporter": f"torch {torch.__version__} torch.onnx (TorchScript), opset {OPSET}",
            "digitcam_train_command": training_command(ckpt)}
    add_metadata(args.out, meta)
    diff = check_parity(model, args.out, x_test[: args.parity_digits])
    if diff > PARITY_TOLERANCE:
        raise SystemExit(f"parity check failed: max |diff| {diff:.2e} > {PARITY_TOLERANCE:.0e}")
    rec = Recognizer(args.out, provider="cpu", threads=1)
    acc, _ = accuracy(rec, x_test, y_test)
    meta["mnist_test_accuracy"] = f"{acc:.5f}"
    add_metadata(args.out, meta)  # accuracy is only known once the file exists
    card = _model_card(args, ckpt, model, acc, diff, ms_per_digit(rec, x_test))
    print(f"wrote {args.out}: MNIST test {acc * 100:.2f}%, parity max |diff| {diff:.1e}, "
          f"{card['ms_per_digit']:.3f} ms/digit (1 thread, batch 10)")
    if args.int8:
        card["int8"] = _int8_report(args, data_dir, meta, x_test, y_test, acc, card["ms_per_digit"])
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return 0


def _int8_report(args, data_dir: Path, meta: dict, x_test, y_test, acc: float, fp32_ms: float) -> dict:
    q = int8_copy(args.out, data_dir, meta, x_test, y_test)
    print(f"int8 {args.out.with_name(q['file'])}: MNIST test {q['mnist_test_accuracy'] * 100:.2f}% "
          f"(fp32 {acc * 100:.2f}%), {q['ms_per_digit']:.3f} ms/digit (fp32 {fp32_ms:.3f}), {q['bytes']} bytes")
    return q


def training_stages(ckpt: dict) -> list[dict]:
    """The run behind a checkpoint, following `--init` back to the runs it fine-tuned."""
    stages, seen = [], set()
    while ckpt is not None:
        state = ckpt.get("state", {})
        stages.insert(0, {"command": training_command(ckpt), "epochs": state.get("epoch"),
                          "train_loop_seconds": round(state.get("train_seconds", 0.0), 1),
                          "mnist_test_accuracy": ckpt.get("test_acc")})
        init = ckpt.get("args", {}).get("init")
        if not init or str(init) in seen:
            break
        seen.add(str(init))
        try:
            ckpt = read_checkpoint(Path(init))
        except CheckpointError:  # the file at a recorded --init path is gone or no longer that checkpoint
            break
    return stages


def _model_card(args, ckpt: dict, model: ServingModel, acc: float, diff: float, ms: float) -> dict:
    stages = training_stages(ckpt)
    return {
        "file": args.out.name,
        "task": "handwritten digit classification, 28x28 MNIST-style crops, white ink on black",
        "architecture": {"type": "ResNet (basic blocks, identity shortcuts)", **ckpt["model_config"]},
        "parameters": count_parameters(model.net),
        "mnist_test_accuracy": round(acc, 5),
        "mnist_test_errors": int(round((1 - acc) * 10000)),
        "ms_per_digit": round(ms, 4),
        "ms_per_digit_conditions": f"onnxruntime CPU, 1 thread, batch of 10, median; {platform.processor() or platform.machine()}",
        "training": {"command": " && ".join(s["command"] for s in stages), "stages": stages,
                     "train_loop_seconds": round(sum(s["train_loop_seconds"] for s in stages), 1),
                     "machine": "2-core CPU, no GPU (the project's development machine)",
                     "data_sha256": ckpt.get("data_sha256", "")},
        "export": {"exporter": f"torch {torch.__version__}, TorchScript exporter, opset {OPSET}",
                   "parity_max_abs_diff": float(f"{diff:.2e}"), "checker": "onnx.checker full_check passed"},
        "exported_at": time.strftime("%Y-%m-%d"),
        "note": args.note,
    }
