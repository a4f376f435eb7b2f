"""A camera frame showing what the client's last frame read showed gets that reading drawn again.

A phone on a stand sends the same page many times a second; reading it afresh each time buys
nothing. A changed scene, another mode, the teaching view or an old reading means a fresh read.
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from pipeline_helpers import scribble
from server_helpers import PAGE_LINES, FrameClient, decode_jpeg, frame, jpeg, render_page
from webapp import still
from webapp.server import create_app, socketio


def scribbled_page() -> np.ndarray:
    """The test page with a crossed-out scribble below the numbers: one reject worth outlining."""
    page = render_page()
    scribble(page, 450, 300, 110)
    return page


def camera_shot(image: np.ndarray, quality: int = 85) -> np.ndarray:
    """The image as a camera would deliver it again: JPEG round trip (different noise each quality)."""
    return cv2.imdecode(np.frombuffer(jpeg(image, quality), np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def page_still(recognizer) -> tuple[np.ndarray, still.Still]:
    from webapp.pipeline import read_frame

    page = camera_shot(render_page())
    return page, still.remember(page, read_frame(page, recognizer, mode="camera"))


def test_the_same_page_shot_again_shows_the_same(page_still):
    page, last = page_still
    assert still.shows_same(camera_shot(render_page(), quality=70), last)
    assert still.shows_same(cv2.add(page, (3, 3, 3, 0)), last)  # a little more light


def test_a_new_stroke_a_moved_sheet_or_another_size_is_a_change(page_still):
    page, last = page_still
    written = page.copy()
    cv2.line(written, (500, 400), (520, 440), (40, 40, 40), 2)  # a 1 begun in an empty corner
    assert not still.shows_same(written, last)
    assert not still.shows_same(np.roll(page, 12, axis=1), last)
    assert not still.shows_same(cv2.resize(page, (320, 240)), last)


def app_with(max_age: float):
    return create_app({"PROVIDER": "cpu", "WORKERS": 1, "STILL_MAX_AGE_S": max_age})


@pytest.fixture()
def client():
    app = app_with(5.0)
    yield FrameClient(socketio, app)
    app.extensions["digitcam"].scheduler.stop()


def result(client: FrameClient, payload: dict) -> dict:
    client.send(payload)
    reply = client.reply_to(payload["id"])
    assert reply["name"] == "result", reply
    return reply["args"][0]


def test_a_page_sent_again_is_answered_with_its_reading_drawn_on_the_new_frame(client):
    first = result(client, frame(1, jpeg(scribbled_page(), 85)))
    again = result(client, frame(2, jpeg(scribbled_page(), 70)))
    assert "reused" not in first["timings_ms"] and "reused" in again["timings_ms"]
    assert again["lines"] == first["lines"] == PAGE_LINES
    assert again["digits"] == first["digits"] and again["rejected"] == first["rejected"] == 1
    assert len(first["rejected_boxes"]) == 1 and again["rejected_boxes"] == first["rejected_boxes"]
    assert decode_jpeg(again["annotated"]).shape == render_page().shape


def test_a_page_with_other_numbers_is_read_afresh(client):
    result(client, frame(1))
    other = result(client, frame(2, jpeg(render_page(["90", "12"]))))
    assert "reused" not in other["timings_ms"] and other["lines"] == ["90", "12"]


@pytest.mark.parametrize("change", [{"mode": "canvas"}, {"debug": True}], ids=["drawing", "teaching view"])
def test_only_plain_camera_frames_are_answered_from_the_last_reading(client, change):
    result(client, frame(1))
    assert "reused" not in result(client, {**frame(2), **change})["timings_ms"]


def test_a_camera_that_draws_its_own_boxes_gets_the_last_reading_without_a_picture(client):
    first = result(client, {**frame(1, jpeg(scribbled_page(), 85)), "annotate": False})
    again = result(client, {**frame(2, jpeg(scribbled_page(), 70)), "annotate": False})
    assert "reused" in again["timings_ms"] and "annotated" not in again
    assert again["lines"] == first["lines"] == PAGE_LINES
    # the page outlines the reject too, so a reused reading must carry its box
    assert len(first["rejected_boxes"]) == 1 and again["rejected_boxes"] == first["rejected_boxes"]


@pytest.mark.parametrize("first_annotate", [True, False], ids=["picture first", "reading only first"])
def test_asking_for_a_picture_or_not_does_not_change_what_the_frame_shows(client, first_annotate):
    # Without a picture the server decodes the frame gray, with one in colour: the same scene either way.
    result(client, {**frame(1, jpeg(render_page(), 85)), "annotate": first_annotate})
    again = result(client, {**frame(2, jpeg(render_page(), 70)), "annotate": not first_annotate})
    assert "reused" in again["timings_ms"] and again["lines"] == PAGE_LINES
    assert ("annotated" in again) == (not first_annotate)


def test_a_reading_older_than_the_limit_is_not_reused():
    app = app_with(0.3)
    client = FrameClient(socketio, app)
    try:
        result(client, frame(1))
        time.sleep(0.4)
        assert "reused" not in result(client, frame(2))["timings_ms"]
        assert "reused" in result(client, frame(3))["timings_ms"]  # frame 2 was read: a new start
    finally:
        app.extensions["digitcam"].scheduler.stop()


def test_clients_do_not_share_their_last_readings(client):
    result(client, frame(1))
    other = FrameClient(socketio, client.sio.app)
    assert "reused" not in result(other, frame(7))["timings_ms"]


def test_a_client_that_leaves_leaves_no_reading_behind(client):
    stills = client.sio.app.extensions["digitcam"].stills
    result(client, frame(1))
    client.send(frame(2, jpeg(render_page(["90", "12"]))))  # read afresh (tens of ms) ...
    time.sleep(0.005)  # ... once a worker has taken it
    client.sio.disconnect()  # ... while the client leaves
    other = FrameClient(socketio, client.sio.app)
    result(other, frame(1))  # one worker: the leaver's last frame was finished before this one
    assert len(stills) == 1, "only the client still connected has a last reading"
