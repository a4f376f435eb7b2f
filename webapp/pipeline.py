"""read_frame: one image in, every digit found, read and grouped out. Pure: no sockets, no files.

Stages (each in its own module, each timed): grayscale, binarise (binarize.py), connected
components and region rules (segment.py), MNIST-style normalisation (model_inputs.py, with
binarize.normalize_stroke and mnistify), one batched model call, the choice of digits
(choice.py, text_rules.py), reading-order grouping (grouping.py), drawing (annotate.py).
Splits of touching digits are decided by the model: every candidate split goes into the same
single batch as the whole region, and a split wins only if even its least sure piece is in much
less doubt than the whole region. Regions the model is unsure of get a second, small batch
(retries.py). Pieces of one digit may be read together (joins.py), and a page of text has its
answers looked for again (answers.py). A photo whose polarity vote says light ink is read twice,
as dark ink and as chalk (a shadow can fool the vote; a blackboard does not), and the reading
with more very sure digits is kept; a frame whose numbers run tilted is read again turned level
(level.py). This module runs the stages and weighs those readings.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, NamedTuple

import cv2
import numpy as np

from webapp import annotate as draw
from webapp import answers, binarize, choice, grouping, joins, level, model_inputs, retries, segment, text_rules
from webapp.choice import Pass
from webapp.decode import MAX_BYTES, MAX_PIXELS, ImageError, decode_scaled, image_size
from webapp.model_inputs import Crop, Frame
from webapp.reading import Digit, Reading
from webapp.recognizer import Recognizer

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
        if not voted:
            gray = binarize.quiet_dim(gray)
        ink, bg, on_canvas = binarize.ink_and_paper(gray, light_ink=voted and mode != "camera", canvas=canvas,
                                                    paper_voted=not voted)
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


def _reading_order(digits: list[Digit]) -> tuple[list[Digit], list[str], list[list[int]]]:
    """Digits sorted line by line, left to right, the lines as text, and the numbers (indices into
    the sorted digits)."""
    lines = grouping.group([d.box for d in digits])
    order = [i for line in lines for number in line for i in number]
    remap = {old: new for new, old in enumerate(order)}
    lines = [[[remap[i] for i in number] for number in line] for line in lines]
    digits = [digits[i] for i in order]
    return digits, grouping.line_strings(lines, [str(d.label) for d in digits]), [n for line in lines for n in line]


def _digits(read: Pass, place: Callable[[grouping.Box], grouping.Box]) -> tuple[list[Digit], list[str], list[list[int]]]:
    """The pass's chosen digits in reading order (_reading_order), their boxes put in place by `place`."""
    return _reading_order([Digit(int(np.argmax(read.probs[k])), float(read.probs[k].max()), place(read.crops[k].box),
                                 [float(p) for p in read.probs[k]]) for k in read.chosen])


