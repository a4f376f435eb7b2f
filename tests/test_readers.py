"""Reader processes: frames read in a child process, and a dead or stuck child costs one frame.

The pool here is real (spawned processes with the shipped model), one reader so that every
read goes to the same child, whose pid the tests can signal.
"""
from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest

from server_helpers import PAGE_LINES, FrameClient, decode_jpeg, frame, jpeg, render_page
from webapp.readers import INLINE_SEND_BYTES, JOB_OVERHEAD, ReaderPool, ReaderProcess, ReadJob, answer
from webapp.server import create_app, socketio


@pytest.fixture(scope="module")
def pool():
    pool = ReaderPool(1, None, "cpu")
    yield pool
    pool.close()


def page_job(**kw) -> ReadJob:
    return ReadJob(jpeg(render_page()), mode="camera", **kw)


def test_a_reader_process_reads_a_page_as_the_server_thread_would(pool, recognizer):
    event, reply = pool.read(page_job())
    assert event == "result"
    assert reply["lines"] == PAGE_LINES
    assert reply == {**answer(page_job(), recognizer)[1], "timings_ms": reply["timings_ms"]}
    assert decode_jpeg(reply["annotated"]).shape == render_page().shape


def test_a_reader_remembers_a_camera_frame_and_draws_its_reading_on_the_same_scene_again(pool):
    event, first = pool.read(page_job(remember=True))
    assert event == "result" and "_still" in first and "reused" not in first["timings_ms"]
    event, again = pool.read(page_job(still=first["_still"], remember=True))
    assert event == "result" and "reused" in again["timings_ms"] and "_still" not in again
    assert again["lines"] == first["lines"] == PAGE_LINES
    assert decode_jpeg(again["annotated"]).shape == render_page().shape


def test_a_reader_reads_afresh_once_the_last_reading_is_too_old_even_if_the_job_waited(pool):
    event, first = pool.read(page_job(remember=True))
    event, again = pool.read(page_job(still=first["_still"], still_until=time.monotonic() - 0.01))
    assert event == "result" and "reused" not in again["timings_ms"] and again["lines"] == PAGE_LINES


def test_an_unreadable_image_is_an_error_and_the_reader_goes_on(pool):
    pid = pool.pids()[0]
    event, reply = pool.read(ReadJob(b"not an image at all"))
    assert event == "error" and "image" in reply["message"]
    assert pool.read(page_job())[1]["lines"] == PAGE_LINES
    assert pool.pids() == [pid]


def test_a_reader_that_dies_costs_one_frame_and_is_replaced(pool):
    pid = pool.pids()[0]
    os.kill(pid, signal.SIGKILL)
    event, reply = pool.read(page_job())
    assert event == "error" and reply["message"] == "the server failed to read this frame"
    assert pool.pids() != [pid]
    assert pool.read(page_job())[1]["lines"] == PAGE_LINES


@pytest.mark.parametrize("image_bytes", [0, INLINE_SEND_BYTES - JOB_OVERHEAD, 500_000],
                         ids=["small frame", "largest frame sent without a thread", "frame over the pipe buffer"])
def test_a_reader_that_hangs_is_abandoned_after_the_timeout_and_replaced(pool, image_bytes):
    assert pool.read(page_job())[0] == "result"  # the reader is up
    pid = pool.pids()[0]
    os.kill(pid, signal.SIGSTOP)  # stuck as if in an endless loop
    job = page_job() if not image_bytes else ReadJob(os.urandom(image_bytes), max_bytes=image_bytes)
    try:
        event, reply = pool.read(job, timeout=1.0)
    finally:
        with contextlib.suppress(ProcessLookupError):  # normally it was killed and replaced
            os.kill(pid, signal.SIGCONT)
    assert event == "error" and "took longer than 1 s" in reply["message"]
    assert pool.pids() != [pid]
    assert pool.read(page_job())[1]["lines"] == PAGE_LINES


def test_the_app_with_reader_processes_answers_frames_and_uploads():
    app = create_app({"PROVIDER": "cpu", "WORKERS": 1, "READER_PROCESSES": True})
    st = app.extensions["digitcam"]
    try:
        client = FrameClient(socketio, app)
        client.send(frame(5, jpeg(render_page())))
        assert client.reply_to(5)["args"][0]["lines"] == PAGE_LINES
        client.send(frame(6, b"\xff\xd8 truncated"))
        assert client.reply_to(6)["name"] == "error"
        http = app.test_client()
        response = http.post("/api/read?mode=camera", data=jpeg(render_page()))
        assert response.status_code == 200 and response.get_json()["lines"] == PAGE_LINES
        assert "annotated" not in response.get_json()
        assert http.post("/api/read", data=b"GIF89a nonsense").status_code == 400
        assert len(st.readers.pids()) == 1
    finally:
        st.scheduler.stop()
        st.readers.close()


def test_the_cpu_reported_by_healthz_keeps_what_replaced_readers_used():
    app = create_app({"PROVIDER": "cpu", "WORKERS": 1, "READER_PROCESSES": True})
    st = app.extensions["digitcam"]
    http = app.test_client()
    try:
        for _ in range(5):  # some CPU in the reader: loading the model, then reading
            assert http.post("/api/read?mode=camera", data=jpeg(render_page())).status_code == 200
        before = http.get("/healthz").get_json()["cpu_s"]
        os.kill(st.readers.pids()[0], signal.SIGKILL)
        assert http.post("/api/read?mode=camera", data=jpeg(render_page())).status_code == 500
        assert http.get("/healthz").get_json()["cpu_s"] >= before
    finally:
        st.scheduler.stop()
        st.readers.close()


def test_a_reader_pool_that_cannot_load_its_model_fails_at_start(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="could not load the model"):
        ReaderPool(1, broken, "cpu")


def test_a_reader_that_dies_while_starting_is_reported_not_raised_as_a_pipe_error():
    reader = ReaderProcess(None, "cpu")
    reader.start()
    os.kill(reader.pid, signal.SIGKILL)  # before it could load the model and say so
    try:
        with pytest.raises(RuntimeError, match="exited while starting"):
            reader.wait_ready()
    finally:
        reader.close()


def test_a_busy_pool_says_so_instead_of_waiting_forever(pool):
    borrowed = pool._idle.get()  # the only reader, busy elsewhere
    try:
        assert pool.read(page_job(), wait=0.2) is None
    finally:
        pool._idle.put(borrowed)
