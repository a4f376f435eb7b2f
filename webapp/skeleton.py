"""A shape's skeleton: the one-pixel-wide middle line of its strokes, for tracing a pen's path."""
from __future__ import annotations

import numpy as np


def ring(padded: np.ndarray) -> list[np.ndarray]:
    """The 8 neighbours of every inner pixel of a 1-pixel-padded array, clockwise from the one above
    (Zhang and Suen's P2..P9)."""
    p = padded
    return [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]


def crossings(neighbours: list[np.ndarray]) -> np.ndarray:
    """How many separate runs of ink each pixel's ring of 8 neighbours holds: 1 along a stroke or at
    its end, 3 or more at a branch point (a plain neighbour count also fires on a diagonal's steps)."""
    n = neighbours
    return sum(((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.int16) for i in range(8))


def thin(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide skeleton of a boolean mask (Zhang & Suen, 1984), vectorised."""
    img = np.pad(mask.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = ring(img)
            count = sum(q.astype(np.int16) for q in p)
            transitions = crossings(p)
            if step == 0:
                side = ((p[0] & p[2] & p[4]) == 0) & ((p[2] & p[4] & p[6]) == 0)
            else:
                side = ((p[0] & p[2] & p[6]) == 0) & ((p[0] & p[4] & p[6]) == 0)
            delete = (img[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & side
            if delete.any():
                img[1:-1, 1:-1][delete] = 0
                changed = True
    return img[1:-1, 1:-1].astype(bool)
