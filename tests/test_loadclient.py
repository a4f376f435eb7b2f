"""The bench's lean Socket.IO client against the real server: same protocol as python-socketio's."""
from __future__ import annotations

import pytest

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
