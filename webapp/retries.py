"""Regions read again when the model doubts them: on a canvas, cut in two (digits drawn into each
other) and at more places; on any frame, redrawn with thinner and thicker strokes. Only the few
unsure regions, after the first model call, so the common frame pays nothing.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from webapp import choice, model_inputs, segment
from webapp.model_inputs import Crop, Frame

RETRY_ASPECT = 0.8  # on a canvas, an unsure region at least this wide (w/h) is tried as two digits drawn
#                     into each other (drawings F1 0.9885 -> 0.9918; 0.65 and 0.7 the same, 0.95 0.9901) ...
RETRY_SURE = 0.9  # ... and so is one read below this, whatever the model's bar: a pair read whole at 0.87
#                   (drawings F1 seed 1 0.9877 -> 0.9885, held-out seed 3 0.9842 -> 0.9849, others same;
#                   0.95 and 0.99 the same; of 300 MNIST pairs drawn into each other 4 more read right, none less)
RETRY_WINDOWS = (segment.SPLIT_WINDOW, 0.5)  # ... at the emptiest column near the middle, and also anywhere
#   from a quarter to three quarters of the width: a 1 drawn into a 0 takes a quarter of the pair (drawings
#   F1 seed 1 0.9843 -> 0.9868, seeds 0, 2 same; 0.42-0.55 the same, 0.6 0.9852; the wide cut alone lost 30s)
MORE_CUTS = (0.3, 0.4, 0.5, 0.6, 0.7)  # such a region at least MORE_CUTS_ASPECT wide, and one whose every cut read
MORE_CUTS_ASPECT = 1.0  # below the bar, is also cut at these shares of its width (none within MORE_CUTS_APART of
MORE_CUTS_APART = 0.05  # a cut already tried) ... (_more_cuts)
MORE_CUTS_SURE = 0.97  # ... and such a cut wins only when both its pieces read this surely: more cuts, more ways to
#   cut one odd digit in two (a flat-topped 3 read "7 5"). `digitcam eval-pairs` seeds 0 / 1: pairs drawn into each
#   other 59.4% / 70.7% -> 70.5% / 82.2% read right, touching 95.8% / 91.5% -> 96.3% / 92.5%, apart the same;
#   drawings seeds 0-2, 5-21 pooled 0.9898 -> 0.9897; eval-glyphs the same (98.37%). With no such bar (measured
#   on a first set of 600 pairs): 59.8% -> 73.7% of the pairs drawn into each other, but pairs apart 97.7% ->
#   96.8% and drawings 0.9878 (single digits cut in two). At 0.95: 72.0% / 82.7%, eval-glyphs 98.33%; at 0.99:
#   66.2% / 75.9%, eval-glyphs 98.37%
LOST_WHOLE = 0.3  # on a canvas, a region read whole below this is no digit the model knows, and its cuts of
LOST_CUTS_SURE = 0.85  # _more_cuts (MORE_CUTS and valleys) need pieces read this surely, not MORE_CUTS_SURE: a
#   "31" read whole at 0.16 cut into 0.99 and 0.87 (drawings 162/99). eval-pairs seeds 0 / 1 (with the lettered
#   regions' cuts, pipeline._letters_doubted): drawn into each other 78.3% / 86.4% -> 81.2% / 89.5%, the rest the
#   same; drawings over ten seed sets 9 seeds up a digit, 3 down; eval-glyphs, eval-sums the same. At 0.75: the
#   same pairs 80.7% / 90.1%, but drawings 120-139 lost 2 seeds ("48" read "49", "62" read "122"); whole below
#   0.5, at 0.75: 120-139 down 2 seeds, 160-179 2 up and 2 down
NECK = 1.0  # ... and so is a sure one pinched to one stroke width at its middle cut, where two digits touch
#             (drawings F1 seed 1 0.9818 -> 0.9843, seeds 0, 2 same; 0.8: 0.9827; 1.2 cost seeds 0 and 2 0.001-0.002)
STEADY_STROKES = (0.8, 1.25)  # an unsure region is read again with strokes this much thinner and thicker
#   than the frame's stroke target, and the three readings averaged (drawings F1 seeds 0-2 0.9918/0.9877/0.9887
#   -> 0.9926/0.9885/0.9896; seeds 5-9: four up, one down a digit; 0.75/1.33 the same; 1.25 alone or 0.8/1.25/1.5 no
#   better, 0.8 alone less). Strokes within binarize.STROKE_TOLERANCE of a target are left as they are, so one
#   of the two is often the first reading again (17 of 25 unsure regions, drawings seeds 0-2). On photos too:
#   pages F1 seeds 0-2 0.9752/0.9756/0.9683 -> 0.9769/0.9760/0.9705, seeds 5-7 0.9741/0.9669/
#   0.9759 -> 0.9741/0.9669/0.9764, held-out seeds 3, 4 0.9791/0.9811 -> 0.9808/0.9825, with
#   text_rules.TEXT_OTHER_SHARE 0.45 (without it a words-only real-dev photo read 6 invented digits); real-dev
#   CER 0.1635 -> 0.1731, one more digit in the capitals of scan 021. STEADY_STROKES (0.6, 0.8) on photos:
#   seed 2 0.9688, seed 7 0.9789, more invented digits
VALLEY_EDGE = 0.12  # on a canvas, a region read below the bar is also cut at each valley of its ink columns from
VALLEY_DEPTH = 0.7  # 12% to 88% of its width, where a column's ink falls to 70% of the lower peak beside it, when it
VALLEY_ASPECT = 0.4  # is at least 0.4 as wide as tall: a 1 drawn into a broad digit stands in a fifth of the pair,
#   where neither the middle cuts nor MORE_CUTS reach, and two 1s drawn into each other are narrower than
#   RETRY_ASPECT. Held to MORE_CUTS_SURE as those cuts are (_valleys). Drawings seeds 0-2, 5-31 0.9899 -> 0.9901,
#   fresh 32-59 0.9876 -> 0.9879 (with three-way cuts at two valleys: 0.9902, 0.9881); eval-pairs touching
#   96.9% / 93.5% -> 97.9% / 94.5%; eval-glyphs the same. For
#   regions read surely below RETRY_SURE too, digits read right whose stem stands apart were cut ("61" for a 9)
VALLEY_PIECES = 0.99  # a region read at or above the bar but below RETRY_SURE is cut at its valleys too, in two
#   only, and such a cut wins only when both pieces read this surely: a 4 with a 1 drawn into it read as a 4 at
#   0.80-0.89 (the 9 read "61" above was read at 0.72, its pieces at 0.97-0.98). Drawings seeds 0-2, 5-31 0.9905
#   -> 0.9906 (2 seeds up, none down), 60-79 1 up, none down, 32-59 2 up, 1 down; eval-pairs drawn into each
#   other seed 0 73.4% -> 74.9%, seed 1 touching 94.5% -> 95.0%, apart 97.6% -> 97.1%; eval-glyphs the same.
#   At 0.98, seeds 60-79 lost two seeds; held to MORE_CUTS_SURE, a 6 read 0.77 was cut "111"
RETRY_MOST = 16  # at most this many unsure regions of a frame are read again (split, cut or steadied), the
#   surest first: a page of words has a hundred unsure letters, and reading them all again tripled the model's
#   work (`bench-pipeline --kind words`: 0.82-0.85 -> 0.41-0.43 s a frame). No generated scene has as many
#   unsure regions: their readings are the same (docs/reader.md, "A page of words")


def retried_regions(options: dict[int, list[list[int]]], conf: np.ndarray, sure: float) -> dict[int, list[list[int]]]:
    """The regions that may be read again (split, cut or steadied): all of them, unless more than
    RETRY_MOST are unsure (every option read below `sure`), when the unsure ones but the RETRY_MOST
    surest are left out. Most frames have a few unsure regions; a page of words, a hundred."""
    best = {i: max(float(conf[o].min()) for o in opts) for i, opts in options.items()}
    unsure = [i for i in options if best[i] < sure]
    if len(unsure) <= RETRY_MOST:
        return options
    left_out = set(sorted(unsure, key=lambda i: -best[i])[RETRY_MOST:])
    return {i: opts for i, opts in options.items() if i not in left_out}


def retry_candidates(frame: Frame, options: dict[int, list[list[int]]]
                     ) -> Iterator[tuple[int, segment.Region, np.ndarray, list[list[tuple[int, int]]]]]:
    """The canvas regions retry_splits may cut in two, each with its region_mask and two-way cuts.

    Regions left with no split to weigh (none offered, or every one refused) and from
    RETRY_ASPECT to choice.MUST_SPLIT_ASPECT wide: a wider one had its splits weighed already, and any
    cut of it would be forced (choice.choose). The cuts are the middle one and one searched wider
    (RETRY_WINDOWS), for a narrow digit (a 1) touching a broad one. None on photos.
    """
    if frame.photo:
        return
    for i, opts in options.items():
        region = frame.regions[i]
        if len(opts) > 1 or not RETRY_ASPECT <= region.aspect <= choice.MUST_SPLIT_ASPECT:
            continue
        rmask = segment.region_mask(frame.comps, region)
        splits = [c for c in (segment.split_candidates(rmask, 2, w) for w in RETRY_WINDOWS) if c]
        yield i, region, rmask, [c for k, c in enumerate(splits) if c not in splits[:k]]


def retry_splits(frame: Frame, crops: list[Crop], options: dict[int, list[list[int]]],
                 conf: np.ndarray, sure: float) -> tuple[list[Crop], dict[int, float]]:
    """Crops of two-way splits for regions left without one (retry_candidates) that may be two digits,
    and of _more_cuts; with the first crop index of each option of _more_cuts and the bar its pieces
    must all reach (MORE_CUTS_SURE, VALLEY_PIECES or LOST_CUTS_SURE; hold_to_bars). `conf` may hold
    readings put under the bar on purpose (pipeline._letters_doubted): those regions are cut as doubted.

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
    strict: dict[int, float] = {}
    for i, region, rmask, splits, *bar in retries + more:  # _more_cuts' carry the bar their pieces must reach
        for option in model_inputs.split_crops(i, region, frame, splits, rmask):
            first = len(crops) + len(extra)
            options[i].append(list(range(first, first + len(option))))
            if bar:
                strict[first] = bar[0]
            extra.extend(option)
    return extra, strict


