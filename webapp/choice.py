"""Which crops are digits: each region read whole or split, the bar and its exceptions, and the
text rules (text_rules.py) that reject words and print. Also whether a frame is a page of text,
judged on one reading of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from webapp import grouping, segment, text_rules
from webapp.model_inputs import Crop, Frame

SPLIT_DOUBT = 0.5  # a split wins when its least sure piece is in doubt (1 - confidence) half as much as the whole ...
WIDE_ASPECT = 1.25  # ... but for regions wider than this (w/h) ...
WIDE_DOUBT = 4.0  # ... a split may be in up to 4x the whole's doubt
MUST_SPLIT_ASPECT = 2.0  # a region wider than twice its height is read as one digit only when it has no split
#   to offer (every cut leaves a piece with too little ink, model_inputs.MIN_PIECE_INK, or, on a canvas, one too
#   short to be a digit, model_inputs._not_a_digit: drawings F1 seed 6 0.9827 -> 0.9855, seed 11 0.9849 -> 0.9834,
#   seeds 0-2, 5, 7-10 same)
CARVED_SURE = 0.99  # a region cut out of a bigger mark's strong ink (segment._carve) is a digit only when read
#   this surely: on pages seeds 0-2, 5-7 the carved digits read right were read at 0.992 or more, pieces of
#   sheets' edges at 0.79-0.99 (docs/reader.md, "Digits carved out of a bigger mark")
AGREE_MARGIN = 0.1  # a region whose three readings (retries.STEADY_STROKES) all name one digit needs 0.1 less
#   than the bar: a bold digit the reader thins reads unsure, and often surely with a thicker stroke (a 9 at 0.61, 0.41
#   and 0.999). Drawings seeds 0-2, 5-31 0.9899 -> 0.9902 (11 seeds up, 2 down), fresh 32-51 0.9879 ->
#   0.9883 (7 up, none down); pages 0-7 0.9833 -> 0.9834 (3 up, 3 down); real-dev CER 0.106 -> 0.077.
#   0.2 gained more on scenes but read digits into the words-only photo 030 (docs/reader.md)
BACKDROP = {"edge", "frame", "faint", "cut off", "noise"}  # rejections that are the scene or out of view, not
#   marks on the paper (paper edges, sheet outlines, wood grain and shadows, things cut by the frame): counted,
#   not drawn on the annotated frame, where on a desk photo they hid the page under red boxes
SMALL_NUMBER_SURE = 0.95  # a group of even-height marks, all unsplit regions read at least this surely, is a
#   smaller number (an answer under a sum), not x-height letters: the frame-wide text_rules.X_HEIGHT rule spares it
#   (scenes seeds 0-2 and real-dev unchanged; 3 of 40 small x-height words then read as numbers: "so" 50
#   twice, "zoo" 200; 0.9 the same)
CONTEXT_SURE = 0.5  # on a canvas, a digit read at least this surely, though under the bar, is kept when it
CONTEXT_DIGITS = 2  # ... stands in a number with this many digits read above the bar ...
CONTEXT_HEIGHT = 0.2  # ... within 20% of their median height, and no mark in it read below CONTEXT_SURE or word-like
#   (drawings F1 seeds 0-2 0.9910/0.9885/0.9939 -> 0.9943/0.9901/0.9948, held-out seeds 3, 4 0.9849/0.9768 ->
#   0.9880/0.9795; 0.4 and 0.6 less; one sure digit: 0.9927/0.9910/0.9939; 30% height the same. On photos it
#   gained pages 0.0002-0.0029 but read invented digits on the words-only real-dev pages, CER 0.16 -> 0.30)
PLAIN_SURE = 0.99  # a group of 2+ digits, every one read at least this surely ...
PLAIN_LETTER = 0.02  # ... and scored below this by the letter detector is not judged by its marks'
#   heights (x-height pieces of a split digit sank numbers as words): pages F1 seed 1 .9760 -> .9773, the
#   other scene seeds and real-dev unchanged. Sparing such groups from the non-digit share too gained
#   pages seeds 0 and 6 (.9785, .9677) but would keep a word whose "ll" reads as a plain 11; at 0.95
#   and 0.05, or 0.98 and 0.01, the words-only real-dev 030 read "99" (CER .1058 -> .125)
PRINT_CHECK = 4  # a frame with this many unsure regions is judged a page of text or not before they are
#   read again, and on one those no taller than the print are not (not_print): worksheets read in half the
#   time (bench-pipeline --kind worksheets: 190-213 -> 91-95 ms). Generated pages have 0-5 unsure regions
#   (median 0, 90th percentile 3)

LOOPY_SURE = 0.99  # a mark with one loop more than an 8 (segment.Region.loopy) is a digit only when read as this
LOOPY_LABEL = "8"  # label this surely: an 8 whose tail crosses its top loop has three (without_loopy). Drawings seeds
#   0-2, 5-31, 32-59 and 60-79: 8 seeds up, none down; eval-sums seeds 0-1 three sums more read right, eval-pairs one
#   pair; pages 0-2, 5-7 and worksheets 0-4 one seed up each, fresh pages 100-107 two, none down; boards and
#   real-dev the same; 400 random tangles on a canvas and 400 in camera mode read the same as before


class Pass(NamedTuple):
    """One reading of a frame's regions: crops, model inputs, (steadied) probabilities, the
    accepted crops' indices and the rejected boxes (working pixels)."""

    crops: list[Crop]
    batch: np.ndarray
    probs: np.ndarray
    chosen: list[int]
    rejected: list[tuple[int, int, int, int]]
    printed: tuple[int, ...] = ()  # accepted crops no taller than the print on a page of text (decide), dropped last
    letter_h: float = 0.0  # the print's letter height on a page of text, else 0 (TextPage)

    def answer_heights(self) -> tuple[float, float]:
        """How tall a handwritten answer stands on a page of text: text_rules.TEXT_PAGE_TALLER to
        text_rules.TALL_ANSWER times its letters' height (answers.tall_answers, answers.with_faint)."""
        return text_rules.TEXT_PAGE_TALLER * self.letter_h, text_rules.TALL_ANSWER * self.letter_h

    def without_printed(self) -> "Pass":
        """The pass with its print-sized digits moved to the front of the rejected boxes. Done once a
        photo's two readings are weighed (pipeline._read_doubted), whose choice it would otherwise sway."""
        if not self.printed:
            return self
        gone = set(self.printed)
        return self._replace(chosen=[k for k in self.chosen if k not in gone], printed=(),
                             rejected=[self.crops[k].box for k in self.chosen if k in gone] + self.rejected)


