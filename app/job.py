"""A training run in a background thread, owned by one browser session.

The thread calls ``SSCN.fit`` with a callback that records each event under a lock, blocks while
the job is paused, and now and then computes an :class:`~sscn_core.analysis.Analysis` (affinity,
embeddings, metrics) on the training thread, where touching the model is safe. The page never
touches the thread's objects directly: it reads :meth:`Job.snapshot`, an immutable copy.
Nothing here imports Streamlit; the thread never calls it.
"""
from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sscn_core import SSCN
from sscn_core.analysis import Analysis, Probe, analyse
from sscn_core.trainer import PHASE_LABELS as TRAINER_PHASE_LABELS
from sscn_core.trainer import TrainingEvent

# Job states: "ready" (not started), "running", "pausing" (asked, not yet at a step boundary),
# "paused", "stopping", and the final ones "finished", "stopped", "failed".
FINAL_STATES = ("finished", "stopped", "failed")
PHASE_LABELS = {**TRAINER_PHASE_LABELS, "analysis": "final analysis"}
_ids = itertools.count(1)

Analyser = Callable[..., Analysis]


@dataclass(frozen=True)
class JobError:
    """An exception raised by the training thread: its type, message and formatted traceback."""

    type: str
    message: str
    traceback: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> "JobError":
        """Capture ``exc`` with its traceback."""
        return cls(type(exc).__name__, str(exc), "".join(traceback.format_exception(exc)))


@dataclass(frozen=True)
class Snapshot:
    """What the page may know about a job at one moment (a copy: safe to keep and read)."""

    job_id: int
    state: str
    phase: str | None
    phases: tuple[str, ...]
    step: int
    total_steps: int
    phase_elapsed: float
    elapsed: float
    history: tuple[dict[str, Any], ...]
    analysis: Analysis | None
    analysis_version: int
    analysis_error: JobError | None
    error: JobError | None
    first_loss_after: float | None
    model_stopped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True while the thread is (or will be) working: not yet in a final state."""
        return self.state not in FINAL_STATES and self.state != "ready"

    @property
    def progress(self) -> float:
        """Fraction of the current phase done, in [0, 1]."""
        return min(1.0, self.step / self.total_steps) if self.total_steps > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left in the current phase at the pace so far (None before the first step)."""
        if self.step <= 0 or self.total_steps <= 0 or self.phase_elapsed <= 0:
            return None
        return max(0.0, self.phase_elapsed / self.step * (self.total_steps - self.step))


def warm_up_torch() -> float:
    """Pay torch's one-time start-up cost (kernel and allocator set-up, ~1 s) with a tiny fit; returns seconds.

    Run once per process at app start, so that the first step after a user's Start is as fast as
    the later ones.
    """
    start = time.perf_counter()
    x = np.random.default_rng(0).random((16, 784), dtype=np.float32)

    def one_step(event: TrainingEvent) -> None:
        if event.kind == "step":
            event.model.stop()

    SSCN(n_clusters=2, subspace_dim=2, autoencoder="conv", pretrain_epochs=0, epochs=1, batch_size=8,
         classifier_epochs=0, device="cpu", seed=0).fit(x, callback=one_step)
    return time.perf_counter() - start


