"""The Socket.IO protocol: `frame` in, `result` or `error` out, to the sender alone.

Each test drives the real app (real model, real pipeline) through Flask-SocketIO's test client.
"""
from __future__ import annotations

import pytest

from server_helpers import PAGE_LINES, FrameClient, decode_jpeg, frame, jpeg, png, render_page
from webapp.server import create_app, socketio

MAX_FRAME_BYTES = 300_000


@pytest.fixture()
def app():
    app = create_app({"PROVIDER": "cpu", "WORKERS": 2, "MAX_FRAME_BYTES": MAX_FRAME_BYTES})
    yield app
    app.extensions["digitcam"].scheduler.stop()


@pytest.fixture()
def client(app) -> FrameClient:
    return FrameClient(socketio, app)


def test_a_page_comes_back_read_boxed_and_annotated(client):
    page = render_page()
    client.send(frame(7, jpeg(page)))
    reply = client.reply_to(7)
    assert reply["name"] == "result"
    result = reply["args"][0]
    assert result["lines"] == PAGE_LINES
    assert [d["label"] for d in result["digits"]] == [int(c) for c in "".join(PAGE_LINES) if c != " "]
    assert set(result) >= {"id", "digits", "lines", "rejected", "annotated", "timings_ms", "dropped"}
    assert result["dropped"] == 0 and result["timings_ms"]["total"] > 0
    assert decode_jpeg(result["annotated"]).shape == page.shape


@pytest.mark.parametrize("encode", [jpeg, png], ids=["jpeg", "png"])
def test_a_canvas_drawing_is_read(client, encode):
    client.send(frame(1, encode(render_page(dark=True)), mode="canvas"))
    assert client.reply_to(1)["args"][0]["lines"] == PAGE_LINES


def test_debug_frames_come_back_as_the_teaching_view_wide_or_in_one_column_for_a_phone(client):
    client.send(frame(3, debug=True))
    result = client.reply_to(3)["args"][0]
    assert result["lines"] == PAGE_LINES
    wide = decode_jpeg(result["annotated"])
    client.send({**frame(4, debug=True), "columns": 1})
    tall = decode_jpeg(client.reply_to(4)["args"][0]["annotated"])
    assert wide.shape[1] == 2 * tall.shape[1] and tall.shape[0] > tall.shape[1] > wide.shape[0] / 2


def test_a_frame_that_asks_for_no_annotated_image_gets_the_reading_alone(client):
    client.send({**frame(5, mode="canvas"), "annotate": False})
    result = client.reply_to(5)["args"][0]
    assert result["lines"] == PAGE_LINES and len(result["digits"]) == len("".join(PAGE_LINES).replace(" ", ""))
    assert "annotated" not in result and "annotate" not in result["timings_ms"]
    client.send({**frame(6, mode="canvas", debug=True), "annotate": False})  # the teaching view is a picture
    decode_jpeg(client.reply_to(6)["args"][0]["annotated"])


def test_replies_go_to_the_sender_only(app, client):
    bystander = FrameClient(socketio, app)
    client.send(frame(1))
    assert client.reply_to(1)["name"] == "result"
    assert bystander.collect() == []


BAD_FRAMES = {
    "not an object": (None, "a text message", "must be an object"),
    "a list": (None, [1, b"\xff\xd8"], "must be an object"),
    "missing id": (None, {"image": b"\xff\xd8", "mode": "camera"}, "id must be an integer"),
    "id as text": (None, frame("7"), "id must be an integer"),
    "id as bool": (None, frame(True), "id must be an integer"),
    "id as float": (None, frame(7.0), "id must be an integer"),
    "missing image": (4, {"id": 4, "mode": "camera"}, "no image"),
    "image as text": (4, frame(4, "data:image/jpeg;base64,/9j/4AAQ"), "must be binary"),
    "empty image": (4, frame(4, b""), "empty"),
    "oversize image": (4, frame(4, b"\xff\xd8" + bytes(MAX_FRAME_BYTES)), "limit"),
    "undecodable bytes": (4, frame(4, b"these bytes are no picture at all"), "not"),
    "truncated jpeg": (4, frame(4, jpeg(render_page())[:300]), ""),
    "unknown mode": (4, frame(4, mode="infrared"), "mode must be"),
    "debug as text": (4, frame(4, debug="yes"), "debug"),
    "annotate as number": (4, {**frame(4), "annotate": 0}, "annotate must be"),
    "three columns": (4, {**frame(4, debug=True), "columns": 3}, "columns must be 1 or 2"),
    "columns as bool": (4, {**frame(4, debug=True), "columns": True}, "columns must be 1 or 2"),
}


@pytest.mark.parametrize("expected_id, payload, words", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_a_bad_frame_gets_an_error_and_the_connection_stays_usable(client, expected_id, payload, words):
    client.send(payload)
    errors = client.named("error")
    assert len(errors) == 1, client.replies
    assert errors[0]["id"] == expected_id
    assert words in errors[0]["message"] and errors[0]["message"]
    assert client.sio.is_connected()
    client.send(frame(99))
    assert client.reply_to(99)["args"][0]["lines"] == PAGE_LINES


@pytest.mark.parametrize("args", [(), ({"id": 5}, "extra")], ids=["no arguments", "two arguments"])
def test_a_frame_event_with_other_than_one_argument_is_told_so(client, args):
    client.sio.emit("frame", *args)
    errors = client.named("error")
    assert len(errors) == 1 and f"carries one object {{id, image, mode, debug}}, not {len(args)} arguments" \
        in errors[0]["message"]
    client.send(frame(99))
    assert client.reply_to(99)["args"][0]["lines"] == PAGE_LINES


def test_a_flood_of_frames_is_thinned_to_the_latest_and_every_drop_is_counted(app, client):
    app.config["STILL_MAX_AGE_S"] = 0  # read every frame: a reused reading answers about as fast as frames come
    sent = 40
    for n in range(1, sent + 1):
        client.send(frame(n))
    client.collect()
    results = client.named("result")
    assert not client.named("error")
    ids = [r["id"] for r in results]
    assert ids == sorted(ids) and ids[-1] == sent, "the newest frame is always read, in order"
    assert len(results) < sent, "waiting frames were replaced, not queued"
    assert len(results) + results[-1]["dropped"] == sent, "every frame is answered or counted as dropped"


def test_a_disconnected_client_leaves_no_slot_behind(app, client):
    client.send(frame(1))
    client.sio.disconnect()
    assert app.extensions["digitcam"].scheduler.client_count() == 0


def test_connections_beyond_the_limit_are_refused_and_a_freed_place_is_reusable():
    app = create_app({"PROVIDER": "cpu", "WORKERS": 1, "MAX_CLIENTS": 2})
    try:
        first, second = socketio.test_client(app), socketio.test_client(app)
        third = socketio.test_client(app)
        assert first.is_connected() and second.is_connected() and not third.is_connected()
        first.disconnect()
        assert socketio.test_client(app).is_connected()
    finally:
        app.extensions["digitcam"].scheduler.stop()
