"""Turn a 28x28 MNIST digit into pen ink of a chosen height and stroke width, for synthetic scenes.

A camera page needs ballpoint-thin and marker-thick versions of the same handwriting, and a canvas
drawing needs the even width of a mouse-drawn line. Both come from the digit's skeleton (found by
Zhang-Suen thinning on a 3x upsampled copy) redrawn with anti-aliased lines of the wanted width;
the "natural" style instead keeps MNIST's own stroke profile, scaled. A loop the writer's thick pen
filled in (a blotted 6, 8 or 9) has a line for a skeleton, so blots are redrawn as blots; so is ink that
thinning leaves off the skeleton altogether (a bold 3's stubby middle prong). A one-pixel stroke that
upsampling breaks into dots is joined again where fainter ink links it. Scanner hairlines and
specks and faint dots beside a digit (about 1.7% of MNIST test digits) are left out: drawn at the pen's
width, a hairline beside a 1 made it "11", two faint dots beside a 9 "9:".
"""
from __future__ import annotations

import cv2
import numpy as np

from webapp.skeleton import thin

PEN_LEVEL = 0.45  # where the upsampled digit is at least this dark, the pen passed
BRIDGE_LEVEL = 0.2  # and where ink this dark links two of its pieces (see _pen_mask)
UPSAMPLE = 3  # thin at 84x84 so the redrawn skeleton is smooth, not a 28-pixel staircase
SUBPIXEL = 4  # cv2 drawing `shift`: coordinates carry 4 fractional bits
FINE_PEN = 16  # pens are drawn at least this many pixels wide (at up to 4x), then shrunk
BLOB_DEPTH = 2.3  # ink deeper than this many typical stroke half-widths is a blot, mostly a filled-in
# loop (0.7% of MNIST test digits): its skeleton is a line (a 6 would become an L), so it is filled
PEN_REACH = 1.6  # ink farther than this many half-widths (and a pixel) from the skeleton is off the pen's
# path (an even stroke's corner reaches 1.41): a bold 3's stub of a middle prong, a loop filled
# at the edge, which thinning drops (a 3 became a J, a 9 a 7); it is filled like a blot
SCAN_MARK_WIDTH = 0.45  # a separate piece drawn under this share of the digit's usual stroke width is a
# scanner's hairline (a remnant of a form's ruling beside some MNIST digits), not the writer's pen
SCAN_MARK_AREA = 0.01  # a separate piece under this share of the ink is a speck
SPECK_SPAN = 4.0  # so is one no longer than this many stroke half-widths (two of the writer's stroke
SPECK_SPAN_AREA = 0.05  # widths) and under this share of the ink: a faint dot beside a digit became a
# pen-wide dot (a 9 with two of them read "9:"); a lifted 5's bar or a 4's second stroke is longer
_NEIGHBOURS = ((0, 1), (1, -1), (1, 0), (1, 1))  # each 8-neighbour pair is visited once


def _ink_crop(digit: np.ndarray) -> np.ndarray:
    """Float [0, 1] digit cropped to its ink, with a one-pixel margin."""
    img = digit.astype(np.float32) / 255.0
    ys, xs = np.nonzero(img > 0.1)
    if len(xs) == 0:
        raise ValueError("empty MNIST digit")
    y0, y1, x0, x1 = max(ys.min() - 1, 0), ys.max() + 2, max(xs.min() - 1, 0), xs.max() + 2
    return img[y0:y1, x0:x1]


def natural(digit: np.ndarray, height: int, aspect: float = 1.0) -> np.ndarray:
    """MNIST's own strokes scaled to `height` pixels: float32 alpha in [0, 1]."""
    crop = _ink_crop(digit)
    scale = height / crop.shape[0]
    size = (max(2, round(crop.shape[1] * scale * aspect)), max(2, height))
    big = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
    # MNIST's soft edges become a pen's: solid core, a pixel or two of anti-aliasing.
    return np.clip((big - 0.2) / 0.4, 0.0, 1.0).astype(np.float32)


