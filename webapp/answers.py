"""Handwritten answers on a page of text, where the print sets the typical height: marks rejected
as too big for it are read with their own height, and the ink left once the print is taken out
(pencil beside black print) is read on its own.
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from webapp import binarize, choice, model_inputs, segment
from webapp.choice import Pass
from webapp.model_inputs import Frame
from webapp.recognizer import Recognizer
from webapp.scoring import iou

TALL_REASONS = {"too big"}  # on a page of text, marks rejected so, up to text_rules.TALL_ANSWER times as tall
#   as its letters, are judged again with their own height (tall_answers)
SAME_DIGIT = 0.5  # an answer read so that overlaps an accepted digit this much (IoU) is that digit, carved out of it
FAINT_HALO = 0.1  # on a photographed page of text, once the print is read, the rest of the ink is read alone, the
#   print's soft edges taken out with it this far round (x typical digit height) (ink_left)
FAINT_WRITING = 0.5  # ... and its digits are kept only when they are at least half of what it holds (with_faint):
#   pencil answers are, the grain of a desk round the sheet and a fold's shading are not


def tall_answers(frame: Frame, read: Pass, recognizer: Recognizer) -> Pass:
    """On a page of text, marks rejected as too big (TALL_REASONS) that stand as tall as its answers
    (Pass.answer_heights: 1.1 to 4 times the print's letters), judged again with their own height as
    the typical digit's and read: handwritten answers. The frame's typical height is the print's there,
    so an answer three times as tall was too big. Accepted as any region is: every piece of its
    chosen option read at the bar and not a letter. (Marks rejected as faint, as pencil beside black
    print is, were tried too: the wood grain round real-dev 031 read as fourteen 1s.) A digit read so
    where a digit is accepted already (SAME_DIGIT) is not added again: that one was carved out of the
    mark (segment._carve)."""
    lo, hi = read.answer_heights()
    digits = [read.crops[k].box for k in read.chosen]
    gated = {i: segment.gate(replace(r), frame.comps, r.box[3], frame.photo) for i, r in enumerate(frame.regions)
             if r.reason in TALL_REASONS and lo <= r.box[3] <= hi}
    crops, options = model_inputs.crops_of({i: r for i, r in gated.items() if r.reason is None}, frame, len(read.crops))
    if not crops:
        return read
    batch = np.stack([c.image for c in crops])[:, None]
    probs, letters = recognizer.classify(batch)
    all_probs = np.concatenate([read.probs, probs])
    conf = all_probs.max(axis=1)
    chosen = []
    back = set()  # the boxes of the marks read after all
    for i, opts in options.items():
        pick = choice.choose(opts, conf, gated[i].aspect)
        lettered = letters is not None and any(letters[k - len(read.crops)] >= recognizer.letter_bar for k in pick)
        if conf[pick].min() >= recognizer.min_confidence and not lettered:
            chosen += [k for k in pick if not any(iou(crops[k - len(read.crops)].box, b) >= SAME_DIGIT for b in digits)]
            frame.regions[i] = gated[i]  # a candidate now: no longer counted among the rejected
            back.add(gated[i].box)
    rejected = [b for b in read.rejected if b not in back]
    return read._replace(crops=read.crops + crops, batch=np.concatenate([read.batch, batch]), probs=all_probs,
                         chosen=read.chosen + chosen, rejected=rejected)


def ink_left(frame: Frame) -> np.ndarray:
    """A photographed page of text's ink with the print and the digits read taken out (its mask's
    components but those rejected as faint, with FAINT_HALO round them): what pencil answers
    beside black print leave. The thresholds of binarisation and the faint rule are shares of the
    frame's boldest writing, which on a worksheet is the print; pencil is fainter than half of it,
    so its digits were never seeded or were rejected as faint. Read alone, they are the boldest
    writing (pipeline._faint_answers)."""
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
    return ink


def with_faint(read: Pass, faint: Pass, marks: int) -> Pass | None:
    """`read` with the accepted digits of `faint` (the reading of ink_left, which found `marks`
    regions) that stand as tall as the page's other answers; None when there are none, or fewer
    than FAINT_WRITING of the marks: pencil answers are most of what is left, the grain of a desk
    round the sheet and a fold's shading are not."""
    lo, hi = read.answer_heights()
    chosen = [k for k in faint.chosen if lo <= faint.crops[k].box[3] <= hi]
    if not chosen or len(chosen) < FAINT_WRITING * marks:
        return None
    n = len(read.crops)
    return read._replace(crops=read.crops + faint.crops, batch=np.concatenate([read.batch, faint.batch]),
                         probs=np.concatenate([read.probs, faint.probs]),
                         chosen=read.chosen + [k + n for k in chosen])
