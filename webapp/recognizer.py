"""The digit classifier: one onnxruntime session, its constants read from the model file."""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

MODELS = Path(__file__).resolve().parent / "models"
INT8_MODEL = MODELS / "digits-int8.onnx"  # the same MNIST accuracy as digits.onnx and about 25% faster, on
#   x86 CPUs with VNNI (avx512_vnni or avx_vnni), whose dot products onnxruntime's int8 kernels use ...
FLOAT_MODEL = MODELS / "digits.onnx"  # ... while on x86 without them (an AVX2 EPYC, 2026-11-30) the int8
#   file was 15% slower (1.30 against 1.13 ms a digit) and read less well (MNIST test 99.61% against
#   99.64%, pages F1 seeds 0-2 and 5-7 0.9807 against 0.9820): there the float file serves
VNNI = {"avx512_vnni", "avx_vnni"}
MIN_CONFIDENCE = 0.7  # a digit read less surely than this is rejected, not guessed, unless the model's
#   metadata gives its own bar ("min_confidence"): how sure a model is depends on the model (an
#   ensemble's mean is less sure than one network). 0.5 -> 0.7 with the first single model: pages F1
#   0.947 -> 0.952, drawings 0.985 -> 0.989, real-dev CER 1.08 -> 0.81
LETTER_OUTPUT = "letter"  # optional second output: each input's chance of being a letter, not a digit
LETTER_BAR = 0.9  # a region read as a letter at least this surely is rejected, unless the file says otherwise
MEMBER_INPUT = "member"  # optional input of an ensemble file (export/ensemble.py): which member to run alone ...
ALL_MEMBERS = -1  # ... or all of them, averaged: its default
CASCADE_KEY = "cascade"  # metadata of an ensemble read as a cascade: {"first": k, "sure": p, "members": n}, and
#   optionally "means": {"photo": [...], "canvas": [...]}, the members whose mean reads the crops the first
#   one doubts, in photos and on canvases (default: all of them), and "letter_like" (default LETTER_LIKE)
MEAN_KINDS = ("photo", "canvas")
LETTER_LIKE = 0.5  # a crop the first member doubts on a canvas, scored at least this by the letter detector, is
#   averaged with the photo mean: the canvas members, trained on drawn strokes, read letters as digits (Hershey
#   words drawn on a canvas with a digit read in them: 70 -> 51 of 144; 51 at 0.3 and 0.7 too; drawings the same).
#   A file's cascade metadata may say otherwise ("letter_like"): the bar belongs to its letter detector
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def default_model(cpuinfo: str | None = None) -> Path:
    """The shipped file for this CPU (`cpuinfo`: the text of /proc/cpuinfo, read when not given): the
    float32 one on an x86 CPU without VNNI, else the int8 one (also where the CPU's flags are unknown)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    flags = next((set(line.split(":", 1)[1].split()) for line in cpuinfo.splitlines()
                  if line.startswith("flags") and ":" in line), None)
    return FLOAT_MODEL if flags is not None and not flags & VNNI else INT8_MODEL


class ModelError(Exception):
    """The model file is missing, unreadable or lacks the metadata digitcam needs."""


def choose_providers(provider: str) -> list[str]:
    """Map --provider auto|cpu|cuda to onnxruntime providers, in order of preference."""
    available = ort.get_available_providers()
    if provider == "cpu":
        return [PROVIDERS["cpu"]]
    if provider == "cuda":
        if PROVIDERS["cuda"] not in available:
            raise ModelError(
                "--provider cuda: this onnxruntime has no CUDA provider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use cpu"
            )
        return [PROVIDERS["cuda"], PROVIDERS["cpu"]]
    if provider != "auto":
        raise ModelError(f"unknown provider {provider!r}: use auto, cpu or cuda")
    if PROVIDERS["cuda"] in available:
        return [PROVIDERS["cuda"], PROVIDERS["cpu"]]
    log.warning("no CUDA provider in onnxruntime; running the model on the CPU")
    return [PROVIDERS["cpu"]]


class Recognizer:
    """Classifies batches of MNIST-style digits [N, 1, S, S] in [0, 1], white on black.

    Input size, labels and polarity come from the file's metadata, so a retrained model with
    other constants needs no code change here.
    """

    def __init__(self, path: str | Path | None = None, provider: str = "auto", threads: int = 1, whole: bool = False,
                 means: dict[str, list[int]] | None = None):
        """`whole`: read every input with every member of an ensemble, not as the file's cascade says.
        `means`: members to average instead of the file's for a kind of frame (MEAN_KINDS), e.g.
        {"canvas": [0, 1]} to read canvases as the shipped pair did before its canvas member."""
        self._override = dict(means or {})
        unknown = sorted(set(self._override) - set(MEAN_KINDS))
        if unknown:
            raise ValueError(f"means may name {', '.join(MEAN_KINDS)}, not {unknown}")
        self.path = Path(path) if path else default_model()
        if not self.path.is_file():
            what = "is a folder, not a model file" if self.path.is_dir() else "model file not found"
            raise ModelError(f"{what}: {self.path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=choose_providers(provider))
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime raises several unrelated types for a bad file
            raise ModelError(f"cannot load model {self.path}: {exc}") from exc
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.input_name = self.session.get_inputs()[0].name
        try:
            self.input_size = int(self.metadata["input_size"])
            self.labels = json.loads(self.metadata["labels"])
        except (KeyError, ValueError) as exc:
            raise ModelError(f"{self.path}: metadata lacks input_size/labels ({exc})") from exc
        self.polarity = self.metadata.get("polarity", "white-on-black")
        try:
            self.min_confidence = float(self.metadata.get("min_confidence", MIN_CONFIDENCE))
        except ValueError as exc:
            raise ModelError(f"{self.path}: metadata min_confidence is not a number ({exc})") from exc
        if not 0.0 < self.min_confidence < 1.0:
            raise ModelError(f"{self.path}: metadata min_confidence {self.min_confidence} is not in (0, 1)")
        self._letter_index = self._letter_output()
        self.has_letters = self._letter_index is not None
        self.letter_bar = self._letter_bar() if self.has_letters else 1.0
        self.cascade = None if whole else self._cascade()
        self._means = self._cascade_means() if self.cascade else {}
        self.letter_like = self._letter_like() if self.cascade else LETTER_LIKE  # used only by a cascade
        self.mean = self._means.get("photo")  # the members of this reading's mean (see on_canvas)

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def _letter_output(self) -> int | None:
        """Index of the optional `letter` output, which must hold one score per input."""
        outputs = self.session.get_outputs()
        index = next((i for i, o in enumerate(outputs) if o.name == LETTER_OUTPUT and i > 0), None)
        if index is not None and len(outputs[index].shape) != 1:
            raise ModelError(f"{self.path}: output {LETTER_OUTPUT!r} has shape {outputs[index].shape}, not [N]")
        return index

    def _letter_bar(self) -> float:
        try:
            bar = float(self.metadata.get("letter_bar", LETTER_BAR))
        except ValueError as exc:
            raise ModelError(f"{self.path}: metadata letter_bar is not a number ({exc})") from exc
        if not 0.0 < bar <= 1.0:
            raise ModelError(f"{self.path}: metadata letter_bar {bar} is not in (0, 1]")
        return bar

    def _cascade(self) -> tuple[int, float, int] | None:
        """(first member, how sure it must be to be read alone, member count) from the metadata, or None
        when the file is read whole (a single network, or an ensemble without the key)."""
        text = self.metadata.get(CASCADE_KEY)
        if text is None:
            return None
        if MEMBER_INPUT not in {i.name for i in self.session.get_overridable_initializers()}:
            raise ModelError(f"{self.path}: metadata {CASCADE_KEY!r} but no {MEMBER_INPUT!r} input")
        try:
            spec = json.loads(text)
            first, sure, count = int(spec["first"]), float(spec["sure"]), int(spec["members"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{self.path}: metadata {CASCADE_KEY!r} is not {{first, sure, members}} ({exc})") from exc
        if not (0 <= first < count and 0.0 < sure <= 1.0):
            raise ModelError(f"{self.path}: metadata {CASCADE_KEY!r} {text} is out of range")
        return first, sure, count

    def _cascade_means(self) -> dict[str, tuple[int, ...]]:
        """The members averaged for doubted crops, by kind of frame (CASCADE_KEY's "means")."""
        first, _, count = self.cascade
        means = json.loads(self.metadata[CASCADE_KEY]).get("means", {})
        if not isinstance(means, dict):
            raise ModelError(f"{self.path}: metadata {CASCADE_KEY!r} means is not {{kind: [members]}}")
        means = {**means, **self._override}
        out = {}
        for kind in MEAN_KINDS:
            members = means.get(kind, list(range(count)))
            if (not isinstance(members, list) or first not in members or len(set(members)) != len(members)
                    or not all(isinstance(k, int) and 0 <= k < count for k in members)):
                raise ModelError(f"{self.path}: metadata {CASCADE_KEY!r} means {kind!r} is not a list of members "
                                 f"that holds the first, {first}")
            out[kind] = tuple(members)
        return out

    def _letter_like(self) -> float:
        """The letter score from which a doubted canvas crop is read by the photo mean (_by_mean)."""
        value = json.loads(self.metadata[CASCADE_KEY]).get("letter_like", LETTER_LIKE)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
            raise ModelError(f"{self.path}: metadata {CASCADE_KEY!r} letter_like {value!r} is not a number in (0, 1]")
        return float(value)

    def on_canvas(self, canvas: bool = True) -> "Recognizer":
        """This recognizer reading a canvas drawing (or a photo): the same session, with the mean the
        file gives that kind of frame. A file may hold a member tuned to drawn strokes that only
        canvases use (docs/model.md, "A member for canvases")."""
        mean = self._means.get("canvas" if canvas else "photo")
        if mean == self.mean:
            return self
        view = copy.copy(self)
        view.mean = mean
        return view

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return probabilities [N, len(labels)] for a float32 batch [N, 1, S, S]."""
        return self.classify(batch)[0]

    def classify(self, batch: np.ndarray, first: list[np.ndarray] | None = None,
                 alone: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities [N, len(labels)] and, from a model with a letter detector, each input's
        chance of being a letter [N] (None without one): one model call for the whole batch, and
        from a cascade file (CASCADE_KEY) a second one for the inputs its first member doubts.
        `first`: this batch's first_reading, when already taken (its call is not made again).
        `alone` (bool [N]): inputs a cascade leaves to its first member, even when it doubts them."""
        batch = self._checked(batch)
        if len(batch) == 0:
            return np.zeros((0, len(self.labels)), np.float32), (np.zeros(0, np.float32) if self.has_letters else None)
        if first is not None and len(first[0]) != len(batch):
            raise ValueError(f"a first reading of {len(first[0])} inputs given for a batch of {len(batch)}")
        outputs = self._first(batch) if first is None else [o.copy() for o in first]
        letters = self.letters_of(outputs)
        if letters is not None and letters.shape != (len(batch),):  # checked before the cascade uses them
            raise ModelError(f"{self.path}: {LETTER_OUTPUT!r} gave shape {letters.shape} for {len(batch)} inputs")
        if self.cascade is not None:
            outputs = self._cascade_run(batch, outputs, alone)
        return outputs[0], letters

    def first_reading(self, batch: np.ndarray) -> list[np.ndarray]:
        """The model's outputs for a batch from one call: a cascade's first member alone (and the
        letter detector), else the whole file. Cheap where classify may need a second call."""
        return self._first(self._checked(batch))

    def letters_of(self, outputs: list[np.ndarray]) -> np.ndarray | None:
        """The letter detector's scores among a call's outputs (a first_reading's), or None without one."""
        return None if self._letter_index is None else outputs[self._letter_index]

    def _first(self, batch: np.ndarray) -> list[np.ndarray]:
        """first_reading of a batch already checked."""
        return self._run(batch, None if self.cascade is None else self.cascade[0])

    def could_reach(self, first: list[np.ndarray], level: float) -> int:
        """How many inputs of a first_reading classify could read at `level` or more: in a cascade,
        one its first member reads below `level` can reach it only in the mean of its members (`mean`),
        which even with the others reading it at 1.0 needs count * level - (count - 1) from the
        first (an upper bound: it counts inputs the first member reads that surely itself)."""
        conf = first[0].max(axis=1) if len(first[0]) else np.zeros(0)
        if self.cascade is not None:
            count = max(len(self.mean), len(self._means["photo"]))  # a canvas reads letter-like crops so (_by_mean)
            level = count * level - (count - 1)
        return int((conf >= level).sum())

    def _checked(self, batch: np.ndarray) -> np.ndarray:
        size = self.input_size
        if batch.ndim != 4 or batch.shape[1:] != (1, size, size):
            raise ValueError(f"expected a batch [N, 1, {size}, {size}], got {batch.shape}")
        return batch.astype(np.float32, copy=False)

    def _run(self, batch: np.ndarray, member: int | None = None) -> list[np.ndarray]:
        feed = {self.input_name: batch}
        if member is not None:
            feed[MEMBER_INPUT] = np.array(member, np.int64)
        return self.session.run(None, feed)

    def _cascade_run(self, batch: np.ndarray, outputs: list[np.ndarray], alone: np.ndarray | None = None
                     ) -> list[np.ndarray]:
        """Every input read by the first member (`outputs`, changed in place); those it reads under
        `sure` by the others of `mean` too (unless `alone`; letter-like ones on a canvas by the others
        of the photo mean, _by_mean), and given their mean. Most crops are read that surely, so a frame costs
        about half the model time of the whole mean, and the choice of digits stays the mean's
        (docs/model.md)."""
        first, sure, _ = self.cascade
        probs = outputs[0]
        doubted = probs.max(axis=1) < sure
        if alone is not None:
            doubted &= ~alone
        for rows, mean in self._by_mean(doubted, self.letters_of(outputs)):
            rows = np.flatnonzero(rows)
            if rows.size:
                rest = batch[rows]
                total = probs[rows] + sum(self._run(rest, k)[0] for k in mean if k != first)
                probs[rows] = total / len(mean)
        return outputs

    def _by_mean(self, doubted: np.ndarray, letters: np.ndarray | None) -> list[tuple[np.ndarray, tuple[int, ...]]]:
        """The doubted inputs (bool [N]) by the mean that reads them: this view's, but the photo mean for
        those the letter detector scores `letter_like` or more, where the two differ."""
        photo = self._means["photo"]
        if letters is None or set(self.mean) == set(photo):
            return [(doubted, self.mean)]
        wordy = letters >= self.letter_like
        return [(doubted & ~wordy, self.mean), (doubted & wordy, photo)]
