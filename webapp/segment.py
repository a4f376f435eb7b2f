"""Binary mask -> digit regions: connected components, size gates, merging, splitting, rejection.

Every size rule is relative to the image or to the frame's typical digit height (the
median height of its components, weighted by the square root of their ink), so the same constants work for a 100 px canvas
strip and a 1600 px photo. Each rule that rejects a region names itself in `Region.reason`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from webapp import signs
from webapp.binarize import CCL, RULE_ELONGATION, quantiles, stroke_width

# Noise: dropped silently, never reported.
SPECK_IMAGE_FRACTION = 0.012  # a component whose long side is under 1.2% of the image's short side
SPECK_DIGIT_FRACTION = 0.2  # or under 20% of the typical digit height, is a speck
# Merging pieces of one digit (a 5's detached bar, a 7's loose cross-stroke).
PIECE_HEIGHT = 0.6  # a component shorter than 60% of a digit may be a piece of one
MERGE_OVERLAP = 0.5  # it must lie at least half within a neighbour's columns ...
MERGE_GAP = 0.3  # ... no further above/below it than 30% of a digit height ...
MERGE_MAX_HEIGHT = 1.6  # ... and the merged box must not be taller than 1.6 digits
NEAR_BAR = 2.0  # a piece at least 2x as wide as tall (a 5's bar, not an i's dot) off to the side of a body ...
NEAR_GAP = 0.15  # ... joins it when their boxes lie within 15% of a digit height of each other ...
NEAR_ASPECT = 2.0  # ... and together they are no wider than twice their height, as wide as one digit is ever
#                   read whole (choice.MUST_SPLIT_ASPECT): a flat 5 drawn with a long bar is wider than a broad
#                   digit (1.25 -> 2.0: drawings F1 seed 1 0.9868 -> 0.9877, seeds 0, 2 same; 1.4-2.5 alike)
NEAR_EDGE = 0.3  # ... and the bar's middle lies in the top or bottom 30% of the two together
OVERHANG = 0.15  # a flat piece running this far (x digit height) past both sides of a mark is no piece of it
# Rejection rules (reported in Reading.rejected).
EDGE_FRACTION = 0.5  # touching the border, spanning half the image ...
EDGE_DIGITS = 1.5  # ... and 1.5x bigger than a typical digit: paper edge, hand, shadow (in photos only: on a
#                    canvas it was a big digit drawn down to the pad's edge)
FRAME_ENCLOSES = 3  # a component around the centres of 3+ others is a frame (sheet outline, box), not a digit
LINE_LIKE = 0.3  # components longer than 30% of the image's long side ...
# ... and binarize.RULE_ELONGATION times longer than wide (rules), or touching the border, don't set the digit size
MAX_HEIGHT = 2.6  # taller than 2.6 typical digits: a drawing, not a digit
MIN_HEIGHT = 0.4  # shorter than 40% of a typical digit: punctuation, dash, dot
MAX_ASPECT = 3.2  # wider than 3.2x its height even three digits would not fill: words, lines
MAX_FILL = 0.85  # more than 85% of a box (not MAY_BE_FULL narrow) inked: a smudge (a bold small 8 reaches ~0.8)
NARROW = 0.4  # a box narrower than 40% of its height is a bar (a plain 1, a pen stroke)
MAY_BE_FULL = 0.5  # a box narrower than half its height may be full: a thick 1 written small fills
#                    its box (pages F1 seed 2 0.9661 -> 0.9683, seeds 0, 1, drawings and real-dev same)
MAX_STROKE = 0.8  # "strokes" wider than 80% of the box height are a blot (a disc: ~1; digits up to ~0.6,
#                   small bold blurred ones up to 0.75; 0.7 -> 0.8: seed 2 pages F1 0.9625 -> 0.9643, seeds 0, 1 same)
MAX_HOLES = 2  # an 8 has two loops; more (per digit the box could hold) is a scribble or a word, but one more in
#   a single digit's box is left to the model (Region.loopy, choice.LOOPY_SURE)
LOOP_WIDE = 0.5  # a split is not offered when it cuts a loop this much of the region wide ...
LOOP_MIDDLE = 0.2  # ... away from its ends (_through_loop): a flat 0 read "67". Against 67acd3a: drawings seeds 0-2,
#   5-31 0.9902 -> 0.9905, fresh 32-59 0.9881 -> 0.9882; pages 0-2, 5-7 0.9825 -> 0.9829; boards 0.9857 -> 0.9862;
#   no seed lower; worksheets, real-dev, eval-pairs and eval-glyphs the same
HOLE_MIN_AREA = 0.015  # loops smaller than 1.5% of the box don't count (ink texture)
WALL_REACH = 2  # ... its ends touching them (within 2 px: ink drawn on into the rule). A handwritten 1
#                 stopping short of both lines (3+ px in a review's test) stays a 1
FAINT = 0.5  # mean ink weaker than half the frame's boldest writing: show-through, wood grain, shadows
MAX_CANDIDATES = 150  # more candidates than this in one frame: only the inkiest are read, ...
NOISE_INK = 0.25  # ... and none when more components than that cover over 25% of the frame: noise, not
#                   writing (writing on paper inks a few percent of it; a sensor's noise, a third or more)
# Digits joined by faint ink (a shadow's edge, a pencil rule the rule finder missed) to a mark rejected as
CARVE_REASONS = {"too big", "too wide", "frame"}  # ... one of these: in photos, its pixels ...
CARVE_LEVEL = 0.4  # ... at least this share of its strongest ink (CARVE_QUANTILE of it) ...
CARVE_QUANTILE = 0.99
CARVE_HEIGHT = 0.75  # ... in pieces at least this many typical digit heights tall, and no NARROW bars, are
#   candidates again, held to choice.CARVED_SURE. A sheet's edge broken into strong stretches gave bars
#   read as 1s at 0.99 (pages seed 14), and shorter pieces read as 6s and 1s. A frame is a faint box drawn
#   round a number, or a shadow's rim round a few digits. Marks rejected as edges too: pages seeds 0-2,
#   5-7 recall .9738 -> .9759, but 40 more digits where there are none (pieces of desks)
# Splitting touching digits.
SPLIT_ASPECT = 1.25  # a region wider than this (w/h) may be two digits (98% of single digits are
#                      narrower; splitting narrower regions cost model calls and won no F1) ...
SPLIT3_ASPECT = 1.7  # ... or three
SPLIT_WINDOW = 0.35  # cut points are searched within +-35% of a piece's width of the even cut


@dataclass
class Region:
    """A candidate digit: its box (x, y, w, h) in the mask's pixels and its component labels."""

    box: tuple[int, int, int, int]
    labels: list[int]
    reason: str | None = None  # why it was rejected; None while it is a digit candidate
    splits: list[list[tuple[int, int]]] = field(default_factory=list)  # column ranges of each split tried
    mask: np.ndarray | None = field(default=None, repr=False)  # uint8 0/255 crop of its own ink
    stroke: float = 0.0  # stroke width, pixels (0 until measured)
    carved: bool = False  # cut out of a bigger mark's strong ink (_carve)
    loopy: bool = False  # one loop more than MAX_HOLES: an 8 whose tail crosses a loop, or a scribble

    @property
    def aspect(self) -> float:
        return self.box[2] / max(self.box[3], 1)


