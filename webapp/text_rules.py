"""Marks that are letters, not digits: words told from numbers by their marks, print on a page of
text told from handwritten answers by its height, and what the model's letter detector calls a
letter (unless sure digits round it vouch for it). The rules look at boxes and readings only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from webapp import grouping

if TYPE_CHECKING:
    from webapp.model_inputs import Crop

# A word-like group holding nearly as many non-digits (of these kinds, or read unsure) as digits, and two
# or more, is handwriting with letters: its "digits" are letters the model forced into digit classes.
TEXT_LIKE = {"too wide", "scribble", "too small", "blot"}
TEXT_MIN_OTHERS = 2
TEXT_OTHER_SHARE = 0.45  # ... and at least this share of the group's marks (it was 0.5: as many non-digits as
#   digits). Cursive words read as 5 non-digits among 11 marks once photos are steadied (retries.STEADY_STROKES);
#   scenes seeds 0-2, 5-7 the same at 0.45; 0.4 the same except pages seed 6 0.9669 -> 0.9660
TEXT_SHORT = 0.65  # a mark shorter than 65% of its line's tall marks is x-height ...
X_HEIGHT = 0.75  # ... and so is any mark under 75% of the frame's typical digit height: letters without
#                   ascenders, a zigzag's pieces (0.5-0.72 of it; the shortest 0.5% of digits are 0.75)
#                   (none -> 0.75: pages F1 0.952 -> 0.961, false detections on nothing 29 -> 4; 0.85 lost recall)
TEXT_SHORT_SHARE = 0.4  # ... and a group where 40% of the marks are is a word ...
NUMBER_RUN = 3  # ... except for 3+ tall digits in a row in it: a number written beside the word
#                 (pages F1 0.9702 -> 0.9719)
TEXT_PAGE_WORDS = 3  # a frame with this many word-like groups (or with TEXT_PAGE_MARKS marks in them: small
TEXT_PAGE_MARKS = 12  # print spaces its words so closely that a line is one group) is a page of text, and there ...
TEXT_PAGE_TALLER = 1.1  # ... a digit no taller than 1.1x the words' marks (their 90th percentile of height) is a
#   letter too: handwritten answers stand taller than the print. On generated worksheets (seed 0) the digits read
#   right stood 1.15-3.1x that height (1st-99th percentile), the letters read as digits 0.68-1.08x. Of 100
#   generated pages (seed 0) none has two word-like groups, nor more than 8 marks in them; drawings and boards none
TALL_ANSWER = 4.0  # ... and there marks rejected as too big (answers.TALL_REASONS), up to this many times the
#   letters' height, are judged again with their own height (answers.tall_answers): worksheets seeds 0-4 recall
#   0.803 -> 0.904. At 6x the edge of a sticky note (real-dev 030 inverted) read as a 1
LETTER_CONTEXT = 1  # a region the letter detector calls a letter is still a digit in a number of at least
#   this many other digits, all read surely and no letter ...
CUT_DIGITS_SURE = 0.99  # a letter region cut into pieces read this surely, none letter-like, not all 1s, is digits
#   (_cut_into_digits). Drawings: 7 seeds up a digit, none down, over eight seed sets; Hershey letters and words
#   drawn on a canvas read exactly as before (without "not all 1s", words read with a digit in them: 66 -> 74)
LETTER_CONTEXT_DOUBT = 0.5  # ... to the detector, which scores each below this. With no such exception real-dev
#   013 lost a 4 shaped like an "A"; asking for 2 such digits, a number lost every digit with its one doubted
#   mark (drawings seed 8 0.9862 -> 0.9836, boards seeds 1, 7 0.9846/0.9748 -> 0.9829/0.9739); with 1, the
#   scenes of seeds 0-2 and 5-7 (drawings 0-2, 5-11) read as without the detector but for 3 digits (docs/model.md)


def in_text_lines(digit_boxes: list, other_boxes: list, digit_h: float = 0.0,
                  sure: list[bool] | None = None, plain: list[bool] | None = None) -> set[int]:
    """Indices of "digits" that are letters: of words (text_groups), or print-sized on a page of text."""
    in_words, printed, _ = text_groups(digit_boxes, other_boxes, digit_h, sure, plain)
    return in_words | printed


def text_groups(digit_boxes: list, other_boxes: list, digit_h: float = 0.0, sure: list[bool] | None = None,
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


def _percentile(values: np.ndarray, q: float) -> float:
    """np.percentile's default (linear) for a handful of values, without its ~40 us of overhead."""
    ordered = sorted(values.tolist())
    pos = q / 100 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def lettered_regions(options: dict[int, list[list[int]]], letter_scores: np.ndarray, bar: float) -> set[int]:
    """Regions the model's letter detector calls letters: the whole crop and a piece of every split
    first offered scored at `bar` or more. A region with a split whose pieces all score below the bar
    may be digits run together (a "14" can look like an "H"): it is not one."""
    return {i for i, opts in options.items() if all(max(letter_scores[k] for k in o) >= bar for o in opts)}


