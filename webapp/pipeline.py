"""read_frame: one image in, every digit found, read and grouped out. Pure: no sockets, no files.

Stages (each in its own module, each timed): grayscale, binarise (binarize.py), connected
components and region rules (segment.py), MNIST-style normalisation (binarize.normalize_stroke
+ mnistify), one batched model call, reading-order grouping (grouping.py), drawing (annotate.py).
Splits of touching digits are decided by the model: every candidate split goes into the same
single batch as the whole region, and a split wins only if even its least sure piece is in much
less doubt than the whole region. Regions the model is unsure of get a second, small batch:
on a canvas, two-way splits (digits drawn into each other); on any frame, redrawings with
thinner and thicker strokes, whose readings are averaged with the first. A photo whose polarity
vote says light ink is read twice, as dark ink and as chalk (a shadow can fool the vote; a
blackboard does not), and the reading with more very sure digits is kept.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import cv2
import numpy as np

from webapp import annotate as draw
from webapp import binarize, grouping, segment
from webapp.decode import MAX_BYTES, MAX_PIXELS, ImageError, decode_scaled, image_size
from webapp.mnistify import mnistify
from webapp.recognizer import Recognizer
from webapp.scoring import iou

MODES = ("auto", "camera", "canvas")
PHOTO_SPREAD = binarize.CANVAS_SPREAD  # in auto mode, paper spanning more gray levels than this is a photo (unless
#   binarize.two_levels finds one paper and one pen: binarize.ink_and_paper)
LIGHT_FLATTER = 1.5  # ... and such a photo the polarity vote takes for light ink is read as dark ink unless, read
#   as dark ink, its paper spans at least 1.5x as many levels (generated pages under a shadow: 0.90-1.07x, all
#   dark ink; light-on-dark drawings judged photos: 4.8-5.8x). Auto pages F1 seeds 0-2 0.9611/0.9613/0.9679 ->
#   0.9765/0.9760/0.9701. A light-on-dark photo under uneven light (a shadowed blackboard: 1.1-1.4x) is read
#   as dark ink and then as chalk, as in camera mode (read_frame)
CHALK_VOTE = 1.0  # in camera mode a frame is read as chalk too when the polarity vote leans light at all (not
#   by binarize.POLARITY_MARGIN): generated pages vote 0.01-2.8 (24 of 600 over 1.0, 10 over 1.5), boards 1.09
#   and up (2 of 600 under 1.5). Boards F1 seeds 0-7 the same but 1 0.9829 -> 0.9846 and held-out 4 0.9802 ->
#   0.9835; pages on 8 seeds the same; real-dev photos read inverted: 019 read (26 -> 27 of 32 exact)
CHALK_SURE = 0.95  # of a photo's two readings (dark ink, chalk) the one with more digits read this surely wins,
#   chalk on a tie (_surer): noise read as ink makes digits too, but seldom sure ones (boards F1 seeds 0-2, 5-7, camera
#   mode, keeping the reading with more digits: 0.9767/0.9829/0.9786/0.9745/0.9712/0.9726; more digits at
#   0.95: 0.9814/0.9829/0.9813/0.9789/0.9729/0.9748, and chalk on a tie 0.9814/0.9829/0.9831/0.9785/0.9729/
#   0.9748; more box height or area read: 0.9745/0.9829/0.9776 and 0.9473/0.9186/0.9389; pages the same)
WORK_MAX_SIDE = 1280  # bigger frames are shrunk for processing; boxes are mapped back
SPLIT_DOUBT = 0.5  # a split wins when its least sure piece is in doubt (1 - confidence) half as much as the whole ...
WIDE_ASPECT = 1.25  # ... but for regions wider than this (w/h) ...
WIDE_DOUBT = 4.0  # ... a split may be in up to 4x the whole's doubt
MUST_SPLIT_ASPECT = 2.0  # a region wider than twice its height is read as one digit only when it has no split
#   to offer (every cut leaves a piece with too little ink, MIN_PIECE_INK, or, on a canvas, one too short to be
#   a digit, _not_a_digit: drawings F1 seed 6 0.9827 -> 0.9855, seed 11 0.9849 -> 0.9834, seeds 0-2, 5, 7-10 same)
MIN_PIECE_INK = 0.12  # each piece of a split must hold at least 12% of the region's ink
RETRY_WINDOWS = (segment.SPLIT_WINDOW, 0.5)  # ... at the emptiest column near the middle, and also anywhere
#   from a quarter to three quarters of the width: a 1 drawn into a 0 takes a quarter of the pair (drawings
#   F1 seed 1 0.9843 -> 0.9868, seeds 0, 2 same; 0.42-0.55 the same, 0.6 0.9852; the wide cut alone lost 30s)
RETRY_ASPECT = 0.8  # on a canvas, an unsure region at least this wide (w/h) is tried as two digits drawn
#                     into each other (drawings F1 0.9885 -> 0.9918; 0.65 and 0.7 the same, 0.95 0.9901) ...
RETRY_SURE = 0.9  # ... and so is one read below this, whatever the model's bar: a pair read whole at 0.87
#                   (drawings F1 seed 1 0.9877 -> 0.9885, held-out seed 3 0.9842 -> 0.9849, others same;
#                   0.95 and 0.99 the same; of 300 MNIST pairs drawn into each other 4 more read right, none less)
MORE_CUTS = (0.3, 0.4, 0.5, 0.6, 0.7)  # such a region at least MORE_CUTS_ASPECT wide, and one whose every cut read
MORE_CUTS_ASPECT = 1.0  # below the bar, is also cut at these shares of its width (none within MORE_CUTS_APART of
MORE_CUTS_APART = 0.05  # a cut already tried) ... (_more_cuts)
CARVED_SURE = 0.99  # a region cut out of a bigger mark's strong ink (segment._carve) is a digit only when read
#   this surely: on pages seeds 0-2, 5-7 the carved digits read right were read at 0.992 or more, pieces of
#   sheets' edges at 0.79-0.99 (docs/reader.md, "Digits carved out of a bigger mark")
MORE_CUTS_SURE = 0.97  # ... and such a cut wins only when both its pieces read this surely: more cuts, more ways to
#   cut one odd digit in two (a flat-topped 3 read "7 5"). `digitcam eval-pairs` seeds 0 / 1: pairs drawn into each
#   other 59.4% / 70.7% -> 70.5% / 82.2% read right, touching 95.8% / 91.5% -> 96.3% / 92.5%, apart the same;
#   drawings seeds 0-2, 5-21 pooled 0.9898 -> 0.9897; eval-glyphs the same (98.37%). With no such bar (measured
#   on a first set of 600 pairs): 59.8% -> 73.7% of the pairs drawn into each other, but pairs apart 97.7% ->
#   96.8% and drawings 0.9878 (single digits cut in two). At 0.95: 72.0% / 82.7%, eval-glyphs 98.33%; at 0.99:
#   66.2% / 75.9%, eval-glyphs 98.37%
NECK = 1.0  # ... and so is a sure one pinched to one stroke width at its middle cut, where two digits touch
#             (drawings F1 seed 1 0.9818 -> 0.9843, seeds 0, 2 same; 0.8: 0.9827; 1.2 cost seeds 0 and 2 0.001-0.002)
STEADY_STROKES = (0.8, 1.25)  # an unsure region is read again with strokes this much thinner and thicker
#   than the frame's stroke target, and the three readings averaged (drawings F1 seeds 0-2 0.9918/0.9877/0.9887
#   -> 0.9926/0.9885/0.9896; seeds 5-9: four up, one down a digit; 0.75/1.33 the same; 1.25 alone or 0.8/1.25/1.5 no
#   better, 0.8 alone less). Strokes within binarize.STROKE_TOLERANCE of a target are left as they are, so one
#   of the two is often the first reading again (17 of 25 unsure regions, drawings seeds 0-2). On photos too:
#   pages F1 seeds 0-2 0.9752/0.9756/0.9683 -> 0.9769/0.9760/0.9705, seeds 5-7 0.9741/0.9669/
#   0.9759 -> 0.9741/0.9669/0.9764, held-out seeds 3, 4 0.9791/0.9811 -> 0.9808/0.9825, with TEXT_OTHER_SHARE
#   0.45 (without it a words-only real-dev photo read 6 invented digits); real-dev CER 0.1635 -> 0.1731, one
#   more digit in the capitals of scan 021. STEADY_STROKES (0.6, 0.8) on photos: seed 2 0.9688, seed 7 0.9789,
#   more invented digits
RETRY_MOST = 16  # at most this many unsure regions of a frame are read again (split, cut or steadied), the
#   surest first: a page of words has a hundred unsure letters, and reading them all again tripled the model's
#   work (`bench-pipeline --kind words`: 0.82-0.85 -> 0.41-0.43 s a frame). No generated scene has as many
#   unsure regions: their readings are the same (docs/reader.md, "A page of words")
AGREE_MARGIN = 0.1  # a region whose three readings (STEADY_STROKES) all name one digit needs 0.1 less than the bar: a
#   bold digit the reader thins reads unsure, and often surely with a thicker stroke (a 9 at 0.61, 0.41
#   and 0.999). Drawings seeds 0-2, 5-31 0.9899 -> 0.9902 (11 seeds up, 2 down), fresh 32-51 0.9879 ->
#   0.9883 (7 up, none down); pages 0-7 0.9833 -> 0.9834 (3 up, 3 down); real-dev CER 0.106 -> 0.077.
#   0.2 gained more on scenes but read digits into the words-only photo 030 (docs/reader.md)
BACKDROP = {"edge", "frame", "faint", "cut off", "noise"}  # rejections that are the scene or out of view, not
#   marks on the paper (paper edges, sheet outlines, wood grain and shadows, things cut by the frame): counted,
#   not drawn on the annotated frame, where on a desk photo they hid the page under red boxes
LONE_MARKS = 4  # a frame holding 2-4 marks (not backdrop) in one box no wider than a digit (SPLIT_ASPECT),
LONE_OVERLAP = 0.25  # each sharing this much of the narrower one's columns with another mark, and rows
# touching or overlapping its rows, may be one digit drawn in pieces (a 9 whose head the pen left apart from
# its stem); digits on two lines leave a gap between their rows, however small
PAIR_REACH = 0.3  # on a canvas, a short mark left unread this near (x typical digit height) another mark ...
PAIR_DOUBT = 0.9  # ... read under this or not at all may be a piece of one digit with it (_piece_pairs)
# A word-like group holding nearly as many non-digits (of these kinds, or read unsure) as digits, and two
# or more, is handwriting with letters: its "digits" are letters the model forced into digit classes.
TEXT_LIKE = {"too wide", "scribble", "too small", "blot"}
TEXT_MIN_OTHERS = 2
TEXT_OTHER_SHARE = 0.45  # ... and at least this share of the group's marks (it was 0.5: as many non-digits as
#   digits). Cursive words read as 5 non-digits among 11 marks once photos are steadied (STEADY_STROKES);
#   scenes seeds 0-2, 5-7 the same at 0.45; 0.4 the same except pages seed 6 0.9669 -> 0.9660
TEXT_SHORT = 0.65  # a mark shorter than 65% of its line's tall marks is x-height ...
X_HEIGHT = 0.75  # ... and so is any mark under 75% of the frame's typical digit height: letters without
#                   ascenders, a zigzag's pieces (0.5-0.72 of it; the shortest 0.5% of digits are 0.75)
#                   (none -> 0.75: pages F1 0.952 -> 0.961, false detections on nothing 29 -> 4; 0.85 lost recall)
SPLIT_PIECE_HEIGHT = X_HEIGHT  # on a canvas, a split piece shorter than this (x typical digit height) is a
#   stroke cut off a digit, not one of two digits (drawings F1 seeds 0, 2 0.9910, 0.9835 -> 0.9918, 0.9887,
#   seed 1 same; segment.MIN_HEIGHT's "too small" instead: seed 2 0.9861; 0.85: seed 1 0.9885 -> 0.9901 but
#   held-out seed 3 0.9842 -> 0.9827; pages, read as photos, never meet the rule)
SMALL_NUMBER_SURE = 0.95  # a group of even-height marks, all unsplit regions read at least this surely, is a
#   smaller number (an answer under a sum), not x-height letters: the frame-wide X_HEIGHT rule spares it
#   (scenes seeds 0-2 and real-dev unchanged; 3 of 40 small x-height words then read as numbers: "so" 50
#   twice, "zoo" 200; 0.9 the same)
CONTEXT_SURE = 0.5  # on a canvas, a digit read at least this surely, though under the bar, is kept when it
CONTEXT_DIGITS = 2  # ... stands in a number with this many digits read above the bar ...
CONTEXT_HEIGHT = 0.2  # ... within 20% of their median height, and no mark in it read below CONTEXT_SURE or word-like
#   (drawings F1 seeds 0-2 0.9910/0.9885/0.9939 -> 0.9943/0.9901/0.9948, held-out seeds 3, 4 0.9849/0.9768 ->
#   0.9880/0.9795; 0.4 and 0.6 less; one sure digit: 0.9927/0.9910/0.9939; 30% height the same. On photos it
#   gained pages 0.0002-0.0029 but read invented digits on the words-only real-dev pages, CER 0.16 -> 0.30)
TEXT_SHORT_SHARE = 0.4  # ... and a group where 40% of the marks are is a word ...
NUMBER_RUN = 3  # ... except for 3+ tall digits in a row in it: a number written beside the word
#                 (pages F1 0.9702 -> 0.9719)
TEXT_PAGE_WORDS = 3  # a frame with this many word-like groups (or with TEXT_PAGE_MARKS marks in them: small
TEXT_PAGE_MARKS = 12  # print spaces its words so closely that a line is one group) is a page of text, and there ...
TEXT_PAGE_TALLER = 1.1  # ... a digit no taller than 1.1x the words' marks (their 90th percentile of height) is a
#   letter too: handwritten answers stand taller than the print. On generated worksheets (seed 0) the digits read
#   right stood 1.15-3.1x that height (1st-99th percentile), the letters read as digits 0.68-1.08x. Of 100
#   generated pages (seed 0) none has two word-like groups, nor more than 8 marks in them; drawings and boards none
TALL_REASONS = {"too big"}  # ... and there marks rejected so, up to ...
TALL_ANSWER = 4.0  # ... this many times the letters' height, are judged again with their own height (_tall_answers):
#   worksheets seeds 0-4 recall 0.803 -> 0.904. At 6x the edge of a sticky note (real-dev 030 inverted) read as a 1
SAME_DIGIT = 0.5  # (an answer read so that overlaps an accepted digit this much (IoU) is that digit, carved out of it)
FAINT_HALO = 0.1  # ... where, once the print is read, the rest of the ink is read alone, the print's
#   soft edges taken out with it this far round (x typical digit height) (_faint_answers)
FAINT_WRITING = 0.5  # ... and its digits are kept only when they are at least half of what it holds: pencil
#   answers are, the grain of a desk round the sheet and a fold's shading are not
PRINT_CHECK = 4  # a frame with this many unsure regions is judged a page of text or not before they are
#   read again, and on one those no taller than the print are not (_not_print): worksheets read in half the
#   time (bench-pipeline --kind worksheets: 190-213 -> 91-95 ms). Generated pages have 0-5 unsure regions
#   (median 0, 90th percentile 3)
PLAIN_SURE = 0.99  # a group of 2+ digits, every one read at least this surely ...
PLAIN_LETTER = 0.02  # ... and scored below this by the letter detector is not judged by its marks'
#   heights (x-height pieces of a split digit sank numbers as words): pages F1 seed 1 .9760 -> .9773, the
#   other scene seeds and real-dev unchanged. Sparing such groups from the non-digit share too gained
#   pages seeds 0 and 6 (.9785, .9677) but would keep a word whose "ll" reads as a plain 11; at 0.95
#   and 0.05, or 0.98 and 0.01, the words-only real-dev 030 read "99" (CER .1058 -> .125)
LETTER_CONTEXT = 1  # a region the letter detector calls a letter is still a digit in a number of at least
#   this many other digits, all read surely and no letter ...
LETTER_CONTEXT_DOUBT = 0.5  # ... to the detector, which scores each below this. With no such exception real-dev
#   013 lost a 4 shaped like an "A"; asking for 2 such digits, a number lost every digit with its one doubted
#   mark (drawings seed 8 0.9862 -> 0.9836, boards seeds 1, 7 0.9846/0.9748 -> 0.9829/0.9739); with 1, the
#   scenes of seeds 0-2 and 5-7 (drawings 0-2, 5-11) read as without the detector but for 3 digits (docs/model.md)


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


class _Clock:
    """Milliseconds per stage: each lap charges the time since the previous lap to one stage."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + 1000 * (now - self._last)
        self._last = now

    def total(self) -> dict[str, float]:
        self.timings["total"] = sum(v for k, v in self.timings.items() if k != "total")
        return self.timings


