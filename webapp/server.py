"""The web app: one Socket.IO object, one factory, the HTTP routes.

`create_app(config)` starts from DEFAULTS, overlays `config`, loads the model once and starts the
frame workers. Socket.IO handlers live in webapp/events.py; the per-client frame slots and the
worker pool in webapp/frames.py. Nothing here imports torch.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs

from flask import Flask, abort, current_app, jsonify, render_template, request
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException

import webapp
from webapp.frames import FrameScheduler
from webapp.readers import BORROW_TIMEOUT_S, ReaderPool, ReadJob, answer
from webapp.recognizer import ModelError, Recognizer
from webapp.wire import LeanPacket

log = logging.getLogger(__name__)

socketio = SocketIO()

DEFAULTS: dict[str, Any] = {
    "MODEL_PATH": None,  # None: the shipped model for this CPU (recognizer.default_model)
    "PROVIDER": "auto",  # auto | cpu | cuda
    "THREADS": 1,  # onnxruntime threads per inference; the workers give the parallelism
    "WORKERS": max(1, min(4, os.cpu_count() or 1)),  # frames processed at once, all clients together
    # Live frames: browsers send downscaled 640-1280 px JPEGs of 50-300 kB; a canvas PNG stays < 1 MB.
    "MAX_FRAME_BYTES": 2_000_000,
    "MAX_FRAME_PIXELS": 4_000_000,  # caps the time one hostile frame can hold a worker
    # POST /api/read takes whole photos.
    "MAX_CONTENT_LENGTH": 16_000_000,  # Flask's own limit on request bodies -> 413
    "MAX_PIXELS": 25_000_000,
    "JPEG_QUALITY": 80,
    "CORS_ORIGINS": None,  # None: same origin only (python-socketio's check against the Host header)
    "JOIN_URL": None,  # the URL phones should open (set by `digitcam serve --lan`); None: this host
    "LAN": False,
    "MAX_CLIENTS": 64,  # Socket.IO connections at once; more are refused, so a crowd cannot exhaust memory
    # Transport sessions at once, joined or not (_cap_sessions): room above MAX_CLIENTS for pages
    # reconnecting while their dropped sessions time out, and for the 65th to be told it is full.
    "MAX_SESSIONS": 128,
    # Read live frames in child processes, one per worker (webapp/readers.py): they run in
    # parallel despite the GIL, and a crash or hang costs one frame. Off here, so that apps made
    # in tests start at once; `digitcam serve` turns it on.
    "READER_PROCESSES": False,
    # A camera frame showing what the client's last frame read showed gets that reading drawn
    # again (webapp/still.py), for at most this many seconds after the read; 0 reads every frame.
    "STILL_MAX_AGE_S": 1.0,
}


@dataclass
class AppState:
    """What the handlers need, kept on the app (app.extensions["digitcam"]), not in globals."""

    recognizer: Recognizer
    scheduler: FrameScheduler
    http_slots: threading.BoundedSemaphore
    readers: ReaderPool | None = None  # reader processes, when READER_PROCESSES is on
    started: float = field(default_factory=time.monotonic)
    connections: set[str] = field(default_factory=set)  # Socket.IO sids, capped by MAX_CLIENTS
    stills: dict[str, tuple[float, Any]] = field(default_factory=dict)  # sid -> (read at, still.Still)
    garbled: set[str] = field(default_factory=set)  # sids that sent a malformed packet (logged once each)
    lock: threading.Lock = field(default_factory=threading.Lock)


def state() -> AppState:
    return current_app.extensions["digitcam"]


def _asset_dir(name: str) -> Path:
    """Inside a wheel the page's files sit in the package; in a checkout at the repo top."""
    packaged = Path(webapp.__file__).resolve().parent / name
    return packaged if packaged.is_dir() else Path(webapp.__file__).resolve().parent.parent / name


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; raises recognizer.ModelError when the model cannot be loaded."""
    app = Flask(__name__, template_folder=str(_asset_dir("templates")),
                static_folder=str(_asset_dir("static")))
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    cfg = app.config
    recognizer = Recognizer(cfg["MODEL_PATH"], provider=cfg["PROVIDER"], threads=cfg["THREADS"])
    log.info("model %s on %s", recognizer.path, ", ".join(recognizer.providers))

    from webapp import events  # registers the Socket.IO handlers on `socketio`

    # A message over max_http_buffer_size is dropped by Engine.IO together with the connection,
    # so leave room above MAX_FRAME_BYTES: frames a little too big get a readable `error` instead.
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=2 * cfg["MAX_FRAME_BYTES"],
                      cors_allowed_origins=cfg["CORS_ORIGINS"], async_handlers=False, serializer=LeanPacket)
    _cap_sessions(app, cfg["MAX_SESSIONS"])
    readers = None
    if cfg["READER_PROCESSES"]:
        provider = "cuda" if "CUDAExecutionProvider" in recognizer.providers else "cpu"
        try:
            readers = ReaderPool(cfg["WORKERS"], recognizer.path, provider, cfg["THREADS"])
        except RuntimeError as exc:
            raise ModelError(str(exc)) from exc
    scheduler = FrameScheduler(events.process_frame(app, socketio.server), workers=cfg["WORKERS"])
    app.extensions["digitcam"] = AppState(recognizer, scheduler,
                                          threading.BoundedSemaphore(cfg["WORKERS"]), readers)
    scheduler.start(socketio.start_background_task)
    _register_routes(app)
    return app


def _cap_sessions(app: Flask, limit: int) -> None:
    """Refuse new Engine.IO sessions (503) while `limit` are open.

    MAX_CLIENTS counts Socket.IO connections, made when a session joins the namespace; a session
    that never joins is not counted there, yet holds about four threads until its ping times out.
    300 such raw websockets were all accepted (1,273 threads). Requests of open sessions pass.
    """
    inner, eio = app.wsgi_app, socketio.server.eio

    def capped(environ, start_response):
        if (environ.get("PATH_INFO", "").startswith("/socket.io") and len(eio.sockets) >= limit
                and not parse_qs(environ.get("QUERY_STRING", "")).get("sid")):  # as engine.io reads it
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "5")])
            return [b"too many connections to this server; try again in a moment"]
        return inner(environ, start_response)

    app.wsgi_app = capped


def _register_routes(app: Flask) -> None:
    app.add_url_rule("/", "index", lambda: render_template("index.html"))
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/api/info", "info", info)
    app.add_url_rule("/api/qr.svg", "qr", qr_svg)
    app.add_url_rule("/api/read", "read", read_upload, methods=["POST"])
    app.register_error_handler(HTTPException, _json_http_error)


def _json_http_error(exc: HTTPException):
    """API callers get JSON errors; the page's routes keep Flask's HTML ones."""
    if request.path.startswith("/api/"):
        message = exc.description if exc.code != 413 else (
            f"request body too large: the limit is {current_app.config['MAX_CONTENT_LENGTH']} bytes")
        return jsonify(error=message), exc.code
    return exc


def healthz():
    st = state()
    return jsonify(status="ok", version=webapp.__version__, model=st.recognizer.path.name,
                   mnist_test_accuracy=_number(st.recognizer.metadata.get("mnist_test_accuracy")),
                   providers=st.recognizer.providers, uptime_s=round(time.monotonic() - st.started, 1),
                   clients=st.scheduler.client_count(), workers=current_app.config["WORKERS"],
                   reader_processes=len(st.readers.pids()) if st.readers else 0,
                   rss_mb=_rss_mb(), cpu_s=_cpu_s())


def _number(text: str | None) -> float | None:
    """A metadata value (ONNX metadata holds strings) as a JSON number, None when it is not one."""
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _sum_over_processes(name: str, parse: Callable[[str], float]) -> float | None:
    """Sum `parse(text of /proc/PID/name)` over this process and its readers (Linux only).

    None when this process's own file cannot be read; a reader that went away meanwhile counts 0.
    """
    readers = state().readers
    total = 0.0
    for pid in ["self", *(str(pid) for pid in (readers.pids() if readers else []))]:
        try:
            with open(f"/proc/{pid}/{name}", encoding="ascii") as file:
                total += parse(file.read())
        except (OSError, StopIteration, IndexError, ValueError):
            if pid == "self":
                return None
    return total


def _rss_mb() -> float | None:
    """Resident memory of this process and its reader processes, for `digitcam bench`."""
    def vm_rss_mb(status: str) -> float:
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024

    total = _sum_over_processes("status", vm_rss_mb)
    return None if total is None else round(total, 1)


def _cpu_s() -> float | None:
    """CPU seconds (user + system) used so far by this process and its readers, replaced ones included.

    `digitcam bench` divides the difference by the frames answered: the CPU one frame costs,
    which, unlike frames/s, does not depend on what else the machine is doing. A reader that
    was replaced and reaped has its CPU added to this process's children's time.
    """
    def cpu_ticks(stat: str) -> float:
        fields = stat.rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime (fields 14-17 of stat)

    ticks = _sum_over_processes("stat", cpu_ticks)
    return None if ticks is None else round(ticks / os.sysconf("SC_CLK_TCK"), 2)


def join_url() -> str:
    return current_app.config["JOIN_URL"] or request.host_url


def info():
    cfg = current_app.config
    return jsonify(join_url=join_url(), lan=bool(cfg["LAN"]), max_frame_bytes=cfg["MAX_FRAME_BYTES"],
                   max_frame_pixels=cfg["MAX_FRAME_PIXELS"], version=webapp.__version__)


def qr_svg():
    """The join URL as a QR code, drawn here so the page needs no QR library."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(join_url(), error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False)
    return current_app.response_class(buffer.getvalue(), mimetype="image/svg+xml",
                                      headers={"Cache-Control": "no-store"})


