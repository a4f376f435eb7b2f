"""Inputs and a small driver for the server tests: real rendered pages, the real app."""
from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np

from webapp import strokes

# The numbers on the test page, top line first, as `lines` must report them.
PAGE_LINES = ["4711 23", "805"]
REPLY_DEADLINE_S = 60.0  # generous: the machine may be busy; this bounds a hang, it times nothing


def render_page(lines: list[str] = PAGE_LINES, *, dark: bool = False, size=(480, 640)) -> np.ndarray:
    """A BGR page with `lines` in pen strokes: dark ink on paper, or light strokes on a dark canvas."""
    return strokes.render_page(lines, dark=dark, size=size)


def jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def frame(frame_id: Any = 1, image: Any = None, mode: Any = "camera", debug: Any = False) -> dict:
    return {"id": frame_id, "image": jpeg(render_page()) if image is None else image, "mode": mode,
            "debug": debug}


class FrameClient:
    """A Socket.IO test client that sends frames and collects the replies the workers emit.

    Replies are collected only while the workers are idle: the test client's get_received()
    is not safe against an emit from another thread at the same moment.
    """

    def __init__(self, socketio, app):
        self.sio = socketio.test_client(app)
        self.scheduler = app.extensions["digitcam"].scheduler
        self.replies: list[dict] = []

    def send(self, payload: Any) -> None:
        self.sio.emit("frame", payload)

    def reply_to(self, frame_id: Any) -> dict:
        """The `result` or `error` ({"name", "args"}) answering `frame_id`, once the workers are done."""
        for reply in self.collect():
            if reply["args"][0].get("id") == frame_id:
                return reply
        raise AssertionError(f"no reply to frame {frame_id!r}; got {[r['name'] for r in self.replies]}")

    def wait_idle(self, deadline: float) -> None:
        while not self.scheduler.idle():
            if time.monotonic() > deadline:
                raise AssertionError("the frame workers never became idle")
            time.sleep(0.01)

    def collect(self) -> list[dict]:
        self.wait_idle(time.monotonic() + REPLY_DEADLINE_S)
        self.replies += self.sio.get_received()
        return self.replies

    def named(self, name: str) -> list[dict]:
        return [r["args"][0] for r in self.collect() if r["name"] == name]


def decode_jpeg(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable image"
    return image