@dataclass
class Crop:
    region: int  # index into the regions list
    box: tuple[int, int, int, int]  # working pixels
    image: np.ndarray  # 28x28 model input


def _binarize(gray: np.ndarray, mode: str, chalk: bool = False
              ) -> tuple[np.ndarray, np.ndarray, bool, segment.Components, bool]:
    """Ink map, binary mask, whether the frame is a photo (camera mode, or uneven paper in auto),
    its components, and whether it was voted light-on-dark but read as dark ink (`doubted`).

    A photo is read as dark ink first, even when the polarity vote (light_on_dark) says light:
    a shadow's lit edge beside a dark desk can outvote thin pencil strokes. Such a frame is
    then read again as light ink (read_frame), unless, in auto mode, light ink makes its paper
    much flatter (LIGHT_FLATTER): taking a light-on-dark drawing's strokes for paper makes that
    paper far from flat. A photo read as light ink is measured as chalk against its board's local
    level (binarize.chalk_map); `chalk` asks for that reading (the second one of a doubted photo).
    """
    if chalk:
        ink, photo, doubted = binarize.chalk_map(gray), True, False
    else:
        if mode == "camera":  # the vote only decides whether to read the frame as chalk too
            voted = binarize.light_on_dark(gray, coarse=True, margin=CHALK_VOTE)
        else:
            voted = binarize.light_on_dark(gray)
        canvas = {"canvas": True, "auto": None, "camera": False}[mode]
        ink, bg, on_canvas = binarize.ink_and_paper(gray, light_ink=voted and mode != "camera", canvas=canvas)
        photo = not on_canvas
        spread = binarize.paper_spread(bg) if mode == "auto" and photo else 0
        doubted = mode == "camera" and voted
        if mode == "auto" and photo and voted:
            dark_bg = binarize.background(gray)
            dark_spread = binarize.paper_spread(dark_bg)
            if dark_spread < LIGHT_FLATTER * spread:
                ink, photo, doubted = binarize.ink_from_background(gray, dark_bg), dark_spread > PHOTO_SPREAD, True
            else:
                ink = binarize.chalk_map(gray, bg)
    mask, labels, stats = binarize.threshold_ink_labelled(ink)
    return ink, mask, photo, segment.Components(labels, stats), doubted