def _more_cuts(frame: Frame, crops: list[Crop], options: dict[int, list[list[int]]], conf: np.ndarray, sure: float,
               retries: list) -> Iterator[tuple[int, segment.Region, np.ndarray, list[list[tuple[int, int]]], float]]:
    """Two-way cuts at MORE_CUTS shares of the width of regions at least MORE_CUTS_ASPECT wide that are
    cut again now (`retries`, canvas only) or whose every reading, whole or split, was below the bar;
    and, on a canvas, at the valleys of the ink (_valleys) of regions read whole below the bar, at
    each one and at each two of them (three digits, a 1 among them, drawn into each other), and of
    those read below RETRY_SURE, at each one. Each with the bar both pieces must reach to win
    (LOST_CUTS_SURE for a canvas region read whole below LOST_WHOLE).

    A cut at the emptiest column suits digits that touch; two drawn into each other share columns,
    and the emptiest one can lie inside either digit's loop. Photos too: there only regions wide
    enough to have been offered splits qualify (pages seeds 0-2, 5-7 pooled 0.9808 -> 0.9813, none
    lower, touching pages 0.9479 -> 0.9527; held-out 3, 4 and seeds 12-21 0.9814 -> 0.9816, none
    lower; boards and real-dev the same)."""
    retried = {i: splits for i, _, _, splits in retries}
    for i, opts in options.items():
        region = frame.regions[i]
        wide = region.aspect >= MORE_CUTS_ASPECT
        valleys = not frame.photo and region.aspect >= VALLEY_ASPECT and conf[opts[0][0]] < max(sure, RETRY_SURE)
        if not (wide or valleys):  # most regions, so before the options are looked at
            continue
        scored = [o for o in opts if max(o) < len(conf)]  # not the splits retried just now
        offered = [o for o in scored[1:] if len(o) == 2]
        unsure = bool(offered) and max(float(conf[o].min()) for o in scored) < sure
        if not (i in retried or unsure or valleys):
            continue
        w = region.box[2]
        rmask = segment.region_mask(frame.comps, region)
        have = {c[0][1] for c in retried.get(i, []) if len(c) == 2}
        have |= {crops[o[1]].box[0] - region.box[0] for o in offered}
        lows = _valleys(rmask, region.stroke) if valleys else []
        tried = {round(f * w) for f in MORE_CUTS} if wide else set()
        cuts = []
        for c in sorted(tried | set(lows)):
            if all(abs(c - h) > MORE_CUTS_APART * w for h in have):
                cuts.append(c)
                have.add(c)
        if conf[opts[0][0]] >= sure:  # read at the bar: its valleys cut in two only, held to VALLEY_PIECES
            for bar, chosen in ((MORE_CUTS_SURE, [c for c in cuts if c in tried]),
                                (VALLEY_PIECES, [c for c in cuts if c not in tried])):
                if chosen:
                    yield i, region, rmask, [[(0, c), (c, w)] for c in chosen], bar
            continue
        splits = [[(0, c), (c, w)] for c in cuts]
        splits += [[(0, a), (a, b), (b, w)] for k, a in enumerate(lows) for b in lows[k + 1 :]]
        if splits:
            lost = not frame.photo and conf[opts[0][0]] < LOST_WHOLE
            yield i, region, rmask, splits, LOST_CUTS_SURE if lost else MORE_CUTS_SURE


