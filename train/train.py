"""`digitcam train`: train the ResNet on MNIST with real-input augmentation.

One epoch = one pass over the (augmented) training set, then a test-set evaluation, a checkpoint
(`last.pt`, with model arguments, optimiser and schedule, so `--resume` continues exactly) and an
updated `metrics.json`. Plots are drawn at the end. The test set is never used to pick a model.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from train import data as mnist
from train.augment import augment
from train.model import CheckpointError, DigitResNet, count_parameters, read_checkpoint
from webapp.arguments import FRACTION, NON_NEGATIVE, POSITIVE, in_file, out_folder, real

log = logging.getLogger(__name__)

MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics; baked into the ONNX graph on export
EXTRA_STREAM = 7  # third seed word of the extra digits' order, apart from the MNIST digits' (seed, epoch, i)


class AugmentedDigits(Dataset):
    """MNIST training digits, freshly augmented each epoch from a seed (reproducible)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int, enabled: bool = True,
                 clean_fraction: float = 0.0):
        self.images, self.labels, self.seed, self.enabled = images, labels, seed, enabled
        self.clean_fraction = clean_fraction
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng((self.seed, self.epoch, i))
        if self.enabled and rng.random() >= self.clean_fraction:
            img = augment(self.images[i], rng)
        else:
            img = self.images[i].astype(np.float32) / 255.0
        return torch.from_numpy(img)[None], int(self.labels[i])


class MixedDigits(Dataset):
    """MNIST digits plus a share of extra ready-made 28x28 inputs (the reader's own crops).

    The extra images are shown as they are: they already are what the model sees when serving.
    A label of -1 marks a crop that is no digit (see digit_loss).
    `fraction` is their share of each epoch; they are drawn in a fresh seeded order each epoch,
    cycling when the epoch asks for more of them than there are.
    """

    def __init__(self, base: AugmentedDigits, images: np.ndarray, labels: np.ndarray, fraction: float):
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"the extra fraction must be between 0 and 1, not {fraction}")
        self.base, self.images, self.labels = base, images, labels
        self.extra = round(len(base) * fraction / (1.0 - fraction))
        self._cached: tuple[int, np.ndarray] = (-1, np.zeros(0, np.int64))

    @property
    def epoch(self) -> int:
        return self.base.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.base.epoch = value

    def __len__(self) -> int:
        return len(self.base) + self.extra

    def _order(self) -> np.ndarray:
        """This epoch's order of the extra digits (computed once per epoch, in each loader process)."""
        if self._cached[0] != self.epoch:
            rng = np.random.default_rng((self.base.seed, self.epoch, EXTRA_STREAM))
            self._cached = (self.epoch, rng.permutation(len(self.labels)))
        return self._cached[1]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if i < len(self.base):
            return self.base[i]
        j = int(self._order()[(i - len(self.base)) % len(self.labels)])
        return torch.from_numpy(self.images[j].astype(np.float32) / 255.0)[None], int(self.labels[j])


def load_crops(paths: Path | list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 28, 28] and labels [N] from train/pipeline_crops.py .npz files, in the order given."""
    images, labels = [], []
    for path in [paths] if isinstance(paths, Path) else paths:
        try:
            with np.load(path) as data:
                images.append(data["images"])
                labels.append(data["labels"].astype(np.int64))
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:  # TypeError: a .npy
            raise SystemExit(f"{path} is not a crops file (.npz with images and labels): {exc}") from exc
    return np.concatenate(images), np.concatenate(labels)


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but this torch has no CUDA device")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, device: torch.device, batch: int = 1000) -> np.ndarray:
    """Class probabilities [N, 10] for uint8 images [N, 28, 28]."""
    model.eval()
    out = []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(images[start : start + batch].astype(np.float32) / 255.0)[:, None]
        out.append(torch.softmax(model(normalise(x.to(device))), 1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 10), np.float32)


def digit_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy; an extra crop labelled NOT_A_DIGIT (-1) is taught the uniform answer.

    The reader rejects what the model is unsure of (and prefers a split whose pieces it is
    surer of than the whole), so "no digit" is taught as "equally likely to be any".
    """
    if not (y < 0).any():
        return nn.functional.cross_entropy(logits, y)
    target = torch.full_like(logits, 1.0 / logits.shape[1])
    known = y >= 0
    target[known] = nn.functional.one_hot(y[known], logits.shape[1]).to(logits.dtype)
    return nn.functional.cross_entropy(logits, target)