@dataclass
class _Frame:
    """What stages 2-4 found in one frame (working pixels)."""

    ink: np.ndarray
    mask: np.ndarray
    ruled: np.ndarray  # ink removed as ruled or grid lines
    comps: segment.Components
    regions: list[segment.Region]
    digit_h: float  # typical digit height, 0 when unknown
    photo: bool
    doubted: bool = False  # voted light-on-dark but read as dark ink, to be read as chalk too (_binarize)

    @property
    def stroke_target(self) -> float:
        return binarize.MNIST_STROKE_ALL_INK if self.photo else binarize.MNIST_STROKE


def digit_input(ink: np.ndarray, mask: np.ndarray, width: float | None = None,
                target: float = binarize.MNIST_STROKE) -> np.ndarray:
    """One digit's ink crop and mask -> the model's 28x28 input (stroke width, then MNIST geometry)."""
    masked = cv2.bitwise_and(ink, mask)
    return mnistify(binarize.normalize_stroke(masked, mask, target=target, width=width))


def _crops_for(index: int, region: segment.Region, frame: _Frame) -> list[list[Crop]]:
    """The whole region, then each candidate split: a list of options, each a list of crops."""
    rmask = segment.region_mask(frame.comps, region)
    whole = _whole_crop(index, region, frame, rmask, frame.stroke_target)
    return [[whole]] + _split_crops(index, region, frame, region.splits, rmask)


def _whole_crop(index: int, region: segment.Region, frame: _Frame, rmask: np.ndarray, target: float) -> Crop:
    """The region read as one digit, its strokes brought to `target` width (`rmask`: its region_mask)."""
    x, y, w, h = region.box
    return Crop(index, region.box, digit_input(frame.ink[y : y + h, x : x + w], rmask, region.stroke or None, target))


def _split_crops(index: int, region: segment.Region, frame: _Frame, splits: list[list[tuple[int, int]]],
                 rmask: np.ndarray) -> list[list[Crop]]:
    """The crops of each split (column ranges of the region; `rmask`: its region_mask); splits leaving
    a piece nearly empty are skipped, and so are those leaving one too short to be a digit
    (_not_a_digit), even in a region too wide to read whole: a 2 with a long tail is one
    wide digit, and its halves are shorter than digits."""
    x, y, w, h = region.box
    rink = frame.ink[y : y + h, x : x + w]
    target = frame.stroke_target
    options = []
    total = max(int(np.count_nonzero(rmask)), 1)
    for cuts in splits:
        pieces = []
        for a, b in cuts:
            piece = rmask[:, a:b]
            rows = np.flatnonzero(piece.any(axis=1))
            if np.count_nonzero(piece) < MIN_PIECE_INK * total or len(rows) == 0:
                break
            r0, r1 = rows[0], rows[-1] + 1
            if _not_a_digit(int(r1 - r0), frame):
                break
            img = digit_input(rink[r0:r1, a:b], piece[r0:r1], region.stroke or None, target)
            pieces.append(Crop(index, (x + a, y + int(r0), b - a, int(r1 - r0)), img))
        else:
            options.append(pieces)
    return options


def retry_candidates(frame: _Frame, options: dict[int, list[list[int]]]
                     ) -> Iterator[tuple[int, segment.Region, np.ndarray, list[list[tuple[int, int]]]]]:
    """The canvas regions _retry_splits may cut in two, each with its region_mask and two-way cuts.

    Regions left with no split to weigh (none offered, or every one refused) and from
    RETRY_ASPECT to MUST_SPLIT_ASPECT wide: a wider one had its splits weighed already, and any
    cut of it would be forced (_choose). The cuts are the middle one and one searched wider
    (RETRY_WINDOWS), for a narrow digit (a 1) touching a broad one. None on photos.
    """
    if frame.photo:
        return
    for i, opts in options.items():
        region = frame.regions[i]
        if len(opts) > 1 or not RETRY_ASPECT <= region.aspect <= MUST_SPLIT_ASPECT:
            continue
        rmask = segment.region_mask(frame.comps, region)
        splits = [c for c in (segment.split_candidates(rmask, 2, w) for w in RETRY_WINDOWS) if c]
        yield i, region, rmask, [c for k, c in enumerate(splits) if c not in splits[:k]]


def _retry_splits(frame: _Frame, crops: list[Crop], options: dict[int, list[list[int]]],
                  conf: np.ndarray, sure: float) -> tuple[list[Crop], set[int]]:
    """Crops of two-way splits for regions left without one (retry_candidates) that may be two digits,
    and of _more_cuts; with the first crop index of each option of _more_cuts (held to MORE_CUTS_SURE).

    Digits drawn into each other on a canvas overlap, so the pair is no wider than one broad
    digit; read whole, it is mostly a poor guess, and sometimes a sure wrong one (a 1 in
    front of a 7 reads as a 7): so regions read below RETRY_SURE are cut, and surer ones pinched to a single
    stroke at the cut, as two touching digits are (a 0, an 8 or a 9 has two strokes there).
    Only those (rare) regions are cut, after the first model call, so the common frame pays
    nothing. Their options are added to `options` in place.
    Photos are left alone: there an unsure region is far more often one blurred or bold digit,
    whose halves can look like two (pages F1 0.968 -> 0.966 when photos were retried too).
    """
    extra: list[Crop] = []
    retries = []
    for i, region, rmask, splits in list(retry_candidates(frame, options)):  # listed before options grow
        if conf[options[i][0][0]] < max(sure, RETRY_SURE) or any(_neck(rmask, c[0][1], region.stroke) for c in splits):
            retries.append((i, region, rmask, splits))
    retries += list(_deeper_splits(frame, crops, options, conf, sure))
    more = list(_more_cuts(frame, crops, options, conf, sure, retries))
    strict: set[int] = set()
    for n, (i, region, rmask, splits) in enumerate(retries + more):
        for option in _split_crops(i, region, frame, splits, rmask):
            first = len(crops) + len(extra)
            options[i].append(list(range(first, first + len(option))))
            if n >= len(retries):
                strict.add(first)
            extra.extend(option)
    return extra, strict


def _more_cuts(frame: _Frame, crops: list[Crop], options: dict[int, list[list[int]]], conf: np.ndarray, sure: float,
               retries: list) -> Iterator[tuple[int, segment.Region, np.ndarray, list[list[tuple[int, int]]]]]:
    """Two-way cuts at MORE_CUTS shares of the width of regions at least MORE_CUTS_ASPECT wide that are
    cut again now (`retries`, canvas only) or whose every reading, whole or split, was below the bar.

    A cut at the emptiest column suits digits that touch; two drawn into each other share columns,
    and the emptiest one can lie inside either digit's loop. Photos too: there only regions wide
    enough to have been offered splits qualify (pages seeds 0-2, 5-7 pooled 0.9808 -> 0.9813, none
    lower, touching pages 0.9479 -> 0.9527; held-out 3, 4 and seeds 12-21 0.9814 -> 0.9816, none
    lower; boards and real-dev the same)."""
    retried = {i: splits for i, _, _, splits in retries}
    for i, opts in options.items():
        region = frame.regions[i]
        if region.aspect < MORE_CUTS_ASPECT:  # most regions, so before the options are looked at
            continue
        scored = [o for o in opts if max(o) < len(conf)]  # not the splits retried just now
        offered = [o for o in scored[1:] if len(o) == 2]
        unsure = bool(offered) and max(float(conf[o].min()) for o in scored) < sure
        if not (i in retried or unsure):
            continue
        w = region.box[2]
        have = {c[0][1] for c in retried.get(i, []) if len(c) == 2}
        have |= {crops[o[1]].box[0] - region.box[0] for o in offered}
        cuts = [c for c in sorted({round(f * w) for f in MORE_CUTS}) if all(abs(c - h) > MORE_CUTS_APART * w for h in have)]
        if cuts:
            yield i, region, segment.region_mask(frame.comps, region), [[(0, c), (c, w)] for c in cuts]