@dataclass
class Components:
    labels: np.ndarray  # int32 label image
    stats: np.ndarray  # [n, 5]: x, y, w, h, area (row 0 = background)


def components(mask: np.ndarray) -> Components:
    """Label 8-connected ink, with per-component stats (see binarize.CCL for the algorithm)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, CCL)
    return Components(labels, stats)


def typical_height(heights: np.ndarray, weights: np.ndarray) -> float:
    """Weighted median height.

    Callers weight components by the square root of their ink: many tiny specks cannot drag
    it down, and one big blob (a shadow band, a piece of desk) cannot lift it the way it
    would if weighted by its full area.
    """
    if len(heights) == 0:
        return 0.0
    order = np.argsort(heights)
    cum = np.cumsum(weights[order])
    return float(heights[order][np.searchsorted(cum, 0.5 * cum[-1])])


def union_boxes(boxes: np.ndarray) -> tuple[int, int, int, int]:
    """The box around boxes [N, 4] (x, y, w, h)."""
    if len(boxes) == 1:  # most regions are one component: skip four numpy reductions
        x, y, w, h = boxes[0].tolist()
        return x, y, w, h
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def spans(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shared columns and row gap between boxes (x, y, w, h) in the last axis, broadcast: the columns
    two boxes share (negative: the gap between them) and the rows between them (negative: rows shared)."""
    overlap = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    gap = np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
    return overlap, gap


