"""Load-test the live server with real Socket.IO clients on this machine (loopback only).

Each client sends 640x480 JPEG pages of about ten digits over the websocket transport, one frame
in flight at a time, at --fps frames per second (or as fast as results come back with --fps 0),
for --seconds, asking for the reading only, as the page does: it draws the boxes on the frame it
sent (--annotated asks for the server's annotated JPEG too, the protocol's default). Prints answered frames/s, round-trip p50/p95, drops, errors, the server's
resident memory at the start and end, and the CPU time one answered frame cost the server (and
these clients, which share the machine). Without --url it starts `digitcam serve` on a free
loopback port and stops it afterwards. The clients are webapp.loadclient's lean ones unless
--socketio-client asks for python-socketio's: the protocol is the same, the CPU they take
from the server on this machine is not.
"""
from __future__ import annotations

import argparse
import functools
import http.client
import ipaddress
import json
import logging
import os
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlparse

import cv2
import numpy as np
import websocket

from webapp.arguments import POSITIVE, real
from webapp.loadclient import LeanClient

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 5.0  # a reply later than this counts as lost
RSS_EVERY_S = 10.0  # how often the server's memory is sampled


def build_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=POSITIVE, default=1, help="simultaneous clients (default: 1)")
    parser.add_argument("--fps", type=real(0.0), default=5.0,
                        help="frames per second per client; 0 = next frame as soon as the reply comes (default: 5)")
    parser.add_argument("--seconds", type=real(0.0, above=True), default=20.0, help="how long to send (default: 20)")
    parser.add_argument("--url", help="a running server on loopback (default: start one on a free port)")
    parser.add_argument("--workers", type=POSITIVE, help="--workers of the server started here (default: its own)")
    parser.add_argument("--model", help="--model of the server started here (default: the shipped model)")
    parser.add_argument("--no-processes", action="store_true",
                        help="--no-processes for the server started here: read frames in its threads")
    parser.add_argument("--still", action="store_true",
                        help="send the same page every time, as a camera on a stand does (default: the page "
                             "moves a little from frame to frame, so every frame is read afresh)")
    parser.add_argument("--annotated", action="store_true",
                        help="ask for the server's annotated JPEG in every reply, the protocol's default "
                             "(default: the reading only, as the page asks outside the teaching view)")
    parser.add_argument("--socketio-client", action="store_true",
                        help="drive the server with python-socketio's Client instead of the lean one "
                             "(same protocol, about 4x the clients' CPU per frame, taken from the server)")


def make_frames(count: int = 8, seed: int = 0) -> list[bytes]:
    """640x480 JPEGs of a page with two lines of pen-stroke numbers (ten digits), shifted a little each time."""
    from webapp.strokes import render_page

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        origin = (40 + int(rng.integers(0, 30)), 50 + int(rng.integers(0, 30)))
        page = render_page(["4711 23", "8059"], origin=origin)
        ok, jpeg = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, 80])
        frames.append(jpeg.tobytes())
    return frames


@dataclass
class ClientStats:
    rtt_ms: list[float] = field(default_factory=list)
    reused: int = 0  # results the server drew from the client's last reading (a still scene)
    server_ms: list[float] = field(default_factory=list)
    errors: int = 0
    lost: int = 0
    dropped: int = 0
    failed: str | None = None
    first_sent: float | None = None
    last_reply: float | None = None


@functools.cache  # one pair of classes for every client of a run
def in_order_client() -> type:
    """python-socketio's Client, its messages handled one after the other, as a browser handles them.

    Its Engine.IO client hands every message to a thread of its own, so a reply's binary attachment
    (an annotated JPEG) can be decoded before the header announcing it, as a packet of its own; that
    thread dies and the reply never comes (seen once in a test, 2026-12-02). For the websocket
    transport: over long polling, handling messages in the polling loop makes disconnecting wait for
    a poll to end."""
    import engineio
    import socketio

    class InOrder(engineio.Client):
        def _trigger_event(self, event, *args, **kwargs):
            if event == "message":
                kwargs["run_async"] = False
            return super()._trigger_event(event, *args, **kwargs)

    class Client(socketio.Client):
        def _engineio_client_class(self):
            return InOrder

    return Client


