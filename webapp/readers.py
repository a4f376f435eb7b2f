"""Read frames in child processes: one per frame worker, each with its own model.

Why: about half of a frame's time is Python (region rules, grouping, decisions) and holds the
GIL, so two worker *threads* on two cores never read two frames at once for long. Child
processes do. They also fence the server off from the image: a reader that crashes in native
code or hangs on a hostile frame is replaced, and only that frame gets an `error`.

The child's only state is the Recognizer it loads at start; jobs and answers are small
picklable values (the image bytes in, the reply without its id out).
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 20.0  # a frame not read by then is abandoned and its reader replaced
START_TIMEOUT_S = 60.0  # a new reader must have loaded its model within this time
BORROW_TIMEOUT_S = 30.0  # an upload waiting longer than this for a free reader is refused (503)
INLINE_SEND_BYTES = 80_000  # a job this small (and under half the pipe's buffer) is sent without a helper thread
JOB_OVERHEAD = 16_000  # bytes a pickled job holds besides its image (a client's last reading is ~7 kB)


@dataclass(frozen=True)
class ReadJob:
    """One image to read and how: everything a reader needs, nothing from the app."""

    image: bytes
    mode: str = "auto"
    debug: bool = False
    max_bytes: int = 2_000_000
    max_pixels: int = 4_000_000
    jpeg_quality: int = 80
    annotate: bool = True  # False: the reading only (POST /api/read, a frame with "annotate": false)
    columns: int = 2  # the teaching composite's columns (debug): 1 for a phone's narrow view
    still: Any = None  # still.Still of this client's last frame read: drawn again if this frame shows the same
    still_until: float = math.inf  # time.monotonic() after which `still` is too old: checked when a reader
    #                                takes the job, so the wait for a free reader counts too
    remember: bool = False  # a frame read afresh returns its still.Still as reply["_still"]
    shrink: bool = False  # a baseline JPEG over max_pixels is read at 1/2-1/8 size, not refused (uploads; boxes
    #                       come back in its own pixels, so a frame to draw on again must not be shrunk)


def answer(job: ReadJob, recognizer: Any) -> tuple[str, dict[str, Any]]:
    """("result", the reading [with its annotated JPEG]) or ("error", {"message"}); never raises.

    Errors that are the server's, not the image's, also carry "server_fault": True.
    """
    from webapp.annotate import encode_jpeg
    from webapp.decode import ImageError

    try:
        reading, fresh = _read_or_reuse(job, recognizer)
        started = time.perf_counter()
        picture = reading.composite if reading.composite is not None else reading.annotated
        annotated = encode_jpeg(picture, job.jpeg_quality) if picture is not None else None
        encode_ms = (time.perf_counter() - started) * 1000
    except ImageError as exc:
        return "error", {"message": str(exc)}
    except Exception:
        log.exception("reading a frame failed")
        return "error", {"message": "the server failed to read this frame", "server_fault": True}
    reply = reading.to_dict()
    if annotated is not None:
        add_stage_time(reply["timings_ms"], "encode", encode_ms)
        reply["annotated"] = annotated
    if fresh is not None:
        reply["_still"] = fresh
    return "result", reply


def _read_or_reuse(job: ReadJob, recognizer: Any) -> tuple[Any, Any]:
    """(reading, its Still or None): the last reading again when the frame shows the same, else a read.

    Without drawing, only the gray image is decoded: nothing else needs the colour.
    """
    from webapp import still
    from webapp.pipeline import Reading, decode_timed, read_decoded

    decoded = decode_timed(job.image, max_bytes=job.max_bytes, max_pixels=job.max_pixels,
                           colour=job.annotate or job.debug, shrink=job.shrink)
    image, decode_ms = decoded.image, decoded.ms
    if job.still is not None and time.monotonic() < job.still_until and still.shows_same(image, job.still):
        started = time.perf_counter()
        last = job.still
        reading = Reading(last.digits, last.lines, last.rejected, {}, drawn_rejects=last.drawn_rejects,
                          annotated=still.redraw(image, last) if job.annotate else None)
        reused_ms = (time.perf_counter() - started) * 1000
        reading.timings_ms = {"decode": decode_ms, "reused": reused_ms, "total": decode_ms + reused_ms}
        return reading, None
    reading = read_decoded(decoded, recognizer, mode=job.mode, annotate=job.annotate, debug=job.debug,
                             columns=job.columns)
    return reading, (still.remember(image, reading) if job.remember else None)


def add_stage_time(timings: dict[str, float], stage: str, ms: float) -> None:
    """Add a stage timed outside the reading (encoding the reply after it) to the timings and total."""
    timings[stage] = round(ms, 2)
    if "total" in timings:
        timings["total"] = round(timings["total"] + ms, 2)


def _child(conn: Connection, model: str | None, provider: str, threads: int) -> None:
    """A reader process: load the model, say so, then answer jobs until the pipe closes."""
    import cv2

    from webapp.recognizer import Recognizer

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle; it closes our pipe
    cv2.setNumThreads(1)  # the parallelism is one process per core, not threads inside each
    try:
        recognizer = Recognizer(model, provider=provider, threads=threads)
    except Exception as exc:  # reported to the parent: ReaderPool raises it at start-up
        conn.send(("failed", str(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(answer(job, recognizer))


def _send(conn: Connection, job: ReadJob) -> None:
    try:
        conn.send(job)
    except (OSError, ValueError, TypeError):  # the pipe was closed under us: the child was replaced
        pass


def _send_buffer(conn: Connection) -> int:
    """The pipe's send buffer in bytes (Linux: 208 kB by default; far less elsewhere), 0 if unknown."""
    try:
        fd = os.dup(conn.fileno())
    except OSError:
        return 0
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        return 0
    with sock:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))