def _deeper_splits(frame: _Frame, crops: list[Crop], options: dict[int, list[list[int]]], conf: np.ndarray,
                   sure: float) -> Iterator[tuple[int, segment.Region, np.ndarray, list[list[tuple[int, int]]]]]:
    """Two-piece splits of canvas regions read unsure whole, whose one unsure piece is at least
    RETRY_ASPECT wide, with that piece cut in two again.

    Cuts are searched near even shares of the region, so three touching digits of unequal widths
    ("886", the 6 broad) are cut well in two places only by chance; a good first cut leaves a
    piece that is itself a pair drawn into each other, read unsure. Rare, and only those regions pay.
    """
    if frame.photo:
        return
    for i, opts in options.items():
        region = frame.regions[i]
        if conf[opts[0][0]] >= sure:
            continue
        x = region.box[0]
        rmask = None
        deeper = []
        for option in opts[1:]:
            unsure = [k for k in option if conf[k] < sure]
            if len(unsure) != 1 or len(option) > 2:
                continue
            cuts = [(crops[k].box[0] - x, crops[k].box[0] - x + crops[k].box[2]) for k in option]
            k = unsure[0]
            if crops[k].box[2] < RETRY_ASPECT * crops[k].box[3]:
                continue
            rmask = segment.region_mask(frame.comps, region) if rmask is None else rmask
            j = option.index(k)
            a, b = cuts[j]
            for window in RETRY_WINDOWS:
                halves = segment.split_candidates(rmask[:, a:b], 2, window)
                new = cuts[:j] + [(a + c, a + d) for c, d in halves] + cuts[j + 1:]
                if halves and new not in deeper and new not in region.splits:
                    deeper.append(new)
        if deeper:
            yield i, region, rmask, deeper


def _retried(options: dict[int, list[list[int]]], conf: np.ndarray, sure: float) -> dict[int, list[list[int]]]:
    """The regions that may be read again (split, cut or steadied): all of them, unless more than
    RETRY_MOST are unsure (every option read below `sure`), when the unsure ones but the RETRY_MOST
    surest are left out. Most frames have a few unsure regions; a page of words, a hundred."""
    best = {i: max(float(conf[o].min()) for o in opts) for i, opts in options.items()}
    unsure = [i for i in options if best[i] < sure]
    if len(unsure) <= RETRY_MOST:
        return options
    left_out = set(sorted(unsure, key=lambda i: -best[i])[RETRY_MOST:])
    return {i: opts for i, opts in options.items() if i not in left_out}


def _not_print(frame: _Frame, crops: list[Crop], options: dict[int, list[list[int]]],
               retried: dict[int, list[list[int]]], conf: np.ndarray, sure: float,
               letter_scores: np.ndarray | None) -> dict[int, list[list[int]]]:
    """`retried` (the regions to read again) but for those no taller than the print, when the first
    reading of all the regions (`options`) already shows a page of text (_page_of_text): whatever they
    read again as, they would be dropped as print-sized (TEXT_PAGE_TALLER). A worksheet had up to a
    hundred crops read again for nothing. The page is judged on every region, not only on those to be
    read again: a page of words keeps only its RETRY_MOST surest unsure letters there, too few to show
    its words."""
    letter_h = _page_of_text(frame, crops, options, conf, sure, letter_scores)
    if not letter_h:
        return retried
    return {i: opts for i, opts in retried.items() if frame.regions[i].box[3] >= TEXT_PAGE_TALLER * letter_h}


def _page_of_text(frame: _Frame, crops: list[Crop], options: dict[int, list[list[int]]], conf: np.ndarray,
                  sure: float, letter_scores: np.ndarray | None) -> float:
    """The print's letter height when a reading (`conf`) of a frame's regions shows a page of text
    (_decide), else 0. Judging costs about 0.8 ms, more than reading a few regions again, so frames
    with fewer than PRINT_CHECK unsure regions are not judged."""
    unsure = sum(max(float(conf[o].min()) for o in opts) < sure for opts in options.values())
    if unsure < PRINT_CHECK:
        return 0.0
    page = _TextPage()
    _decide(frame.regions, crops, options, conf, sure, frame.digit_h, canvas=not frame.photo,
            letter_scores=letter_scores, page=page)
    return page.letter_h


def _steady_crops(frame: _Frame, options: dict[int, list[list[int]]], conf: np.ndarray,
                  first: int, sure: float) -> tuple[list[Crop], dict[int, list[int]]]:
    """Each unsure region drawn again with thinner and thicker strokes, to average its readings.

    How wide a stroke should reach the model is an estimate (binarize.normalize_stroke), and a
    digit the model is unsure of is often one it reads surely at another width; the mean
    of the three readings is steadier than any one. Returns the crops (their indices counted
    from `first`) and, for each whole region's crop index, the indices of its variants.
    Only the rare unsure regions are read again, so the common frame pays nothing.
    """
    extra: list[Crop] = []
    variants: dict[int, list[int]] = {}
    for i, opts in options.items():
        k = opts[0][0]
        if conf[k] >= sure:
            continue
        region = frame.regions[i]
        rmask = segment.region_mask(frame.comps, region)
        variants[k] = list(range(first + len(extra), first + len(extra) + len(STEADY_STROKES)))
        extra += [_whole_crop(i, region, frame, rmask, frame.stroke_target * f) for f in STEADY_STROKES]
    return extra, variants


def _not_a_digit(h: int, frame: _Frame) -> bool:
    """Whether a piece of a split, `h` pixels tall, is too short to be one of two digits.

    Only on a canvas: in photos the short pieces of a cursive word, read unsure, are what mark
    it as text (real-dev CER 0.29 -> 0.34 when photos had the rule too).
    """
    return not frame.photo and h < SPLIT_PIECE_HEIGHT * frame.digit_h


def _neck(mask: np.ndarray, cut: int, stroke: float) -> bool:
    """Whether the mask is pinched to one stroke at column `cut`: where two digits touch."""
    lo, hi = max(0, cut - 2), min(mask.shape[1], cut + 3)  # the cut and two columns either side
    ink = np.count_nonzero(mask[:, lo:hi], axis=0)
    return bool(ink.min() <= NECK * stroke)


def _choose(options: list[list[int]], conf: np.ndarray, aspect: float) -> list[int]:
    """Pick whole vs a split by the least sure crop of each option, weighing how wide the region is.

    Only 2% of single handwritten digits are wider than 1.25x their height, while two touching
    digits almost always are; so past that width a split needs only to be nearly as sure as
    the whole, and below it a split must be much surer.
    """
    scores = [float(conf[idx].min()) for idx in options]
    best_split = max(range(1, len(options)), key=lambda k: scores[k], default=None)
    if best_split is None:
        return options[0]
    doubt_whole, doubt_split = 1 - scores[0], 1 - scores[best_split]
    ratio = WIDE_DOUBT if aspect > WIDE_ASPECT else SPLIT_DOUBT
    if aspect > MUST_SPLIT_ASPECT or doubt_split < ratio * doubt_whole:
        return options[best_split]
    return options[0]


def _in_text_lines(digit_boxes: list, other_boxes: list, digit_h: float = 0.0,
                   sure: list[bool] | None = None, plain: list[bool] | None = None) -> set[int]:
    """Indices of "digits" that are letters: of words (_text_groups), or print-sized on a page of text."""
    in_words, printed, _ = _text_groups(digit_boxes, other_boxes, digit_h, sure, plain)
    return in_words | printed


def _text_groups(digit_boxes: list, other_boxes: list, digit_h: float = 0.0, sure: list[bool] | None = None,
                 plain: list[bool] | None = None) -> tuple[set[int], set[int], float]:
    """Indices of "digits" that are letters of words, judged by the word they stand in; and of the
    others, those no taller than the words' letters on a page of text (TEXT_PAGE_WORDS, TEXT_PAGE_MARKS);
    and the height of those letters (0 when the frame is no page of text).

    Marks are grouped as numbers would be (lines, split at wide gaps). A group is a word, not
    a number, when it holds nearly as many non-digits as digits (TEXT_OTHER_SHARE), or when many of its marks
    are short: digits all reach full height, while words mix x-height letters (a, e, n, o)
    with tall ones. A word of x-height letters only (or a zigzag cut into pieces) has no tall
    mark of its own, so marks are also short against the frame's typical digit height
    `digit_h` (0 when unknown) -- unless the group looks like a smaller number: marks of even
    height, each a whole region the model is `sure` of (a zigzag's pieces are cut from one
    stroke; x-height letters are seldom all sure). Judging each group alone keeps a word beside
    a number from sinking it. A group of two or more digits, all `plain` (read very surely, and
    not letter-like to the letter detector), is not judged by its marks' heights.
    On a page of text a printed "l" is a plain 1 and an "o" a plain 0, and a word's letters may
    stand apart as numbers do; but handwritten answers stand taller than the print.
    """
    boxes = digit_boxes + other_boxes
    n = len(digit_boxes)
    found: set[int] = set()
    word_heights: list[np.ndarray] = []  # the marks' heights of each word-like group
    for group in (number for line in grouping.group(boxes) for number in line):
        digits = [i for i in group if i < n]
        others = len(group) - len(digits)
        heights = np.array([boxes[i][3] for i in group], float)
        own = TEXT_SHORT * _percentile(heights, 80)
        small_number = (not others and len(digits) >= 2 and sure is not None and all(sure[i] for i in digits)
                        and heights.min() >= own)
        short_below = own if small_number else max(own, X_HEIGHT * digit_h)
        short = int(np.count_nonzero(heights < short_below))
        wordy = others >= TEXT_MIN_OTHERS and others >= TEXT_OTHER_SHARE * len(group)
        plain_number = len(digits) >= 2 and plain is not None and all(plain[i] for i in digits)
        if wordy or (not plain_number and short >= TEXT_MIN_OTHERS and short >= TEXT_SHORT_SHARE * len(group)):
            found.update(set(digits) - _number_beside_word(group, n, heights >= short_below))
            word_heights.append(heights)
    if len(word_heights) < TEXT_PAGE_WORDS and sum(len(h) for h in word_heights) < TEXT_PAGE_MARKS:
        return found, set(), 0.0
    letter_h = _percentile(np.concatenate(word_heights), 90)
    return found, {i for i in range(n) if i not in found and digit_boxes[i][3] < TEXT_PAGE_TALLER * letter_h}, letter_h