def _valleys(mask: np.ndarray, stroke: float) -> list[int]:
    """Columns from VALLEY_EDGE to 1 - VALLEY_EDGE of the width where the mask's ink falls to a
    local low (within a stroke width either side) of at most VALLEY_DEPTH of the lower peak on
    either side: where a narrow digit meets a broad one, wherever along the pair that is."""
    profile = np.count_nonzero(mask, axis=0)
    w = len(profile)
    reach = max(1, round(stroke))
    left, right = np.maximum.accumulate(profile), np.maximum.accumulate(profile[::-1])[::-1]
    out = []
    for c in range(max(1, round(VALLEY_EDGE * w)), min(w - 1, round((1 - VALLEY_EDGE) * w))):
        low = profile[c] == profile[max(0, c - reach) : c + reach + 1].min()
        if low and profile[c] <= VALLEY_DEPTH * min(left[c - 1], right[c + 1]) and (not out or c - out[-1] > reach):
            out.append(c)
    return out


def _deeper_splits(frame: Frame, crops: list[Crop], options: dict[int, list[list[int]]], conf: np.ndarray,
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


def steady_crops(frame: Frame, options: dict[int, list[list[int]]], conf: np.ndarray,
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
        extra += [model_inputs.whole_crop(i, region, frame, rmask, frame.stroke_target * f) for f in STEADY_STROKES]
    return extra, variants


def _neck(mask: np.ndarray, cut: int, stroke: float) -> bool:
    """Whether the mask is pinched to one stroke at column `cut`: where two digits touch."""
    lo, hi = max(0, cut - 2), min(mask.shape[1], cut + 3)  # the cut and two columns either side
    ink = np.count_nonzero(mask[:, lo:hi], axis=0)
    return bool(ink.min() <= NECK * stroke)


def hold_to_bars(options: dict[int, list[list[int]]], strict: dict[int, float], probs: np.ndarray, sure: float,
                 first: int, canvas: bool) -> None:
    """Drop in place each of retry_splits' `strict` cuts (its first crop -> its bar) with a piece read
    under its bar, unless on a `canvas` it moves a first-pass split (surer_same; crops before `first`)."""
    conf, labels = probs.max(axis=1), probs.argmax(axis=1)

    def held(option: list[int], opts: list[list[int]]) -> bool:
        if option[0] not in strict or conf[option].min() >= strict[option[0]]:
            return True
        return canvas and surer_same(option, opts, first, labels, conf, sure)

    for i, opts in options.items():
        options[i] = [o for o in opts if held(o, opts)]


def surer_same(option: list[int], options: list[list[int]], first: int, labels: np.ndarray,
               conf: np.ndarray, sure: float) -> bool:
    """Whether a cut held to a stricter bar (_more_cuts: MORE_CUTS_SURE, VALLEY_PIECES or LOST_CUTS_SURE)
    reads the very digits the region's own split reads (one of the first `first` crops), every piece at
    the bar and its least sure piece surer than the split's: it then only moves the split's cut, and the
    pieces it names are not new guesses."""
    if conf[option].min() < sure:
        return False
    named = labels[option].tolist()
    return any(len(o) == len(option) and max(o) < first and labels[o].tolist() == named
               and conf[o].min() < conf[option].min() for o in options)
