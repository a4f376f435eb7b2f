"""Digit boxes -> lines of numbers in reading order, tolerant of slanted writing.

Each digit is linked to the nearest digit on its right when the two choose each other
(mutual nearest neighbours), as long as the step between them is no steeper than a slanted
line would be. Chains of links are lines; a line breaks into numbers where the gap between
two digits is wide for the line's digit size.
"""
from __future__ import annotations

import statistics

import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h

LINK_MAX_GAP = 3.0  # neighbours on a line are at most 3 digit heights apart (edge to edge)
LINK_SLOPE = 1.2  # a line may rise or fall up to ~50 degrees ...
LINK_LEVEL = 0.6  # ... and any line tolerates a vertical offset of 0.6 digit heights (a raised 3)
LINK_HEIGHT_RATIO = 2.5  # neighbours differ in height by at most this factor
STEP_DY_WEIGHT = 2.0  # a step up or down costs twice a step along: level neighbours win ties
JOIN_LEVEL = 0.5  # separate chains continue one line when the next starts within 0.5 heights of its course
NUMBER_GAP = 0.75  # a gap wider than 0.75 digit heights separates two numbers
OFF_COURSE = 1.0  # a link whose far digit lies over a digit height off its line's course is cut ...
COURSE_LINKS = 3  # ... the course being the median slope of the line's links, given this many, else of
#   the links of the frame's lines that have as many, else level (_on_course)