def _vouched_for(chosen: list[int], crops: list[Crop], conf: np.ndarray, sure: float,
                 wordy: list[tuple[int, int, int, int]]) -> list[int]:
    """The chosen crops read under `sure` but at least CONTEXT_SURE that stand in a number of
    CONTEXT_DIGITS or more sure digits of their own height, with no mark in it that is `wordy`
    (rejected as word-like) or read below CONTEXT_SURE.

    A drawn digit the model doubts is most often an odd but real digit when sure digits of its
    size sit beside it in one number; letters come in words, whose other marks are unsure too.
    """
    maybe = [k for k in chosen if CONTEXT_SURE <= conf[k] < sure]
    kept = [k for k in chosen if conf[k] >= sure]
    if not maybe or len(kept) < CONTEXT_DIGITS:
        return []
    marks = kept + maybe
    boxes = [crops[k].box for k in marks] + wordy + [crops[k].box for k in chosen if conf[k] < CONTEXT_SURE]
    rescued = []
    for number in (n for line in grouping.group(boxes) for n in line):
        if any(i >= len(marks) for i in number):
            continue
        sure_h = [boxes[i][3] for i in number if i < len(kept)]
        if len(sure_h) < CONTEXT_DIGITS:
            continue
        mid = float(np.median(sure_h))
        rescued += [marks[i] for i in number if i >= len(kept) and abs(boxes[i][3] - mid) <= CONTEXT_HEIGHT * mid]
    return rescued


def _percentile(values: np.ndarray, q: float) -> float:
    """np.percentile's default (linear) for a handful of values, without its ~40 us of overhead."""
    ordered = sorted(values.tolist())
    pos = q / 100 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _number_beside_word(group: list[int], n: int, tall: np.ndarray) -> set[int]:
    """Digits of a word-like group that are a number written next to the word, not letters.

    A run of NUMBER_RUN or more tall digit marks in a row, where words seldom have more than
    two tall letters in a row (the ll of hello); the group is in reading order.
    """
    kept: set[int] = set()
    run: list[int] = []
    for i, is_tall in zip(list(group) + [-1], list(tall) + [False]):
        if is_tall and 0 <= i < n:
            run.append(i)
            continue
        if len(run) >= NUMBER_RUN:
            kept.update(run)
        run = []
    return kept


def _reading_order(digits: list[Digit]) -> tuple[list[Digit], list[str]]:
    """Digits sorted line by line, left to right, and the lines as text."""
    lines = grouping.group([d.box for d in digits])
    order = [i for line in lines for number in line for i in number]
    remap = {old: new for new, old in enumerate(order)}
    lines = [[[remap[i] for i in number] for number in line] for line in lines]
    digits = [digits[i] for i in order]
    return digits, grouping.line_strings(lines, [str(d.label) for d in digits])


