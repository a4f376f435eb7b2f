"""A small network that tells a written letter from a digit, so the reader rejects letters.

The digit classifier knows ten classes, so a letter reaches it as the digit it looks most like,
often surely. Teaching that classifier letters (the uniform answer) cost digits F1 (docs/model.md,
"Teaching letters"), so this is a separate, much smaller detector that sees the same 28x28 crops:
letter crops (train.letter_crops) against everything the reader crops from digit scenes (digits,
split pieces, touching pairs read whole, stray marks: train.pipeline_crops) and augmented MNIST
training digits. Its ONNX file outputs `letter` [N], each crop's chance of being a letter;
`digitcam ensemble --letters FILE` puts it into the served model beside the digit networks, and
the reader rejects a region whose crop (and a piece of every split of it) scores the file's
`letter_bar` or more, with the word it stands in, unless it stands among sure digits
(webapp/pipeline.py, _letter_regions and _without_letters).

    python -m train.letter_net --letters runs/letters/fonts-train.npz \\
        --digit-crops runs/crops23.npz runs/crops4/drawings.npz --val-letters runs/letters/fonts-val.npz \\
        --val-digits runs/crops2/val.npz --out runs/letter.onnx
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.onnx_export import ServingModel, export_onnx
from export.onnx_files import INPUT_CONTRACT, add_metadata
from train import data as mnist
from train.model import DigitResNet, count_parameters
from train.train import MEAN, STD, AugmentedDigits, load_crops, normalise
from webapp.arguments import POSITIVE

log = logging.getLogger(__name__)

WIDTHS = (8, 16, 32)  # 19,546 parameters, 0.02 ms a digit (float) in the served file; 16-32-64 (77,234) caught
#   as many letters in fonts it never saw and lost two more digits on the scenes, at twice the cost (docs/model.md)
STEPS_PER_EPOCH = 700
BATCH = (40, 44, 44)  # letters, digit-scene crops, MNIST digits in each batch of 128
LETTER_BAR = 0.9  # written into the file: the reader rejects a region scored this high or more


class LetterServing(ServingModel):
    """The digit networks' serving wrapper, keeping only the letter class: pixels -> letter [N]."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__(net, MEAN, STD)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return super().forward(pixels)[:, 1]


def _as_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]


def train(letters: np.ndarray, crops: np.ndarray, mnist_digits: AugmentedDigits, epochs: int,
          seed: int, steps: int = STEPS_PER_EPOCH, widths: tuple[int, ...] = WIDTHS) -> nn.Module:
    """Balanced batches (BATCH) of letters (class 1) and digit-scene crops and MNIST digits (class 0)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = DigitResNet(widths, (1,) * len(widths), 2, num_classes=2)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=epochs * steps)
    loss_fn = nn.CrossEntropyLoss()
    n_letters, n_crops, n_mnist = BATCH
    target = torch.cat([torch.ones(n_letters), torch.zeros(n_crops + n_mnist)]).long()
    for epoch in range(epochs):
        mnist_digits.epoch = epoch
        net.train()
        started, total = time.perf_counter(), 0.0
        for _ in range(steps):
            x = torch.cat([_as_float(letters[rng.integers(len(letters), size=n_letters)]),
                           _as_float(crops[rng.integers(len(crops), size=n_crops)]),
                           torch.stack([mnist_digits[int(i)][0] for i in rng.integers(len(mnist_digits), size=n_mnist)])])
            loss = loss_fn(net(normalise(x)), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        log.info("epoch %d/%d: loss %.4f, %.0f s", epoch + 1, epochs, total / steps, time.perf_counter() - started)
    return net.eval()


def letter_scores(model: LetterServing, images: np.ndarray) -> np.ndarray:
    """Each uint8 crop's chance of being a letter, in batches of 1,000."""
    with torch.no_grad():
        return np.concatenate([model(_as_float(images[i : i + 1000])).numpy() for i in range(0, len(images), 1000)])


