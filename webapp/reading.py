"""What reading a frame gives: the digits found in reading order, its lines of text, what was
rejected, and how long each stage took."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Digit:
    """One digit read: the model's label, its probability, where it is, and all ten probabilities."""

    label: int
    confidence: float
    box: tuple[int, int, int, int]  # x, y, w, h in input pixels
    probs: list[float]


@dataclass
class Reading:
    """Everything read from one frame, in reading order, with per-stage timings."""

    digits: list[Digit]
    lines: list[str]
    rejected: int
    timings_ms: dict[str, float]
    annotated: np.ndarray | None = None  # the frame with its boxes and labels drawn on it
    composite: np.ndarray | None = None  # with debug: the teaching composite of the stages
    stages: dict[str, np.ndarray] = field(default_factory=dict)
    drawn_rejects: list[tuple[int, int, int, int]] = field(default_factory=list)  # boxes of rejects worth drawing

    def to_dict(self) -> dict:
        """JSON-safe summary (no images)."""
        return {
            "digits": [
                {"label": d.label, "confidence": round(d.confidence, 4), "box": list(d.box), "probs": [round(p, 4) for p in d.probs]}
                for d in self.digits
            ],
            "lines": list(self.lines),
            "rejected": self.rejected,
            "rejected_boxes": [list(b) for b in self.drawn_rejects],
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