def _body(limit: int) -> bytes:
    """The raw request body, 413 past `limit` bytes. Flask refuses a declared Content-Length over
    its limit, but a chunked body has none, and get_data() then just stops at the limit: the first
    16 MB of a larger upload were read as if they were the whole image. Reading on past the limit
    makes werkzeug's stream raise the 413 itself (so a chunked body of exactly the limit is refused too)."""
    parts, size = [], 0
    while size <= limit:
        chunk = request.stream.read(min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        abort(413)
    return b"".join(parts)


def read_upload():
    """POST /api/read: raw image bytes, or a multipart field `image`; ?mode=auto|camera|canvas."""
    cfg = current_app.config
    mode = request.args.get("mode", "auto")
    if mode not in ("auto", "camera", "canvas"):
        return jsonify(error=f"mode must be auto, camera or canvas, not {mode[:20]!r}"), 400
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            return jsonify(error="multipart body has no file field named 'image'"), 400
        data = upload.read()
    else:
        data = _body(cfg["MAX_CONTENT_LENGTH"])
    st = state()
    job = ReadJob(data, mode, max_bytes=cfg["MAX_CONTENT_LENGTH"], max_pixels=cfg["MAX_PIXELS"], annotate=False,
                   shrink=True)
    if st.readers:  # the same reader processes as live frames: one limit on reads at once
        answered = st.readers.read(job, wait=BORROW_TIMEOUT_S)
        if answered is None:
            return jsonify(error="server busy, try again"), 503
        event, reply = answered
    else:
        if not st.http_slots.acquire(timeout=BORROW_TIMEOUT_S):
            return jsonify(error="server busy, try again"), 503
        try:
            event, reply = answer(job, st.recognizer)
        finally:
            st.http_slots.release()
    if event == "error":
        return jsonify(error=reply["message"]), 500 if reply.get("server_fault") else 400
    return jsonify(reply)
