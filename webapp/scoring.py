"""How well a reading matches the truth: box-level precision/recall/F1, exact lines, character error rate.

A detected digit is a hit when its box overlaps a true digit's box with IoU >= 0.4 and the labels
agree; each true digit can be hit once (a maximum one-to-one matching, so a duplicate detection
counts as a false positive). Works on anything with `.digits` (each with `.label` and `.box`) and
`.lines`, so the pipeline and the baseline are scored by the same code.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections import Counter
from typing import Iterable, Sequence

Box = tuple[int, int, int, int]  # x, y, w, h
HIT_IOU = 0.4


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes; 0 when either is empty."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match(truth: Sequence[tuple[Box, int]], found: Sequence[tuple[Box, int]], threshold: float = HIT_IOU) -> list[tuple[int, int]]:
    """Pairs (truth index, found index) of a maximum one-to-one matching of hits.

    Augmenting paths (Kuhn's algorithm): with tens of digits per image this is instant, and unlike
    a greedy pass it never loses a hit because one detection grabbed the wrong neighbour.
    """
    options = [[j for j, (fb, fl) in enumerate(found) if fl == tl and iou(tb, fb) >= threshold]
               for tb, tl in truth]
    owner: dict[int, int] = {}  # found index -> truth index

    def augment(t: int, seen: set[int]) -> bool:
        for j in options[t]:
            if j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = t
                    return True
        return False

    for t in range(len(truth)):
        augment(t, set())
    return sorted((t, j) for j, t in owner.items())


@dataclass
class Counts:
    """True positives, false positives and false negatives, summed over images."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """Share of detections that are hits (1.0 when nothing was detected)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Share of true digits hit (1.0 when there was nothing to find)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def digits_of(reading) -> list[tuple[Box, int]]:
    """(box, label) pairs of a Reading-like object."""
    return [(tuple(d.box), int(d.label)) for d in reading.digits]


def box_counts(truth: Sequence[tuple[Box, int]], found: Sequence[tuple[Box, int]]) -> Counts:
    hits = len(match(truth, found))
    return Counts(hits, len(found) - hits, len(truth) - hits)


def error_kinds(truth: Sequence[tuple[Box, int]], found: Sequence[tuple[Box, int]]) -> Counter:
    """Why each unmatched digit failed, to tell the pipeline's author where to look.

    A missed true digit was "misread" (a box with IoU >= 0.4 but another label), "box off"
    (overlapped, but merged, split or cropped) or "not found" (rejected or never segmented).
    A false detection is "wrong label/duplicate", "box off" or "no digit there".
    """
    pairs = match(truth, found)
    hit_t, hit_f = {t for t, _ in pairs}, {f for _, f in pairs}
    kinds: Counter = Counter()
    for side, items, others, hit in (("miss", truth, found, hit_t), ("false", found, truth, hit_f)):
        for i, (box, _) in enumerate(items):
            if i in hit:
                continue
            best = max((iou(box, b) for b, _ in others), default=0.0)
            if best >= HIT_IOU:
                kinds[f"{side}: misread" if side == "miss" else "false: wrong label/duplicate"] += 1
            elif best > 0.1:
                kinds[f"{side}: box off"] += 1
            else:
                kinds["miss: not found" if side == "miss" else "false: no digit there"] += 1
    return kinds


def lines_exact(found: Iterable[str], truth: Iterable[str], ignore_spaces: bool = False) -> bool:
    """Same lines, in the same order (optionally ignoring how digits were split into numbers)."""
    clean = (lambda s: s.replace(" ", "")) if ignore_spaces else (lambda s: " ".join(s.split()))
    return [clean(s) for s in found] == [clean(s) for s in truth]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions, each costing one."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_errors(found: Iterable[str], truth: Iterable[str]) -> tuple[int, int]:
    """(edits, true characters) for one image: its lines' digits concatenated, spaces ignored.

    An image with no digits has zero true characters and every digit read is an insertion.
    """
    f = "".join(found).replace(" ", "")
    t = "".join(truth).replace(" ", "")
    return edit_distance(f, t), len(t)


def cer(pairs: Iterable[tuple[Iterable[str], Iterable[str]]]) -> float:
    """Character error rate over images: total edits / total true characters.

    With no true characters at all it is 0.0 if nothing was read, else 1.0.
    """
    edits = chars = 0
    for found, truth in pairs:
        e, n = char_errors(found, truth)
        edits, chars = edits + e, chars + n
    return edits / chars if chars else float(edits > 0)
