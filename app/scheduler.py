"""One server, many sessions: at most ``limit`` training jobs at once, the rest wait in line.

The :class:`Scheduler` (one per server) admits jobs first come, first served, gives every
running job the same torch thread budget so that the budgets add up to the machine's cores,
re-balances the budgets when a job starts or ends, and keeps one worker process started and
warmed up while the server is idle so that an admitted job does not pay torch's import. Each job's worker runs at a lower priority than the
page server (see :mod:`app.train_worker`), so clicks are served first; the kernel shares the
remaining time equally among running jobs of equal budget. No Streamlit here.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from collections import deque

from .job import Job, WorkerProcess


def default_limit(cores: int) -> int:
    """Jobs allowed at once: ``SSCN_EXPLORER_MAX_JOBS`` when set, else one per core."""
    value = os.environ.get("SSCN_EXPLORER_MAX_JOBS")
    return max(1, int(value)) if value else max(1, cores)


def threads_per_job(running: int, cores: int) -> int:
    """Torch threads for each of ``running`` jobs: the cores shared equally, at least one each.

    No core is held back for the page server: the workers run at a lower priority (``train_worker.NICE``),
    so the server's short redraws are served first anyway, and a lone run on two cores gets both (it
    used to get one, which made the app's landing run half as fast as the same fit in the library).
    """
    return max(1, cores // max(1, running))


def wait_estimate(ahead: int, remaining: list[float | None], limit: int, typical: float | None) -> float | None:
    """Seconds until a job with ``ahead`` queued jobs before it starts, when each run takes ``typical`` seconds.

    ``remaining``: the seconds left to each running job (None: unknown). None when nothing is known.
    """
    if typical is None:
        return None
    slots = sorted(max(0.0, typical if r is None else r) for r in remaining)
    slots += [0.0] * max(0, limit - len(slots))
    for _ in range(ahead):          # each job ahead takes the slot that frees first
        slots[0] += typical
        slots.sort()
    return slots[0]


class Scheduler:
    """Admits jobs up to ``limit`` at once in arrival order and shares ``cores`` among them."""

    def __init__(self, limit: int | None = None, cores: int | None = None, *, spare: bool = True) -> None:
        self.cores = int(cores or os.cpu_count() or 1)
        self.limit = int(limit or default_limit(self.cores))
        self._lock = threading.Lock()
        self._queue: list[Job] = []
        self._running: list[Job] = []
        self._durations: deque[float] = deque(maxlen=8)
        self._started_at: dict[int, float] = {}
        self._keep_spare = spare
        self._spare: WorkerProcess | None = None
        self._closed = False
        if spare:
            self._refill()

    # ------------------------------------------------------------------ jobs
    def submit(self, job: Job) -> None:
        """Queue ``job``; it starts at once when a slot is free."""
        job.queue(self.position, self._ended)
        with self._lock:
            self._queue.append(job)
        self._dispatch()

    def position(self, job: Job) -> tuple[int, float | None]:
        """(runs that start before ``job``, about how many seconds until it starts) for a queued job."""
        with self._lock:
            if job not in self._queue:
                return 0, None
            ahead = self._queue.index(job)
            typical = statistics.median(self._durations) if self._durations else None
            now = time.monotonic()
            remaining = [None if typical is None else typical - (now - self._started_at.get(j.id, now))
                         for j in self._running]
        return ahead, wait_estimate(ahead, remaining, self.limit, typical)

    def counts(self) -> tuple[int, int]:
        """(running, waiting) jobs now."""
        with self._lock:
            return len(self._running), len(self._queue)

    def _ended(self, job: Job) -> None:
        finished = job.snapshot().state == "finished"
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
            if job in self._running:
                self._running.remove(job)
                started = self._started_at.pop(job.id, None)
                if started is not None and finished:
                    self._durations.append(time.monotonic() - started)
        self._dispatch()

    def _dispatch(self) -> None:
        with self._lock:
            if self._closed:
                return
            admitted = []
            while self._queue and len(self._running) < self.limit:
                job = self._queue.pop(0)
                self._running.append(job)
                self._started_at[job.id] = time.monotonic()
                admitted.append(job)
            threads = threads_per_job(len(self._running), self.cores)
            others = [j for j in self._running if j not in admitted]
        for job in others:
            job.set_threads(threads)
        for job in admitted:
            if not job.start(threads=threads, worker=self._take_spare()):
                self._ended(job)       # stopped while it waited
        if not others and not admitted:
            self._refill()

    # ------------------------------------------------------------------ the spare worker
    def _take_spare(self) -> WorkerProcess | None:
        with self._lock:
            spare, self._spare = self._spare, None
        return spare

    def _refill(self) -> None:
        """Start a spare worker, on an idle server only: its start and warm-up take about 5 s of CPU, which
        would otherwise be taken from the run just admitted (on 2 cores its first loss point came 2 s later).
        A Start while other runs train gets a fresh worker."""
        if not self._keep_spare:
            return
        with self._lock:
            if self._spare is not None or self._closed:
                return
            self._spare = WorkerProcess()

    def close(self) -> None:
        """Stop every job and end the spare worker (server shutdown, tests)."""
        with self._lock:
            self._closed = True
            jobs = self._queue + self._running
            spare, self._spare = self._spare, None
        for job in jobs:
            job.close()
        if spare is not None:
            spare.end(0.0)
