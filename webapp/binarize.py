"""Grayscale -> ink map -> binary mask, robust to uneven light, shadows and either polarity.

The page's brightness is estimated with a large morphological closing (which wipes out pen
strokes but keeps vignetting and soft shadows), and each pixel's ink is how much darker it is
than its local paper. Thresholding that ratio instead of the raw gray level makes a dark corner
and a bright centre look alike. Light-on-dark drawings are inverted first.
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

BG_SMALL_SIDE = 96  # the background is estimated on an image at most this long: it is smooth anyway
BG_KERNEL_FRACTION = 1 / 8  # closing kernel, as a fraction of the long side: wider than any stroke
BG_LIFT = 4  # smoothing may raise the paper estimate at most 4 gray levels above the closing
#              (unlimited -> 4: pages F1 0.9610 -> 0.9639, shadow scenes 0.946 -> 0.955; 0 gave 0.9648
#              but lost a real-dev 1 read at 0.72 -> 0.67; 2 and 6 gave 0.9635)
DARK_PAPER_FLOOR = 0.5  # contrast is measured against at least half the bright paper's level,
#                         so noise in dark surroundings is not amplified into "ink"
PAPER_FLOOR_MIN = 64  # ... and never against less than this: in a dark-ink reading of a blackboard the "paper" is
#   the board (gray 20-60), where camera noise became thousands of specks and dozens of invented digits
#   (boards F1 seeds 0-2 0.56/0.76/0.73 -> 0.96/0.97/0.95; 48: 0.85/0.96/0.91; 96: 0.97/0.97/0.96;
#   128 cost pages 0.9769 -> 0.9678). Pages, drawings and real-dev read the same at 64.
CHALK_CONTRAST = 3  # chalk_map: chalk rising 3x its board's level above it is full ink (boards F1 seeds 0-2,
#   camera mode, 0.964/0.966/0.947 with ink_map -> 0.977/0.984/0.979; 4 and 5 the same, 2: 0.970/0.981/0.972;
#   a floor of 48 the same, 96: 0.975/0.983/0.974). Shadowed boards lost most: recall 0.87 with ink_map.
STRONG_QUANTILE = 0.9  # the boldest 10% of candidate ink pixels stand for "real ink" in this frame
MIN_STRONG_PIXELS = 50  # with fewer candidate pixels than this, use the whole frame's ...
INK_STRONG_QUANTILE = 0.998  # ... darkest 0.2% instead
HIGH_FRACTION = 0.5  # a stroke must reach half the strong ink level somewhere ...
LOW_FRACTION = 0.25  # ... and extends to pixels with a quarter of it (hysteresis)
HIGH_MIN = 0.22  # but never seed ink fainter than 22% below the paper (show-through, grain)
LOW_MIN = 0.12  # nor grow it into pixels fainter than 12%
LINE_LENGTH_FRACTION = 0.3  # ruled/grid lines run straight for at least 30% of the image's long side ...
LINE_THICKNESS_FRACTION = 0.012  # ... and are at most 1.2% of the long side thick ...
LINE_DIGITS = 2.5  # ... and longer than 2.5 typical digit heights (a tall thin 1 is not a rule)
RULE_ELONGATION = 4.0  # a rule is over 4x longer than its box is high (a 6 degree tilt still is)
MAX_RULES = 8  # the slope is the median over at most this many rules
LEVEL_SLOPE = 0.004  # rules flatter than this (0.2 degrees) are found without shearing
BRIDGE = 2  # a stroke cut by a removed rule is rejoined across up to 2 rule thicknesses (tilted rules cut wider)
TAIL_QUANTILE = 0.0005  # polarity looks at the extreme 0.05% of pixels (one thin 1 is more)
POLARITY_WINDOW = 15  # neighbourhood for local deviations, at half resolution
POLARITY_MARGIN = 1.5  # the votes for light ink must outweigh those for dark ink 1.5 to 1
MNIST_STROKE = 2.2  # stroke width of an MNIST digit at its 20 px scale (median of the test set, measured by stroke_width)
MNIST_STROKE_ALL_INK = 3.0  # the same counting all its ink (> 0), soft edges included, as a photo's mask does:
#                             the target for camera crops (2.2 -> 3.0: pages F1 0.9639 -> 0.9679, seed 1
#                             0.9608 -> 0.9661; canvases keep 2.2, where 3.0 lost 0.002-0.003)
STROKE_TOLERANCE = 1.35  # leave strokes within this factor of the target alone
CANVAS_SPREAD = 16  # a canvas's paper spans at most this many gray levels (a photographed page's spans more) ...
CANVAS_TWO_LEVELS = 0.9  # ... or 90% of its pixels are within TWO_LEVELS_PAPER of its paper or TWO_LEVELS_INK of its
#   darkest ink: a drawing with broad strokes, whose ink kept the paper estimate dark in places (280 px canvases,
#   20-30 px brush, as JPEG: 0.975-0.983; generated drawings: median 0.986; generated pages and boards whose
#   paper spreads wider: at most 0.48 and 0.70; real-dev photos: at most 0.21)
TWO_LEVELS_PAPER = 4
TWO_LEVELS_INK = 12  # a pen's level varies more: anti-aliased and JPEG'd edges are a larger share of it
NOISE_STEP = 5  # a frame whose pixels two apart along a row differ by this many gray levels or more
#   at the median is grainy with sensor noise (a webcam's gain in dim light), and is median-filtered (3x3) before
#   anything else (quiet). Generated scenes step 0-4 levels, real-dev photos 0-3: none is filtered. Pages seeds
#   0-2 with noise (eval-scenes --noise), F1 without -> with the filter: sigma 8 0.970 -> 0.981, sigma 16
#   0.852 -> 0.971 (0.985 without noise). Filtering every frame cost clean pages 0.985 -> 0.983; a 5x5 median
#   or a Gaussian blur gained less on noisy ones (docs/reader.md, "A grainy frame")
NOISE_MOST = 24  # ... unless they differ by this much: no picture of paper at all (a covered lens, snow), whose
#   specks stay too small to read, where filtered they grow into blobs read as digits (uniform noise steps 50
#   and read 13 digits in 1.6 s once filtered). Pages with noise of sigma 32 step 21 and, filtered, read at 0.92
DIM_PAPER = 128  # a frame voted dark ink on paper whose paper (90th percentile) is darker than this is lit dimly:
#   its noise weighs more against the ink's contrast, so it is filtered at a step that much smaller (quiet_dim) ...
DIM_FLOOR = 40  # ... and its ink is measured against no less than this, not PAPER_FLOOR_MIN, which made pencil in
#   the shade faint. Pages seeds 0-1 (eval-scenes --dim), F1 before -> after: x0.5 0.980 -> 0.983, x0.35 0.967 ->
#   0.973, x0.2 0.878 -> 0.956; x0.35 with noise sigma 6 0.946 -> 0.964. At 32 (0.976, 0.968 and 0.961) and 24, 6
#   and 14 of 270 dark frames of blotchy noise read invented digits; at 40, none. Normal frames are untouched
CCL = cv2.CCL_BBDT  # labelling with stats: BBDT (Grana) is about 3x faster than Wu/SAUF/Spaghetti here


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR, BGRA or already gray (2-D, or one channel) uint8 -> gray uint8."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def quiet(gray: np.ndarray, least: int | None = None) -> np.ndarray:
    """The gray frame median-filtered when it is grainy with sensor noise (its median step reaches
    `least`, NOISE_STEP unless told, and not NOISE_MOST), else as it is.

    Noise makes specks that hysteresis grows into strokes and frays thin strokes apart; a 3x3
    median removes it and keeps strokes two pixels wide. Clean frames, the usual case, pay only
    for the check (about 0.1 ms at 640x480)."""
    rows = gray[::4]  # pixels two apart along every fourth row
    if rows.shape[1] < 3:
        return gray
    steps = cv2.absdiff(rows[:, 2:], rows[:, :-2])
    least = NOISE_STEP if least is None else least
    grainy, snow = (2 * cv2.countNonZero(cv2.threshold(steps, step - 1, 255, cv2.THRESH_BINARY)[1]) >= steps.size
                    for step in (least, NOISE_MOST))  # whether the median step reaches each
    return cv2.medianBlur(gray, 3) if grainy and not snow else gray


def quiet_dim(gray: np.ndarray) -> np.ndarray:
    """A frame of dark ink on paper (as the polarity vote says) median-filtered (quiet) at a noise step
    as much lower than NOISE_STEP as its paper is darker than DIM_PAPER: in a dim room the same
    noise is a larger share of the ink's contrast. Frames lit normally are returned as they are."""
    (paper,) = quantiles(gray[::8, ::8], (0.9,))
    if paper >= DIM_PAPER:
        return gray
    return quiet(gray, max(1, int(np.ceil(NOISE_STEP * paper / DIM_PAPER))))


