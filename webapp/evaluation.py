"""Run a reader over synthetic scenes or real photos and add up the scores.

A reader is any function (BGR image, mode) -> Reading-like object; `readers()` builds the real
pipeline's and the textbook baseline's around one recognizer, so both are scored identically.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from webapp import scoring
from webapp.arguments import out_folder
from webapp.recognizer import Recognizer
from webapp.scenes import Scene

Reader = Callable[[np.ndarray, str], object]
MODES = {"photo": "camera", "scan": "camera", "canvas": "canvas"}  # manifest kind -> read_frame mode


def add_reader_options(parser: argparse.ArgumentParser, *, auto_default: str, annotate_help: str) -> None:
    """The options eval-scenes and eval-real share: which readers, which model, how to report."""
    parser.add_argument("--baseline", action="store_true", help="also score the textbook baseline on the same images")
    parser.add_argument("--auto-mode", action="store_true",
                        help=f"let the pipeline guess camera/canvas (default: {auto_default})")
    parser.add_argument("--annotate", type=out_folder, default=None, metavar="OUT_DIR", help=annotate_help)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def readers(recognizer: Recognizer, baseline: bool, auto_mode: bool = False) -> dict[str, Reader]:
    """{"pipeline": reader, ["baseline": reader]}; with auto_mode the pipeline guesses the mode itself."""
    from webapp import pipeline

    def read(image: np.ndarray, mode: str):
        return pipeline.read_frame(image, recognizer, mode="auto" if auto_mode else mode, annotate=False)

    out: dict[str, Reader] = {"pipeline": read}
    if baseline:
        from webapp import baseline as textbook

        out["baseline"] = lambda image, mode: textbook.read_frame(image, recognizer)
    return out


@dataclass
class SceneScore:
    scene: Scene
    counts: scoring.Counts
    lines: list[str]  # what the reader said
    exact: bool  # lines identical, number splits included
    digits_exact: bool  # same digits on the same lines, spaces ignored
    errors: Counter  # scoring.error_kinds
    blame: Counter = field(default_factory=Counter)  # whose misses they are (blame), when asked


def score_scene(scene: Scene, reading) -> SceneScore:
    truth = list(zip(scene.boxes, scene.labels))
    found = scoring.digits_of(reading)
    return SceneScore(scene, scoring.box_counts(truth, found), list(reading.lines),
                      scoring.lines_exact(reading.lines, scene.lines),
                      scoring.lines_exact(reading.lines, scene.lines, ignore_spaces=True),
                      scoring.error_kinds(truth, found))


def read_right(recognizer: Recognizer, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Whether each row of the model's probabilities names its label at or above the model's bar:
    what the reader would accept as that digit."""
    return (probs.argmax(axis=1) == labels) & (probs.max(axis=1) >= recognizer.min_confidence)


def blame(scene: Scene, reading, recognizer: Recognizer) -> Counter:
    """Whose each truth digit the reading missed is: "model" when even the digit's own ink (the
    scene's owner map on a plain ink map, binarize.ink_map, normalised as the reader normalises a
    region) reads wrong or under the bar, else "reader" (finding it: segmentation, splits, context
    rules); "touching" counts the reader's misses in scenes with touching digits. A miss that is
    the model's would take a better model, not a better reader. The reader's own ink map differs on
    chalk and on some photos, so there the split is approximate."""
    from webapp import binarize, model_inputs

    truth = list(zip(scene.boxes, scene.labels))
    hit = {t for t, _ in scoring.match(truth, scoring.digits_of(reading))}
    missed = [t for t in range(len(truth)) if t not in hit]
    out: Counter = Counter(model=0, reader=0, touching=0)
    if not missed:
        return out
    ink = binarize.ink_map(binarize.to_gray(scene.image))
    target = binarize.MNIST_STROKE if scene.mode == "canvas" else binarize.MNIST_STROKE_ALL_INK
    crops = []
    for t in missed:
        x, y, w, h = scene.boxes[t]
        own = (scene.owner[y : y + h, x : x + w] == t + 1).astype(np.uint8) * 255
        crops.append(model_inputs.digit_input(ink[y : y + h, x : x + w], own, None, target))
    probs, _ = recognizer.on_canvas(scene.mode == "canvas").classify(np.stack(crops)[:, None])
    for alone in read_right(recognizer, probs, np.array([scene.labels[t] for t in missed])):
        out["reader" if alone else "model"] += 1
        out["touching"] += bool(alone) and "touching" in scene.traits
    return out


def summary(scores: list[SceneScore]) -> dict[str, float]:
    """Micro-averaged box scores and the shares of scenes read exactly."""
    total = sum((s.counts for s in scores), scoring.Counts())
    n = len(scores)
    return {"images": n, "digits": total.tp + total.fn, "precision": round(total.precision, 4),
            "recall": round(total.recall, 4), "f1": round(total.f1, 4),
            "lines_exact": round(sum(s.exact for s in scores) / n, 4) if n else 0.0,
            "digits_exact": round(sum(s.digits_exact for s in scores) / n, 4) if n else 0.0}


def errors(scores: list[SceneScore]) -> dict[str, int]:
    """Error kinds summed over scenes, most frequent first."""
    total: Counter = sum((s.errors for s in scores), Counter())
    return dict(total.most_common())


def by_trait(scores: list[SceneScore]) -> dict[str, dict[str, float]]:
    """The same summary restricted to the scenes having each trait (to see what the reader fails on)."""
    groups: dict[str, list[SceneScore]] = defaultdict(list)
    for s in scores:
        for trait in s.scene.traits:
            groups[trait].append(s)
    return {t: summary(g) for t, g in sorted(groups.items())}


@dataclass
class RealImage:
    name: str
    kind: str
    lines: list[str]
    note: str


def load_manifest(folder: Path) -> list[RealImage]:
    """The real-dev manifest: one JSON object per line with image, lines, kind and note."""
    path = folder / "manifest.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest (expected the real-dev folder)")
    items = []
    for raw in path.read_text().splitlines():
        if raw.strip():
            d = json.loads(raw)
            items.append(RealImage(Path(d["image"]).name, d.get("kind", "photo"), list(d["lines"]), d.get("note", "")))
    return items


@dataclass
class RealScore:
    item: RealImage
    lines: list[str]
    edits: int
    chars: int

    @property
    def exact(self) -> bool:
        return scoring.lines_exact(self.lines, self.item.lines, ignore_spaces=True)


def score_real(item: RealImage, reading) -> RealScore:
    edits, chars = scoring.char_errors(reading.lines, item.lines)
    return RealScore(item, list(reading.lines), edits, chars)


def real_summary(scores: Iterable[RealScore]) -> dict[str, float]:
    scores = list(scores)
    edits, chars = sum(s.edits for s in scores), sum(s.chars for s in scores)
    cer = edits / chars if chars else float(edits > 0)
    exact = sum(s.exact for s in scores) / len(scores) if scores else 0.0
    return {"images": len(scores), "chars": chars, "edits": edits, "cer": round(cer, 4), "exact": round(exact, 4)}
