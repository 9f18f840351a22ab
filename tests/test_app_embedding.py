"""app.embedding / app.umap_worker: the worker protocol, the per-session runner, the real worker process."""
from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest

from app.embedding import UmapRunner, UmapService
from app.job import JobError
from app.umap_worker import receive, send, serve


class FakeService:
    """Stands in for the worker process: records calls, can be held back or fail."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.error: JobError | None = None
        self.calls: list[tuple[int, str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def layout(self, data: np.ndarray, metric: str = "cosine") -> np.ndarray:
        self.entered.set()
        self.gate.wait(10)
        self.calls.append((data.shape[0], metric))
        if data.shape[0] == 13:
            raise ValueError("unlucky thirteen")
        return np.zeros((data.shape[0], 2), dtype=np.float32)


def wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_protocol_round_trip() -> None:
    buf = io.BytesIO()
    send(buf, ("layout", {"x": np.arange(3)}))
    buf.seek(0)
    task, kwargs = receive(buf)
    assert task == "layout" and list(kwargs["x"]) == [0, 1, 2]
    assert receive(buf) is None


def test_serve_answers_results_and_errors() -> None:
    requests = io.BytesIO()
    send(requests, ("layout", {"data": np.zeros((2, 3))}))   # too few points: an error reply
    requests.seek(0)
    replies = io.BytesIO()
    serve(requests, replies)
    replies.seek(0)
    reply = receive(replies)
    assert reply[0] == "error" and reply[1] == "ValueError" and "n ≥ 3" in reply[2]


def test_runner_waits_for_warmup_then_keeps_the_newest_layout() -> None:
    service = FakeService()
    runner = UmapRunner(service)
    try:
        runner.request("slot", 1, np.ones((5, 3)))
        time.sleep(0.1)
        assert not runner.warm and runner.get("slot") is None and runner.busy("slot")
        service.ready.set()
        wait(lambda: runner.get("slot") is not None)
        assert runner.get("slot").version == 1 and runner.get("slot").coords.shape == (5, 2)
        runner.request("slot", 1, np.ones((6, 3)))          # not newer: ignored
        time.sleep(0.1)
        assert service.calls == [(5, "cosine")]
        service.gate.clear()
        service.entered.clear()
        runner.request("slot", 2, np.ones((7, 3)))
        assert service.entered.wait(10)                            # 2 is computing now
        runner.request("slot", 3, np.ones((8, 3)), "euclidean")   # queued while 2 computes
        runner.request("slot", 4, np.ones((9, 3)), "euclidean")   # replaces the queued 3
        service.gate.set()
        wait(lambda: runner.get("slot").version == 4)
        assert service.calls[-2:] == [(7, "cosine"), (9, "euclidean")]
    finally:
        runner.close()


def test_runner_reports_errors_per_slot() -> None:
    service = FakeService()
    service.ready.set()
    runner = UmapRunner(service)
    try:
        runner.request("bad", 1, np.ones((13, 2)))
        wait(lambda: runner.error("bad") is not None)
        assert runner.error("bad").message == "unlucky thirteen" and runner.get("bad") is None
        assert not runner.busy("bad")
    finally:
        runner.close()


@pytest.mark.slow
def test_the_real_worker_process() -> None:
    service = UmapService()
    try:
        assert service.ready.wait(300), "warm-up did not finish"
        assert service.error is None and service.seconds > 0
        coords = service.layout(np.random.default_rng(0).normal(size=(60, 5)))
        assert coords.shape == (60, 2) and np.isfinite(coords).all()
        with pytest.raises(RuntimeError, match="n ≥ 3"):
            service.layout(np.zeros((2, 2)))
    finally:
        service.shutdown()