def train_epoch(model, loader, optimiser, scheduler, device, dry_run: bool, desc: str) -> tuple[float, float]:
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc=desc, unit="batch", leave=False, dynamic_ncols=True)
    for x, y in bar:
        x, y = x.to(device), y.to(device)
        logits = model(normalise(x))  # [B, 10]
        loss = digit_loss(logits, y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        scheduler.step()
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}")
        if dry_run:
            break
    return total_loss / max(seen, 1), correct / max(seen, 1)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="digitcam train", description=__doc__)
    p.add_argument("--data", type=Path, default=None,
                   help="folder with the four MNIST idx files, .gz or raw (default: $DIGITCAM_DATA, "
                        "else ../shared/data/mnist when present)")
    p.add_argument("--download", action="store_true",
                   help="fetch missing MNIST files into --data from public mirrors (SHA256-checked)")
    p.add_argument("--out", type=out_folder, default=Path("runs/latest"),
                   help="run folder for checkpoints, metrics.json and plots (default: runs/latest)")
    p.add_argument("--epochs", type=POSITIVE, default=15, help="passes over the training set (default: 15)")
    p.add_argument("--batch-size", type=POSITIVE, default=128, help="digits per step (default: 128)")
    p.add_argument("--lr", type=real(0.0, above=True), default=0.1, help="peak SGD learning rate of the one-cycle schedule (default: 0.1)")
    p.add_argument("--weight-decay", type=float, default=5e-4, help="L2 weight decay (default: 5e-4)")
    p.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128],
                   help="channels of each ResNet stage (default: 32 64 128)")
    p.add_argument("--blocks", type=int, nargs="+", default=[1, 1, 1],
                   help="residual blocks per stage (default: 1 1 1)")
    p.add_argument("--stem-stride", type=int, default=2, choices=[1, 2],
                   help="stride of the first convolution; 2 is about 3x faster at inference (default: 2)")
    p.add_argument("--no-augment", action="store_true", help="train on plain MNIST digits")
    p.add_argument("--clean-fraction", type=FRACTION, default=0.0,
                   help="share of digits shown without augmentation each epoch, e.g. 0.5 when "
                        "fine-tuning (default: 0)")
    p.add_argument("--extra-crops", type=in_file, nargs="+", default=None,
                   help="one or more .npz files of labelled 28x28 crops to mix in, taken together: the "
                        "reader's own (train/pipeline_crops.py), redrawn digits (train/redrawn_digits.py) "
                        "(default: none)")
    p.add_argument("--extra-fraction", type=FRACTION, default=0.25,
                   help="share of each epoch taken from --extra-crops (default: 0.25)")
    p.add_argument("--extra-val", type=in_file, nargs="+", default=None,
                   help="one or more .npz files of held-out crops, taken together: scored each epoch, and "
                        "the best epoch is kept as best.pt (default: none)")
    p.add_argument("--limit", type=NON_NEGATIVE, default=0,
                   help="use only the first N training and N test digits (0 = all; for quick trials)")
    p.add_argument("--seed", type=int, default=0, help="random seed for weights, order and augmentation (default: 0)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto uses CUDA when torch has it, else the CPU (default: auto)")
    p.add_argument("--workers", type=NON_NEGATIVE, default=1, help="data-loader processes for augmentation (default: 1)")
    p.add_argument("--threads", type=NON_NEGATIVE, default=0, help="torch CPU threads (default: 0 = torch's choice)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init", type=in_file, default=None,
                   help="start from this checkpoint's weights (fine-tuning) with a fresh schedule")
    p.add_argument("--pause-after", type=int, default=0,
                   help="stop after this many epochs in this invocation; continue with --resume (0 = never)")
    p.add_argument("--dry-run", action="store_true", help="one batch per epoch, to check the loop quickly")
    p.add_argument("--no-plots", action="store_true", help="skip the plots at the end")
    return p


def _load_data(args) -> tuple[Path, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    data_dir = mnist.data_dir_or_exit(args.data, "add --download to fetch the files")
    if args.download:
        mnist.download(data_dir)
    train_set, test_set = mnist.load_split(data_dir, "train"), mnist.load_split(data_dir, "test")
    if args.limit:
        train_set = (train_set[0][: args.limit], train_set[1][: args.limit])
        test_set = (test_set[0][: args.limit], test_set[1][: args.limit])
    return data_dir, train_set, test_set


def run(args: argparse.Namespace) -> dict:
    """Train as the arguments say; return the final metrics (also written to OUT/metrics.json)."""
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    data_dir, (x_train, y_train), (x_test, y_test) = _load_data(args)
    args.out.mkdir(parents=True, exist_ok=True)
    model = DigitResNet(tuple(args.widths), tuple(args.blocks), args.stem_stride).to(device)
    dataset = AugmentedDigits(x_train, y_train, args.seed, enabled=not args.no_augment,
                              clean_fraction=args.clean_fraction)
    if args.extra_crops:
        dataset = MixedDigits(dataset, *load_crops(args.extra_crops), args.extra_fraction)
        log.info("mixing in %d extra digits per epoch from %s", dataset.extra, " ".join(map(str, args.extra_crops)))
    val = load_crops(args.extra_val) if args.extra_val else None
    gen = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(dataset, args.batch_size, shuffle=True, generator=gen,
                        num_workers=args.workers, drop_last=len(dataset) > args.batch_size)
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=args.weight_decay)
    steps = args.epochs * (1 if args.dry_run else len(loader))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.lr, total_steps=max(steps, 1),
                                                    pct_start=0.2, div_factor=10)
    state = _start(args, model, optimiser, scheduler, gen, device)
    log.info("model %s, %d parameters, device %s", model.config, count_parameters(model), device)
    data_sha = mnist.checksum(data_dir)
    last_epoch = args.epochs if not args.pause_after else min(args.epochs, state["epoch"] + args.pause_after)
    for epoch in range(state["epoch"], last_epoch):
        dataset.epoch = epoch
        started = time.perf_counter()
        loss, acc = train_epoch(model, loader, optimiser, scheduler, device, args.dry_run,
                                f"epoch {epoch + 1}/{args.epochs}")
        state["train_seconds"] += time.perf_counter() - started
        probs = predict(model, x_test, device)
        test_acc = float((probs.argmax(1) == y_test).mean()) if len(y_test) else 0.0
        state["history"].append({"epoch": epoch + 1, "train_loss": loss, "train_acc": acc,
                                 "test_acc": test_acc, "lr": scheduler.get_last_lr()[0],
                                 "seconds": state["train_seconds"]})
        state["epoch"] = epoch + 1
        log.info("epoch %d: train loss %.4f acc %.4f, test acc %.4f, %.0f s so far",
                 epoch + 1, loss, acc, test_acc, state["train_seconds"])
        if val is not None:
            _score_val(model, val, device, state)
        weights = {"model": model.state_dict(), "model_config": model.config, "state": state, "args": vars(args),
                   "data_sha256": data_sha, "test_acc": test_acc, "normalisation": {"mean": MEAN, "std": STD}}
        torch.save({**weights, "optimiser": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
                    "loader_generator": gen.get_state()}, args.out / "last.pt")
        if val is not None and state["best_epoch"] == epoch + 1:
            torch.save(weights, args.out / "best.pt")  # what export needs; resuming goes from last.pt
    metrics = _write_metrics(args, model, state, data_sha)
    if not args.no_plots:
        from train.plots import write_plots

        probs = predict(model, x_test, device)
        write_plots(args.out, state["history"], x_test, y_test, probs)
    return metrics


