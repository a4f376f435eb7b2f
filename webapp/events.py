"""Socket.IO handlers: check a `frame` message, hand it to the frame slots, reply to that client.

Protocol (README "Protocol"): the client emits `frame` {"id": int, "image": bytes, "mode":
"camera"|"canvas"|"auto", "debug": bool, "annotate": bool, "columns": 1|2}; the server answers that client alone
with `result` {"id", "digits", "lines", "rejected", "rejected_boxes", "annotated": JPEG bytes (unless
annotate is false and debug is not asked; with debug, the teaching composite in `columns`), "timings_ms", "dropped"} or `error` {"id", "message"}.
A bad message costs the client one `error`, never the connection.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError, emit
from socketio import server as socketio_server

from webapp.frames import Frame, Processor
from webapp.server import socketio, state
from webapp.wire import MALFORMED, Reason

log = logging.getLogger(__name__)

MODES = ("camera", "canvas", "auto")
# A client that does not read its results would make its outgoing queue grow; past this many
# queued Engine.IO packets (a result is two) its frames are dropped instead of read.
MAX_OUTGOING_PACKETS = 4


class FrameError(ValueError):
    """A `frame` message the server cannot use; the message is shown to the user."""

    def __init__(self, message: str, frame_id: int | None = None):
        super().__init__(message)
        self.frame_id = frame_id


def parse_frame(payload: Any, max_bytes: int) -> Frame:
    """Check a `frame` message's shape and size (not its image: the workers decode that)."""
    if not isinstance(payload, dict):
        raise FrameError(f"a frame must be an object {{id, image, mode, debug}}, not {type(payload).__name__}")
    frame_id = payload.get("id")
    if type(frame_id) is not int:  # bool is an int subclass, and not an id
        raise FrameError("frame id must be an integer")
    image, mode, debug = payload.get("image"), payload.get("mode", "auto"), payload.get("debug", False)
    if image is None:
        raise FrameError("frame has no image", frame_id)
    if not isinstance(image, bytes):
        raise FrameError(f"image must be binary (JPEG, PNG or WebP bytes), not {type(image).__name__}", frame_id)
    if not image:
        raise FrameError("image is empty", frame_id)
    if len(image) > max_bytes:
        raise FrameError(f"image is {len(image)} bytes; the limit is {max_bytes}", frame_id)
    if mode not in MODES:
        raise FrameError(f"mode must be one of {', '.join(MODES)}", frame_id)
    if not isinstance(debug, bool):
        raise FrameError("debug must be true or false", frame_id)
    annotate = payload.get("annotate", True)
    if not isinstance(annotate, bool):
        raise FrameError("annotate must be true or false", frame_id)
    columns = payload.get("columns", 2)
    if columns not in (1, 2) or type(columns) is not int:
        raise FrameError("columns must be 1 or 2", frame_id)
    return Frame(frame_id, image, mode, debug, annotate, columns)


@socketio.on("frame")
def on_frame(*args: Any) -> None:
    if len(args) != 1:
        emit("error", {"id": None, "message": "a frame event carries one object {id, image, mode, debug}, "
                                              f"not {len(args)} arguments"})
        return
    payload = args[0]
    try:
        frame = parse_frame(payload, current_app.config["MAX_FRAME_BYTES"])
    except FrameError as exc:
        emit("error", {"id": exc.frame_id, "message": str(exc)})
        return
    state().scheduler.submit(request.sid, frame)


@socketio.on(MALFORMED)
def on_malformed(*args: Any) -> None:
    """A packet wire.LeanPacket could not decode: a clear error, and one log line per connection
    (a client looping on garbage must not flood the log). The same event sent by a client is ignored."""
    if len(args) != 1 or not isinstance(args[0], Reason):
        return
    st = state()
    with st.lock:
        first = request.sid not in st.garbled
        st.garbled.add(request.sid)
    log.log(logging.WARNING if first else logging.DEBUG, "client %s sent a malformed packet: %s%s", request.sid,
            args[0], " (more from it are logged at debug level)" if first else "")
    emit("error", {"id": None, "message": f"the server could not read that message: {args[0]}"})


@socketio.on("connect")
def on_connect(auth: Any = None) -> None:
    """Admit at most MAX_CLIENTS connections; the refused client is told why."""
    st, limit = state(), current_app.config["MAX_CLIENTS"]
    with st.lock:
        if len(st.connections) >= limit:
            log.warning("refused a connection: %d clients already connected", limit)
            raise ConnectionRefusedError(f"the server is full ({limit} clients); try again later")
        st.connections.add(request.sid)


@socketio.on("disconnect")
def on_disconnect(reason: Any = None) -> None:
    st = state()
    with st.lock:
        st.connections.discard(request.sid)
        st.stills.pop(request.sid, None)
        st.garbled.discard(request.sid)
    st.scheduler.forget(request.sid)


def process_frame(app: Flask, server: socketio_server.Server) -> Processor:
    """The workers' job for one frame: read it and emit `result` or `error` to its client.

    `server` is the Socket.IO server of this app: `socketio.server` changes with every init_app.
    """

    def process(client: str, frame: Frame, dropped: int) -> bool:
        with app.app_context():
            if _outgoing_backlog(server, client) > MAX_OUTGOING_PACKETS:
                return False
            event, reply = read_reply(frame, dropped, client)
            server.emit(event, reply, to=client, namespace="/")
            return True

    return process


def read_reply(frame: Frame, dropped: int, client: str | None = None) -> tuple[str, dict[str, Any]]:
    """("result", {...}) for a readable frame, ("error", {...}) for one that is not.

    The reading happens in a reader process when the app has them, else in this thread. A
    client's camera frames carry what its last frame read showed, so that a frame showing the
    same gets that reading again (drawn on the new frame, if it asked for a picture) instead of a
    fresh read (webapp/still.py).
    """
    from webapp.readers import ReadJob, answer

    cfg, st = current_app.config, state()
    max_age = cfg["STILL_MAX_AGE_S"]
    still_ok = client is not None and max_age > 0 and frame.mode == "camera" and not frame.debug
    last = st.stills.get(client) if still_ok else None
    until = last[0] + max_age if last else 0.0  # the reader checks it again after any wait for a free reader
    job = ReadJob(frame.image, frame.mode, frame.debug, cfg["MAX_FRAME_BYTES"], cfg["MAX_FRAME_PIXELS"],
                  cfg["JPEG_QUALITY"], annotate=frame.annotate, columns=frame.columns, remember=still_ok,
                  still=last[1] if last and time.monotonic() < until else None, still_until=until)
    event, reply = st.readers.read(job) if st.readers else answer(job, st.recognizer)
    fresh = reply.pop("_still", None)
    with st.lock:
        if fresh is not None and client in st.connections:
            st.stills[client] = (time.monotonic(), fresh)
    reply["id"] = frame.id
    reply.pop("server_fault", None)
    if event == "result":
        reply["dropped"] = dropped
    return event, reply


def _outgoing_backlog(server: socketio_server.Server, client: str) -> int:
    """Packets queued for this client but not yet sent (0 where the server does not say)."""
    try:
        eio_sid = server.manager.eio_sid_from_sid(client, "/")
        sock = server.eio.sockets.get(eio_sid)
        return sock.queue.qsize() if sock is not None else 0
    except AttributeError:  # another python-socketio layout; the guard is then off
        return 0
