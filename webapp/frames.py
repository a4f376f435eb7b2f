"""Per-client latest-frame slots served by a small shared pool of workers.

Each client owns one slot holding at most one waiting frame. A frame that arrives while another
one waits replaces it (the old one is counted as dropped), so memory per client is bounded by one
frame whatever the client sends. Clients with a waiting frame queue up once each in `_ready`, and
a client goes back to the end of that queue after each frame, so the workers serve clients in
turn: a client that floods frames, or sends slow ones, holds at most one worker at a time and
never gets ahead of the others. With 2 cores, 2 workers keep both busy without 30 threads
fighting over them.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One validated `frame` message."""

    id: int
    image: bytes
    mode: str
    debug: bool
    annotate: bool = True  # False: the reply carries no annotated JPEG (a client that draws its own boxes)
    columns: int = 2  # the teaching composite's columns (with debug): 1 for a narrow screen


@dataclass
class _Slot:
    pending: Frame | None = None
    busy: bool = False
    dropped: int = 0  # frames of this client replaced before being read, since it connected


# process(client_id, frame, dropped_so_far) -> answered; replies to the client itself, and
# returns False when it chose not to read the frame (then counted as dropped).
Processor = Callable[[str, Frame, int], bool]


class FrameScheduler:
    """Latest-frame-wins slots plus round-robin workers; see the module docstring."""

    def __init__(self, process: Processor, workers: int = 2):
        self._process = process
        self._workers = max(1, workers)
        self._slots: dict[str, _Slot] = {}
        self._ready: deque[str] = deque()  # clients with a waiting frame and none in work, each once
        self._cond = threading.Condition()
        self._running = False

    def start(self, start_task: Callable[..., Any]) -> None:
        """Start the workers with the async mode's task starter (socketio.start_background_task)."""
        with self._cond:
            if self._running:
                return
            self._running = True
        for _ in range(self._workers):
            start_task(self._work)

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()

    def submit(self, client: str, frame: Frame) -> None:
        """Make `frame` the client's waiting frame, replacing (and counting) any older one."""
        with self._cond:
            slot = self._slots.setdefault(client, _Slot())
            if slot.pending is not None:
                slot.dropped += 1
            elif not slot.busy:
                self._ready.append(client)
                self._cond.notify()
            slot.pending = frame

    def forget(self, client: str) -> None:
        """Drop a disconnected client's slot; a frame in work finishes and its reply goes nowhere."""
        with self._cond:
            self._slots.pop(client, None)

    def client_count(self) -> int:
        with self._cond:
            return len(self._slots)

    def idle(self) -> bool:
        """No frame waiting or in work, for anyone (all replies so far have been emitted)."""
        with self._cond:
            return not any(slot.busy or slot.pending is not None for slot in self._slots.values())

    def take(self, timeout: float = 0.0) -> tuple[str, Frame, int] | None:
        """Next (client, frame, dropped) in turn, marking the client busy; None if none came."""
        with self._cond:
            job = self._pop_ready()
            if job is None and timeout > 0:
                self._cond.wait(timeout)
                job = self._pop_ready()
            return job

    def _pop_ready(self) -> tuple[str, Frame, int] | None:
        while self._ready:
            client = self._ready.popleft()
            slot = self._slots.get(client)
            if slot is None or slot.pending is None:
                continue  # the client left meanwhile
            frame, slot.pending, slot.busy = slot.pending, None, True
            return client, frame, slot.dropped
        return None

    def done(self, client: str, answered: bool = True) -> None:
        """The client's frame is finished; if another one arrived meanwhile, queue it at the end."""
        with self._cond:
            slot = self._slots.get(client)
            if slot is None:
                return
            slot.busy = False
            slot.dropped += not answered
            if slot.pending is not None:
                self._ready.append(client)
                self._cond.notify()

    def _work(self) -> None:
        while self._running:
            job = self.take(timeout=1.0)
            if job is None:
                continue
            client, frame, dropped = job
            answered = False
            try:
                answered = self._process(client, frame, dropped)
            except Exception:  # a bug for one frame must not kill the worker serving everyone
                log.exception("frame %s of client %s failed", frame.id, client)
            finally:
                self.done(client, answered)