def _start(args: argparse.Namespace, model: nn.Module, optimiser: torch.optim.Optimizer,
           scheduler: torch.optim.lr_scheduler.LRScheduler, gen: torch.Generator, device: torch.device) -> dict:
    """The run's state at its first epoch: fresh, from --init's weights, or as --resume finds it in
    OUT/last.pt (weights, optimiser, schedule and the loader's shuffling restored in place)."""
    state = {"epoch": 0, "history": [], "train_seconds": 0.0}
    if args.init:
        init = read_checkpoint(args.init, device)
        if init["model_config"] != model.config:
            raise SystemExit(f"--init: {args.init} holds a {init['model_config']} model, not {model.config}")
        model.load_state_dict(init["model"])
    if not args.resume:
        return state
    ckpt_path = args.out / "last.pt"
    if not ckpt_path.is_file():
        raise CheckpointError(f"--resume: no checkpoint at {ckpt_path}")
    ckpt = read_checkpoint(ckpt_path, device)
    model.load_state_dict(ckpt["model"])
    optimiser.load_state_dict(ckpt["optimiser"])
    scheduler.load_state_dict(ckpt["scheduler"])
    if ckpt["args"]["epochs"] != args.epochs:
        raise SystemExit(f"--resume: the run was planned for {ckpt['args']['epochs']} epochs "
                         f"(its schedule depends on it); resume with --epochs {ckpt['args']['epochs']}")
    gen.set_state(ckpt["loader_generator"])
    return ckpt["state"]


def _score_val(model: nn.Module, val: tuple[np.ndarray, np.ndarray], device: torch.device, state: dict) -> None:
    """Accuracy and log-loss on the held-out digit crops; marks the epoch best by accuracy, then log-loss.

    Crops that are no digit are only reported (the mean confidence the model gives them).
    """
    probs = predict(model, val[0], device)
    digit = val[1] >= 0
    p, y = probs[digit], val[1][digit]
    val_acc = float((p.argmax(1) == y).mean())
    val_nll = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0)).mean())
    not_digit = float(probs[~digit].max(1).mean()) if (~digit).any() else None
    state["history"][-1].update(val_acc=val_acc, val_nll=val_nll, val_not_digit_confidence=not_digit)
    best = state.get("best_score")
    if best is None or (val_acc, -val_nll) > tuple(best):
        state["best_score"], state["best_epoch"] = [val_acc, -val_nll], state["epoch"]
    log.info("held-out crops: acc %.4f, log-loss %.4f, mean confidence on no-digit crops %s (best epoch %d)",
             val_acc, val_nll, "-" if not_digit is None else f"{not_digit:.3f}", state["best_epoch"])


def _write_metrics(args, model: nn.Module, state: dict, data_sha: str) -> dict:
    last = state["history"][-1] if state["history"] else {}
    metrics = {"test_acc": last.get("test_acc"), "epochs": state["epoch"],
               "train_seconds": round(state["train_seconds"], 1),
               "parameters": count_parameters(model), "model_config": model.config,
               "data_sha256": data_sha, "seed": args.seed, "history": state["history"]}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except mnist.DataError as exc:  # a missing data set or checkpoint: its message, not a traceback
        raise SystemExit(f"train: {exc}") from None


if __name__ == "__main__":
    main()