def work_gray(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The frame in gray, shrunk to WORK_MAX_SIDE at most and rid of sensor noise (binarize.quiet),
    and the scale it was shrunk by.

    A 12-megapixel phone photo holds nothing at full size that its digits need, and would cost
    tens of milliseconds in every stage.
    """
    gray = binarize.to_gray(image)
    scale = min(1.0, WORK_MAX_SIDE / max(gray.shape))
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return binarize.quiet(gray), scale


def _to_input(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    if scale == 1.0:
        return box
    x, y, w, h = box
    return (round(x / scale), round(y / scale), max(1, round(w / scale)), max(1, round(h / scale)))


def _segment(gray: np.ndarray, mode: str, clock: _Clock, chalk: bool = False, ink: np.ndarray | None = None) -> Frame:
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
    return Frame(ink, mask, ruled, comps, regions, digit_h, photo, doubted)


def _surer(chalk: Pass, dark: Pass) -> bool:
    """Whether a photo's chalk reading beats its dark-ink one: more digits read at CHALK_SURE or more,
    chalk on a tie, unless neither has any, when more digits at all (dark on a tie) win."""
    a, b = _very_sure(chalk), _very_sure(dark)
    return a > b or a == b > 0 or (a == b == 0 and len(chalk.chosen) > len(dark.chosen))


def _very_sure(read: Pass) -> int:
    """Accepted digits read at CHALK_SURE or more."""
    return sum(float(read.probs[k].max()) >= CHALK_SURE for k in read.chosen)


class _Look(NamedTuple):
    """A frame's crops (stage 5) and the first model call's reading of them (Recognizer.first_reading;
    None when there are no crops), taken before its full reading (_classify), which extends its
    crops and options: one look serves one reading."""

    crops: list[Crop]
    options: dict[int, list[list[int]]]
    batch: np.ndarray
    first: list[np.ndarray] | None


def _look(frame: Frame, recognizer: Recognizer, clock: _Clock) -> _Look:
    """Stage 5 and the first model call of stage 6."""
    crops, options = model_inputs.normalize(frame)
    batch = np.stack([c.image for c in crops])[:, None] if crops else np.zeros((0, 1, 28, 28), np.float32)
    clock.lap("normalize")
    first = recognizer.first_reading(batch) if crops else None
    clock.lap("classify")
    return _Look(crops, options, batch, first)


def _print_alone(frame: Frame, look: _Look, recognizer: Recognizer) -> np.ndarray | None:
    """Which crops a cascade's first member reads alone: on a page of text judged on its reading
    (choice.page_of_text), those of regions no taller than the print, dropped as print-sized whatever they
    read as (text_rules.TEXT_PAGE_TALLER). None when there is no such page, or no cascade.

    Member 1, tuned on the reader's own crops, doubts printed letters that member 0 reads surely as
    digits, and their mean lifts over the bar: on such a frame the mean shows too few unsure marks
    to make words, and its letters were read as digits (docs/reader.md, "A page of text")."""
    if look.first is None or recognizer.cascade is None:
        return None
    conf = look.first[0].max(axis=1)
    letter_h = choice.page_of_text(frame, look.crops, look.options, conf, recognizer.min_confidence,
                                   recognizer.letters_of(look.first))
    if not letter_h:
        return None
    return np.array([frame.regions[c.region].box[3] < text_rules.TEXT_PAGE_TALLER * letter_h for c in look.crops])


def _reader(frame: Frame, recognizer: Recognizer) -> Recognizer:
    """The recognizer as this kind of frame is read: a canvas with its canvas members' mean
    (Recognizer.on_canvas), a photo with the photo mean. Every reading of the frame's crops that goes
    past the first member's (_look) is taken through it, so all of them use the same mean."""
    return recognizer.on_canvas(not frame.photo)


def _classify(frame: Frame, look: _Look, recognizer: Recognizer, clock: _Clock) -> Pass:
    """Stage 6 and the choice of digits."""
    recognizer = _reader(frame, recognizer)
    crops, options, batch = look.crops, look.options, look.batch
    first_pass = len(crops)  # wholes and segment's own splits; later crops are retries'
    sure = recognizer.min_confidence
    probs, letter_scores = recognizer.classify(batch, look.first, alone=_print_alone(frame, look, recognizer))
    conf = probs.max(axis=1) if len(probs) else np.zeros(0)
    letter_regions = (text_rules.lettered_regions(options, letter_scores, recognizer.letter_bar)
                      if letter_scores is not None else set())
    retried = retries.retried_regions(options, conf, sure)  # the same lists: retries add their options to `options`
    retried = choice.not_print(frame, crops, options, retried, conf, sure, letter_scores)
    doubted = _letters_doubted(frame, options, letter_regions, conf, sure)  # lettered marks cut again too
    extra, strict = retries.retry_splits(frame, crops, retried, doubted, sure)
    steady, variants = retries.steady_crops(frame, retried, conf, len(crops) + len(extra), sure)
    extra += steady
    agreed: set[int] = set()  # whole crops whose readings at every stroke width name one digit (choice.AGREE_MARGIN)
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
    if strict:  # retries._more_cuts' cuts held to their bars (most frames have none)
        retries.hold_to_bars(options, strict, probs, sure, first_pass, canvas=not frame.photo)
    read = _choose(frame, crops, batch, probs, options, agreed, letter_scores, letter_regions, recognizer)
    together = joins.as_one_digit(frame, read, recognizer, letter_scores)
    if together:
        read = _choose_together(frame, read, together, options, agreed, letter_scores, letter_regions, recognizer)
    clock.lap("classify")
    return read


def _letters_doubted(frame: Frame, options: dict[int, list[list[int]]], letter_regions: set[int], conf: np.ndarray,
                     sure: float) -> np.ndarray:
    """`conf` with the whole readings of lettered regions on a canvas put under the bar, so that they are cut
    again (retries.retry_splits) as doubted ones are: touching digits can look like a letter ("14" like a "k")."""
    if frame.photo or not letter_regions:
        return conf
    doubted = conf.copy()
    under = np.nextafter(conf.dtype.type(sure), conf.dtype.type(0))  # the first value under the bar
    for i in letter_regions:
        whole = options[i][0]
        if len(whole) == 1:
            doubted[whole[0]] = min(doubted[whole[0]], under)
    return doubted


def _choose(frame: Frame, crops: list[Crop], batch: np.ndarray, probs: np.ndarray, options: dict[int, list[list[int]]],
            agreed: set[int], letter_scores: np.ndarray | None, letter_regions: set[int], recognizer: Recognizer) -> Pass:
    """The digits chosen among the regions' options (choice.decide), less letters and loopy marks."""
    conf, sure = probs.max(axis=1) if len(probs) else np.zeros(0), recognizer.min_confidence
    page = choice.TextPage()
    chosen, rejected = choice.decide(frame.regions, crops, options, conf, sure, frame.digit_h, canvas=not frame.photo,
                                     letter_scores=letter_scores, agreed=agreed, page=page)
    if letter_regions:
        read_as = [recognizer.labels[j] for j in probs.argmax(axis=1)]
        chosen, rejected = text_rules.without_letters(chosen, rejected, crops, letter_regions, conf, sure,
                                                      letter_scores, read_as)
    read = Pass(crops, batch, probs, chosen, rejected, tuple(page.printed), page.letter_h)
    if any(r.loopy for r in frame.regions):
        read = choice.without_loopy(read, frame.regions, recognizer.labels)
    return read


def _choose_together(frame: Frame, read: Pass, together: joins.Together, options: dict[int, list[list[int]]],
                     agreed: set[int], letter_scores: np.ndarray | None, letter_regions: set[int],
                     recognizer: Recognizer) -> Pass:
    """_choose again with each group of pieces read as one digit (joins.as_one_digit) in the place of
    its pieces: the text rules judged each piece as a short mark, and a 5 in two pieces beside a
    doubted mark made its line look like a word and cost the line's sure digits."""
    n = len(read.crops)
    options = {i: o for i, o in options.items() if i not in together.pieces}
    options.update({c.region: [[n + j]] for j, c in enumerate(together.crops)})
    batch = np.concatenate([read.batch, np.stack([c.image for c in together.crops])[:, None]])
    probs = np.concatenate([read.probs, together.probs])
    if letter_scores is not None:
        letter_scores = np.concatenate([letter_scores, together.letters])
    again = _choose(frame, read.crops + together.crops, batch, probs, options, agreed, letter_scores, letter_regions,
                    recognizer)
    return together.without_pieces(again, frame)


def _read_doubted(gray: np.ndarray, mode: str, dark: Frame, recognizer: Recognizer, clock: _Clock
                  ) -> tuple[Frame, Pass]:
    """The surer (_surer) of a doubted photo's two readings, as dark ink and as chalk.

    Both get the model's first call (_look), which bounds how many very sure digits each could
    reach (Recognizer.could_reach). The one with the higher bound is read in full first: chalk on a
    blackboard, whose dark-ink reading finds many marks but few sure digits and costs most in full
    (its first network doubts most of them, so the second reads them too); dark ink on a page in a
    shadow, whose chalk reading finds its paper's grain. The other is finished only when its bound
    says it could still win. Crops read under the bar and steadied by retries at other stroke
    widths (retries.steady_crops) cannot reach CHALK_SURE in a mean of three; digits that split retries or
    pieces read together add are not counted, and have never decided it (docs/reader.md).
    """
    chalk = _segment(gray, mode, clock, chalk=True)
    chalk_look, dark_look = _look(chalk, recognizer, clock), _look(dark, recognizer, clock)
    chalk_bound, dark_bound = (0 if look.first is None
                               else _reader(frame, recognizer).could_reach(look.first, CHALK_SURE)
                               for frame, look in ((chalk, chalk_look), (dark, dark_look)))
    if dark_bound > chalk_bound:
        dark_read = _classify(dark, dark_look, recognizer, clock)
        if _very_sure(dark_read) > chalk_bound:  # chalk could not even tie
            return dark, dark_read
        chalk_read = _classify(chalk, chalk_look, recognizer, clock)
    else:
        chalk_read = _classify(chalk, chalk_look, recognizer, clock)
        very_sure = _very_sure(chalk_read)
        if very_sure > 0 and dark_bound <= very_sure:  # dark ink could at best tie, and chalk wins ties
            return chalk, chalk_read
        dark_read = _classify(dark, dark_look, recognizer, clock)
    return (chalk, chalk_read) if _surer(chalk_read, dark_read) else (dark, dark_read)


def _faint_answers(gray: np.ndarray, mode: str, frame: Frame, read: Pass, recognizer: Recognizer,
                   clock: _Clock) -> tuple[Pass, np.ndarray | None]:
    """On a photographed page of text, the ink left once the print and the digits read are taken
    out (answers.ink_left), read on its own: pencil answers beside black print. Returns the pass
    with that reading's answers added (answers.with_faint), and its mask (None when none is added)."""
    left = _segment(gray, mode, clock, ink=answers.ink_left(frame))
    if not any(r.reason is None for r in left.regions):
        return read, None
    faint = _classify(left, _look(left, recognizer, clock), recognizer, clock).without_printed()
    added = answers.with_faint(read, faint, len(left.regions))
    return (read, None) if added is None else (added, left.mask)


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
    frame, read, faint_mask = _read_gray(gray, mode, recognizer, clock)
    digits, text, numbers = _digits(read, lambda box: _to_input(box, scale))
    clock.lap("group")
    turn = None  # how the frame read was turned, when it was
    angle = level.line_angle([d.box for d in digits], numbers)
    if abs(angle) >= level.TURN_MIN:  # a sheet held askew: read again turned level (webapp/level.py)
        turned = level.Turn(gray.shape, angle)
        level_gray = turned.image(gray)
        clock.lap("turn")
        again = _read_gray(level_gray, mode, recognizer, clock)
        if _very_sure(again[1]) >= _very_sure(read):  # kept unless it has fewer very sure digits
            (frame, read, faint_mask), gray, turn = again, level_gray, turned
            digits, text, _ = _digits(read, lambda box: box)  # in reading order as read: its lines run level
            digits = [replace(d, box=_to_input(turn.back(d.box, _ink(frame, d.box)), scale)) for d in digits]
    edges = choice.backdrop_count(frame.regions)
    rejected = [_to_input(turn.back(b) if turn else b, scale) for b in read.rejected]
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


def _ink(frame: Frame, box: tuple[int, int, int, int]) -> np.ndarray:
    """The frame's ink mask within a box."""
    x, y, w, h = box
    return frame.mask[y : y + h, x : x + w]


def _read_gray(gray: np.ndarray, mode: str, recognizer: Recognizer, clock: _Clock
               ) -> tuple[Frame, Pass, np.ndarray | None]:
    """Stages 2-6 and the choice of digits on a working gray frame: its regions, the pass of digits
    chosen (a page of text's print left out, its answers looked for) and the mask of faint answers
    read on their own (None when none were)."""
    frame = _segment(gray, mode, clock)
    if frame.doubted:  # chalk on a blackboard, or a shadow that fooled the vote
        frame, read = _read_doubted(gray, mode, frame, recognizer, clock)
    else:
        read = _classify(frame, _look(frame, recognizer, clock), recognizer, clock)
    read = read.without_printed()
    faint_mask = None
    if read.letter_h:
        read = answers.tall_answers(frame, read, _reader(frame, recognizer))
        if frame.photo:
            read, faint_mask = _faint_answers(gray, mode, frame, read, recognizer, clock)
    return frame, read, faint_mask


def teaching_crops(crops: list[Crop], batch: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The model's inputs with "label confidence%" captions, in reading order of their boxes.

    Every crop the model saw is shown, splits that lost included, so a class can see what was tried.
    """
    if not crops:
        return batch[:, 0], []
    order = [i for line in grouping.group([c.box for c in crops]) for number in line for i in number]
    captions = [f"{int(np.argmax(probs[k]))} {round(100 * float(probs[k].max()))}%" for k in order]
    return batch[order, 0], captions


def _stages(gray: np.ndarray, frame: Frame, faint: np.ndarray | None = None) -> dict[str, np.ndarray]:
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