class ReaderProcess:
    """One child process and the pipe to it."""

    def __init__(self, model: str | Path | None, provider: str = "cpu", threads: int = 1):
        self._args = (str(model) if model else None, provider, threads)
        self._ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._ready = False

    def start(self) -> None:
        """Start the child (it loads the model in the background; `read` waits for it)."""
        parent, child = self._ctx.Pipe()
        self._process = self._ctx.Process(target=_child, args=(child, *self._args), daemon=True,
                                          name="digitcam-reader")
        self._process.start()
        child.close()
        self._conn = parent
        self._ready = False
        self._inline_limit = min(INLINE_SEND_BYTES, _send_buffer(parent) // 2)

    def wait_ready(self) -> None:
        """Block until the child has loaded its model; RuntimeError if it could not."""
        if self._ready:
            return
        try:
            if not self._conn.poll(START_TIMEOUT_S):
                raise RuntimeError("a reader process did not start in time")
            status, message = self._conn.recv()
        except (EOFError, OSError) as exc:  # it exited before saying anything
            raise RuntimeError(f"a reader process exited while starting ({type(exc).__name__})") from exc
        if status != "ready":
            raise RuntimeError(f"a reader process could not load the model: {message}")
        self._ready = True

    def read(self, job: ReadJob, timeout: float = READ_TIMEOUT_S) -> tuple[str, dict[str, Any]]:
        """The child's answer; a dead or stuck child is replaced and the frame gets an error."""
        if self._process is None:
            self.start()
        deadline = time.monotonic() + timeout
        try:
            self.wait_ready()
            if self._send(job, deadline) and self._conn.poll(max(0.0, deadline - time.monotonic())):
                return self._conn.recv()
            message = f"reading this frame took longer than {timeout:g} s"
        except (EOFError, OSError, RuntimeError) as exc:
            message = "the server failed to read this frame"
            log.error("reader process %s failed: %s", self.pid, str(exc) or type(exc).__name__)
        self.restart()
        return "error", {"message": message, "server_fault": True}

    def _send(self, job: ReadJob, deadline: float) -> bool:
        """Send the job; False when a stuck child did not take it before the deadline.

        Sending blocks once the pipe's buffer is full, so a big job goes from a helper thread
        that we wait for only until the deadline. A small one fits in the buffer whatever the
        child does (it is idle: it answered its last job), so it needs no thread, which saves
        about 0.1-0.4 ms of the server's CPU per frame.
        """
        if len(job.image) + JOB_OVERHEAD <= self._inline_limit:
            _send(self._conn, job)
            return True
        sender = threading.Thread(target=_send, args=(self._conn, job), daemon=True)
        sender.start()
        sender.join(max(0.0, deadline - time.monotonic()))
        return not sender.is_alive()

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process else None

    def restart(self) -> None:
        log.warning("replacing reader process %s", self.pid)
        self.close()
        self.start()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._conn = self._process = None


class ReaderPool:
    """`size` reader processes shared by the frame workers: a worker borrows one per frame."""

    def __init__(self, size: int, model: str | Path | None, provider: str = "cpu", threads: int = 1):
        """Start the readers and wait until each has loaded its model (RuntimeError if one cannot)."""
        self._readers = [ReaderProcess(model, provider, threads) for _ in range(max(1, size))]
        self._idle: queue.Queue[ReaderProcess] = queue.Queue()
        for reader in self._readers:
            reader.start()
        try:
            for reader in self._readers:
                reader.wait_ready()
                self._idle.put(reader)
        except RuntimeError:
            self.close()
            raise

    def read(self, job: ReadJob, timeout: float = READ_TIMEOUT_S,
             wait: float | None = None) -> tuple[str, dict[str, Any]] | None:
        """Read with the next free reader; None when none became free within `wait` seconds."""
        try:
            reader = self._idle.get(timeout=wait)
        except queue.Empty:
            return None
        try:
            return reader.read(job, timeout)
        finally:
            self._idle.put(reader)

    def pids(self) -> list[int]:
        return [r.pid for r in self._readers if r.pid is not None]

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
