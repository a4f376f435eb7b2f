"""What paper and a webcam do to ink, for synthetic scenes: rules, light, shadow, view, noise.

Plain image functions with explicit random generators; `webapp.scenes` decides which to apply.
"""
from __future__ import annotations

import cv2
import numpy as np

PAPERS = {  # BGR: bright office paper, cream, recycled grey, yellow sticky note
    "white": (242, 244, 245), "cream": (205, 232, 243), "grey": (200, 205, 208), "yellow": (140, 228, 246),
}
PENS = {"black": (35, 35, 40), "blue": (150, 55, 25), "pencil": (95, 95, 100)}
RULE = (228, 196, 160)  # pale blue of ruled and squared paper
MARGIN = (120, 110, 225)  # the red margin line


def blend(base: np.ndarray, alpha: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    """Lay `colour` over float BGR `base` with coverage `alpha` (HxW in [0, 1])."""
    a = alpha[..., None]
    return base * (1 - a) + np.asarray(colour, np.float32) * a


def ruled_lines(size: tuple[int, int], first: float, pitch: float, rng: np.random.Generator,
                margin: bool) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of horizontal rules through `first` every `pitch` px, and of a red margin line."""
    w, h = size
    rules = np.zeros((h, w), np.uint8)
    width = int(rng.integers(1, 3))
    y = first - pitch * np.ceil(first / pitch)
    while y < h:
        cv2.line(rules, (0, round(y * 16)), ((w - 1) * 16, round(y * 16)), 255, width, cv2.LINE_AA, 4)
        y += pitch
    red = np.zeros((h, w), np.uint8)
    if margin:
        x = round(w * rng.uniform(0.04, 0.1) * 16)
        cv2.line(red, (x, 0), (x, (h - 1) * 16), 255, width, cv2.LINE_AA, 4)
    return rules.astype(np.float32) / 255 * rng.uniform(0.5, 0.9), red.astype(np.float32) / 255 * 0.8


def grid_lines(size: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Coverage of squared paper's grid, `cell` pixels per square."""
    w, h = size
    grid = np.zeros((h, w), np.uint8)
    ox, oy = rng.uniform(0, cell, 2)
    for x in np.arange(ox, w, cell):
        cv2.line(grid, (round(x * 16), 0), (round(x * 16), (h - 1) * 16), 255, 1, cv2.LINE_AA, 4)
    for y in np.arange(oy, h, cell):
        cv2.line(grid, (0, round(y * 16)), ((w - 1) * 16, round(y * 16)), 255, 1, cv2.LINE_AA, 4)
    return grid.astype(np.float32) / 255 * rng.uniform(0.4, 0.8)


def lighting(size: tuple[int, int], rng: np.random.Generator, shadow: bool) -> np.ndarray:
    """Multiplicative light (HxW float32): a lamp's gradient, vignetting and maybe a soft shadow."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx - w / 2) / max(w, h), (yy - h / 2) / max(w, h)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = 1 - rng.uniform(0, 0.45) * (0.5 + u * np.cos(theta) + v * np.sin(theta))
    vignette = 1 - rng.uniform(0, 0.6) * (u * u + v * v) * 2
    light = rng.uniform(0.7, 1.05) * ramp * vignette
    if shadow:
        light *= _shadow(u, v, rng, max(w, h))
    return light.astype(np.float32)


def _shadow(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, scale: int) -> np.ndarray:
    """A soft-edged shadow: a hand or head (ellipse) or an object's straight edge (half-plane)."""
    softness = rng.uniform(3, 30) / scale
    depth = rng.uniform(0.35, 0.7)  # light left inside the shadow
    if rng.random() < 0.5:
        cu, cv_ = rng.uniform(-0.5, 0.5, 2)
        ru, rv = rng.uniform(0.15, 0.5, 2)
        dist = 1 - np.sqrt(((u - cu) / ru) ** 2 + ((v - cv_) / rv) ** 2)
        dist *= min(ru, rv)
    else:
        phi = rng.uniform(0, 2 * np.pi)
        dist = u * np.cos(phi) + v * np.sin(phi) - rng.uniform(-0.1, 0.3)
    inside = 1 / (1 + np.exp(-np.clip(dist / softness, -30, 30)))
    return 1 - (1 - depth) * inside


def view(size: tuple[int, int], rng: np.random.Generator, desk: bool) -> tuple[np.ndarray, tuple[float, ...]]:
    """A tilted, slightly oblique camera: homography page->image and the page region in view.

    Without `desk` the page fills the frame (zoomed in until it covers it); with it the page
    is smaller and the table shows around it. The region (x0, y0, x1, y1) is in page pixels.
    """
    w, h = size
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    angle = np.deg2rad(rng.uniform(-6, 6))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    jitter = rng.uniform(-0.035, 0.035, (4, 2)) * [w, h]
    scale = rng.uniform(0.78, 0.92) if desk else 1.0
    centre = np.float32([w / 2, h / 2])
    while True:
        dst = ((corners - centre) * scale) @ rot.T + centre + jitter
        m = cv2.getPerspectiveTransform(corners, dst.astype(np.float32))
        inv = np.linalg.inv(m)
        seen = cv2.perspectiveTransform(corners[None], inv)[0]  # the frame's corners on the page
        if desk or ((seen >= -1).all() and (seen[:, 0] <= w + 1).all() and (seen[:, 1] <= h + 1).all()):
            break
        scale *= 1.03
    if desk:
        return m, (0.0, 0.0, float(w), float(h))
    xs, ys = np.sort(seen[:, 0]), np.sort(seen[:, 1])
    return m, (float(xs[1]), float(ys[1]), float(xs[2]), float(ys[2]))


def camera(image: np.ndarray, rng: np.random.Generator, blur: float) -> np.ndarray:
    """Lens blur and sensor noise on a float BGR image; returns uint8."""
    if blur > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    noise = rng.normal(0, rng.uniform(1.0, 6.0), image.shape).astype(np.float32)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def scribble(width: int, height: int, stroke: int, rng: np.random.Generator) -> np.ndarray:
    """Coverage of a non-digit mark: a crossed-out zigzag or a short word in a script font."""
    canvas = np.zeros((height + 4 * stroke, width + 4 * stroke), np.uint8)
    if rng.random() < 0.5:
        n = int(rng.integers(6, 12))
        xs = np.linspace(2 * stroke, width + 2 * stroke, n)
        ys = np.where(np.arange(n) % 2, 2 * stroke, height + 2 * stroke) + rng.uniform(-3, 3, n)
        cv2.polylines(canvas, [np.int32(np.c_[xs, ys])], False, 255, stroke, cv2.LINE_AA)
    else:
        word = "".join(rng.choice(list("acemnruvwx"), int(rng.integers(3, 6))))
        font_scale = height / 22
        cv2.putText(canvas, word, (2 * stroke, height), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, font_scale, 255,
                    stroke, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255