class LibraryClient:
    """python-socketio's own Client behind LeanClient's three calls (--socketio-client)."""

    def __init__(self, url: str):
        self._events: queue.Queue = queue.Queue()
        self._sio = in_order_client()(reconnection=False)
        self._sio.on("result", lambda message: self._events.put(("result", message)))
        self._sio.on("error", lambda message: self._events.put(("error", message)))
        try:
            self._sio.connect(url, transports=["websocket"], wait_timeout=10)
        except Exception as exc:  # the library raises its own ConnectionError types
            raise ConnectionError(str(exc)) from exc

    def emit_frame(self, frame: dict, image: bytes) -> None:
        self._sio.emit("frame", {**frame, "image": image})

    def next_event(self, timeout: float) -> tuple[str, dict]:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty as exc:
            raise TimeoutError(f"no event within {timeout:g} s") from exc

    def close(self) -> None:
        self._sio.disconnect()


def _reply_to(client, frame_id: int, timeout: float) -> tuple[str, dict] | None:
    """The result or error for `frame_id`; None when it did not come within `timeout` (lost)."""
    deadline = time.perf_counter() + timeout
    while (left := deadline - time.perf_counter()) > 0:
        try:
            event, message = client.next_event(left)
        except TimeoutError:
            return None
        if isinstance(message, dict) and message.get("id") == frame_id:
            return event, message  # anything else answers a frame already counted as lost
    return None


def client_loop(url: str, frames: list[bytes], fps: float, until: float, stats: ClientStats,
                library: bool = False, annotate: bool = False) -> None:
    """One client: send a frame, wait for its reply, keep the pace, until the deadline."""
    try:
        client = LibraryClient(url) if library else LeanClient(url)
    except (OSError, ConnectionError, websocket.WebSocketException) as exc:
        stats.failed = f"connect: {exc}"
        return
    try:
        if fps > 0:  # real clients do not start in step: spread the first frames over one period
            time.sleep(random.uniform(0, 1 / fps))
        next_send, frame_id = time.perf_counter(), 0
        while time.perf_counter() < until:
            frame_id += 1
            sent = time.perf_counter()
            stats.first_sent = stats.first_sent or sent
            client.emit_frame({"id": frame_id, "mode": "camera", "debug": False, "annotate": annotate},
                              frames[frame_id % len(frames)])
            reply = _reply_to(client, frame_id, REPLY_TIMEOUT_S)
            if reply is None:
                stats.lost += 1
            else:
                stats.last_reply = time.perf_counter()
                stats.rtt_ms.append((stats.last_reply - sent) * 1000)
                event, message = reply
                if event == "result":
                    if annotate != ("annotated" in message):
                        raise ValueError(f"a reply {'without' if annotate else 'with'} the annotated JPEG")
                    stats.server_ms.append(float(message["timings_ms"].get("total", 0.0)))
                    stats.reused += "reused" in message["timings_ms"]
                    stats.dropped = max(stats.dropped, int(message["dropped"]))
                else:
                    stats.errors += 1
            if fps > 0:  # keep the pace, but never send a burst to catch up
                next_send = max(next_send + 1 / fps, time.perf_counter())
                time.sleep(max(0.0, next_send - time.perf_counter()))
        if not stats.first_sent:  # connected too late to send anything: not a client that was served
            stats.failed = "connected after the run's end: no frame sent"
    except (OSError, ConnectionError, websocket.WebSocketException) as exc:
        stats.failed = f"connection lost: {exc}"
    except Exception as exc:  # a reply the client could not understand: a failure to report, not a silent end
        stats.failed = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def _health(url: str) -> dict:
    with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=5) as response:
        return json.load(response)