def cut_regions(chosen: list[int], crops: list[Crop]) -> dict[int, list[int]]:
    """The regions chosen cut into pieces (two or more of their crops chosen: a region is chosen whole
    or as one of its splits), each with its pieces' crop indices."""
    pieces: dict[int, list[int]] = {}
    for k in chosen:
        pieces.setdefault(crops[k].region, []).append(k)
    return {r: ks for r, ks in pieces.items() if len(ks) > 1}


def _cut_into_digits(chosen: list[int], crops: list[Crop], letter_regions: set[int], conf: np.ndarray,
                     letter_scores: np.ndarray, labels: list[str]) -> set[int]:
    """Letter regions chosen as two or more pieces, each read at CUT_DIGITS_SURE or more and scored under
    LETTER_CONTEXT_DOUBT by the letter detector, and not all read as 1: digits drawn touching, whose
    whole mark looks like a letter (drawings 6/60, a "14" like an "H"). A "u", "n" or "v" cut in two
    reads as two 1s, and stays a letter."""
    return {r for r, ks in cut_regions(chosen, crops).items() if r in letter_regions
            and not all(labels[k] == "1" for k in ks)
            and all(conf[k] >= CUT_DIGITS_SURE and letter_scores[k] < LETTER_CONTEXT_DOUBT for k in ks)}


def without_letters(chosen: list[int], rejected: list[tuple[int, int, int, int]], crops: list[Crop],
                    letter_regions: set[int], conf: np.ndarray, sure: float, letter_scores: np.ndarray,
                    labels: list[str]) -> tuple[list[int], list[tuple[int, int, int, int]]]:
    """Move the accepted crops of letter regions (lettered_regions), and of every number they stand in
    (the rest of a word), to the front of the rejected boxes (paper edges stay last, undrawn);
    unless the letter stands alone among digits: in a number with LETTER_CONTEXT other digits, all
    read at `sure` or more and scored below LETTER_CONTEXT_DOUBT by the detector (a 4 closed at the
    top looks like an "A", but not in "345678").

    Done after every other choice, so the detector only ever takes digits away: a word's letters
    still count as marks for the text rules (in_text_lines) as they did before it, and an "n"
    still cannot come back cut in two as "11". But a region chosen cut into digits that are not all
    1s (`labels`: each crop's reading) is not a letter (_cut_into_digits)."""
    letter_regions = letter_regions - _cut_into_digits(chosen, crops, letter_regions, conf, letter_scores, labels)
    lettered = [crops[k].region in letter_regions for k in chosen]
    if not any(lettered):
        return chosen, rejected
    gone: set[int] = set()
    for number in (n for line in grouping.group([crops[k].box for k in chosen]) for n in line):
        marks = {crops[chosen[j]].region for j in number if lettered[j]}
        others = [chosen[j] for j in number if not lettered[j]]
        if len(marks) > 1 or (marks and not sure_company(others, conf, letter_scores, sure)):
            gone.update(number)
    return ([k for j, k in enumerate(chosen) if j not in gone],
            [crops[chosen[j]].box for j in sorted(gone)] + rejected)


def sure_company(others: list[int], conf: np.ndarray, letter_scores: np.ndarray, sure: float) -> bool:
    """Whether crops `others`, the rest of a letter-like mark's number, vouch for it as a digit: at
    least LETTER_CONTEXT of them, all read at `sure` or more and scored below LETTER_CONTEXT_DOUBT
    by the letter detector (a 4 closed at the top looks like an "A", but not in "345678")."""
    return len(others) >= LETTER_CONTEXT and all(conf[k] >= sure and letter_scores[k] < LETTER_CONTEXT_DOUBT
                                                 for k in others)