def work_gray(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The frame in gray, shrunk to WORK_MAX_SIDE at most, and the scale it was shrunk by.

    A 12-megapixel phone photo holds nothing at full size that its digits need, and would cost
    tens of milliseconds in every stage.
    """
    gray = binarize.to_gray(image)
    scale = min(1.0, WORK_MAX_SIDE / max(gray.shape))
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray, scale


def _to_input(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    if scale == 1.0:
        return box
    x, y, w, h = box
    return (round(x / scale), round(y / scale), max(1, round(w / scale)), max(1, round(h / scale)))


def _segment(gray: np.ndarray, mode: str, clock: _Clock, chalk: bool = False, ink: np.ndarray | None = None) -> _Frame:
    """Stages 2-4: ink map, mask, rule removal, components and regions (`chalk`: see _binarize); a
    given photo's `ink` map (_faint_answers) is thresholded as it is."""
    if ink is None:
        ink, mask, photo, comps, doubted = _binarize(gray, mode, chalk)
    else:
        mask, labels, stats = binarize.threshold_ink_labelled(ink)
        photo, comps, doubted = True, segment.Components(labels, stats), False
    clock.lap("binarize")
    ruled = np.zeros_like(mask)
    if mode != "canvas":  # rule removal needs the digit size, so it follows a first labelling
        # Rules are looked for in all faint ink, where they run unbroken; the mask holds only the
        # pieces that its hysteresis grew out of the digits sitting on them.
        faint = cv2.threshold(ink, binarize.LOW_MIN * 255, 255, cv2.THRESH_BINARY)[1]
        digit_h = segment.estimate_digit_height(comps, mask.shape, fallback=False)
        mask, ruled = binarize.remove_lines(mask, digit_h, faint)
        if ruled.any():
            comps, digit_h = segment.components(mask), 0.0  # other components: estimate again
    else:
        digit_h = 0.0
    clock.lap("components")
    regions, comps, digit_h = segment.find_regions(mask, comps, ink, photo=photo, ruled=ruled if ruled.any() else None,
                                                   digit_h=digit_h)
    clock.lap("regions")
    return _Frame(ink, mask, ruled, comps, regions, digit_h, photo, doubted)


def _normalize(frame: _Frame) -> tuple[list[Crop], dict[int, list[list[int]]]]:
    """Stage 5: every candidate's crops (whole and split), with each region's options as crop indices."""
    return _crops_of({i: r for i, r in enumerate(frame.regions) if r.reason is None}, frame)


def _crops_of(regions: dict[int, segment.Region], frame: _Frame, first: int = 0
              ) -> tuple[list[Crop], dict[int, list[list[int]]]]:
    """The crops of `regions` (by index in the frame), whole and split, and each one's options as
    crop indices counted from `first`."""
    crops: list[Crop] = []
    options: dict[int, list[list[int]]] = {}
    for i, region in regions.items():
        options[i] = []
        for option in _crops_for(i, region, frame):
            options[i].append(list(range(first + len(crops), first + len(crops) + len(option))))
            crops.extend(option)
    return crops, options


def _decide(regions: list[segment.Region], crops: list[Crop], options: dict[int, list[list[int]]],
            conf: np.ndarray, sure: float, digit_h: float = 0.0, canvas: bool = False,
            letter_scores: np.ndarray | None = None, agreed: set[int] = frozenset(),
            page: "_TextPage | None" = None) -> tuple[list[int], list[tuple[int, int, int, int]]]:
    """Choose whole or split per region, then drop crops read less surely than `sure` (AGREE_MARGIN
    less for those `agreed` at three stroke widths; on a `canvas`, unless sure digits vouch for
    them: _vouched_for) and letters in text lines. With the model's
    `letter_scores`, numbers whose digits are all read at PLAIN_SURE and scored below PLAIN_LETTER
    are not judged by their heights; without a letter detector, no number is spared so.

    Returns the accepted crop indices and the boxes of everything rejected (working pixels). Crops
    no taller than the print on a page of text (_text_groups) are rejected too, unless a `page` is
    given: then they stay accepted and are listed in it, for the caller to drop last.
    """
    chosen = [k for i, opts in options.items() for k in _choose(opts, conf, regions[i].aspect)]
    wordy = [r.box for r in regions if r.reason in TEXT_LIKE]
    kept = {k for k in chosen if (conf[k] >= sure or (k in agreed and conf[k] >= sure - AGREE_MARGIN))
            and (conf[k] >= CARVED_SURE or not regions[crops[k].region].carved)}
    if canvas:
        kept.update(_vouched_for(chosen, crops, conf, sure, wordy))
    unsure = [crops[k].box for k in chosen if k not in kept]
    wordy += _doubted_marks(chosen, kept, crops) if canvas else unsure
    chosen = [k for k in chosen if k in kept]
    whole = {opts[0][0] for opts in options.values() if opts and len(opts[0]) == 1}  # crops of unsplit regions
    plain = (None if letter_scores is None else
             [conf[k] >= PLAIN_SURE and letter_scores[k] < PLAIN_LETTER for k in chosen])
    in_text, print_sized, letter_h = _text_groups([crops[k].box for k in chosen], wordy, digit_h,
                                                  [conf[k] >= SMALL_NUMBER_SURE and k in whole for k in chosen], plain)
    if page is None:
        in_text |= print_sized
    else:
        page.letter_h, page.printed = letter_h, [chosen[j] for j in sorted(print_sized)]
    # Paper edges, desks and frames are counted but listed last, so drawings can leave them out.
    regions = sorted((r for r in regions if r.reason), key=lambda r: r.reason in BACKDROP)
    rejected = unsure + [crops[k].box for j, k in enumerate(chosen) if j in in_text] + [r.box for r in regions]
    return [k for j, k in enumerate(chosen) if j not in in_text], rejected


def _doubted_marks(chosen: list[int], kept: set[int], crops: list[Crop]) -> list[tuple[int, int, int, int]]:
    """Boxes of the chosen crops read below the bar, as marks for the text rules (_in_text_lines), with
    neighbouring doubted pieces of one split region joined into one mark: on a canvas that is a pair
    drawn into each other and read poorly, not two letters that would make its line a word and cost
    the line's sure digits. (Pieces of a region are listed side by side in `chosen`.)"""
    marks: list[list[tuple[int, int, int, int]]] = []
    last = None  # the region of the previous crop, when it was doubted
    for k in chosen:
        if k in kept:
            last = None
            continue
        if crops[k].region == last:
            marks[-1].append(crops[k].box)
        else:
            marks.append([crops[k].box])
        last = crops[k].region
    return [segment.union_boxes(np.array(boxes)) for boxes in marks]


@dataclass
class _TextPage:
    """What _decide learnt of a page of text: its letters' height (0 when the frame is none) and the
    accepted crops no taller than them (_text_groups)."""

    letter_h: float = 0.0
    printed: list[int] = field(default_factory=list)


class _Pass(NamedTuple):
    """One reading of a frame's regions: crops, model inputs, (steadied) probabilities, the
    accepted crops' indices and the rejected boxes (working pixels)."""

    crops: list[Crop]
    batch: np.ndarray
    probs: np.ndarray
    chosen: list[int]
    rejected: list[tuple[int, int, int, int]]
    printed: tuple[int, ...] = ()  # accepted crops no taller than the print on a page of text (_decide), dropped last
    letter_h: float = 0.0  # the print's letter height on a page of text, else 0 (_TextPage)

    def answer_heights(self) -> tuple[float, float]:
        """How tall a handwritten answer stands on a page of text: TEXT_PAGE_TALLER to TALL_ANSWER
        times its letters' height (_tall_answers, _faint_answers)."""
        return TEXT_PAGE_TALLER * self.letter_h, TALL_ANSWER * self.letter_h

    def very_sure(self) -> int:
        """Accepted digits read at CHALK_SURE or more."""
        return sum(float(self.probs[k].max()) >= CHALK_SURE for k in self.chosen)

    def without_printed(self) -> "_Pass":
        """The pass with its print-sized digits moved to the front of the rejected boxes. Done once a
        photo's two readings are weighed (_read_doubted), whose choice it would otherwise sway."""
        if not self.printed:
            return self
        gone = set(self.printed)
        return self._replace(chosen=[k for k in self.chosen if k not in gone], printed=(),
                             rejected=[self.crops[k].box for k in self.chosen if k in gone] + self.rejected)


def _letter_regions(options: dict[int, list[list[int]]], letter_scores: np.ndarray, bar: float) -> set[int]:
    """Regions the model's letter detector calls letters: the whole crop and a piece of every split
    first offered scored at `bar` or more. A region with a split whose pieces all score below the bar
    may be digits run together (a "14" can look like an "H"): it is not one."""
    return {i for i, opts in options.items() if all(max(letter_scores[k] for k in o) >= bar for o in opts)}


def _without_letters(chosen: list[int], rejected: list[tuple[int, int, int, int]], crops: list[Crop],
                     letter_regions: set[int], conf: np.ndarray, sure: float,
                     letter_scores: np.ndarray) -> tuple[list[int], list[tuple[int, int, int, int]]]:
    """Move the accepted crops of letter regions (_letter_regions), and of every number they stand in
    (the rest of a word), to the front of the rejected boxes (paper edges stay last, undrawn);
    unless the letter stands alone among digits: in a number with LETTER_CONTEXT other digits, all
    read at `sure` or more and scored below LETTER_CONTEXT_DOUBT by the detector (a 4 closed at the
    top looks like an "A", but not in "345678").

    Done after every other choice, so the detector only ever takes digits away: a word's letters
    still count as marks for the text rules (_in_text_lines) as they did before it, and an "n"
    still cannot come back cut in two as "11"."""
    lettered = [crops[k].region in letter_regions for k in chosen]
    if not any(lettered):
        return chosen, rejected
    gone: set[int] = set()
    for number in (n for line in grouping.group([crops[k].box for k in chosen]) for n in line):
        marks = {crops[chosen[j]].region for j in number if lettered[j]}
        others = [chosen[j] for j in number if not lettered[j]]
        if len(marks) > 1 or (marks and not _sure_company(others, conf, letter_scores, sure)):
            gone.update(number)
    return ([k for j, k in enumerate(chosen) if j not in gone],
            [crops[chosen[j]].box for j in sorted(gone)] + rejected)


def _sure_company(others: list[int], conf: np.ndarray, letter_scores: np.ndarray, sure: float) -> bool:
    """Whether crops `others`, the rest of a letter-like mark's number, vouch for it as a digit: at
    least LETTER_CONTEXT of them, all read at `sure` or more and scored below LETTER_CONTEXT_DOUBT
    by the letter detector (a 4 closed at the top looks like an "A", but not in "345678")."""
    return len(others) >= LETTER_CONTEXT and all(conf[k] >= sure and letter_scores[k] < LETTER_CONTEXT_DOUBT
                                                 for k in others)


def _surer(chalk: _Pass, dark: _Pass) -> bool:
    """Whether a photo's chalk reading beats its dark-ink one: more digits read at CHALK_SURE or more,
    chalk on a tie, unless neither has any, when more digits at all (dark on a tie) win."""
    a, b = chalk.very_sure(), dark.very_sure()
    return a > b or a == b > 0 or (a == b == 0 and len(chalk.chosen) > len(dark.chosen))


class _Look(NamedTuple):
    """A frame's crops (stage 5) and the first model call's reading of them (Recognizer.first_reading;
    None when there are no crops), taken before its full reading (_classify), which extends its
    crops and options: one look serves one reading."""

    crops: list[Crop]
    options: dict[int, list[list[int]]]
    batch: np.ndarray
    first: list[np.ndarray] | None


def _look(frame: _Frame, recognizer: Recognizer, clock: _Clock) -> _Look:
    """Stage 5 and the first model call of stage 6."""
    crops, options = _normalize(frame)
    batch = np.stack([c.image for c in crops])[:, None] if crops else np.zeros((0, 1, 28, 28), np.float32)
    clock.lap("normalize")
    first = recognizer.first_reading(batch) if crops else None
    clock.lap("classify")
    return _Look(crops, options, batch, first)


def _print_alone(frame: _Frame, look: _Look, recognizer: Recognizer) -> np.ndarray | None:
    """Which crops a cascade's first member reads alone: on a page of text judged on its reading
    (_page_of_text), those of regions no taller than the print, dropped as print-sized whatever they
    read as (TEXT_PAGE_TALLER). None when there is no such page, or no cascade.

    Member 1, tuned on the reader's own crops, doubts printed letters that member 0 reads surely as
    digits, and their mean lifts over the bar: on such a frame the mean shows too few unsure marks
    to make words, and its letters were read as digits (docs/reader.md, "A page of text")."""
    if look.first is None or recognizer.cascade is None:
        return None
    conf = look.first[0].max(axis=1)
    letter_h = _page_of_text(frame, look.crops, look.options, conf, recognizer.min_confidence,
                             recognizer.letters_of(look.first))
    if not letter_h:
        return None
    return np.array([frame.regions[c.region].box[3] < TEXT_PAGE_TALLER * letter_h for c in look.crops])


def _classify(frame: _Frame, look: _Look, recognizer: Recognizer, clock: _Clock) -> _Pass:
    """Stage 6 and the choice of digits."""
    crops, options, batch = look.crops, look.options, look.batch
    sure = recognizer.min_confidence
    probs, letter_scores = recognizer.classify(batch, look.first, alone=_print_alone(frame, look, recognizer))
    conf = probs.max(axis=1) if len(probs) else np.zeros(0)
    letter_regions = (_letter_regions(options, letter_scores, recognizer.letter_bar)
                      if letter_scores is not None else set())
    retried = _retried(options, conf, sure)  # the same lists: retries add their options to `options`
    retried = _not_print(frame, crops, options, retried, conf, sure, letter_scores)
    extra, strict = _retry_splits(frame, crops, retried, conf, sure)
    steady, variants = _steady_crops(frame, retried, conf, len(crops) + len(extra), sure)
    extra += steady
    agreed: set[int] = set()  # whole crops whose readings at every stroke width name one digit (AGREE_MARGIN)
    if extra:
        more = np.stack([c.image for c in extra])[:, None]
        crops += extra
        batch = np.concatenate([batch, more])
        more_probs, more_letters = recognizer.classify(more)
        probs = np.concatenate([probs, more_probs])
        if letter_scores is not None:
            letter_scores = np.concatenate([letter_scores, more_letters])
        agreed = {k for k, rows in variants.items() if rows and (probs[rows].argmax(axis=1) == probs[k].argmax()).all()}
        for k, rows in variants.items():
            probs[k] = probs[[k] + rows].mean(axis=0)
        conf = probs.max(axis=1)
    if strict:  # _more_cuts' cuts count only when both pieces are very sure (most frames have none)
        for i, opts in options.items():
            options[i] = [o for o in opts if not (o[0] in strict and conf[o].min() < MORE_CUTS_SURE)]
    page = _TextPage()
    chosen, rejected = _decide(frame.regions, crops, options, conf, sure, frame.digit_h, canvas=not frame.photo,
                               letter_scores=letter_scores, agreed=agreed, page=page)
    if letter_regions:
        chosen, rejected = _without_letters(chosen, rejected, crops, letter_regions, conf, sure, letter_scores)
    read = _as_one_digit(frame, _Pass(crops, batch, probs, chosen, rejected, tuple(page.printed), page.letter_h),
                         recognizer, letter_scores)
    clock.lap("classify")
    return read


def _read_doubted(gray: np.ndarray, mode: str, dark: _Frame, recognizer: Recognizer, clock: _Clock
                  ) -> tuple[_Frame, _Pass]:
    """The surer (_surer) of a doubted photo's two readings, as dark ink and as chalk.

    Both get the model's first call (_look), which bounds how many very sure digits each could
    reach (Recognizer.could_reach). The one with the higher bound is read in full first: chalk on a
    blackboard, whose dark-ink reading finds many marks but few sure digits and costs most in full
    (its first network doubts most of them, so the second reads them too); dark ink on a page in a
    shadow, whose chalk reading finds its paper's grain. The other is finished only when its bound
    says it could still win. Crops read under the bar and steadied by retries at other stroke
    widths (_steady_crops) cannot reach CHALK_SURE in a mean of three; digits that split retries or
    pieces read together add are not counted, and have never decided it (docs/reader.md).
    """
    chalk = _segment(gray, mode, clock, chalk=True)
    chalk_look, dark_look = _look(chalk, recognizer, clock), _look(dark, recognizer, clock)
    chalk_bound, dark_bound = (0 if look.first is None else recognizer.could_reach(look.first, CHALK_SURE)
                               for look in (chalk_look, dark_look))
    if dark_bound > chalk_bound:
        dark_read = _classify(dark, dark_look, recognizer, clock)
        if dark_read.very_sure() > chalk_bound:  # chalk could not even tie
            return dark, dark_read
        chalk_read = _classify(chalk, chalk_look, recognizer, clock)
    else:
        chalk_read = _classify(chalk, chalk_look, recognizer, clock)
        very_sure = chalk_read.very_sure()
        if very_sure > 0 and dark_bound <= very_sure:  # dark ink could at best tie, and chalk wins ties
            return chalk, chalk_read
        dark_read = _classify(dark, dark_look, recognizer, clock)
    return (chalk, chalk_read) if _surer(chalk_read, dark_read) else (dark, dark_read)


def _lone_pieces(frame: _Frame) -> list[int]:
    """Regions of a frame that may be one digit drawn in pieces (LONE_MARKS, LONE_OVERLAP): a 9 whose
    head the pen left apart from its stem, a 5's lifted bar, a 3 in two halves, alone on a canvas or
    on a sheet held to the camera. With nothing else in the frame the typical digit height is the
    pieces' own, so segment's merge rule sees none of them as small. Empty when the frame does not
    look so (a page of numbers never does)."""
    marks = [i for i, r in enumerate(frame.regions) if r.reason not in BACKDROP]
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


def _piece_pairs(frame: _Frame, read: _Pass, best: dict[int, float]) -> list[list[int]]:
    """Pairs of canvas regions that may be one digit drawn in two pieces: a short mark left unread
    (PIECE_HEIGHT; a dash rejected as too wide counts) within PAIR_REACH digit heights of a mark read
    under PAIR_DOUBT or not at all, the two no taller than segment's merged pieces and no wider than
    one digit. A 5's bar lifted well off its body, or short and slanted, escapes segment's merge
    rules, and both pieces went unread."""
    if frame.photo or not frame.digit_h:
        return []
    split = {i for i, n in Counter(read.crops[k].region for k in read.chosen).items() if n > 1}
    free = [i for i, r in enumerate(frame.regions) if r.reason in (None, "too small", "too wide")
            and best.get(i, 0.0) < PAIR_DOUBT and i not in split]
    boxes = {i: np.array(frame.regions[i].box, np.int64) for i in free}
    pairs = []
    for i in free:
        if i in best or boxes[i][3] >= segment.PIECE_HEIGHT * frame.digit_h:
            continue
        for j in free:
            if j == i:
                continue
            overlap, gap = segment.spans(boxes[i], boxes[j])
            apart = np.hypot(max(-overlap, 0), max(gap, 0))
            _, _, uw, uh = segment.union_boxes(np.stack([boxes[i], boxes[j]]))
            if (apart <= PAIR_REACH * frame.digit_h and uh <= segment.MERGE_MAX_HEIGHT * frame.digit_h
                    and uw <= segment.SPLIT_ASPECT * uh and [j, i] not in pairs):
                pairs.append([i, j])
    return pairs


def _best_reading(read: _Pass) -> dict[int, float]:
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


def _among_sure_digits(read: _Pass, box: tuple[int, int, int, int], pieces: list[int],
                       letter_scores: np.ndarray, sure: float) -> bool:
    """Whether a box stands in a number whose other accepted digits (not of the regions `pieces`)
    vouch for it (_sure_company), as _without_letters spares a letter-like digit."""
    chosen = [k for k in read.chosen if read.crops[k].region not in pieces]
    boxes = [read.crops[k].box for k in chosen] + [box]
    me = len(boxes) - 1
    for number in (n for line in grouping.group(boxes) for n in line):
        if me in number:
            return _sure_company([chosen[j] for j in number if j != me], read.probs.max(axis=1), letter_scores, sure)
    return False


def _as_one_digit(frame: _Frame, read: _Pass, recognizer: Recognizer,
                  letter_scores: np.ndarray | None = None) -> _Pass:
    """Groups of regions read as one digit instead (the pieces of a lone digit, _lone_pieces, and
    pairs of pieces, _piece_pairs), when that reading is above the bar, not a letter's, and at
    least as sure as any piece's own reading (a 0 and a 1 read surely apart must be a surer 9
    together; a piece read as no digit counts as 0). Surest groups first, each region in one."""
    lone = _lone_pieces(frame)
    best = _best_reading(read)
    pairs = _piece_pairs(frame, read, best)
    groups = ([lone] if lone else []) + pairs
    if not groups:
        return read
    unions = [segment.Region(segment.union_boxes(np.array([frame.regions[i].box for i in g])),
                             [label for i in g for label in frame.regions[i].labels]) for g in groups]
    crops = [_whole_crop(-1, u, frame, segment.region_mask(frame.comps, u), frame.stroke_target) for u in unions]
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
        return read
    # The pieces' rejected boxes go; paper edges and the like stay listed last (read_frame counts them).
    edges = sum(r.reason in BACKDROP for r in frame.regions)
    marks = read.rejected[: len(read.rejected) - edges]
    rejected = [b for b in marks if not any(_inside(b, unions[g].box) for g in kept)] + read.rejected[len(marks):]
    chosen = [k for k in read.chosen if read.crops[k].region not in used]
    n = len(read.crops)
    return _Pass(read.crops + [crops[g] for g in kept],
                 np.concatenate([read.batch] + [crops[g].image[None, None] for g in kept]),
                 np.concatenate([read.probs, probs[kept]]), chosen + list(range(n, n + len(kept))), rejected,
                 tuple(k for k in read.printed if k in chosen), read.letter_h)


def _tall_answers(frame: _Frame, read: _Pass, recognizer: Recognizer) -> _Pass:
    """On a page of text, marks rejected as too big (TALL_REASONS) that stand TEXT_PAGE_TALLER to
    TALL_ANSWER times as tall as the print's letters, judged again with their own height as the
    typical digit's and read: handwritten answers. The frame's typical height is the print's there,
    so an answer three times as tall was too big. Accepted as any region is: every piece of its
    chosen option read at the bar and not a letter. (Marks rejected as faint, as pencil beside black
    print is, were tried too: the wood grain round real-dev 031 read as fourteen 1s.) A digit read so
    where a digit is accepted already (SAME_DIGIT) is not added again: that one was carved out of the
    mark (segment._carve)."""
    lo, hi = read.answer_heights()
    digits = [read.crops[k].box for k in read.chosen]
    gated = {i: segment.gate(replace(r), frame.comps, r.box[3], frame.photo) for i, r in enumerate(frame.regions)
             if r.reason in TALL_REASONS and lo <= r.box[3] <= hi}
    crops, options = _crops_of({i: r for i, r in gated.items() if r.reason is None}, frame, len(read.crops))
    if not crops:
        return read
    batch = np.stack([c.image for c in crops])[:, None]
    probs, letters = recognizer.classify(batch)
    all_probs = np.concatenate([read.probs, probs])
    conf = all_probs.max(axis=1)
    chosen = []
    back = set()  # the boxes of the marks read after all
    for i, opts in options.items():
        pick = _choose(opts, conf, gated[i].aspect)
        lettered = letters is not None and any(letters[k - len(read.crops)] >= recognizer.letter_bar for k in pick)
        if conf[pick].min() >= recognizer.min_confidence and not lettered:
            chosen += [k for k in pick if not any(iou(crops[k - len(read.crops)].box, b) >= SAME_DIGIT for b in digits)]
            frame.regions[i] = gated[i]  # a candidate now: no longer counted among the rejected
            back.add(gated[i].box)
    rejected = [b for b in read.rejected if b not in back]
    return read._replace(crops=read.crops + crops, batch=np.concatenate([read.batch, batch]), probs=all_probs,
                         chosen=read.chosen + chosen, rejected=rejected)


def _faint_answers(gray: np.ndarray, mode: str, frame: _Frame, read: _Pass, recognizer: Recognizer,
                   clock: _Clock) -> tuple[_Pass, np.ndarray | None]:
    """On a photographed page of text, the ink left once the print and the digits read are taken
    out, read on its own: pencil answers beside black print. Returns the pass with the new
    reading's accepted digits added, and that reading's mask (None when none is added).

    The thresholds of binarisation and the faint rule are shares of the frame's boldest writing,
    which on a worksheet is the print; pencil is fainter than half of it, so its digits were never
    seeded or were rejected as faint. Read alone, they are the boldest writing."""
    out = np.where(frame.comps.stats[:, 4] > 0, 255, 0).astype(np.uint8)  # the mask's components (labels
    out[0] = 0  # of ink never seeded have no area) but those rejected as faint
    for r in frame.regions:
        if r.reason == "faint":
            out[r.labels] = 0
    taken = binarize.lookup(out, frame.comps.labels)
    reach = 2 * max(1, round(frame.digit_h * FAINT_HALO)) + 1  # the print's soft edges go with it
    taken = cv2.dilate(taken, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    ink = frame.ink.copy()
    ink[taken > 0] = 0
    left = _segment(gray, mode, clock, ink=ink)
    if not any(r.reason is None for r in left.regions):
        return read, None
    faint = _classify(left, _look(left, recognizer, clock), recognizer, clock).without_printed()
    lo, hi = read.answer_heights()  # as the page's other answers
    chosen = [k for k in faint.chosen if lo <= faint.crops[k].box[3] <= hi]
    if not chosen or len(chosen) < FAINT_WRITING * len(left.regions):
        return read, None
    n = len(read.crops)
    return read._replace(crops=read.crops + faint.crops, batch=np.concatenate([read.batch, faint.batch]),
                         probs=np.concatenate([read.probs, faint.probs]),
                         chosen=read.chosen + [k + n for k in chosen]), left.mask


def _check_frame(image: np.ndarray) -> None:
    """read_frame's input, as a clear error rather than an OpenCV assertion deep in a stage."""
    channels = image.shape[2] if image.ndim == 3 else 1
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or channels not in (1, 3, 4) or image.size == 0:
        raise ImageError(f"expected a non-empty 8-bit gray, BGR or BGRA image, not an array of shape "
                         f"{image.shape} and type {image.dtype}")


def read_frame(image: np.ndarray, recognizer: Recognizer, *, mode: str = "auto", annotate: bool = True,
               debug: bool = False, columns: int = 2) -> Reading:
    """Find, read and group every handwritten digit in a BGR (or gray) frame; with `debug`, also
    the teaching composite of the stages (`Reading.composite`), its panels in `columns` (1 or 2)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if columns not in (1, 2):
        raise ValueError(f"columns must be 1 or 2, not {columns!r}")
    _check_frame(image)
    clock = _Clock()
    gray, scale = work_gray(image)
    clock.lap("gray")
    frame = _segment(gray, mode, clock)
    if frame.doubted:  # chalk on a blackboard, or a shadow that fooled the vote
        frame, read = _read_doubted(gray, mode, frame, recognizer, clock)
    else:
        read = _classify(frame, _look(frame, recognizer, clock), recognizer, clock)
    read = read.without_printed()
    faint_mask = None
    if read.letter_h:
        read = _tall_answers(frame, read, recognizer)
        if frame.photo:
            read, faint_mask = _faint_answers(gray, mode, frame, read, recognizer, clock)
    edges = sum(r.reason in BACKDROP for r in frame.regions)
    digits = [Digit(int(np.argmax(read.probs[k])), float(read.probs[k].max()), _to_input(read.crops[k].box, scale),
                    [float(p) for p in read.probs[k]]) for k in read.chosen]
    digits, text = _reading_order(digits)
    rejected = [_to_input(b, scale) for b in read.rejected]
    clock.lap("group")
    reading = Reading(digits, text, len(rejected), {}, drawn_rejects=rejected[: len(rejected) - edges])
    if annotate or debug:
        reading.annotated = draw.draw_reading(image, reading.digits, reading.drawn_rejects)
        if debug:
            reading.stages = _stages(gray, frame, faint_mask)
            images, captions = teaching_crops(read.crops, read.batch, read.probs)
            reading.composite = draw.teaching_composite(reading.annotated, reading.stages, images, captions, columns)
        clock.lap("annotate")
    reading.timings_ms = clock.total()
    return reading


def teaching_crops(crops: list[Crop], batch: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The model's inputs with "label confidence%" captions, in reading order of their boxes.

    Every crop the model saw is shown, splits that lost included, so a class can see what was tried.
    """
    if not crops:
        return batch[:, 0], []
    order = [i for line in grouping.group([c.box for c in crops]) for number in line for i in number]
    captions = [f"{int(np.argmax(probs[k]))} {round(100 * float(probs[k].max()))}%" for k in order]
    return batch[order, 0], captions


def _stages(gray: np.ndarray, frame: _Frame, faint: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The teaching composite's stage images; `faint`: the mask of ink read on its own (_faint_answers)."""
    binary = cv2.cvtColor(frame.mask, cv2.COLOR_GRAY2BGR)
    binary[frame.ruled > 0] = draw.RED
    if faint is not None:
        binary[faint > 0] = draw.BLUE
    labels = np.where(frame.mask > 0, frame.comps.labels, 0)
    return {"gray": gray, "ink": frame.ink, "binary": binary, "components": draw.colour_components(labels)}


def read_bytes(data: bytes, recognizer: Recognizer, *, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS, **kw) -> Reading:
    """decode_image (with its limits) + read_frame; the decode time is timings_ms['decode'].

    Without drawing, only the gray image is decoded: nothing else needs the colour.
    """
    colour = kw.get("annotate", True) or kw.get("debug", False)
    decoded = decode_timed(data, max_bytes=max_bytes, max_pixels=max_pixels, colour=colour)
    return read_decoded(decoded, recognizer, **kw)


@dataclass
class Decoded:
    """An image as decode_timed made it: its pixels, how long that took, and the input's pixels per
    decoded pixel along each side with the input's size (a big JPEG is decoded smaller: decode_scaled)."""

    image: np.ndarray
    ms: float
    factor: int = 1
    size: tuple[int, int] = (0, 0)  # the input's width and height, turned as the image is; with factor > 1

    def to_input(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A box in the decoded image -> the same box in the input's pixels."""
        if self.factor == 1:
            return box
        f, (width, height) = self.factor, self.size
        x0, y0 = min(box[0] * f, width), min(box[1] * f, height)
        return x0, y0, min((box[0] + box[2]) * f, width) - x0, min((box[1] + box[3]) * f, height) - y0


def decode_timed(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
                 colour: bool = True, shrink: bool = False) -> Decoded:
    """decode_image (BGR, or gray when `colour` is False) and the milliseconds it took; with
    `shrink`, a baseline JPEG over `max_pixels` is decoded at 1/2, 1/4 or 1/8 of its size instead of refused."""
    start = time.perf_counter()
    image, factor = decode_scaled(data, max_bytes=max_bytes, max_pixels=max_pixels, gray=not colour, shrink=shrink)
    size = (0, 0)
    if factor > 1:  # EXIF orientation may have turned the image
        _, width, height = image_size(data)
        across, down = -(-width // factor), -(-height // factor)  # libjpeg rounds up
        if across == down:  # square once shrunk, turned or not: boxes stay inside either way
            size = (min(width, height), min(width, height))
        else:
            size = (width, height) if image.shape[:2] == (down, across) else (height, width)
    return Decoded(image, 1000 * (time.perf_counter() - start), factor, size)


def read_decoded(decoded: Decoded, recognizer: Recognizer, **kw) -> Reading:
    """read_frame of an image decode_timed made, its decode time counted as timings_ms['decode'] and
    its boxes given in the input's pixels (the annotated image stays at the decoded size)."""
    reading = read_frame(decoded.image, recognizer, **kw)
    reading.timings_ms = {"decode": decoded.ms, **reading.timings_ms}
    reading.timings_ms["total"] += decoded.ms
    if decoded.factor > 1:
        reading.digits = [replace(d, box=decoded.to_input(d.box)) for d in reading.digits]
        reading.drawn_rejects = [decoded.to_input(b) for b in reading.drawn_rejects]
    return reading