@dataclass
class TextPage:
    """What decide learnt of a page of text: its letters' height (0 when the frame is none) and the
    accepted crops no taller than them (text_rules.text_groups)."""

    letter_h: float = 0.0
    printed: list[int] = field(default_factory=list)


def choose(options: list[list[int]], conf: np.ndarray, aspect: float) -> list[int]:
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


def decide(regions: list[segment.Region], crops: list[Crop], options: dict[int, list[list[int]]],
           conf: np.ndarray, sure: float, digit_h: float = 0.0, canvas: bool = False,
           letter_scores: np.ndarray | None = None, agreed: set[int] = frozenset(),
           page: "TextPage | None" = None) -> tuple[list[int], list[tuple[int, int, int, int]]]:
    """Choose whole or split per region, then drop crops read less surely than `sure` (AGREE_MARGIN
    less for those `agreed` at three stroke widths; on a `canvas`, unless sure digits vouch for
    them: _vouched_for) and letters in text lines. With the model's
    `letter_scores`, numbers whose digits are all read at PLAIN_SURE and scored below PLAIN_LETTER
    are not judged by their heights; without a letter detector, no number is spared so.

    Returns the accepted crop indices and the boxes of everything rejected (working pixels). Crops
    no taller than the print on a page of text (text_rules.text_groups) are rejected too, unless a `page` is
    given: then they stay accepted and are listed in it, for the caller to drop last.
    """
    chosen = [k for i, opts in options.items() for k in choose(opts, conf, regions[i].aspect)]
    wordy = [r.box for r in regions if r.reason in text_rules.TEXT_LIKE]
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
    small = [conf[k] >= SMALL_NUMBER_SURE and k in whole for k in chosen]  # may be a smaller number's digits
    boxes = [crops[k].box for k in chosen]
    in_text, print_sized, letter_h = text_rules.text_groups(boxes, wordy, digit_h, small, plain)
    if page is None:
        in_text |= print_sized
    else:
        page.letter_h, page.printed = letter_h, [chosen[j] for j in sorted(print_sized)]
    # Paper edges, desks and frames are counted but listed last, so drawings can leave them out.
    regions = sorted((r for r in regions if r.reason), key=lambda r: r.reason in BACKDROP)
    rejected = unsure + [crops[k].box for j, k in enumerate(chosen) if j in in_text] + [r.box for r in regions]
    return [k for j, k in enumerate(chosen) if j not in in_text], rejected


