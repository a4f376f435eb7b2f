"""Signs written between numbers: + and x (two straight strokes crossing near their middles), and
=, : and the division sign (flat bars and dots stacked one above another), which no digit is.

Written between numbers ("12 + 7 = 19"), a + reached the model as the digit it looks most like, a 4
read surely, and joined the numbers beside it. An open 4 is a cross too, but one of its arms bends
where its bar meets its slanted stroke; a 7 with a bar across its stem has a bent arm at its top.
"""
from __future__ import annotations

import cv2
import numpy as np

from webapp.skeleton import crossings, ring, thin

GRID = 16  # the quick look: the region shrunk to GRID x GRID ...
CORNER = 4  # ... has its four CORNER x CORNER corners empty
EMPTY = 0.06  # "empty": under 6% of the ink
SIDE = 32  # the skeleton is traced on the region scaled to this many pixels on its longer side ...
PEN_PIXELS = 2.5  # ... or more, up to MAX_SIDE, so that the pen is still this many pixels wide
MAX_SIDE = 96
MIN_ARM = 0.15  # branches shorter than this share of the longer side are the pen's blobs, not arms
STRAIGHT = 0.07  # an arm strays at most this share of the longer side (and a pixel) from the line to its tip
OPPOSITE = -0.8  # each arm has a partner pointing the other way (the cosine of their angle at most this)
MIDDLE = 0.35  # the shorter arm of each pair is at least this share of the longer: crossed near the middle
SMALL = 0.75  # a cross no taller than this many typical digits is a sign: signs are mostly drawn smaller;
TALL = 1.4  # one up to this tall (its box holds the pen too: a thick pen's sign is a pen width taller than
#   its strokes) is a sign only when its box is no taller than SQUARE times its width:
SQUARE = 1.15  # the MNIST 4s drawn like a + (11 of 10,000 test digits) are taller, their bar low on the stem
CENTRE = 0.08  # the quick look at a tall cross: the middle CORNER x CORNER cells hold this share of its ink ...
ARM_END = 0.03  # ... and so does each of the four spots at its arms' ends (see _looks_crossed)
FLAT = 2.5  # a bar of =, or of the division sign, is at least this many times as wide as it is tall
DOT = 2.0  # a dot of : or of the division sign spans at most this many pen widths either way
STACKED = (("bar", "bar"), ("dot", "dot"), ("dot", "bar", "dot"))  # =, : and the division sign, top down


def is_sign(mask: np.ndarray, stroke: float, digit_h: float) -> bool:
    """Whether a region (uint8 0/255 mask, pen `stroke` pixels wide) among digits `digit_h` tall is a
    + or a x sign: a cross, small or about as wide as it is tall (some 4s are crosses, tall ones)."""
    h, w = mask.shape
    if h <= SMALL * digit_h:
        return is_cross(mask, stroke)
    return h <= TALL * digit_h and h <= SQUARE * w and _looks_crossed(mask) and is_cross(mask, stroke)


def is_stacked(mask: np.ndarray, stroke: float) -> bool:
    """Whether a region of two or three pieces (uint8 0/255 mask, pen `stroke` pixels wide) is an =, a :
    or a division sign: flat bars and dots, one above another. Merged as the pieces of one mark (a
    5's bar and body), an = was read as a 2 and a : as an 8. No digit is made of bars and dots alone."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if not 3 <= count <= 4:
        return False
    pieces = sorted(stats[1:, :4].tolist(), key=lambda p: p[1])
    if any(below[1] < above[1] + above[3] for above, below in zip(pieces, pieces[1:])):
        return False  # side by side somewhere, not stacked
    kinds = tuple("bar" if w >= FLAT * h else "dot" if max(w, h) <= DOT * stroke else "stroke" for _, _, w, h in pieces)
    return kinds in STACKED


def is_cross(mask: np.ndarray, stroke: float) -> bool:
    """Whether a region (uint8 0/255 mask, pen `stroke` pixels wide) is shaped as a + or a x sign (a +
    turned by 45 degrees)."""
    mask = (mask > 0).astype(np.uint8) * 255
    if not mask.any():
        return False
    return _is_plus(mask, stroke) or (_empty_spots(mask, side_middles=True) and _is_plus(_turned(mask), stroke))


def _turned(mask: np.ndarray) -> np.ndarray:
    """The mask turned by 45 degrees, on a canvas big enough to hold it, cropped to its ink."""
    h, w = mask.shape
    side = int(np.ceil(np.hypot(h, w))) + 2
    canvas = np.zeros((side, side), np.uint8)
    canvas[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = mask
    turned = cv2.warpAffine(canvas, cv2.getRotationMatrix2D((side / 2, side / 2), 45, 1.0), (side, side))
    ys, xs = np.nonzero(turned > 127)
    if len(ys) == 0:  # a speck a pixel or two wide can fade out when turned
        return np.zeros((0, 0), np.uint8)
    return (turned[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] > 127).astype(np.uint8) * 255


def _is_plus(mask: np.ndarray, stroke: float) -> bool:
    """The + test, traced at a scale where the pen stays at least PEN_PIXELS wide (a thin pen
    shrunk further breaks up, and a big sign drawn with it was missed)."""
    if not mask.any() or not _empty_spots(mask):
        return False
    h, w = mask.shape
    side = int(np.clip(PEN_PIXELS * max(h, w) / max(stroke, 1.0), SIDE, MAX_SIDE))
    scale = min(1.0, side / max(h, w))
    small = cv2.resize(mask, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    skeleton = thin(np.pad(small > 127, 2))
    return _four_straight_arms(skeleton, max(2, round(0.4 * stroke * scale)), max(small.shape), 0.5 * stroke * scale)


def _spots(mask: np.ndarray) -> tuple[float, list[float], list[float], float]:
    """The quick looks' view of a region shrunk to GRID x GRID: its ink in all, in the four CORNER x
    CORNER spots at its box's corners, in the four at the middles of its sides, and at its centre."""
    g = cv2.resize(mask, (GRID, GRID), interpolation=cv2.INTER_AREA).astype(np.float32)
    c, far, mid = CORNER, GRID - CORNER, (GRID - CORNER) // 2
    ink = [float(g[y : y + c, x : x + c].sum()) for y, x in ((0, 0), (0, far), (far, 0), (far, far),
                                                           (mid, 0), (mid, far), (0, mid), (far, mid), (mid, mid))]
    return float(g.sum()), ink[:4], ink[4:8], ink[8]


