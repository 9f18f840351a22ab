"""UMAP off the page: a worker process per server and a per-session background runner.

``import umap`` takes ~20 s and its first fit JIT-compiles for about a minute on a small CPU, so
:class:`UmapService` does both once per server in a worker process started with the app, and
:class:`UmapRunner` hands each requested 2-D layout to it from a daemon thread, newest request
first. The page only asks and reads; it never waits. No Streamlit here.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .job import JobError
from .ipc import receive, send

ROOT = Path(__file__).resolve().parents[1]


class UmapService:
    """UMAP in one worker *process* per server (``python -m app.umap_worker``), warmed up at creation.

    A process rather than a thread: importing umap and numba's compilation hold the GIL for tens of
    seconds, which would starve the training thread and the page. Several sessions share the
    worker; calls are serialised. ``ready`` is set once the warm-up has finished (or failed:
    ``error``). A worker that dies is restarted on the next call.
    """

    def __init__(self, metrics: tuple[str, ...] = ("cosine",), *, start: bool = True) -> None:
        self.ready = threading.Event()
        self.error: JobError | None = None
        self.seconds: float | None = None
        self._metrics = metrics
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        if start:
            threading.Thread(target=self._warm, name="umap-warmup", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.seconds = float(self.call("warm", metrics=self._metrics))
        except Exception as exc:  # reported on the Embeddings tab
            self.error = JobError.from_exception(exc)
        finally:
            self.ready.set()

    def _process(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
            self._proc = subprocess.Popen([sys.executable, "-m", "app.umap_worker"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, cwd=ROOT, env=env)
        return self._proc

    def call(self, task: str, **kwargs: object) -> object:
        """Run ``task`` ("layout" or "warm") in the worker and return its result (blocks this thread only)."""
        with self._lock:
            proc = self._process()
            try:
                send(proc.stdin, (task, kwargs))
                reply = receive(proc.stdout)
            except (BrokenPipeError, OSError):
                reply = None
            if reply is None:
                code = proc.poll()
                self._proc = None
                raise RuntimeError(f"the UMAP worker process ended (exit code {code}; out of memory?); "
                                   f"it is restarted for the next layout")
        if reply[0] == "error":
            _, kind, message, trace = reply
            raise RuntimeError(f"{kind}: {message}\n(in the UMAP worker)\n{trace}")
        return reply[1]

    def layout(self, data: np.ndarray, metric: str = "cosine") -> np.ndarray:
        """A 2-D UMAP layout of ``data`` computed in the worker process."""
        return np.asarray(self.call("layout", data=np.asarray(data, dtype=np.float32), metric=metric))

    def shutdown(self) -> None:
        """End the worker process (it also ends by itself when this process exits)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            self._proc = None


@dataclass(frozen=True)
class Layout:
    """A finished embedding of ``slot`` at ``version``."""

    version: int
    coords: np.ndarray
    seconds: float


class UmapRunner:
    """Per-session background UMAP: ``request`` a slot's data, ``get`` its latest layout.

    A slot (e.g. (run id, "h", "cosine")) keeps its newest finished layout; a request for an older
    or equal version is ignored; while one layout is computing, newer requests replace older
    pending ones.
    """

    def __init__(self, service: UmapService) -> None:
        self._service = service
        self._cond = threading.Condition()
        self._done: dict[Hashable, Layout] = {}
        self._pending: dict[Hashable, tuple[int, np.ndarray, str]] = {}
        self._running: Hashable | None = None
        self._errors: dict[Hashable, JobError] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="umap-runner", daemon=True)
        self._thread.start()

    @property
    def warm(self) -> bool:
        """Whether UMAP is compiled and ready."""
        return self._service.ready.is_set()

    @property
    def warmup_error(self) -> JobError | None:
        """Why UMAP could not be loaded, if it could not."""
        return self._service.error

    def request(self, slot: Hashable, version: int, data: np.ndarray, metric: str = "cosine") -> None:
        """Ask for a layout of ``data`` for ``slot`` unless one at ``version`` or newer exists or is queued."""
        with self._cond:
            have = self._done.get(slot)
            queued = self._pending.get(slot)
            if (have is not None and have.version >= version) or (queued is not None and queued[0] >= version):
                return
            if self._running == slot and self._running_version >= version:
                return
            self._pending[slot] = (version, np.asarray(data), metric)
            self._errors.pop(slot, None)
            self._cond.notify()

    def get(self, slot: Hashable) -> Layout | None:
        """The newest finished layout of ``slot``."""
        with self._cond:
            return self._done.get(slot)

    def busy(self, slot: Hashable) -> bool:
        """Whether ``slot`` is computing or queued."""
        with self._cond:
            return self._running == slot or slot in self._pending

    def error(self, slot: Hashable) -> JobError | None:
        """The exception of ``slot``'s last failed computation."""
        with self._cond:
            return self._errors.get(slot)

    def close(self) -> None:
        """End the worker thread after its current layout."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify()

    _running_version = -1

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
            self._service.ready.wait()
            with self._cond:
                if self._closed or not self._pending:
                    continue
                slot = next(iter(self._pending))
                version, data, metric = self._pending.pop(slot)
                self._running, self._running_version = slot, version
            start = time.perf_counter()
            try:
                if self._service.error is not None:
                    err = self._service.error
                    raise RuntimeError(f"UMAP could not be loaded: {err.type}: {err.message}")
                coords = self._service.layout(data, metric)
                with self._cond:
                    self._done[slot] = Layout(version, coords, time.perf_counter() - start)
            except Exception as exc:  # shown next to the plot
                with self._cond:
                    self._errors[slot] = JobError.from_exception(exc)
            finally:
                with self._cond:
                    self._running, self._running_version = None, -1