class Job:
    """Fit ``model`` on ``probe.train`` in a daemon thread; pause, resume and stop it; read snapshots.

    ``analyse_every``: least seconds between two analyses during a phase (an analysis also runs at
    the end of each phase and after the fit); the interval grows to ``4 ×`` the last analysis's
    cost so that analyses never take more than about a fifth of the time.
    """

    def __init__(self, model: SSCN, probe: Probe, *, analyse_every: float = 3.0,
                 analyser: Analyser = analyse) -> None:
        self.id = next(_ids)
        self.model = model
        self.probe = probe
        self.analyse_every = float(analyse_every)
        self._analyser = analyser
        self._lock = threading.Lock()           # guards the fields below
        self._model_lock = threading.Lock()     # held by the thread while it may touch the model
        self._stop = threading.Event()
        self._go = threading.Event()            # set = run, clear = pause
        self._go.set()
        self._thread: threading.Thread | None = None
        self._state = "ready"
        self._phase: str | None = None
        self._phases = model.planned_phases()
        self._step = 0
        self._total = 0
        self._phase_started = 0.0
        self._phase_elapsed = 0.0
        self._started = 0.0
        self._ended: float | None = None
        self._first_loss: float | None = None
        self._history: list[dict[str, Any]] = []
        self._global_step = 0
        self._analysis: Analysis | None = None
        self._analysis_version = 0
        self._analysis_error: JobError | None = None
        self._analysis_cost = 0.0
        self._last_analysis = 0.0
        self._error: JobError | None = None

    # ------------------------------------------------------------------ control (any thread)
    def start(self) -> None:
        """Start the training thread (once)."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"job {self.id} was already started")
            self._state = "running"
            self._started = time.perf_counter()
            self._thread = threading.Thread(target=self._run, name=f"sscn-train-{self.id}", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Ask the thread to wait at its next step boundary."""
        with self._lock:
            if self._state == "running":
                self._go.clear()
                self._state = "pausing"

    def resume(self) -> None:
        """Let a paused thread go on."""
        with self._lock:
            if self._state in ("pausing", "paused"):
                self._state = "running"
                self._go.set()

    def stop(self) -> None:
        """End the fit at its next step (the model keeps what it learnt); also releases a pause."""
        with self._lock:
            if self._state in FINAL_STATES:
                return
            if self._state == "ready":
                self._state = "stopped"
                return
            self._state = "stopping"
        self._stop.set()
        self.model.stop()
        self._go.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self, timeout: float = 10.0) -> bool:
        """Stop and wait up to ``timeout`` seconds: for session release and reset."""
        self.stop()
        return self.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the thread is running now."""
        return self._thread is not None and self._thread.is_alive()

    @contextmanager
    def model_access(self) -> Iterator[SSCN | None]:
        """Yield the model when no training step can run meanwhile (paused or ended), else None.

        Never blocks: while the thread is between two steps it holds the model, and the page
        should say "available when training is paused or done".
        """
        acquired = self._model_lock.acquire(blocking=False)
        try:
            yield self.model if acquired and hasattr(self.model, "net_") else None
        finally:
            if acquired:
                self._model_lock.release()

    def snapshot(self) -> Snapshot:
        """A consistent copy of the job's state."""
        with self._lock:
            now = time.perf_counter()
            end = self._ended if self._ended is not None else now
            running_phase = self._state in ("running", "pausing", "stopping")
            live = running_phase and self._phase_started
            elapsed_phase = (now - self._phase_started) if live else self._phase_elapsed
            return Snapshot(
                job_id=self.id, state=self._state, phase=self._phase, phases=self._phases, step=self._step,
                total_steps=self._total, phase_elapsed=elapsed_phase,
                elapsed=(end - self._started) if self._started else 0.0, history=tuple(self._history),
                analysis=self._analysis, analysis_version=self._analysis_version,
                analysis_error=self._analysis_error, error=self._error, first_loss_after=self._first_loss,
                model_stopped=bool(getattr(self.model, "stopped_", False)),
            )

    # ------------------------------------------------------------------ the training thread
    def _run(self) -> None:
        with self._model_lock:
            try:
                self.model.fit(self.probe.train.X, callback=self._on_event)
                if not hasattr(self.model, "net_"):
                    raise RuntimeError("fit returned without a network")
                with self._lock:
                    self._phase = "analysis"
                self._analyse(final=True)
            except Exception as exc:  # shown on the page with its cause; the app stays usable
                with self._lock:
                    self._error = JobError.from_exception(exc)
                    self._state = "failed"
                    self._ended = time.perf_counter()
                return
        with self._lock:
            # a stop that came after the last step (during the final analysis) leaves a finished model
            self._state = "stopped" if getattr(self.model, "stopped_", False) else "finished"
            self._ended = time.perf_counter()

    def _on_event(self, event: TrainingEvent) -> None:
        now = time.perf_counter()
        with self._lock:
            if event.kind == "phase":
                self._phase, self._step, self._total = event.phase, 0, event.total_steps
                self._phase_started, self._phase_elapsed = now, 0.0
            else:
                self._step, self._total = event.step, event.total_steps
                self._phase_elapsed = now - self._phase_started   # pauses excluded, unlike event.elapsed
            if event.kind == "step" and event.losses:
                self._global_step += 1
                self._history.append({"phase": event.phase, "step": event.step, "i": self._global_step,
                                      "t": now - self._started, **event.losses})
                if self._first_loss is None:
                    self._first_loss = now - self._started
        if self._stop.is_set():
            self.model.stop()   # a stop asked before fit began was cleared by fit; ask again
            return
        due = now - self._last_analysis >= max(self.analyse_every, 4.0 * self._analysis_cost)
        ready = hasattr(self.model, "net_") and event.phase != "features"   # the network exists after the front-end
        if ready and (event.kind == "done" or (event.kind == "step" and due)):
            self._analyse(final=False)
        self._wait_if_paused()

    def _wait_if_paused(self) -> None:
        if self._go.is_set():
            return
        with self._lock:
            if self._state == "pausing":
                self._state = "paused"
            self._phase_elapsed = time.perf_counter() - self._phase_started if self._phase_started else 0.0
        paused_at = time.perf_counter()
        self._model_lock.release()
        try:
            while not self._go.wait(0.2):
                pass
        finally:
            self._model_lock.acquire()
            with self._lock:
                # the pause does not count as phase time
                self._phase_started += time.perf_counter() - paused_at

    def _analyse(self, *, final: bool) -> None:
        if self._stop.is_set() and not final:
            return
        with self._lock:
            phase, step = self._phase or "", self._step
        trained = getattr(self.model, "labels_", None) is not None or (phase == "classifier" and step > 0)
        start = time.perf_counter()
        try:
            result = self._analyser(self.model, self.probe, phase=phase, step=step, classifier_trained=trained)
        except Exception as exc:  # an analysis failure must not end the training; it is shown as a warning
            with self._lock:
                self._analysis_error = JobError.from_exception(exc)
            return
        finally:
            self._analysis_cost = time.perf_counter() - start
            self._last_analysis = time.perf_counter()
        with self._lock:
            self._analysis = result
            self._analysis_version += 1
            self._analysis_error = None