def _pair_geometry(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y, w, h = boxes.T.astype(np.float64)
    cx, cy = x + w / 2, y + h / 2
    dx = cx[None, :] - cx[:, None]  # [i, j]: from i to j
    dy = cy[None, :] - cy[:, None]
    size = np.maximum(h[:, None], h[None, :])
    # Edge-to-edge gap along the step: centre distance minus the half-extents along it.
    dist = np.hypot(dx, dy)
    ux, uy = dx / np.maximum(dist, 1e-9), dy / np.maximum(dist, 1e-9)
    half_i = (np.abs(ux) * w[:, None] + np.abs(uy) * h[:, None]) / 2
    half_j = (np.abs(ux) * w[None, :] + np.abs(uy) * h[None, :]) / 2
    gap = dist - half_i - half_j
    return dx, dy, size, gap


def link_right(boxes: np.ndarray, geometry: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
    """For each digit, the index of its right-hand neighbour on the same line, or -1.

    `geometry` is `_pair_geometry(boxes)` when the caller has it already.
    """
    n = len(boxes)
    nxt = np.full(n, -1)
    if n < 2:
        return nxt
    dx, dy, size, gap = geometry if geometry is not None else _pair_geometry(boxes)
    h = boxes[:, 3].astype(np.float64)
    ratio = np.maximum(h[:, None], h[None, :]) / np.maximum(np.minimum(h[:, None], h[None, :]), 1)
    ok = (dx > 0) & (gap <= LINK_MAX_GAP * size) & (ratio <= LINK_HEIGHT_RATIO)
    ok &= np.abs(dy) <= np.maximum(LINK_SLOPE * dx, LINK_LEVEL * size)
    cost = np.where(ok, np.hypot(dx, STEP_DY_WEIGHT * dy) / size, np.inf)
    best_right = np.argmin(cost, axis=1)
    best_left = np.argmin(cost, axis=0)
    rows = np.arange(n)
    mutual = np.isfinite(cost[rows, best_right]) & (best_left[best_right] == rows)
    nxt[mutual] = best_right[mutual]
    return nxt


def _held_slope(rise: float, run: float) -> float:
    """A step's slope held to what a line may take (LINK_SLOPE); level for a step that does not go right.
    A digit nearly under its neighbour would otherwise make a slope of 5 or more."""
    return min(max(rise / run, -LINK_SLOPE), LINK_SLOPE) if run > 0 else 0.0


def _chains(nxt: np.ndarray) -> list[list[int]]:
    """Follow the links from each digit that has none on its left."""
    has_left = np.zeros(len(nxt), bool)
    has_left[nxt[nxt >= 0]] = True
    chains = []
    for start in np.flatnonzero(~has_left):
        chain = [int(start)]
        while nxt[chain[-1]] >= 0:
            chain.append(int(nxt[chain[-1]]))
        chains.append(chain)
    return chains


def _on_course(nxt: np.ndarray, geometry: tuple[np.ndarray, ...]) -> np.ndarray:
    """Cut the links that leave their line's course (OFF_COURSE); `geometry` is _pair_geometry's.

    A line may slant up to ~50 degrees (LINK_SLOPE), so a digit alone on the next line, left of a
    number's start, can be its nearest neighbour and join it at a steep step ("9476" over "7" read
    "7 9476"). The rest of the line, or the frame's other lines, show that step is no slant.
    Plain Python over the links: a frame has a few dozen, and this runs several times a frame.
    """
    dx, dy, size, _ = geometry
    links = np.flatnonzero(nxt >= 0)
    ends = nxt[links]
    moves = zip(dx[links, ends].tolist(), dy[links, ends].tolist(), size[links, ends].tolist())
    step = dict(zip(links.tolist(), moves))
    slope = {i: _held_slope(y, x) for i, (x, y, _) in step.items()}  # links go right: x > 0
    chains = _chains(nxt)
    long_lines = [slope[k] for c in chains if len(c) > COURSE_LINKS for k in c[:-1]]
    frame_course = statistics.median(long_lines) if long_lines else 0.0  # none: level, as most writing
    out = nxt.copy()
    for chain in chains:
        links = chain[:-1]
        if len(links) >= COURSE_LINKS:  # the line's own median: one odd step cannot move it
            course = statistics.median(slope[k] for k in links)
        else:  # a short line: the frame's long ones (never this one)
            course = frame_course
        for i in links:
            x, y, height = step[i]
            if abs(y - course * x) > OFF_COURSE * height:
                out[i] = -1
    return out


def _join_chains(chains: list[list[int]], arr: np.ndarray) -> list[list[int]]:
    """Join chains that continue each other across a gap too wide for a link: numbers far apart on one line."""
    x, y, w, h = (v.tolist() for v in arr.T.astype(np.float64))
    cx = [a + b / 2 for a, b in zip(x, w)]
    cy = [a + b / 2 for a, b in zip(y, h)]
    chains = [list(c) for c in chains]
    while len(chains) > 1:
        left = [min(x[k] for k in c) for c in chains]
        right = [max(x[k] + w[k] for k in c) for c in chains]
        best = None
        for i, a in enumerate(chains):
            end, run = a[-1], cx[a[-1]] - cx[a[0]]
            slope = _held_slope(cy[end] - cy[a[0]], run)
            for j, b in enumerate(chains):
                start = b[0]
                if i == j or left[j] < right[i]:
                    continue
                similar = max(h[start], h[end]) <= LINK_HEIGHT_RATIO * min(h[start], h[end])
                expected = cy[end] + slope * (cx[start] - cx[end])
                if similar and abs(cy[start] - expected) <= JOIN_LEVEL * max(h[end], h[start]):
                    if best is None or left[j] - right[i] < best[0]:
                        best = (left[j] - right[i], i, j)
        if best is None:
            break
        _, i, j = best
        chains[i] = chains[i] + chains[j]
        del chains[j]
    return chains


def group(boxes: list[Box]) -> list[list[list[int]]]:
    """Return lines (top to bottom) of numbers (left to right) of digit indices."""
    if not boxes:
        return []
    arr = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    geometry = _pair_geometry(arr)
    nxt = _on_course(link_right(arr, geometry), geometry)
    chains = _join_chains(_chains(nxt), arr)
    mid_y, heights = (arr[:, 1] + arr[:, 3] / 2).tolist(), arr[:, 3].tolist()  # lists: chains are short
    centre_y = [sum(mid_y[k] for k in c) / len(c) for c in chains]
    gap = geometry[3]
    lines = []
    for chain in (chains[k] for k in np.argsort(centre_y, kind="stable")):
        digit_h = statistics.median(heights[k] for k in chain)
        numbers = [[chain[0]]]
        for a, b in zip(chain[:-1], chain[1:]):
            if gap[a, b] > NUMBER_GAP * digit_h:
                numbers.append([])
            numbers[-1].append(b)
        lines.append(numbers)
    return lines


def line_strings(lines: list[list[list[int]]], labels: list[str]) -> list[str]:
    """Render grouped indices as text: numbers joined by one space, one string per line."""
    return [" ".join("".join(labels[i] for i in number) for number in line) for line in lines]
