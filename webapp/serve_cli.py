"""Serve the live page: webcam, drawing canvas and classroom modes, on this machine or the LAN.

Starts with the shipped model and no argument: digitcam serve, then open http://127.0.0.1:5000.
With --lan it listens on every interface over HTTPS (a self-signed certificate is made on first
start) and prints the address phones in the room should open.
"""
from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import socket
import sys

from werkzeug.serving import WSGIRequestHandler

from webapp.arguments import PORT, POSITIVE

log = logging.getLogger(__name__)
EVERY_INTERFACE = ("", "0.0.0.0", "::")  # --host values that listen on all of the machine's addresses


class NoDelayHandler(WSGIRequestHandler):
    """Sends small packets at once: Socket.IO writes a binary event as two websocket frames, and
    with Nagle's algorithm the second waits for the peer's delayed ACK, ~40 ms per frame."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        super().handle_one_request()
        # After a websocket session the socket carries websocket frames, not HTTP: without this,
        # the client's closing frame is parsed as a request and logged as a 400 error.
        if getattr(self, "headers", None) and self.headers.get("Upgrade", "").lower() == "websocket":
            self.close_connection = True


def _port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port (None if it can), found before anything starts,
    so "serving on" is never printed for a port another program holds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself does
        try:
            probe.bind((host, port))
        except OSError as exc:
            hint = "; another program is using it: choose another with --port" if exc.errno == errno.EADDRINUSE else ""
            return f"cannot listen on {host}:{port} ({exc.strerror or exc}){hint}"
    return None


def build_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default: 127.0.0.1; 0.0.0.0 with --lan)")
    parser.add_argument("--port", type=PORT, default=5000, help="port (default: 5000)")
    parser.add_argument("--model", help="ONNX model file (default: the shipped webapp/models/digits-int8.onnx, or digits.onnx on an x86 CPU without VNNI)")
    parser.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto",
                        help="onnxruntime provider (default: auto, CUDA when available)")
    parser.add_argument("--threads", type=POSITIVE, default=1, help="onnxruntime threads per frame (default: 1)")
    parser.add_argument("--workers", type=POSITIVE, default=None,
                        help="frames read at once across all clients (default: CPU count, at most 4)")
    parser.add_argument("--no-processes", action="store_true",
                        help="read frames in the server's own threads instead of one child process per "
                             "worker (less memory; slower on several cores, and a crash is not contained)")
    parser.add_argument("--lan", action="store_true",
                        help="listen on all interfaces over HTTPS with a self-signed certificate, for phones")


def run(args: argparse.Namespace) -> int:
    from webapp.server import create_app, socketio

    host, ssl_context, join_url = args.host or "127.0.0.1", None, None
    if args.lan:
        from webapp.lan import ensure_certificate, lan_addresses

        addresses = lan_addresses()
        host = args.host or "0.0.0.0"
        ip = _ip(host)
        named = [host] if ip is not None and host not in (*EVERY_INTERFACE, "127.0.0.1", *addresses) else []
        ssl_context = tuple(str(p) for p in ensure_certificate(addresses + named))  # covers the join address
        join_url = f"https://{_join_host(host, addresses)}:{args.port}/"
        if host == "localhost" or (ip is not None and ip.is_loopback):
            log.warning("--host %s is this machine only: phones cannot join; leave out --host to let them", host)
        elif not addresses:
            log.warning("no LAN address found: only this machine can open the page")
    problem = _port_problem(host, args.port)
    if problem:
        print(f"digitcam serve: {problem}", file=sys.stderr)
        return 2
    config = {"MODEL_PATH": args.model, "PROVIDER": args.provider, "THREADS": args.threads,
              "JOIN_URL": join_url, "LAN": args.lan, "READER_PROCESSES": not args.no_processes}
    if args.workers:
        config["WORKERS"] = args.workers
    app = create_app(config)  # a missing or bad model: ModelError, reported by webapp.cli
    # Werkzeug warns that it is a development server; a teacher cannot act on that, and this app
    # serves a classroom, not the internet. Its request log is off already (log_output=False).
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    scheme = "https" if ssl_context else "http"
    urls = [join_url] if join_url else [f"{scheme}://{_display_host(host)}:{args.port}/"]
    if args.lan and host in EVERY_INTERFACE:  # each of the machine's addresses answers
        urls += [f"https://{a}:{args.port}/" for a in addresses[1:]] + [f"https://localhost:{args.port}/"]
    print("digitcam is serving on " + "  ".join(urls), flush=True)
    if args.lan:
        print("Phones will warn about the self-signed certificate once; accept it to continue.", flush=True)
    socketio.run(app, host=host, port=args.port, allow_unsafe_werkzeug=True,
                 request_handler=NoDelayHandler, ssl_context=ssl_context, log_output=False)
    return 0


def _join_host(host: str, addresses: list[str]) -> str:
    """The address phones should open: the one listened on, or this machine's first LAN address
    when listening on every interface (never one the server does not answer on)."""
    if host in EVERY_INTERFACE:
        return addresses[0] if addresses else "localhost"
    return _display_host(host)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an IP address, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host if ":" not in host else f"[{host}]"

