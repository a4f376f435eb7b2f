"""Marks read together as one digit: a lone digit drawn in pieces, and on a canvas a short piece
beside an unsure mark (a 5's bar lifted off its body) or a loop inside a stem's box (a 6 drawn in two
strokes), when together they read more surely.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from webapp import choice, grouping, model_inputs, segment, text_rules
from webapp.choice import Pass
from webapp.model_inputs import Crop, Frame
from webapp.recognizer import Recognizer

LONE_MARKS = 4  # a frame holding 2-4 marks (not backdrop) in one box no wider than a digit (segment.SPLIT_ASPECT),
LONE_OVERLAP = 0.25  # each sharing this much of the narrower one's columns with another mark, and rows
# touching or overlapping its rows, may be one digit drawn in pieces (a 9 whose head the pen left apart from
# its stem); digits on two lines leave a gap between their rows, however small
PAIR_REACH = 0.3  # on a canvas, a short mark left unread this near (x typical digit height) another mark ...
PAIR_DOUBT = 0.95  # ... read under this or not at all may be a piece of one digit with it (_piece_pairs): a 5's
#   body without its bar reads as a 0 at 0.92 (drawings seed 63, scene 94). 0.9 -> 0.95: drawings seeds 32-59 and
#   60-79 one seed up each, none down, 0-2 and 5-31 the same; eval-glyphs one digit more; 0.99 the same as 0.95 ...
PAIR_SHORT_DOUBT = 0.9  # ... and so may a short mark read under this itself, not only one left unread: a 4 whose
#   bar's left end the pen left apart, read "6" at 0.82 beside a "1" at 0.73 (drawings seed 69, scene 35).
#   Drawings seeds 0-2, 5-31, 32-59 and 60-79: 4 seeds up, none down; eval-sums seeds 0-1 one invented digit
#   fewer; eval-pairs and eval-glyphs the same ...
PAIR_STACKED = 0.25  # ... and so may two unread marks of any height, one on the other (rows touching or shared),
#   sharing this much of the narrower one's columns: a 5 drawn as a hook over a belly (drawings seed 65, scene 66)
PAIR_HELD = 0.5  # ... and so may a mark read under PAIR_DOUBT or not at all with this much of its box inside a
#   surer mark's box, however sure that one: a 6 whose loop the pen left apart from its stem, the stem read as a 1
#   (drawings seed 120, scene 59; 0.35 the same on drawings 0-31 and 120-139, 0.7 loses it)


class Together(NamedTuple):
    """Regions read as one digit (as_one_digit): the crops of the new regions (appended to the
    frame's), their readings and letter scores, and the regions they take the place of."""

    crops: list[Crop]
    probs: np.ndarray
    letters: np.ndarray | None
    pieces: set[int]

    def without_pieces(self, read: Pass, frame: Frame) -> Pass:
        """`read` without the rejected boxes of the pieces, read now as part of a digit; paper edges
        and the like stay listed last (pipeline.read_frame counts them)."""
        edges = choice.backdrop_count(frame.regions)
        marks = read.rejected[: len(read.rejected) - edges]
        kept = [b for b in marks if not any(_inside(b, c.box) for c in self.crops)]
        return read._replace(rejected=kept + read.rejected[len(marks):])


def as_one_digit(frame: Frame, read: Pass, recognizer: Recognizer,
                 letter_scores: np.ndarray | None = None) -> Together | None:
    """Groups of regions read as one digit instead (the pieces of a lone digit, _lone_pieces, and
    pairs of pieces, _piece_pairs), when that reading is above the bar, not a letter's, and at
    least as sure as any piece's own reading (a 0 and a 1 read surely apart must be a surer 9
    together; a piece read as no digit counts as 0). Surest groups first, each region in one.
    Each group becomes a region of the frame; None when no group is read so."""
    lone = _lone_pieces(frame)
    best = _best_reading(read)
    pairs = _piece_pairs(frame, read, best)
    groups = ([lone] if lone else []) + pairs
    if not groups:
        return None
    unions = [segment.Region(segment.union_boxes(np.array([frame.regions[i].box for i in g])),
                             [label for i in g for label in frame.regions[i].labels]) for g in groups]
    crops = [model_inputs.whole_crop(-1, u, frame, segment.region_mask(frame.comps, u), frame.stroke_target)
             for u in unions]
    probs, letters = recognizer.classify(np.stack([c.image for c in crops])[:, None])
    used: set[int] = set()
    kept = []
    for g in sorted(range(len(groups)), key=lambda g: -probs[g].max()):
        conf = float(probs[g].max())
        lettered = letters is not None and letters[g] >= recognizer.letter_bar
        if lettered and g >= len(groups) - len(pairs) and letter_scores is not None:  # a pair among digits
            lettered = not _among_sure_digits(read, unions[g].box, groups[g], letter_scores,
                                              recognizer.min_confidence)
        if (lettered or conf < recognizer.min_confidence or used & set(groups[g])
                or conf < max(best.get(i, 0.0) for i in groups[g])):
            continue
        used |= set(groups[g])
        crops[g].region = len(frame.regions)
        frame.regions.append(unions[g])
        kept.append(g)
    if not kept:
        return None
    return Together([crops[g] for g in kept], probs[kept], None if letters is None else letters[kept], used)


def _lone_pieces(frame: Frame) -> list[int]:
    """Regions of a frame that may be one digit drawn in pieces (LONE_MARKS, LONE_OVERLAP): a 9 whose
    head the pen left apart from its stem, a 5's lifted bar, a 3 in two halves, alone on a canvas or
    on a sheet held to the camera. With nothing else in the frame the typical digit height is the
    pieces' own, so segment's merge rule sees none of them as small. Empty when the frame does not
    look so (a page of numbers never does)."""
    marks = [i for i, r in enumerate(frame.regions) if r.reason not in choice.BACKDROP]
    if not 2 <= len(marks) <= LONE_MARKS:
        return []
    boxes = np.array([frame.regions[i].box for i in marks], np.int64)
    _, _, uw, uh = segment.union_boxes(boxes)
    if uw > segment.SPLIT_ASPECT * uh:
        return []
    w = boxes[:, 2]
    overlap, gap = segment.spans(boxes[:, None], boxes)
    linked = (overlap >= LONE_OVERLAP * np.minimum(w[:, None], w)) & (gap <= 0)
    steps = np.linalg.matrix_power((linked | np.eye(len(marks), dtype=bool)).astype(np.int64), len(marks) - 1)
    return marks if (steps[0] > 0).all() else []  # every mark reached from the first through links


def _piece_pairs(frame: Frame, read: Pass, best: dict[int, float]) -> list[list[int]]:
    """Pairs of canvas regions that may be one digit drawn in two pieces: a short mark (PIECE_HEIGHT; a
    dash rejected as too wide counts) left unread or read under PAIR_SHORT_DOUBT, within PAIR_REACH digit
    heights of a mark read under PAIR_DOUBT or not at all, two unread marks stacked (PAIR_STACKED), or
    a mark read under PAIR_DOUBT or not at all mostly inside a surer mark's box (_held_pairs); the two
    no taller than segment's merged pieces and no wider than one digit. A 5's bar lifted well off its
    body, or short and slanted, escapes segment's merge rules, and so do two pieces each too tall to
    be a piece; both went unread, or were misread apart."""
    if frame.photo or not frame.digit_h:
        return []
    split = set(text_rules.cut_regions(read.chosen, read.crops))
    free = [i for i, r in enumerate(frame.regions) if r.reason in (None, "too small", "too wide") and not r.loopy
            and best.get(i, 0.0) < PAIR_DOUBT and i not in split]
    boxes = {i: np.array(frame.regions[i].box, np.int64) for i in free}
    pairs = _held_pairs(frame, best, free, split)
    for i in free:
        short = boxes[i][3] < segment.PIECE_HEIGHT * frame.digit_h
        if i in best and not (short and best[i] < PAIR_SHORT_DOUBT):
            continue
        for j in free:
            if j == i:
                continue
            overlap, gap = segment.spans(boxes[i], boxes[j])
            apart = np.hypot(max(-overlap, 0), max(gap, 0))
            stacked = j not in best and gap <= 0 and overlap >= PAIR_STACKED * min(boxes[i][2], boxes[j][2])
            if ((short and apart <= PAIR_REACH * frame.digit_h or stacked)
                    and _one_digit_size(boxes[i], boxes[j], frame.digit_h) and [j, i] not in pairs
                    and [i, j] not in pairs):
                pairs.append([i, j])
    return pairs


def _held_pairs(frame: Frame, best: dict[int, float], free: list[int], split: set[int]) -> list[list[int]]:
    """Pairs of a canvas mark left unread or doubted and a surer one whose box holds PAIR_HELD of its box:
    digits side by side share little of their boxes, so such a mark is more likely a piece of the other."""
    pairs = []
    sure = [j for j in best if j not in split]
    if not free or not sure:
        return pairs
    others = np.array([frame.regions[j].box for j in sure], np.int64)
    for i in free:
        box = np.array(frame.regions[i].box, np.int64)
        overlap, gap = segment.spans(others, box)
        held = np.maximum(overlap, 0) * np.maximum(-gap, 0) >= PAIR_HELD * box[2] * box[3]
        for k in np.flatnonzero(held):
            j = sure[k]
            if best[j] > best.get(i, 0.0) and _one_digit_size(box, others[k], frame.digit_h):
                pairs.append([i, j])
    return pairs


def _one_digit_size(a: np.ndarray, b: np.ndarray, digit_h: float) -> bool:
    """Whether boxes `a` and `b` together are no taller than segment's merged pieces and no wider
    than one digit, as two pieces of one digit are."""
    _, _, uw, uh = segment.union_boxes(np.stack([a, b]))
    return uh <= segment.MERGE_MAX_HEIGHT * digit_h and uw <= segment.SPLIT_ASPECT * uh


def _best_reading(read: Pass) -> dict[int, float]:
    """Each region's surest accepted reading (regions with none are absent)."""
    best: dict[int, float] = {}
    for k in read.chosen:
        i = read.crops[k].region
        best[i] = max(best.get(i, 0.0), float(read.probs[k].max()))
    return best


def _inside(box: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    x, y, w, h = box
    u, v, p, q = outer
    return u <= x and v <= y and x + w <= u + p and y + h <= v + q


def _among_sure_digits(read: Pass, box: tuple[int, int, int, int], pieces: list[int],
                       letter_scores: np.ndarray, sure: float) -> bool:
    """Whether a box stands in a number whose other accepted digits (not of the regions `pieces`)
    vouch for it (text_rules.sure_company), as text_rules.without_letters spares a letter-like digit."""
    chosen = [k for k in read.chosen if read.crops[k].region not in pieces]
    boxes = [read.crops[k].box for k in chosen] + [box]
    me = len(boxes) - 1
    for number in (n for line in grouping.group(boxes) for n in line):
        if me in number:
            others = [chosen[j] for j in number if j != me]
            return text_rules.sure_company(others, read.probs.max(axis=1), letter_scores, sure)
    return False