def _empty_spots(mask: np.ndarray, side_middles: bool = False) -> bool:
    """The quick look that spares most digits the tracing (and turning, a tenth of a millisecond): a +
    has no ink in its box's corners, a x none at the middles of its sides, where a 0 or a 4 has ink."""
    total, corners, sides, _ = _spots(mask)
    return sum(sides if side_middles else corners) <= EMPTY * total


def _looks_crossed(mask: np.ndarray) -> bool:
    """The quick look for a tall cross, before it is traced (a digit as big may cost a millisecond to
    trace): ink at the middle of its box and at the four ends of its arms, none at the other four
    spots of the box's rim. A 0, a 6 or a 9 has its hole in the middle, an 8 no arm at its waist."""
    total, corners, sides, centre = _spots(mask)
    return centre >= CENTRE * total and any(sum(empty) <= EMPTY * total and min(ends) >= ARM_END * total
                                            for empty, ends in ((corners, sides), (sides, corners)))


def _four_straight_arms(skeleton: np.ndarray, reach: int, side: int, pen: float) -> bool:
    """One crossing (branch points within `reach` of each other) with four straight arms, in two
    pairs pointing opposite ways, each pair crossed near its middle. An arm counts as one (not a
    blob's spur) by its length to the pen's edge, `pen` (half its width) beyond the skeleton's tip:
    thinning shortens each arm of a thick pen's + by that much, and its short arms fell under MIN_ARM."""
    sk = skeleton.astype(np.uint8)
    neighbours = ring(np.pad(sk, 1))
    branch = (sk == 1) & (crossings(neighbours) >= 3)
    if not branch.any():  # a thick pen's crossing thinned to a small block of pixels, each with two
        branch = (sk == 1) & (sum(n.astype(np.uint8) for n in neighbours) >= 3)  # crossings but 3+ neighbours
    if not branch.any():
        return False
    hub = cv2.dilate(branch.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2))
    if cv2.connectedComponents(hub)[0] != 2:
        return False
    cy, cx = (float(v.mean()) for v in np.nonzero(branch))
    count, labels = cv2.connectedComponents(sk & (hub == 0), connectivity=8)
    arms = []
    for k in range(1, count):
        ys, xs = np.nonzero(labels == k)
        dist = np.hypot(ys - cy, xs - cx)
        tip = int(np.argmax(dist))
        length = float(dist[tip])
        if length + pen < MIN_ARM * side or length == 0:
            continue
        ux, uy = (xs[tip] - cx) / length, (ys[tip] - cy) / length
        if np.abs((xs - cx) * uy - (ys - cy) * ux).max() > STRAIGHT * side + 1:
            return False
        arms.append((ux, uy, length))
    if len(arms) != 4:
        return False
    first = arms[0]
    partner = min(arms[1:], key=lambda a: first[0] * a[0] + first[1] * a[1])
    rest = [a for a in arms[1:] if a is not partner]
    for a, b in ((first, partner), tuple(rest)):
        if a[0] * b[0] + a[1] * b[1] > OPPOSITE or min(a[2], b[2]) < MIDDLE * max(a[2], b[2]):
            return False
    return True