def _small(gray: np.ndarray) -> np.ndarray:
    """Halve (Gaussian pyramid: smooth, cheap) until the long side is at most BG_SMALL_SIDE."""
    small = gray
    while max(small.shape) > BG_SMALL_SIDE:
        small = cv2.pyrDown(small)
    return small


def quantiles(values: np.ndarray, qs: tuple[float, ...], mask: np.ndarray | None = None) -> list[int]:
    """Quantiles of uint8 values (where `mask` is set, if given) from a 256-bin histogram (much
    faster than sorting)."""
    hist = cv2.calcHist([np.ascontiguousarray(values)], [0], mask, [256], [0, 256]).ravel()
    cum = np.cumsum(hist)
    return [int(np.searchsorted(cum, q * cum[-1])) for q in qs]


def light_on_dark(gray: np.ndarray, coarse: bool = False, margin: float = POLARITY_MARGIN) -> bool:
    """True for light ink on a dark background.

    Two votes, multiplied: which tail of the gray levels reaches further from the median (the
    bulk is background, ink is a tail), and which way the strongest local deviations go (ink
    is thin and stands out from its neighbourhood; a desk is broad). The first is sure for
    thick strokes, the second for thin ones. Ties mean paper. Taken at half resolution, or
    `coarse`ly at a quarter (about a quarter of the time), for camera frames, where it only
    decides whether to read the frame as chalk too. The light votes must outweigh the dark ones
    `margin` to 1.
    """
    step, window = (4, POLARITY_WINDOW // 2) if coarse else (2, POLARITY_WINDOW)
    half = np.ascontiguousarray(gray[::step, ::step])
    lo, med, hi = quantiles(half, (TAIL_QUANTILE, 0.5, 1 - TAIL_QUANTILE))
    local = cv2.blur(half, (window, window))
    (darker,) = quantiles(cv2.subtract(local, half), (1 - TAIL_QUANTILE,))
    (lighter,) = quantiles(cv2.subtract(half, local), (1 - TAIL_QUANTILE,))
    vote = (max(hi - med, 1) / max(med - lo, 1)) * (max(lighter, 1) / max(darker, 1))
    return bool(vote > margin)


def background(gray: np.ndarray) -> np.ndarray:
    """Estimate the paper's brightness (uint8, full size) for dark ink on light paper."""
    small = _small(gray)
    k = max(3, int(max(small.shape) * BG_KERNEL_FRACTION) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    # Smooth away the closing's blocks, but never lift the paper more than a few levels above
    # it: at a hard shadow edge a plain blur carries the lit paper's level into the shade and
    # turns a band along the edge into ink that cuts through the digits it crosses.
    paper = cv2.min(cv2.blur(paper, (k, k)), cv2.add(paper, BG_LIFT))
    h, w = gray.shape
    return cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)


def ink_from_background(dark_ink: np.ndarray, bg: np.ndarray, paper_voted: bool = False) -> np.ndarray:
    """How much darker than its paper each pixel is, as a fraction (x255) of that paper's level.

    `paper_voted`: the polarity vote found dark ink on paper, so paper under DIM_PAPER is paper in a dim
    room, not a blackboard read as dark ink, and is measured without PAPER_FLOOR_MIN."""
    (paper,) = quantiles(bg[::8, ::8], (0.9,))
    least = DIM_FLOOR if paper_voted and paper < DIM_PAPER else PAPER_FLOOR_MIN
    floor = int(min(255, max(1, least, DARK_PAPER_FLOOR * paper)))
    # cv2.max with a scalar is ~10x faster than np.maximum here (0.02 vs 0.2 ms at 640x480)
    return cv2.divide(cv2.subtract(bg, dark_ink), cv2.max(bg, floor), scale=255)


def paper_spread(bg: np.ndarray) -> int:
    """Gray levels between the darkest and brightest paper (5th to 95th percentile).

    A drawing canvas is flat (a few levels); a photographed page never is (vignetting, light
    falloff, shadows): tens of levels.
    """
    lo, hi = quantiles(bg[::8, ::8], (0.05, 0.95))
    return hi - lo


def ink_map(gray: np.ndarray, light_ink: bool | None = None) -> np.ndarray:
    """Return ink strength as uint8 (0 = paper, 255 = black on white), whatever the light and polarity."""
    return ink_and_paper(gray, light_ink)[0]


class Paper(NamedTuple):
    """ink_and_paper's result: the ink map, the paper level it was measured against, and whether the
    frame was taken for a canvas."""

    ink: np.ndarray
    paper: np.ndarray
    canvas: bool


def ink_and_paper(gray: np.ndarray, light_ink: bool | None = None, canvas: bool | None = False,
                  paper_voted: bool = False) -> Paper:
    """ink_map and the paper's brightness it was measured against (light ink: inverted first).

    `light_ink` None guesses the polarity (light_on_dark). A `canvas` has its paper held near one
    level (canvas_paper); None tells a canvas from a photographed page: its paper spans at most
    CANVAS_SPREAD levels, or nearly all of it is one paper and one pen (two_levels).
    """
    if light_ink is None:
        light_ink = light_on_dark(gray)
    dark_ink = cv2.bitwise_not(gray) if light_ink else gray
    paper = background(dark_ink)
    if canvas is None:
        canvas = paper_spread(paper) <= CANVAS_SPREAD or two_levels(dark_ink) >= CANVAS_TWO_LEVELS
    if canvas:
        paper = canvas_paper(paper)
    return Paper(ink_from_background(dark_ink, paper, paper_voted and not light_ink), paper, canvas)


def two_levels(gray: np.ndarray) -> float:
    """Share of the pixels within a few levels of the frame's paper (99th percentile) or its darkest
    ink (1st): nearly all of a drawing in one pen, a small part of a photo (light, shadows, noise)."""
    sample = np.ascontiguousarray(gray[::4, ::4])
    lo, hi = quantiles(sample, (0.01, 0.99))
    near = np.zeros(256, bool)
    near[max(hi - TWO_LEVELS_PAPER, 0) : hi + TWO_LEVELS_PAPER + 1] = True
    near[max(lo - TWO_LEVELS_INK, 0) : lo + TWO_LEVELS_INK + 1] = True
    hist = cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel()
    return float(hist[near].sum() / max(hist.sum(), 1))


def canvas_paper(bg: np.ndarray) -> np.ndarray:
    """A canvas's paper: nowhere more than CANVAS_SPREAD levels below its usual level (the 90th
    percentile of background()).

    background() is a closing: where a thick drawn digit's ink is wider than its kernel (an 8's
    waist, drawn with a broad brush on a small canvas), it stays dark, that ink is measured as
    faint against it, and the crop shows a ring where the digit has a blob.
    """
    (level,) = quantiles(bg[::8, ::8], (0.9,))
    floor = np.uint8(max(level - CANVAS_SPREAD, 0))
    # cv2.max is 9x faster than np.maximum here, but takes a 1x1 array for a scalar
    return cv2.max(bg, int(floor)) if bg.size > 4 else np.maximum(bg, floor)


def chalk_map(gray: np.ndarray, paper: np.ndarray | None = None) -> np.ndarray:
    """Ink strength (uint8) of light strokes on a dark, unevenly lit ground: chalk on a blackboard.

    ink_map measures light ink against the full scale above the board, so chalk in a shadow,
    a few levels above its darkened board, looked faint beside chalk in the light. Light is a
    factor on both, so here the chalk's rise is measured against the board's own local level:
    CHALK_CONTRAST times it, never less than PAPER_FLOOR_MIN (noise on a black board is no ink)
    and never more than 255 (boards are dark: the cap binds only above gray 85). `paper`: the
    inverted frame's background when ink_and_paper has already estimated it (light_ink=True).
    """
    board = cv2.bitwise_not(paper if paper is not None else background(cv2.bitwise_not(gray)))
    scale = cv2.max(cv2.multiply(board, CHALK_CONTRAST), PAPER_FLOOR_MIN)
    return cv2.divide(cv2.subtract(gray, board), scale, scale=255)


def threshold_ink(ink: np.ndarray) -> np.ndarray:
    """Binary mask (uint8 0/255) by hysteresis: faint pixels count only if touching strong ones."""
    return threshold_ink_labelled(ink)[0]


def threshold_ink_labelled(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hysteresis mask plus its 8-connected labels and stats from one labelling pass.

    The strong-ink level is found on a half-resolution labelling (it only needs which pixels
    belong to border components); the full-resolution pass labels ink above the low threshold
    with stats, and components without a seed get zero-size stats (they are not in the mask),
    so the caller need not label the mask again.
    """
    half = ink[::2, ::2]
    weak = cv2.threshold(half, LOW_MIN * 255, 255, cv2.THRESH_BINARY)[1]
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    strong = _strong_ink_half(half, labels, n)
    high = max(HIGH_MIN * 255, HIGH_FRACTION * strong)
    low = max(LOW_MIN * 255, LOW_FRACTION * strong)
    cand = cv2.threshold(ink, low, 255, cv2.THRESH_BINARY)[1]
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(cand, 8, cv2.CV_32S, CCL)
    keep = np.zeros(n, np.uint8)
    keep[labels[::2, ::2][half > high]] = 255
    keep[0] = 0
    stats[keep == 0, 2:] = 0
    stats[0] = (0, 0, ink.shape[1], ink.shape[0], 0)
    return lookup(keep, labels), labels, stats


def lookup(table: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """table[labels] for a uint8 table: a LUT when labels fit in a byte (about 2x faster than np.take)."""
    if len(table) <= 256:
        return cv2.LUT(labels.astype(np.uint8), np.resize(table, 256))
    return np.take(table, labels)  # still several times faster than table[labels]


def _strong_ink_half(half: np.ndarray, labels: np.ndarray, n: int) -> int:
    """The ink level of real writing: a high quantile of candidate ink away from the frame's edge.

    Components touching the border (a desk around the sheet, a dark corner) are left out, so
    they cannot raise the bar and wipe out faint pencil digits in the middle. Works on a
    half-resolution ink map and its labels.
    """
    inner = np.full(n, 255, np.uint8)
    inner[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = 0
    inner[0] = 0
    inner_mask = lookup(inner, labels)
    hist = cv2.calcHist([half], [0], inner_mask, [256], [0, 256]).ravel()
    if hist.sum() < MIN_STRONG_PIXELS:
        (strong,) = quantiles(half, (INK_STRONG_QUANTILE,))
        return strong
    cum = np.cumsum(hist)
    return int(np.searchsorted(cum, STRONG_QUANTILE * cum[-1]))


def _has_run(mask: np.ndarray, run: int) -> bool:
    """Whether any row holds `run` consecutive ink pixels: whether a rule could be there at all.

    Only rows with that much ink at all are eroded, with the outside counted as paper (an opening's
    own erosion counts it as ink); a Python loop over those rows cost about 1 ms a ruled frame.
    """
    sums = cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    rows = np.flatnonzero(sums >= run * 255)
    if not len(rows):
        return False
    eroded = cv2.erode(np.ascontiguousarray(mask[rows]), np.ones((1, run), np.uint8),
                       borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.countNonZero(eroded) > 0


def _thin_runs(mask: np.ndarray, run: int, thick: int, horizontal: bool) -> np.ndarray:
    """Pixels on straight runs at least `run` long and at most `thick` across, in one direction."""
    if not _has_run(mask if horizontal else mask.T, run):  # no line at all: skip the openings
        return np.zeros_like(mask)
    along = (1, run) if horizontal else (run, 1)  # kernel (rows, cols)
    across = (thick + 1, 1) if horizontal else (1, thick + 1)
    opened = _open(mask, along)
    # A thick bar (a drawn digit's base) survives an opening across it; a thin rule does not.
    return cv2.subtract(opened, _open(opened, across))


def _open(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Morphological opening by a (rows, cols) rectangle that never adds ink, even of even size.

    cv2.morphologyEx erodes and dilates about the same anchor, so an even kernel's opening
    comes out a pixel off the ink: one edge of every thick bar then survives only as a thin
    line, and a broad stroke's edge is taken for a rule. Dilating about the mirrored anchor
    keeps the opening inside the ink.
    """
    rows, cols = size
    kernel = np.ones(size, np.uint8)
    eroded = cv2.erode(mask, kernel, anchor=(cols // 2, rows // 2))
    return cv2.dilate(eroded, kernel, anchor=(cols - 1 - cols // 2, rows - 1 - rows // 2))


def rule_slope(half: np.ndarray, run: int) -> float:
    """Slope (rows per column) of the paper's rules: the median over long thin components.

    A rule is straight, so its slope is how far its ink's mean row moves from its left end to
    its right end. 0 when there is no such component (or the page is level). Measured at half
    the given resolution again: labelling all faint ink costs, and the slope needs no detail.
    """
    rows, cols = half.shape
    small = cv2.resize(half, (max(1, cols // 2), max(1, rows // 2)), interpolation=cv2.INTER_AREA)
    small = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY)[1]
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(small, 8, cv2.CV_32S, CCL)
    widths, heights = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    long = np.flatnonzero((widths >= max(2, run // 2)) & (widths > RULE_ELONGATION * heights)) + 1
    slopes = []
    for i in long[:MAX_RULES]:
        x0, y0, bw, bh = stats[i, :4]
        end = max(1, bw // 8)
        ys = np.arange(bh, dtype=np.float64)
        left = (labels[y0 : y0 + bh, x0 : x0 + end] == i).sum(axis=1)
        right = (labels[y0 : y0 + bh, x0 + bw - end : x0 + bw] == i).sum(axis=1)
        if left.any() and right.any():
            slopes.append((ys @ right / right.sum() - ys @ left / left.sum()) / max(bw - end, 1))
    return float(np.median(slopes)) if slopes else 0.0


def _runs_along(half: np.ndarray, slope: float, run: int, thick: int, horizontal: bool) -> np.ndarray:
    """_thin_runs on the mask sheared by the rules' slope, so tilted rules are level; sheared back."""
    if abs(slope) < LEVEL_SLOPE:
        return _thin_runs(half, run, thick, horizontal)
    h, w = half.shape
    if horizontal:  # rows move by slope per column: shift each column back
        m = np.float32([[1, 0, 0], [-slope, 1, slope * w / 2]])
    else:  # the same tilt leans vertical lines the other way
        m = np.float32([[1, slope, -slope * h / 2], [0, 1, 0]])
    level = cv2.warpAffine(half, m, (w, h), flags=cv2.INTER_NEAREST)
    # Resampling a 1 px line steps it by a row here and there: bridge those steps.
    level = cv2.dilate(level, np.ones((2, 1) if horizontal else (1, 2), np.uint8))
    found = _thin_runs(level, run, thick, horizontal)
    if not cv2.countNonZero(found):
        return found
    back = cv2.warpAffine(found, m, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    # Resampling back may miss the line by a pixel: take the ink within one pixel of it.
    return cv2.bitwise_and(cv2.dilate(back, np.ones((3, 1) if horizontal else (1, 3), np.uint8)), half)


def remove_lines(mask: np.ndarray, digit_height: float = 0.0, guide: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Remove long thin horizontal/vertical runs (ruled and grid paper); return (mask, lines).

    `digit_height` (0 when unknown) keeps strokes of big digits from counting as rules.
    `guide` (default: the mask) is where the lines are looked for, e.g. all faint ink.
    Rules tilted with the page are found along their own slope.
    Strokes crossed by a removed line are bridged again where ink continues on both sides.
    """
    h, w = mask.shape
    thick = max(2, round(LINE_THICKNESS_FRACTION * max(h, w)))
    run = max(3, int(LINE_LENGTH_FRACTION * max(h, w)), int(LINE_DIGITS * digit_height))
    # Search at half resolution (any ink in a 2x2 cell counts, so 1 px rules survive): the long
    # openings cost 8x less, and the full-resolution ink under the found runs is what is removed.
    half = cv2.resize(mask if guide is None else guide, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    half = cv2.threshold(half, 0, 255, cv2.THRESH_BINARY)[1]
    half_run, half_thick = max(2, run // 2), max(1, thick // 2)
    slope = rule_slope(half, half_run)
    found = (_runs_along(half, slope, half_run, half_thick, horizontal=True)
             | _runs_along(half, slope, half_run, half_thick, horizontal=False))
    if not cv2.countNonZero(found):  # several times faster than found.any()
        return mask, np.zeros_like(mask)
    lines = cv2.bitwise_and(mask, cv2.resize(found, (w, h), interpolation=cv2.INTER_NEAREST))
    clean = cv2.subtract(mask, lines)
    bridge = cv2.morphologyEx(clean, cv2.MORPH_CLOSE, np.ones((BRIDGE * thick + 3, 1), np.uint8))
    bridge |= cv2.morphologyEx(clean, cv2.MORPH_CLOSE, np.ones((1, BRIDGE * thick + 3), np.uint8))
    return clean | (bridge & lines), lines


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the mean distance to paper along the stroke's ridge."""
    if not mask.any():
        return 0.0
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    ridge = ((dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (dist > 0)).view(np.uint8)
    return 2.0 * cv2.mean(dist, ridge)[0] - 1.0 if ridge.any() else 1.0


def normalize_stroke(ink: np.ndarray, mask: np.ndarray | None = None, target: float = MNIST_STROKE, width: float | None = None) -> np.ndarray:
    """Thicken or thin a digit crop's strokes so that, at MNIST's 20 px scale, they are `target` wide.

    `ink` is a crop (ink bright, any float/uint8 scale) holding one digit; `mask` its binary
    ink (defaults to ink > 0). Thin-pen webcam digits get dilated, marker digits eroded, so
    the model sees MNIST-like strokes. Training may call this on its own crops too.
    `width` skips measuring when the caller already knows the stroke width.
    """
    if mask is None:
        mask = (ink > 0).astype(np.uint8) * 255
    h, w = mask.shape
    if not mask.any() or max(h, w) < 4:
        return ink
    wanted = target * max(h, w) / 20.0  # target width at this crop's scale
    width = max(width if width else stroke_width(mask), 1.0)
    if wanted / STROKE_TOLERANCE <= width <= wanted * STROKE_TOLERANCE:
        return ink
    pad = int(np.ceil(abs(wanted - width) / 2)) + 1
    big = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    k = 2 * max(1, round(abs(wanted - width) / 2)) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    if width < wanted:
        return cv2.dilate(big, kernel)
    thinner = cv2.erode(big, kernel)
    # Never erase a digit: keep most of its ink or leave it as it was.
    return thinner if np.count_nonzero(thinner) > 0.25 * np.count_nonzero(big) else big
