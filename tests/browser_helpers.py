"""Inputs and drivers for the real-browser tests: a page of MNIST digits, a y4m clip of it for
Chromium's fake camera, the real server on a loopback port, and pen strokes for the drawing pad."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",  # grant the camera without a prompt
    "--use-fake-device-for-media-stream",
]

# The numbers on the camera test's page, one string per line of handwriting.
CAMERA_LINES = ["4702", "389"]
DIGIT_PX = 112  # height of a pasted MNIST digit on the 640x480 page (MNIST's 28 px, x4)


def pick_mnist_digits(mnist_dir: Path, recognizer, per_label: int = 1) -> dict[int, list[np.ndarray]]:
    """Well-written MNIST test digits: for each label, the first ones the model reads with >= 99.5%.

    The page must be readable by a correct pipeline, so sloppy samples are left out here rather
    than tolerated in the assertions."""
    from train.data import read_idx

    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:2000]
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[:2000]
    probs = recognizer.predict(images[:, None].astype(np.float32) / 255.0)
    chosen: dict[int, list[np.ndarray]] = {d: [] for d in range(10)}
    for image, label, p in zip(images, labels, probs):
        if p.argmax() == label and p[label] >= 0.995 and len(chosen[int(label)]) < per_label:
            chosen[int(label)].append(image)
    missing = [d for d, imgs in chosen.items() if len(imgs) < per_label]
    assert not missing, f"no confidently read MNIST sample for {missing}"
    return chosen


def render_digit_page(lines: list[str], digits: dict[int, list[np.ndarray]],
                      size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A white BGR page with `lines` written in MNIST handwriting, dark ink, centred."""
    page = np.full((*size, 3), 245, np.uint8)
    height, width = size
    gap = DIGIT_PX // 8
    top = (height - len(lines) * DIGIT_PX - (len(lines) - 1) * gap) // 2
    for row, text in enumerate(lines):
        left = (width - len(text) * (DIGIT_PX * 3 // 4)) // 2 - DIGIT_PX // 8
        for col, char in enumerate(text):
            glyph = digits[int(char)][col % len(digits[int(char)])]
            big = cv2.resize(glyph, (DIGIT_PX, DIGIT_PX), interpolation=cv2.INTER_CUBIC)
            ink = big.astype(np.float32)[..., None] / 255.0  # MNIST: bright ink on black
            y, x = top + row * (DIGIT_PX + gap), left + col * (DIGIT_PX * 3 // 4)
            cell = page[y:y + DIGIT_PX, x:x + DIGIT_PX].astype(np.float32)
            page[y:y + DIGIT_PX, x:x + DIGIT_PX] = (cell * (1 - ink) + 25 * ink).astype(np.uint8)
    return page


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """A y4m clip Chromium's fake camera plays in a loop (4:2:0, as STACK.md requires)."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for bgr in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def camera_clip(page: np.ndarray, count: int = 5) -> list[np.ndarray]:
    """The page as a camera sees it held still: a little sensor noise, shifting by a pixel."""
    rng = np.random.default_rng(0)
    frames = []
    for i in range(count):
        shifted = np.roll(page, (i % 3) - 1, axis=1)
        noise = rng.normal(0, 3, page.shape)
        frames.append(np.clip(shifted + noise, 0, 255).astype(np.uint8))
    return frames


class ThreadedServer:
    """The real app from create_app, served by Werkzeug on a free loopback port in a thread."""

    def __init__(self, config: dict | None = None):
        from werkzeug.serving import make_server

        from webapp.serve_cli import NoDelayHandler
        from webapp.server import create_app

        self.app = create_app({"PROVIDER": "cpu", **(config or {})})
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=NoDelayHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, name="digitcam-test-server",
                                       daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.app.extensions["digitcam"].scheduler.stop()
        self.thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`digitcam serve` in a child process, so that a test can make the server really go away.

    With `lan_home` it runs as `--lan` does (HTTPS, self-signed certificate kept in that folder)
    but still listens on loopback only."""

    def __init__(self, port: int, lan_home: Path | None = None):
        self.port = port
        self.lan_home = lan_home
        self.url = f"{'https' if lan_home else 'http'}://localhost:{port}/"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        args = ["serve", "--port", str(self.port), "--provider", "cpu"]
        if self.lan_home:
            env["DIGITCAM_HOME"] = str(self.lan_home)
            args += ["--lan", "--host", "localhost"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"digitcam serve exited: {self.proc.stdout.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"digitcam serve did not listen on port {self.port} within {timeout} s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


# Pen strokes for the drawing pad, in a unit cell (x right, y down), one list per stroke.
STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "7": [[(0.05, 0.05), (0.95, 0.05), (0.7, 0.4), (0.4, 0.98)]],
    "1": [[(0.45, 0.02), (0.55, 0.98)]],
    "4": [[(0.3, 0.0), (0.05, 0.62), (0.95, 0.62)], [(0.7, 0.15), (0.7, 1.0)]],
}


def draw_text(page, box: dict, text: str, *, touch: bool = False, pen=None) -> None:
    """Write `text` across the middle of an element's bounding box, with the mouse, a finger or `pen`."""
    pen = pen or (TouchPen(page) if touch else MousePen(page))
    cell_w = box["width"] / (len(text) + 1.5)
    cell_h = min(box["height"] * 0.55, cell_w * 1.6)
    top = box["y"] + (box["height"] - cell_h) / 2
    for i, char in enumerate(text):
        left = box["x"] + cell_w * (0.75 + i) + cell_w * 0.15
        for stroke in STROKES[char]:
            pen.stroke([(left + x * cell_w * 0.7, top + y * cell_h) for x, y in stroke])


def _path(points: list[tuple[float, float]], steps: int = 12):
    """The stroke's corners with `steps` evenly spaced points on each segment between them."""
    yield points[0]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for k in range(1, steps + 1):
            yield x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps


class MousePen:
    def __init__(self, page):
        self.mouse = page.mouse

    def stroke(self, points: list[tuple[float, float]]) -> None:
        self.mouse.move(*points[0])
        self.mouse.down()
        for x, y in list(_path(points))[1:]:
            self.mouse.move(x, y)
        self.mouse.up()


class Stylus:
    """A pen with pressure, through the DevTools protocol (pointerType "pen", force 0..1)."""

    def __init__(self, page, pressure: float):
        self.cdp = page.context.new_cdp_session(page)
        self.pressure = pressure

    def stroke(self, points: list[tuple[float, float]]) -> None:
        path = list(_path(points))
        self._event("mousePressed", path[0])
        for point in path[1:]:
            self._event("mouseMoved", point)
        self._event("mouseReleased", path[-1])

    def _event(self, kind: str, point: tuple[float, float]) -> None:
        x, y = point
        self.cdp.send("Input.dispatchMouseEvent", {
            "type": kind, "x": x, "y": y, "button": "left", "buttons": 0 if kind == "mouseReleased" else 1,
            "clickCount": 1, "pointerType": "pen", "force": self.pressure if kind != "mouseReleased" else 0})


class TouchPen:
    """A finger, through the DevTools protocol (Playwright itself only taps)."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)

    def stroke(self, points: list[tuple[float, float]]) -> None:
        path = list(_path(points))
        self._touch("touchStart", path[0])
        for point in path[1:]:
            self._touch("touchMove", point)
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    def _touch(self, kind: str, point: tuple[float, float]) -> None:
        x, y = point
        self.cdp.send("Input.dispatchTouchEvent",
                      {"type": kind, "touchPoints": [{"x": x, "y": y, "radiusX": 4, "radiusY": 4, "force": 1}]})