def _merge_pieces(ids: np.ndarray, stats: np.ndarray, digit_h: float) -> list[list[int]]:
    """Group component ids: each small piece joins the neighbour whose columns it shares most."""
    boxes = stats[ids, :4].astype(np.int64)
    x, y, w, h = boxes.T
    groups = {int(i): [int(i)] for i in ids}
    owner = {int(i): int(i) for i in ids}
    for k in np.argsort(h):  # smallest pieces first
        if h[k] >= PIECE_HEIGHT * digit_h:
            break
        overlap, gap = spans(boxes, boxes[k])
        top, bottom = np.minimum(y, y[k]), np.maximum(y + h, y[k] + h[k])
        left, right = np.minimum(x, x[k]), np.maximum(x + w, x[k] + w[k])
        # Pieces of one slanted stroke (a 1 broken by a faint spot) share few columns but
        # together still make a narrow bar.
        bar = (right - left) <= NARROW * (bottom - top)
        ok = ((overlap >= MERGE_OVERLAP * np.minimum(w, w[k])) | bar) & (gap <= MERGE_GAP * digit_h)
        # A 5's bar drawn past the end of its body shares few of its columns, but sits right
        # beside it, and the two together are no wider than a (flat) digit.
        near = np.hypot(np.maximum(-overlap, 0), np.maximum(gap, 0)) <= NEAR_GAP * digit_h
        if w[k] >= NEAR_BAR * h[k]:
            # ... at its top or foot (a piece of a base a rule's removal cut off): a - sign beside a
            # 1 sits at mid-height, and "1 - 2" read "2".
            level = (y[k] + h[k] / 2 - top) / (bottom - top)
            edge = (level <= NEAR_EDGE) | (level >= 1 - NEAR_EDGE)
            ok |= near & edge & ((right - left) <= NEAR_ASPECT * (bottom - top))
            # A line under or over a number, or a fraction's bar, runs past both sides of a digit.
            ok &= np.minimum(x - x[k], x[k] + w[k] - (x + w)) < OVERHANG * digit_h
        ok &= (bottom - top) <= MERGE_MAX_HEIGHT * digit_h
        ok[k] = False
        if not ok.any():
            continue
        target = owner[int(ids[np.flatnonzero(ok)[np.argmax(overlap[ok])]])]
        mine = owner[int(ids[k])]
        if target == mine:
            continue
        for member in groups.pop(mine):
            owner[member] = target
            groups[target].append(member)
    return list(groups.values())


def _holes(region_mask: np.ndarray) -> list[np.ndarray]:
    """Loops of the ink: inner contours (holes) above a size floor (HOLE_MIN_AREA of the box)."""
    contours, hierarchy = cv2.findContours(region_mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    min_area = HOLE_MIN_AREA * region_mask.size
    return [c for c, link in zip(contours, hierarchy[0])
            if link[3] >= 0 and cv2.contourArea(c) >= min_area]  # has a parent: a hole


def _count_holes(region_mask: np.ndarray) -> int:
    return len(_holes(region_mask))


def region_mask(comps: Components, region: Region) -> np.ndarray:
    """uint8 0/255 mask of the region's own components inside its box (computed once)."""
    if region.mask is None:
        x, y, w, h = region.box
        crop = comps.labels[y : y + h, x : x + w]
        if len(region.labels) == 1:
            region.mask = (crop == region.labels[0]).view(np.uint8) * 255
        else:
            region.mask = np.isin(crop, region.labels).view(np.uint8) * 255
    return region.mask


def _gate(region: Region, mask: np.ndarray, area: int, digit_h: float) -> str | None:
    """Name the first rejection rule the region breaks, or None; a single digit's mark with one loop more
    than MAX_HOLES is not rejected but marked `loopy`."""
    _, _, w, h = region.box
    if h > MAX_HEIGHT * digit_h:
        return "too big"
    if h < MIN_HEIGHT * digit_h and w < MIN_HEIGHT * digit_h * 2:
        return "too small"
    if region.aspect > MAX_ASPECT:
        return "too wide"
    if w > MAY_BE_FULL * h and area > MAX_FILL * w * h:
        return "blot"
    region.stroke = stroke_width(mask)
    if region.stroke > MAX_STROKE * h:
        return "blot"
    digits = 1 if region.aspect <= SPLIT_ASPECT else (2 if region.aspect <= SPLIT3_ASPECT else 3)
    holes = _count_holes(mask)
    if holes > MAX_HOLES * digits:  # touching digits may bring their own loops
        if digits == 1 and holes == MAX_HOLES + 1:  # an 8 whose tail crosses a loop, or a scribble:
            region.loopy = True  # the model decides (choice.LOOPY_SURE)
            return None
        return "scribble"
    if signs.is_sign(mask, region.stroke, digit_h):
        return "sign"
    if len(region.labels) in (2, 3) and signs.is_stacked(mask, region.stroke):  # an = or a : merged as one mark
        return "sign"
    return None


def split_candidates(mask: np.ndarray, parts: int, window: float = SPLIT_WINDOW) -> list[tuple[int, int]]:
    """Column ranges cutting a region into `parts` at the emptiest columns near even cuts.

    Each cut is searched within +-`window` of a piece's width of its even cut.
    """
    profile = mask.sum(axis=0, dtype=np.int64)
    w = len(profile)
    step = w / parts
    cuts = [0]
    for i in range(1, parts):
        lo = max(cuts[-1] + 1, int(i * step - window * step))
        hi = min(w - 1, int(i * step + window * step))
        if hi <= lo:
            return []
        cuts.append(lo + int(np.argmin(profile[lo:hi])))
    cuts.append(w)
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:])]