def _require_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"digitcam bench: {url} is not on loopback; the benchmark only targets this machine")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, str, object]:
    """`digitcam serve` on a free loopback port; returns (process, url, its log file) once healthy."""
    port = _free_port()
    command = [sys.executable, "-m", "webapp.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.model:
        command += ["--model", args.model]
    if args.no_processes:
        command.append("--no-processes")
    server_log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=server_log, stderr=server_log, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            _health(url)
            return process, url, server_log
        except OSError:
            time.sleep(0.2)
    process.kill()
    server_log.seek(0)
    raise SystemExit("digitcam bench: the server did not start:\n" + server_log.read().decode(errors="replace"))


def run(args: argparse.Namespace) -> int:
    logging.getLogger("socketio").setLevel(logging.WARNING)
    logging.getLogger("engineio").setLevel(logging.WARNING)
    process = None
    if args.url:
        _require_loopback(args.url)
        url = args.url
    else:
        process, url, _ = start_server(args)
    try:
        return _bench(url, args)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


def _bench(url: str, args: argparse.Namespace) -> int:
    frames = make_frames()[:1] if args.still else make_frames()
    try:
        health = _health(url)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # nothing listening, or not a digitcam server
        raise SystemExit(f"digitcam bench: no digitcam server answers at {url} ({exc})") from exc
    rss, cpu = [health.get("rss_mb")], [health.get("cpu_s")]
    own_cpu = _own_cpu_s()
    stats = [ClientStats() for _ in range(args.clients)]
    started = time.perf_counter()
    until = started + args.seconds
    threads = [threading.Thread(target=client_loop, args=(url, frames, args.fps, until, s, args.socketio_client,
                                                                args.annotated),
                                daemon=True)
               for s in stats]
    for thread in threads:
        thread.start()
    next_sample = time.perf_counter() + RSS_EVERY_S
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        if time.perf_counter() >= next_sample:
            rss.append(_health(url).get("rss_mb"))
            next_sample += RSS_EVERY_S
    health = _health(url)
    rss.append(health.get("rss_mb"))
    cpu.append(health.get("cpu_s"))
    own_cpu = _own_cpu_s() - own_cpu
    # frames/s over the time frames were in flight (connecting 30 clients takes a while)
    firsts = [s.first_sent for s in stats if s.first_sent]
    lasts = [s.last_reply for s in stats if s.last_reply]
    elapsed = (max(lasts) - min(firsts)) if firsts and lasts else time.perf_counter() - started
    server_cpu = None if None in cpu else cpu[-1] - cpu[0]
    report(args, stats, elapsed, rss, len(frames[0]), server_cpu, own_cpu)
    return 1 if any(s.failed or s.lost or s.errors for s in stats) else 0


def report(args: argparse.Namespace, stats: list[ClientStats], elapsed: float, rss: list, frame_bytes: int,
           server_cpu_s: float | None, client_cpu_s: float) -> None:
    rtt = np.array([r for s in stats for r in s.rtt_ms]) if any(s.rtt_ms for s in stats) else np.zeros(1)
    server = np.array([r for s in stats for r in s.server_ms] or [0.0])
    answered = sum(len(s.rtt_ms) for s in stats)
    pace = f"{args.fps:g} fps each" if args.fps > 0 else "as fast as replies come"
    kind = "python-socketio" if args.socketio_client else "lean"
    scene = "the same page" if args.still else "a page moving a little"
    reply = "the reading and its annotated JPEG" if args.annotated else "the reading only (the page draws the boxes)"
    print(f"{args.clients} {kind} client(s), {pace}, {elapsed:.1f} s, 640x480 JPEG frames of ~{frame_bytes // 1000} kB"
          f" showing {scene}; replies: {reply}")
    print(f"  answered     {answered} frames, {answered / elapsed:.1f} frames/s")
    print(f"  round trip   p50 {np.percentile(rtt, 50):.1f} ms   p95 {np.percentile(rtt, 95):.1f} ms"
          f"   max {rtt.max():.1f} ms")
    print(f"  server time  p50 {np.percentile(server, 50):.1f} ms   p95 {np.percentile(server, 95):.1f} ms"
          " (decode to encoded reply)")
    print(f"  reused readings {sum(s.reused for s in stats)} of {answered} (frames showing what the last one read did)")
    print(f"  dropped {sum(s.dropped for s in stats)}   errors {sum(s.errors for s in stats)}"
          f"   lost (> {REPLY_TIMEOUT_S:g} s) {sum(s.lost for s in stats)}")
    print("  server RSS   " + " -> ".join(f"{r} MB" for r in rss if r is not None))
    if answered and server_cpu_s is not None:
        print(f"  CPU per answered frame: server and its readers {1000 * server_cpu_s / answered:.1f} ms,"
              f" these clients {1000 * client_cpu_s / answered:.1f} ms ({os.cpu_count()} cores on this machine)")
    for failure in {s.failed for s in stats if s.failed}:
        print(f"  client failure: {failure}")