def backdrop_count(regions: list[segment.Region]) -> int:
    """How many of a frame's regions are the scene's backdrop (BACKDROP): decide lists their boxes last among
    the rejected, so callers can leave them undrawn or keep them last."""
    return sum(r.reason in BACKDROP for r in regions)


def _doubted_marks(chosen: list[int], kept: set[int], crops: list[Crop]) -> list[tuple[int, int, int, int]]:
    """Boxes of the chosen crops read below the bar, as marks for the text rules (text_rules.in_text_lines), with
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


def page_of_text(frame: Frame, crops: list[Crop], options: dict[int, list[list[int]]], conf: np.ndarray,
                 sure: float, letter_scores: np.ndarray | None) -> float:
    """The print's letter height when a reading (`conf`) of a frame's regions shows a page of text
    (decide), else 0. Judging costs about 0.8 ms, more than reading a few regions again, so frames
    with fewer than PRINT_CHECK unsure regions are not judged."""
    unsure = sum(max(float(conf[o].min()) for o in opts) < sure for opts in options.values())
    if unsure < PRINT_CHECK:
        return 0.0
    page = TextPage()
    decide(frame.regions, crops, options, conf, sure, frame.digit_h, canvas=not frame.photo,
           letter_scores=letter_scores, page=page)
    return page.letter_h


def not_print(frame: Frame, crops: list[Crop], options: dict[int, list[list[int]]],
              retried: dict[int, list[list[int]]], conf: np.ndarray, sure: float,
              letter_scores: np.ndarray | None) -> dict[int, list[list[int]]]:
    """`retried` (the regions to read again) but for those no taller than the print, when the first
    reading of all the regions (`options`) already shows a page of text (page_of_text): whatever they
    read again as, they would be dropped as print-sized (text_rules.TEXT_PAGE_TALLER). A worksheet had up to a
    hundred crops read again for nothing. The page is judged on every region, not only on those to be
    read again: a page of words keeps only its retries.RETRY_MOST surest unsure letters there, too few to show
    its words."""
    letter_h = page_of_text(frame, crops, options, conf, sure, letter_scores)
    if not letter_h:
        return retried
    return {i: opts for i, opts in retried.items() if frame.regions[i].box[3] >= text_rules.TEXT_PAGE_TALLER * letter_h}


def without_loopy(read: Pass, regions: list[segment.Region], labels: list[str]) -> Pass:
    """The pass without digits of loopy regions (segment.Region.loopy) unless read as LOOPY_LABEL at
    LOOPY_SURE or more: one loop more than an 8 has is an 8 whose tail crosses its loop, or a
    scribble; only a sure 8 tells which. Or two touching digits whose loops add up (a 0 against an
    8): a region cut in pieces that all read at LOOPY_SURE keeps them all (_surely_cut)."""
    eight = labels.index(LOOPY_LABEL) if LOOPY_LABEL in labels else -1
    cut = _surely_cut(read, regions)
    gone = [k for k in read.chosen if regions[read.crops[k].region].loopy and read.crops[k].region not in cut
            and not (int(read.probs[k].argmax()) == eight and read.probs[k].max() >= LOOPY_SURE)]
    if not gone:
        return read
    return read._replace(chosen=[k for k in read.chosen if k not in gone],
                         rejected=[read.crops[k].box for k in gone] + read.rejected,
                         printed=tuple(k for k in read.printed if k not in gone))


def _surely_cut(read: Pass, regions: list[segment.Region]) -> set[int]:
    """Loopy regions read as two or more pieces (text_rules.cut_regions), each at LOOPY_SURE or more.
    Drawings seed 13, scene 46: "4083" read "4 83", its 0 dropped as a piece of a three-loop mark that
    was not an 8. Drawings, every seed set: 4 seeds up a digit, none down."""
    return {r for r, ks in text_rules.cut_regions(read.chosen, read.crops).items()
            if regions[r].loopy and all(read.probs[k].max() >= LOOPY_SURE for k in ks)}