def _box_arrays(comps: Components) -> tuple[np.ndarray, ...]:
    ids = np.arange(1, len(comps.stats))
    return (ids, *(comps.stats[ids, i] for i in range(5)))


def enclosing(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Components whose box holds the centres of FRAME_ENCLOSES or more other (non-speck) ones.

    A digit never surrounds other writing; the outline of a sheet against a desk, a drawn box
    or a form's comb does. Only candidates (`ok`) count, both as frames and as contents.
    """
    idx = np.flatnonzero(ok)
    found = np.zeros(len(x), bool)
    if len(idx) <= FRAME_ENCLOSES:
        return found
    cx, cy = x[idx] + w[idx] / 2, y[idx] + h[idx] / 2
    inside = ((cx[None, :] > x[idx, None]) & (cx[None, :] < (x + w)[idx, None])
              & (cy[None, :] > y[idx, None]) & (cy[None, :] < (y + h)[idx, None]))
    np.fill_diagonal(inside, False)
    found[idx] = inside.sum(axis=1) >= FRAME_ENCLOSES
    return found


def estimate_digit_height(comps: Components, shape: tuple[int, int], fallback: bool = True) -> float:
    """Typical digit height of a frame: from components that are neither specks nor rules/edges.

    When every component touches the border or looks like a rule, `fallback` uses them all;
    without it the answer is 0 (unknown), which is what rule removal needs on squared paper.
    """
    _, x, y, w, h, area = _box_arrays(comps)
    ok = np.maximum(w, h) >= SPECK_IMAGE_FRACTION * min(shape)
    return _digit_height((x, y, w, h, area), ok, enclosing(x, y, w, h, ok), shape, fallback)


def _digit_height(boxes: tuple[np.ndarray, ...], ok: np.ndarray, framed: np.ndarray,
                  shape: tuple[int, int], fallback: bool) -> float:
    """estimate_digit_height from box arrays, non-speck flags and `enclosing` flags already computed."""
    H, W = shape
    x, y, w, h, area = boxes
    long_side = np.maximum(w, h)
    rule_like = (long_side >= LINE_LIKE * max(H, W)) & (long_side > RULE_ELONGATION * np.minimum(w, h))
    rule_like |= w > MAX_ASPECT * h  # too wide to be a digit (a shadow's band, a word): rejected anyway
    inner = ok & ~rule_like & ~framed & (x > 0) & (y > 0) & (x + w < W) & (y + h < H)
    if not inner.any() and not fallback:
        return 0.0
    use = inner if inner.any() else ok
    return typical_height(h[use], np.sqrt(area[use]))


def _reject_faint(regions: list[Region], comps: Components, ink: np.ndarray) -> None:
    """Mark candidates whose ink is much fainter than the boldest candidate's."""
    live = [r for r in regions if r.reason is None]
    strength = []
    for r in live:
        x, y, w, h = r.box
        strength.append(cv2.mean(ink[y : y + h, x : x + w], region_mask(comps, r))[0])
    if strength:
        boldest = max(strength)
        for r, s in zip(live, strength):
            if s < FAINT * boldest:
                r.reason, r.splits = "faint", []


def _box_wall(box: tuple[int, int, int, int], ruled: np.ndarray) -> bool:
    """A bar whose both ends meet removed rules: the side of a drawn box or a form's comb, not a 1."""
    x, y, w, h = box
    if w >= NARROW * h:
        return False
    top = ruled[max(0, y - WALL_REACH) : y + WALL_REACH, max(0, x - 1) : x + w + 1]
    bottom = ruled[max(0, y + h - WALL_REACH) : y + h + WALL_REACH, max(0, x - 1) : x + w + 1]
    return bool(top.any()) and bool(bottom.any())


def find_regions(mask: np.ndarray, comps: Components | None = None, ink: np.ndarray | None = None,
                 photo: bool = False, ruled: np.ndarray | None = None,
                 digit_h: float = 0.0) -> tuple[list[Region], Components, float]:
    """Return (regions incl. rejected ones, components, typical digit height) for a binary mask.

    With the ink map, regions much fainter than the frame's boldest writing are rejected too.
    With `photo`, regions cut by the frame's edge are rejected: part of them is out of view.
    With `ruled` (the rules removed from the mask), bars running from one rule to another are
    rejected as box walls. A known `digit_h` (estimate_digit_height of these very components)
    is not estimated again.
    (A drawing canvas is different: its digits may touch the edge and still be whole.)
    """
    comps = comps or components(mask)
    H, W = mask.shape
    ids, x, y, w, h, area = _box_arrays(comps)
    long_side = np.maximum(w, h)
    keep = long_side >= SPECK_IMAGE_FRACTION * min(H, W)
    framed = enclosing(x, y, w, h, keep)
    digit_h = digit_h or _digit_height((x, y, w, h, area), keep, framed, (H, W), fallback=True)
    touches = (x == 0) | (y == 0) | (x + w == W) | (y + h == H)
    edge = photo & keep & touches & ((w >= EDGE_FRACTION * W) | (h >= EDGE_FRACTION * H)) & (long_side > EDGE_DIGITS * digit_h)
    frame = keep & ~edge & framed

    def whole(i: int, reason: str) -> Region:  # component i alone, rejected for `reason`
        return Region((int(x[i]), int(y[i]), int(w[i]), int(h[i])), [int(ids[i])], reason)

    regions = [whole(i, "edge" if edge[i] else "frame") for i in np.flatnonzero(edge | frame)]
    keep &= ~(edge | frame)
    keep &= long_side >= SPECK_DIGIT_FRACTION * digit_h
    if not keep.any():
        return regions, comps, digit_h
    if np.count_nonzero(keep) > MAX_CANDIDATES and cv2.countNonZero(mask) > NOISE_INK * mask.size:
        # Noise, not writing: its "digits" would be blobs. Rejected before the gates, which would
        # spend ~60 ms on a thousand of them.
        return regions + [whole(i, "noise") for i in np.flatnonzero(keep)], comps, digit_h
    regions += _gated(ids[keep], comps, digit_h, photo, ruled)
    if photo and ink is not None:
        carved = _carve(regions, comps, ink, digit_h)
        if len(carved):
            for region in _gated(carved, comps, digit_h, photo, ruled):
                region.carved = True
                regions.append(region)
    if ink is not None:
        _reject_faint(regions, comps, ink)
    _limit_candidates(regions, comps.stats)
    return regions, comps, digit_h


def _gated(ids: np.ndarray, comps: Components, digit_h: float, photo: bool,
           ruled: np.ndarray | None) -> list[Region]:
    """Regions of components `ids` (small pieces merged into their neighbours), each gated."""
    return [gate(Region(union_boxes(comps.stats[group, :4]), sorted(group)), comps, digit_h, photo, ruled)
            for group in _merge_pieces(ids, comps.stats, digit_h)]


def gate(region: Region, comps: Components, digit_h: float, photo: bool, ruled: np.ndarray | None = None) -> Region:
    """Judge a region against the rules for a frame whose typical digit is `digit_h` tall: its reason
    (None for a candidate) and, when it is wide, the splits to try. Changes and returns `region`."""
    H, W = comps.labels.shape
    rmask = region_mask(comps, region)
    region.reason = _gate(region, rmask, int(comps.stats[region.labels, 4].sum()), digit_h)
    bx, by, bw, bh = region.box
    if photo and region.reason is None and (bx == 0 or by == 0 or bx + bw == W or by + bh == H):
        region.reason = "cut off"
    if ruled is not None and region.reason is None and _box_wall(region.box, ruled):
        region.reason = "box wall"
    region.splits = []
    if region.reason is None and region.aspect > SPLIT_ASPECT:
        parts = (2, 3) if region.aspect > SPLIT3_ASPECT else (2,)
        loops = _wide_loops(rmask)
        region.splits = [c for c in (split_candidates(rmask, k) for k in parts) if c and not _through_loop(c, loops)]
    return region


def _wide_loops(mask: np.ndarray) -> list[tuple[float, float]]:
    """The middle spans of columns (LOOP_MIDDLE in from either end) of the mask's loops at least
    LOOP_WIDE of it wide: a flat 0 or a wide 8 is one digit round such a loop, where digits side by
    side each keep their own."""
    spans = [cv2.boundingRect(hole) for hole in _holes(mask)]
    return [(x + LOOP_MIDDLE * w, x + (1 - LOOP_MIDDLE) * w) for x, _, w, _ in spans if w >= LOOP_WIDE * mask.shape[1]]


def _through_loop(cuts: list[tuple[int, int]], loops: list[tuple[float, float]]) -> bool:
    """Whether a split's cuts pass through the middle of one of the `loops` (_wide_loops)."""
    return any(a < b < z for _, b in cuts[:-1] for a, z in loops)


def _carve(regions: list[Region], comps: Components, ink: np.ndarray, digit_h: float) -> np.ndarray:
    """New component ids for digit-sized pieces of strong ink inside marks rejected as too big, too
    wide or as a frame (CARVE_REASONS): digits that faint ink (a shadow's edge, a pencil rule the
    rule finder missed, a box drawn round a number) joined to something that is no digit. Raising
    the threshold inside the mark alone leaves the faint writing of the rest of the frame as it was.

    The pieces are relabelled in `comps` (labels and stats); what is left of each mark keeps its id.
    """
    added = []
    for r in regions:
        if r.reason not in CARVE_REASONS:
            continue
        x, y, w, h = r.box
        own = region_mask(comps, r)
        box_ink = ink[y : y + h, x : x + w]
        (strong,) = quantiles(box_ink, (CARVE_QUANTILE,), own)
        core = cv2.bitwise_and(own, cv2.threshold(box_ink, CARVE_LEVEL * strong, 255, cv2.THRESH_BINARY)[1])
        _, labels, st, _ = cv2.connectedComponentsWithStatsWithAlgorithm(core, 8, cv2.CV_32S, CCL)
        pw, ph = st[1:, 2], st[1:, 3]
        fit = ((ph >= CARVE_HEIGHT * digit_h) & (ph <= MAX_HEIGHT * digit_h)
               & (pw >= NARROW * ph) & (pw <= MAX_ASPECT * ph))
        for j in np.flatnonzero(fit) + 1:
            new = len(comps.stats) + len(added)
            comps.labels[y : y + h, x : x + w][labels == j] = new
            sx, sy, sw, sh, area = st[j]
            added.append((x + sx, y + sy, sw, sh, area))
    if not added:
        return np.zeros(0, np.int64)
    first = len(comps.stats)
    comps.stats = np.concatenate([comps.stats, np.array(added, comps.stats.dtype)])
    return np.arange(first, len(comps.stats))


def _limit_candidates(regions: list[Region], stats: np.ndarray) -> None:
    """Keep at most MAX_CANDIDATES (the inkiest), so a busy frame cannot stall the reader."""
    live = [r for r in regions if r.reason is None]
    if len(live) <= MAX_CANDIDATES:
        return
    live.sort(key=lambda r: -int(stats[r.labels, cv2.CC_STAT_AREA].sum()))
    for r in live[MAX_CANDIDATES:]:
        r.reason, r.splits = "crowded", []
