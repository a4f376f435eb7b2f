"""Plots a run leaves behind: learning curves, confusion matrix, misclassified gallery."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def write_plots(out: Path, history: list[dict], images: np.ndarray, labels: np.ndarray,
                probs: np.ndarray) -> None:
    """Write curves.png, confusion.png and errors.png into `out`."""
    _curves(out / "curves.png", history)
    pred = probs.argmax(1)
    _confusion(out / "confusion.png", labels, pred)
    _errors(out / "errors.png", images, labels, pred, probs.max(1))


def _curves(path: Path, history: list[dict]) -> None:
    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [h["train_loss"] for h in history], marker="o")
    a.set(title="training loss", xlabel="epoch")
    b.plot(epochs, [100 * h["train_acc"] for h in history], marker="o", label="train (augmented)")
    b.plot(epochs, [100 * h["test_acc"] for h in history], marker="o", label="MNIST test")
    b.set(title="accuracy (%)", xlabel="epoch")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _confusion(path: Path, labels: np.ndarray, pred: np.ndarray) -> None:
    matrix = np.zeros((10, 10), int)
    np.add.at(matrix, (labels, pred), 1)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for t in range(10):
        for p in range(10):
            if matrix[t, p]:
                ax.text(p, t, str(matrix[t, p]), ha="center", va="center", fontsize=7,
                        color="white" if t == p else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10),
           title=f"MNIST test confusion ({(pred != labels).sum()} errors)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _errors(path: Path, images: np.ndarray, labels: np.ndarray, pred: np.ndarray,
            conf: np.ndarray, limit: int = 64) -> None:
    wrong = np.flatnonzero(pred != labels)[:limit]
    cols = 8
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).ravel(), wrong):
        ax.imshow(images[i], cmap="gray")
        ax.set_title(f"{labels[i]}→{pred[i]} {conf[i]:.2f}", fontsize=8)
    fig.suptitle("misclassified test digits: true→predicted confidence")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
