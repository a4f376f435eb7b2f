"""Frame slots: one waiting frame per client, newest wins, clients served in turn, nothing queued without bound.

These drive FrameScheduler by hand (take/done as a worker would), so they need no threads.
"""
from __future__ import annotations

import threading
import time

from webapp.frames import Frame, FrameScheduler


def frame(n: int) -> Frame:
    return Frame(n, b"jpeg", "camera", False)


def scheduler() -> FrameScheduler:
    return FrameScheduler(lambda client, frame, dropped: True, workers=1)


def test_a_newer_frame_replaces_the_waiting_one_and_is_counted():
    s = scheduler()
    for n in (1, 2, 3):
        s.submit("a", frame(n))
    client, taken, dropped = s.take()
    assert (client, taken.id, dropped) == ("a", 3, 2)
    assert s.take() is None


def test_a_frame_sent_during_work_waits_for_it_then_goes_next():
    s = scheduler()
    s.submit("a", frame(1))
    s.take()
    s.submit("a", frame(2))
    assert s.take() is None, "a client never has two frames in work"
    s.done("a")
    assert s.take()[1].id == 2


def test_clients_take_turns_whatever_their_rate():
    s = scheduler()
    s.submit("flood", frame(1))
    s.submit("calm", frame(1))
    assert s.take()[0] == "flood"
    for n in range(2, 50):
        s.submit("flood", frame(n))
    s.done("flood")
    assert s.take()[0] == "calm"
    s.done("calm")
    client, taken, dropped = s.take()
    assert (client, taken.id, dropped) == ("flood", 49, 47)


def test_a_frame_not_answered_counts_as_dropped():
    s = scheduler()
    s.submit("a", frame(1))
    s.take()
    s.done("a", answered=False)
    s.submit("a", frame(2))
    assert s.take()[2] == 1


def test_a_departed_client_is_forgotten_even_mid_frame():
    s = scheduler()
    s.submit("gone", frame(1))
    s.submit("busy", frame(1))
    s.forget("gone")
    assert s.take()[0] == "busy"
    s.forget("busy")
    s.done("busy")
    assert s.take() is None
    assert s.client_count() == 0 and s.idle()


def test_idle_only_when_nothing_waits_or_runs():
    s = scheduler()
    assert s.idle()
    s.submit("a", frame(1))
    assert not s.idle()
    s.take()
    assert not s.idle()
    s.done("a")
    assert s.idle()


def test_workers_answer_every_latest_frame():
    answered: list[tuple[str, int]] = []
    s = FrameScheduler(lambda client, frame, dropped: answered.append((client, frame.id)) or True, workers=2)
    threads = []
    s.start(lambda target: threads.append(_thread(target)))
    try:
        for client in ("a", "b", "c"):
            s.submit(client, frame(7))
        _wait(s.idle)
    finally:
        s.stop()
    assert sorted(answered) == [("a", 7), ("b", 7), ("c", 7)]


def _thread(target):
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _wait(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "workers never finished"
        time.sleep(0.01)
