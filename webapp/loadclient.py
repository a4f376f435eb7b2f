"""A Socket.IO client lean enough to load-test the server from the same two cores.

`digitcam bench` runs its clients on the machine it measures, so what a client costs is taken
from the server. python-socketio's Client starts a thread for every message it receives (two
per reply: the JSON and the JPEG), about 2.4 ms of CPU per frame here; this one speaks the same
protocol (Engine.IO 4 over a websocket, Socket.IO 5 packets with binary attachments) from the
caller's thread only, about 0.6 ms per frame. It knows just what the bench needs: connect,
send a `frame`, wait for its `result` or `error`, answer the server's pings.
"""
from __future__ import annotations

import json
from typing import Any

import websocket

from webapp.wire import plain

OPEN, CLOSE, PING, PONG, MESSAGE = "0", "1", "2", "3", "4"  # Engine.IO packet types
CONNECT, DISCONNECT, EVENT, CONNECT_ERROR, BINARY_EVENT = "0", "1", "2", "4", "5"  # Socket.IO (after "4")


class LeanClient:
    """One websocket to the server's default namespace; every call blocks the caller's thread only."""

    def __init__(self, url: str, timeout: float = 10.0):
        ws_url = url.replace("http", "ws", 1).rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self._timeout = timeout  # for sends and for the rest of a message that has begun to arrive
        # The server sends only ASCII JSON; checking UTF-8 in Python would double the CPU per frame.
        self._ws = websocket.create_connection(ws_url, timeout=timeout, skip_utf8_validation=True)
        try:
            if not str(self._ws.recv()).startswith(OPEN):
                raise ConnectionError("the server did not open an Engine.IO session")
            self._ws.send(MESSAGE + CONNECT)
            answer = self._next()
            if answer.startswith(MESSAGE + CONNECT_ERROR):
                raise ConnectionError(f"the server refused the connection: {answer[2:]}")
            if not answer.startswith(MESSAGE + CONNECT):
                raise ConnectionError(f"unexpected answer to connect: {answer[:60]!r}")
        except BaseException:
            self._ws.close()
            raise

    def emit_frame(self, frame: dict[str, Any], image: bytes) -> None:
        """Send a `frame` event whose "image" is `image`, as one binary attachment."""
        head = json.dumps(["frame", {**frame, "image": {"_placeholder": True, "num": 0}}], separators=(",", ":"))
        self._ws.settimeout(self._timeout)  # not what was left of the last wait for an event
        self._ws.send(MESSAGE + BINARY_EVENT + "1-" + head)
        self._ws.send_binary(image)

    def next_event(self, timeout: float) -> tuple[str, Any]:
        """The next event from the server as (name, data), attachments put back in place.

        TimeoutError when nothing came within `timeout` seconds.
        """
        self._ws.settimeout(timeout)
        while True:
            try:
                packet = self._next()
            except websocket.WebSocketTimeoutException as exc:
                raise TimeoutError(f"no event within {timeout:g} s") from exc
            if packet.startswith(MESSAGE + EVENT):
                name, data = json.loads(packet[2:])
                return name, data
            if packet.startswith(MESSAGE + BINARY_EVENT):
                count, body = packet[2:].split("-", 1)
                name, data = json.loads(body)
                self._ws.settimeout(self._timeout)  # the event has come: its attachments follow at once
                attachments = [self._attachment() for _ in range(int(count))]
                return name, _put_back(data, attachments)
            if packet.startswith(MESSAGE + DISCONNECT) or packet.startswith(CLOSE):
                raise ConnectionError("the server closed the connection")

    def _next(self) -> str:
        """The next text packet, after answering any pings."""
        while True:
            packet = self._ws.recv()
            if packet == PING:
                self._ws.send(PONG)
            elif isinstance(packet, str):
                return packet

    def _attachment(self) -> bytes:
        """The next binary message. The server's ping task may slip a PING in between an event
        and its attachments (they are separate Engine.IO messages): answer it and read on."""
        while True:
            packet = self._ws.recv()
            if isinstance(packet, bytes):
                return packet
            if packet != PING:
                raise ConnectionError(f"expected a binary attachment, got {packet[:60]!r}")
            self._ws.send(PONG)

    def close(self) -> None:
        try:
            self._ws.send(MESSAGE + DISCONNECT)
        except (OSError, websocket.WebSocketException):
            pass
        self._ws.close()


def _put_back(data: Any, attachments: list) -> Any:
    """Replace {"_placeholder": true, "num": k} with attachment k, anywhere in the data."""
    if isinstance(data, dict):
        if data.get("_placeholder") is True and "num" in data:
            return attachments[data["num"]]
        return {key: _put_back(value, attachments) for key, value in data.items()}
    if isinstance(data, list) and not plain(data):
        return [_put_back(item, attachments) for item in data]
    return data