def report(model: LetterServing, checks: dict[str, np.ndarray], bar: float) -> dict[str, float]:
    """Share of each check set scored at `bar` or more (letters should be, digits should not)."""
    out = {}
    for name, images in checks.items():
        out[name] = round(float(np.mean(letter_scores(model, images) >= bar)), 5)
        log.info("%s: %d crops, %.2f%% scored >= %.2f", name, len(images), 100 * out[name], bar)
    return out


def export(model: LetterServing, out: Path, meta: dict[str, str]) -> None:
    """The ONNX file: pixels [N, 1, 28, 28] in [0, 1] -> letter [N], with its metadata."""
    export_onnx(model, out, output="letter")
    add_metadata(out, meta)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.letter_net", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--letters", type=Path, nargs="+", required=True, help="letter crops (train.letter_crops .npz)")
    p.add_argument("--digit-crops", type=Path, nargs="+", required=True,
                   help="the reader's crops of digit scenes, every label (train.pipeline_crops .npz)")
    p.add_argument("--val-letters", type=Path, help="letter crops to report on (another seed)")
    p.add_argument("--val-digits", type=Path, help="digit-scene crops to report on (other MNIST digits)")
    p.add_argument("--data", type=Path, default=None, help="MNIST folder (default: as digitcam train)")
    p.add_argument("--epochs", type=POSITIVE, default=10, help="epochs (default: 10)")
    p.add_argument("--steps", type=int, default=STEPS_PER_EPOCH, help="batches of 128 per epoch (default: %(default)s)")
    p.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS),
                   help="channels of each stage (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=POSITIVE, default=2, help="torch CPU threads (default: 2)")
    p.add_argument("--letter-bar", type=float, default=LETTER_BAR,
                   help="stored in the file: the reader rejects regions scored this high (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="ONNX file to write (keep it under runs/)")
    return p


def _checks(args: argparse.Namespace, x_test: np.ndarray) -> dict[str, np.ndarray]:
    """The crop sets to report on: MNIST test digits and the held-out files given."""
    checks = {"MNIST test digits": x_test}
    if args.val_letters:
        checks["held-out letter crops"] = load_crops(args.val_letters)[0]
    if args.val_digits:
        images, labels = load_crops(args.val_digits)
        checks["held-out digit crops"] = images[labels >= 0]
        checks["held-out no-digit crops (touching pairs, marks)"] = images[labels < 0]
    return checks


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    if not 0.0 < args.letter_bar <= 1.0:
        raise SystemExit(f"--letter-bar must be in (0, 1], not {args.letter_bar}")
    torch.set_num_threads(max(1, args.threads))
    data_dir = mnist.data_dir_or_exit(args.data)
    x_train, y_train = mnist.load_split(data_dir, "train")
    letters, _ = load_crops(args.letters)
    crops, _ = load_crops(args.digit_crops)
    log.info("%d letter crops, %d digit-scene crops, %d MNIST digits", len(letters), len(crops), len(x_train))
    started = time.perf_counter()
    net = train(letters, crops, AugmentedDigits(x_train, y_train, seed=args.seed, clean_fraction=0.5),
                args.epochs, args.seed, args.steps, tuple(args.widths))
    seconds = round(time.perf_counter() - started)
    model = LetterServing(net).eval()
    shares = report(model, _checks(args, mnist.load_split(data_dir, "test")[0]), args.letter_bar)
    command = " ".join(argv if argv is not None else sys.argv[1:])
    meta = {**INPUT_CONTRACT, "output": "letter",
            "letter_bar": str(args.letter_bar), "model_config": json.dumps(net.config),
            "parameters": str(count_parameters(net)), "train_seconds": str(seconds),
            "shares_at_bar": json.dumps(shares),
            "training_data": json.dumps({"letters": [p.name for p in args.letters],
                                         "digit_crops": [p.name for p in args.digit_crops]}),
            "training_data_sha256": mnist.checksum(data_dir),
            "digitcam_train_command": f"python -m train.letter_net {command}"}
    export(model, args.out, meta)
    log.info("wrote %s (%d parameters, %d s of training)", args.out, count_parameters(net), seconds)


if __name__ == "__main__":
    main()
