"""The bench's lean Socket.IO client against the real server: same protocol as python-socketio's."""
from __future__ import annotations

import socket
import threading
import time

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Message, Request, TextMessage

from browser_helpers import ThreadedServer
from server_helpers import PAGE_LINES, decode_jpeg, jpeg, render_page
from webapp.loadclient import LeanClient


@pytest.fixture(scope="module")
def server():
    with ThreadedServer({"MAX_CLIENTS": 2, "MAX_FRAME_BYTES": 200_000}) as running:
        yield running


def test_a_frame_sent_by_the_lean_client_comes_back_read_with_its_annotated_jpeg(server):
    client = LeanClient(server.url)
    try:
        client.emit_frame({"id": 7, "mode": "camera", "debug": False}, jpeg(render_page()))
        event, reply = client.next_event(timeout=20)
    finally:
        client.close()
    assert event == "result" and reply["id"] == 7 and reply["lines"] == PAGE_LINES
    assert decode_jpeg(reply["annotated"]).shape == render_page().shape
    assert all(len(d["probs"]) == 10 for d in reply["digits"])


def test_an_unreadable_frame_gets_an_error_event_and_the_connection_goes_on(server):
    client = LeanClient(server.url)
    try:
        client.emit_frame({"id": 1, "mode": "camera", "debug": False}, b"\xff\xd8 not really a jpeg")
        assert client.next_event(timeout=20)[0] == "error"
        client.emit_frame({"id": 2, "mode": "camera", "debug": False}, jpeg(render_page()))
        assert client.next_event(timeout=20)[1]["lines"] == PAGE_LINES
    finally:
        client.close()


def test_waiting_for_nothing_ends_in_a_timeout(server):
    client = LeanClient(server.url)
    try:
        with pytest.raises(TimeoutError):
            client.next_event(timeout=0.3)
    finally:
        client.close()


def test_a_full_server_refuses_the_lean_client_with_its_reason(server):
    first, second = LeanClient(server.url), LeanClient(server.url)
    try:
        with pytest.raises(ConnectionError, match="full"):
            LeanClient(server.url)
    finally:
        first.close()
        second.close()


class OneReplyServer:
    """A one-connection Engine.IO 4 peer over a real websocket that answers the first frame with
    `result`, with `between` its event and its attachment: "2" a PING its ping task queued there
    (python-socketio sends them as separate Engine.IO messages, so this happens on a live server),
    a number a pause in seconds."""

    def __init__(self, between: str | float):
        self.between = between
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.heard: list = []  # what the client sent after its frame
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        ws = WSConnection(ConnectionType.SERVER)
        while not any(isinstance(event, Request) for event in self._events(conn, ws)):
            pass
        conn.sendall(ws.send(AcceptConnection()))
        incoming = self._messages(conn, ws)
        self._send(conn, ws, '0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')
        assert next(incoming) == "40"
        self._send(conn, ws, '40{"sid":"n"}')
        next(incoming), next(incoming)  # the frame event and its image
        self._send(conn, ws, '451-["result",{"id":1,"annotated":{"_placeholder":true,"num":0}}]')
        if isinstance(self.between, str):
            self._send(conn, ws, self.between)
        else:
            time.sleep(self.between)
        self._send(conn, ws, b"\xff\xd8jpeg")
        self.heard = [next(incoming)]
        conn.close()

    @staticmethod
    def _events(conn, ws) -> list:
        ws.receive_data(conn.recv(65536) or None)
        return list(ws.events())

    @classmethod
    def _messages(cls, conn, ws):
        while True:
            for event in cls._events(conn, ws):
                if isinstance(event, (TextMessage, BytesMessage)):
                    yield event.data

    @staticmethod
    def _send(conn, ws, data) -> None:
        conn.sendall(ws.send(Message(data=data)))


def test_a_ping_between_an_event_and_its_attachment_is_answered_and_the_attachment_kept():
    server = OneReplyServer(between="2")
    client = LeanClient(server.url)
    try:
        client.emit_frame({"id": 1, "mode": "camera", "debug": False}, b"image")
        event, reply = client.next_event(timeout=5)
        server.thread.join(5)
    finally:
        client.close()
        server.listener.close()
    assert event == "result" and reply["annotated"] == b"\xff\xd8jpeg"
    assert server.heard == ["3"]  # the pong: unanswered, the server would drop the connection


def test_an_event_that_has_begun_to_arrive_is_read_whole_even_past_the_wait_for_it():
    server = OneReplyServer(between=0.5)  # the attachment comes after the caller's timeout
    client = LeanClient(server.url)
    try:
        client.emit_frame({"id": 1, "mode": "camera", "debug": False}, b"image")
        event, reply = client.next_event(timeout=0.2)
        client.emit_frame({"id": 2, "mode": "camera", "debug": False}, b"image")  # sent with the client's timeout
        server.thread.join(5)
    finally:
        client.close()
        server.listener.close()
    assert event == "result" and reply["annotated"] == b"\xff\xd8jpeg"
    assert len(server.heard) == 1 and server.heard[0].startswith("451-")
