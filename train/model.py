"""A compact ResNet for 28x28 digits: residual blocks with identity shortcuts."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from train.data import DataError


class BasicBlock(nn.Module):
    """Two 3x3 convolutions plus a shortcut; a 1x1 projection only where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class DigitResNet(nn.Module):
    """Stem, then one stage per width (each after the first halves the resolution), GAP, linear.

    Input: [N, 1, 28, 28] already normalised; output: logits [N, num_classes].
    The constructor arguments are saved in checkpoints so the model can be rebuilt from the file.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (16, 32, 64),
        blocks: tuple[int, ...] = (1, 1, 1),
        stem_stride: int = 1,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError("widths and blocks need one entry per stage")
        self.config = {
            "widths": list(widths),
            "blocks": list(blocks),
            "stem_stride": stem_stride,
            "num_classes": num_classes,
        }
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        c_in = widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            for i in range(count):
                stride = 2 if (stage > 0 and i == 0) else 1
                layers.append(BasicBlock(c_in, width, stride))
                c_in = width
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # [N, w0, 28/s, 28/s]
        x = self.stages(x)  # [N, w_last, 7, 7] for three stages and s=1
        x = x.mean(dim=(2, 3))  # global average pool -> [N, w_last]
        return self.head(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class CheckpointError(DataError):
    """A checkpoint file is missing or was not written by `digitcam train`; the message names it."""


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """A checkpoint written by `digitcam train`, or CheckpointError saying why the file is not one.

    It is unpickled in full (optimiser and history too), so read only files you trust, as with any
    PyTorch checkpoint.
    """
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # a truncated zip, a pickle of something else, another format
        raise CheckpointError(f"{path} is not a PyTorch checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or not {"model", "model_config"} <= ckpt.keys():
        raise CheckpointError(f"{path} is not a checkpoint written by digitcam train (no model or model_config in it)")
    return ckpt