def redrawn(digit: np.ndarray, height: int, width: float, aspect: float = 1.0) -> np.ndarray:
    """The digit's skeleton redrawn with an even stroke `width` pixels wide, `height` tall.

    OpenCV draws whole-pixel widths (an anti-aliased line about one pixel wider than asked), so a
    thin pen is drawn up to 4x larger and shrunk: a 1.4 px pen and a 1.6 px one on the same page
    must not come out 1 px and about 3 px wide, one three times the ink of the other.
    """
    crop = _ink_crop(digit)
    up = cv2.resize(crop, None, fx=UPSAMPLE, fy=UPSAMPLE, interpolation=cv2.INTER_CUBIC)
    mask = _without_scan_marks(_pen_mask(up))
    skeleton, blots = _strokes(mask)
    ys, xs = np.nonzero(skeleton)
    sy = (height - width) / mask.shape[0]
    sx = sy * aspect
    pad = width / 2 + 1
    out_w, out_h = int(np.ceil(mask.shape[1] * sx + 2 * pad)), int(np.ceil(mask.shape[0] * sy + 2 * pad))
    f = int(np.clip(np.ceil(FINE_PEN / width), 1, 4))
    canvas = np.zeros((out_h * f, out_w * f), np.uint8)
    to_px = lambda y, x: (round((x * sx + pad) * f * 2**SUBPIXEL), round((y * sy + pad) * f * 2**SUBPIXEL))
    thick = max(1, round(width * f))
    on = set(zip(ys.tolist(), xs.tolist()))
    for y, x in on:
        start = to_px(y, x)
        cv2.line(canvas, start, start, 255, thick, cv2.LINE_AA, SUBPIXEL)
        for dy, dx in _NEIGHBOURS:
            if (y + dy, x + dx) in on:
                cv2.line(canvas, start, to_px(y + dy, x + dx), 255, thick, cv2.LINE_AA, SUBPIXEL)
    for blot in blots:
        points = np.array([to_px(y, x) for x, y in blot.tolist()], np.int32)
        cv2.polylines(canvas, [points], True, 255, thick, cv2.LINE_AA, SUBPIXEL)
        cv2.fillPoly(canvas, [points], 255, cv2.LINE_AA, SUBPIXEL)
    if f > 1:
        canvas = cv2.resize(canvas, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return _trim(canvas.astype(np.float32) / 255.0)


def _pen_path(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A digit mask's skeleton, each pixel's distance from the paper, and the typical stroke
    half-width: the median distance along the skeleton (1 when there is none)."""
    skeleton = thin(mask)
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    return skeleton, depth, float(np.median(depth[skeleton])) if skeleton.any() else 1.0


def _scan_marks(mask: np.ndarray) -> np.ndarray:
    """Pieces of a digit mask that no pen drew: hairlines much thinner than the digit's strokes, and
    specks. The largest piece is always the writer's."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    marks = np.zeros(mask.shape, bool)
    if count <= 2:
        return marks
    skeleton, depth, half = _pen_path(mask)
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = 1 + int(np.argmax(areas))
    for k in (k for k in range(1, count) if k != largest):
        piece = labels == k
        width = depth[piece & skeleton]
        hairline = width.size == 0 or np.percentile(width, 90) <= SCAN_MARK_WIDTH * half
        share = areas[k - 1] / areas.sum()
        dot = max(stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]) <= SPECK_SPAN * half
        if hairline or share < SCAN_MARK_AREA or (dot and share < SPECK_SPAN_AREA):
            marks |= piece
    return marks


def _pen_mask(up: np.ndarray) -> np.ndarray:
    """Where the pen passed in the upsampled digit: darker than PEN_LEVEL, with pieces joined again
    to the largest where fainter ink links them. A one-pixel MNIST stroke dips under the level
    between its diagonal steps once upsampled, and was redrawn as a dotted line (a thin 3 became
    dots); faint specks linked only to each other stay apart, for _scan_marks to judge."""
    mask = up > PEN_LEVEL
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    gaps, links = cv2.connectedComponents((thin(up > BRIDGE_LEVEL) & ~mask).astype(np.uint8), connectivity=8)
    near = [cv2.dilate((links == k).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for k in range(1, gaps)]
    ends = [set(np.unique(labels[n]).tolist()) - {0} for n in near]
    joined = {1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))}
    grown = True
    while grown:
        grown = False
        for k, touched in enumerate(ends):
            if len(touched) >= 2 and touched & joined and not touched <= joined:
                joined |= touched
                mask |= near[k]
                grown = True
    return mask


def _without_scan_marks(mask: np.ndarray) -> np.ndarray:
    """The pen mask with its scan marks erased and cropped to what is left (unchanged when it has
    none, as most digits have)."""
    marks = _scan_marks(mask)
    if not marks.any():
        return mask
    mask = mask & ~marks
    ys, xs = np.nonzero(mask)
    y0, x0 = max(ys.min() - UPSAMPLE, 0), max(xs.min() - UPSAMPLE, 0)
    return mask[y0 : ys.max() + UPSAMPLE + 1, x0 : xs.max() + UPSAMPLE + 1]


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _strokes(mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The pen's path through a digit mask: its skeleton, and the outlines (x, y points) of blots to
    fill, shrunk to where a stroke's middle would run (the pen adds the rest)."""
    skeleton, depth, half = _pen_path(mask)
    ink = mask.astype(np.uint8)
    deep = depth > BLOB_DEPTH * half
    reach = PEN_REACH * half + 1
    off_path = mask & (cv2.distanceTransform((~skeleton).astype(np.uint8), cv2.DIST_L2, 5) > reach)
    if not (deep.any() or off_path.any()):
        return skeleton, []
    # Each core is grown back to the skeleton (no further), so its blot joins the stroke.
    blot = cv2.dilate(deep.astype(np.uint8), _disk(int(np.ceil(BLOB_DEPTH * half))))
    blot |= cv2.dilate(off_path.astype(np.uint8), _disk(int(np.ceil(reach)) + 1))
    blot &= ink
    middle = cv2.erode(blot, _disk(max(1, round(half))))
    contours, _ = cv2.findContours(middle, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return skeleton & ~deep, [c[:, 0, :] for c in contours if len(c) >= 3]


def _trim(alpha: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(alpha > 0.05)
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
