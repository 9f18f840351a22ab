"""A training run in a worker process, owned by one browser session.

:class:`Job` hands the model and its :class:`~sscn_core.analysis.Probe` to a ``python -m app.train_worker``
process (see that module for the protocol), and a reader thread here turns the worker's messages
into the job's state: losses per step, the latest :class:`~sscn_core.analysis.Analysis`, a copy of the
model when paused and at the end, and errors. The page never touches the worker: it reads
:meth:`Job.snapshot`, an immutable copy, and uses the model copy through :meth:`Job.model_access`.
A :class:`~app.scheduler.Scheduler` decides when a job starts and how many threads it gets.
Nothing here imports Streamlit.
"""
from __future__ import annotations

import itertools
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sscn_core import SSCN
from sscn_core.analysis import Analysis, Probe, analyse
from sscn_core.trainer import CACHED, TrainingEvent
from sscn_core.trainer import PHASE_LABELS as TRAINER_PHASE_LABELS
from sscn_core.viz.figures import LossRow, loss_row

from .ipc import frame, receive

# Job states: "ready" (not started), "queued" (waiting for a free slot), "running", "pausing" (asked,
# not yet at a step boundary), "paused", "stopping", and the final ones "finished", "stopped", "failed".
FINAL_STATES = ("finished", "stopped", "failed")
PHASE_LABELS = {**TRAINER_PHASE_LABELS, "analysis": "final analysis"}
ROOT = Path(__file__).resolve().parents[1]
RESULT_CAP_BYTES = int(float(os.environ.get("SSCN_EXPLORER_RESULT_MB", "64")) * 2 ** 20)
KILL_AFTER = 5.0        # seconds a worker gets to end by itself after a close before it is killed
HISTORY_ROW_BYTES = 400  # what one loss-history row costs, about (a small dict)
_ids = itertools.count(1)

Analyser = Callable[..., Analysis]


@dataclass(frozen=True)
class JobError:
    """An exception raised by the training process: its type, message and formatted traceback."""

    type: str
    message: str
    traceback: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> "JobError":
        """Capture ``exc`` with its traceback."""
        return cls(type(exc).__name__, str(exc), "".join(traceback.format_exception(exc)))


@dataclass(frozen=True)
class Snapshot:
    """What the page may know about a job at one moment (a copy: safe to keep and read).

    ``queue_ahead``/``queue_wait``: while queued, how many runs start before this one and about
    how many seconds until it starts (None when unknown). ``result_bytes``: memory the job holds
    for the page (analysis, loss history, model copy), at most ``result_cap`` bytes of it counted
    against the session's cap. ``cached_phases``: phases that were read from a cache instead of
    trained (an earlier fit's pre-training of the same images).
    """

    job_id: int
    state: str
    phase: str | None
    phases: tuple[str, ...]
    step: int
    total_steps: int
    phase_elapsed: float
    elapsed: float
    history: tuple[LossRow, ...]
    analysis: Analysis | None
    analysis_version: int
    analysis_error: JobError | None
    error: JobError | None
    first_loss_after: float | None
    model_stopped: bool = False
    queue_ahead: int | None = None
    queue_wait: float | None = None
    threads: int | None = None
    result_bytes: int = 0
    result_cap: int = RESULT_CAP_BYTES
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    cached_phases: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """True while the job is (or will be) working: queued or running, not yet in a final state."""
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


@dataclass(frozen=True)
class RunSpec:
    """What a worker process needs for one fit (pickled to it)."""

    model: SSCN
    probe: Probe
    analyse_every: float
    analyser: Analyser
    threads: int


def warm_up() -> float:
    """Pay a process's one-time costs of fitting with tiny fits; returns seconds.

    torch's kernel and allocator set-up (~1 s), and the first use of everything a default fit goes
    through: the model choice (pixels and scattering), the paper's-start comparison, the closed form,
    the spectral post-processing and the classifier (imports and first calls, ~2 s; without this the
    landing run's first loss point came 2 s later in a worker than in the library). Run once per
    process (the page server at start, each worker before it takes a job), so that the first step
    after a user's Start is as fast as the later ones.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(0)

    def one_step(event: TrainingEvent) -> None:
        if event.kind == "step":
            event.model.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SSCN(n_clusters=2, subspace_dim=2, autoencoder="conv", pretrain_epochs=0, epochs=1, batch_size=8,
             classifier_epochs=0, device="cpu", seed=0).fit(rng.random((16, 784), dtype=np.float32), callback=one_step)
        SSCN(n_clusters=2, paper_start_steps=2, device="cpu", seed=0).fit(rng.random((24, 8, 8), dtype=np.float32))
    return time.perf_counter() - start


def fit_probe(probe: Probe, cap_bytes: int) -> Probe:
    """``probe`` with an affinity sample small enough that its two n×n float32 maps use ≤ half of ``cap_bytes``."""
    n_max = max(2, int((cap_bytes / 2 / 8) ** 0.5))
    if len(probe.affinity_idx) <= n_max:
        return probe
    return replace(probe, affinity_idx=np.sort(probe.affinity_idx[:: -(-len(probe.affinity_idx) // n_max)]))


def analysis_bytes(analysis: Analysis | None) -> int:
    """Bytes held by the arrays of ``analysis``."""
    if analysis is None:
        return 0
    return sum(v.nbytes for v in vars(analysis).values() if isinstance(v, np.ndarray))


class WorkerProcess:
    """A started ``python -m app.train_worker`` process with its pipes (it warms up, then waits for a job).

    Messages to it are pickled by the caller and written in order by a daemon thread, so that no
    caller waits while a worker that is still warming up has not read its job yet.
    """

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "app.train_worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=ROOT, env=env)
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        threading.Thread(target=self._write, name=f"sscn-worker-in-{self.proc.pid}", daemon=True).start()
        self.send(("path", list(sys.path)))

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.proc.pid

    def send(self, message: object) -> None:
        """Queue a message (pickled now: a message that cannot be pickled raises here)."""
        self._outbox.put(frame(message))

    def _write(self) -> None:
        while (data := self._outbox.get()) is not None:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (OSError, ValueError):
                return      # the worker is gone
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def receive(self) -> object | None:
        """The worker's next message (blocks); None once it has ended."""
        try:
            return receive(self.proc.stdout)
        except (OSError, EOFError, ValueError):
            return None

    def alive(self) -> bool:
        """Whether the process is running."""
        return self.proc.poll() is None

    def end(self, grace: float = 0.0) -> int | None:
        """Close its input after the queued messages (the worker stops at its next step), wait ``grace``
        seconds, then kill it; the exit code."""
        self._outbox.put(None)
        try:
            return self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)


class Job:
    """Fit ``model`` on ``probe.train`` in a worker process; pause, resume and stop it; read snapshots.

    ``analyse_every``: least seconds between two analyses during a phase (an analysis also runs at
    the end of each phase and after the fit); the interval grows to ``4 ×`` the last analysis's
    cost so that analyses never take more than about a fifth of the time. ``analyser`` must be
    importable by name (it is pickled to the worker). ``result_cap``: the bytes this job may hold
    for the page; the affinity sample is sized to fit and the loss history is thinned to fit.
    """

    def __init__(self, model: SSCN, probe: Probe, *, analyse_every: float = 3.0, analyser: Analyser = analyse,
                 result_cap: int = RESULT_CAP_BYTES) -> None:
        self.id = next(_ids)
        self.model = model
        self.probe = fit_probe(probe, result_cap)
        self.analyse_every = float(analyse_every)
        self.result_cap = int(result_cap)
        self._analyser = analyser
        self._lock = threading.Lock()           # guards the fields below
        self._worker: WorkerProcess | None = None
        self._reader: threading.Thread | None = None
        self._ended_event = threading.Event()
        self._on_end: Callable[[Job], None] | None = None
        self._queue_info: Callable[[Job], tuple[int, float | None]] | None = None
        self._state = "ready"
        self._phase: str | None = None
        self._phases = model.planned_phases(probe.train.n_features)
        self._step = 0
        self._total = 0
        self._phase_started = 0.0
        self._phase_elapsed = 0.0
        self._paused_at: float | None = None
        self._submitted = time.monotonic()
        self._started = 0.0
        self._ended: float | None = None
        self._first_loss: float | None = None
        self._history: list[LossRow] = []
        self._cached_phases: tuple[str, ...] = ()     # phases read from a cache instead of trained
        self._history_bytes_cap = max(HISTORY_ROW_BYTES * 100, self.result_cap // 8)
        self._global_step = 0
        self._analysis: Analysis | None = None
        self._analysis_version = 0
        self._analysis_error: JobError | None = None
        self._model_bytes = 0
        self._model_ready = False
        self._model_stopped = False
        self._threads: int | None = None
        self._error: JobError | None = None
        self._note: str | None = None
        self._stop_asked = False

    # ------------------------------------------------------------------ control (any thread)
    def queue(self, position: Callable[[Job], tuple[int, float | None]], on_end: Callable[[Job], None]) -> None:
        """Mark the job as waiting for a slot; ``position(job)`` tells how far back it is; ``on_end`` is
        called (on the reader thread) once it has ended."""
        with self._lock:
            if self._state != "ready":
                raise RuntimeError(f"job {self.id} was already started")
            self._state = "queued"
            self._queue_info, self._on_end = position, on_end
            self._submitted = time.monotonic()

    def start(self, *, threads: int = 1, worker: WorkerProcess | None = None) -> bool:
        """Start training in ``worker`` (or a new worker process) with ``threads`` torch threads.

        Returns False when the job was stopped while it waited (it then never starts).
        """
        with self._lock:
            if self._state == "stopped":
                return False
            if self._state not in ("ready", "queued") or self._worker is not None:
                raise RuntimeError(f"job {self.id} was already started")
            self._state = "running"
            self._started = time.monotonic()
            self._threads = int(threads)
            self._worker = worker if worker is not None and worker.alive() else WorkerProcess()
        self._reader = threading.Thread(target=self._read, name=f"sscn-job-{self.id}", daemon=True)
        self._reader.start()
        return True

    def set_threads(self, threads: int) -> None:
        """Change the worker's torch thread budget (applied at its next step)."""
        with self._lock:
            worker, changed = self._worker, self._threads != threads
            self._threads = threads
        if worker is not None and changed:
            worker.send(("threads", int(threads)))

    def pause(self) -> None:
        """Ask the worker to wait at its next step boundary."""
        with self._lock:
            if self._state != "running":
                return
            self._state = "pausing"
            worker = self._worker
        worker.send(("pause",))

    def resume(self) -> None:
        """Let a paused worker go on."""
        with self._lock:
            if self._state not in ("pausing", "paused"):
                return
            self._state = "running"
            worker = self._worker
        worker.send(("resume",))

    def stop(self) -> None:
        """End the fit at its next step (the model keeps what it learnt); also releases a pause."""
        with self._lock:
            if self._state in FINAL_STATES:
                return
            self._stop_asked = True
            if self._state in ("ready", "queued"):
                self._state, self._ended = "stopped", time.monotonic()
                on_end = self._on_end
            else:
                self._state, on_end = "stopping", None
            worker = self._worker
        if worker is not None:
            worker.send(("stop",))
        else:
            self._ended_event.set()
            if on_end is not None:
                on_end(self)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when it has (or never started)."""
        with self._lock:
            if self._state == "ready" and self._worker is None:
                return True
        return self._ended_event.wait(timeout)

    def close(self, timeout: float = KILL_AFTER) -> bool:
        """Stop; wait up to ``timeout`` seconds for the worker to end by itself, then kill it. True once ended."""
        self.stop()
        if self.join(timeout):
            return True
        with self._lock:
            worker = self._worker
            self._note = f"the training process did not stop within {timeout:.0f} s and was ended"
        if worker is not None:
            worker.end(0.0)
        return self.join(10.0)

    def close_soon(self, timeout: float = KILL_AFTER) -> None:
        """:meth:`close` in a daemon thread (for a released session: returns at once)."""
        threading.Thread(target=self.close, args=(timeout,), name=f"sscn-close-{self.id}", daemon=True).start()

    @property
    def alive(self) -> bool:
        """Whether the worker process is running now."""
        return self._worker is not None and self._worker.alive()

    @property
    def pid(self) -> int | None:
        """The worker's process id, once started."""
        return self._worker.pid if self._worker is not None else None

    @contextmanager
    def model_access(self) -> Iterator[SSCN | None]:
        """Yield the model when it is a copy no training step can change (paused or ended), else None.

        Never blocks: while the worker trains the page should say "available when training is
        paused or done".
        """
        with self._lock:
            usable = self._model_ready and self._state in ("paused", *FINAL_STATES)
            model = self.model
        yield model if usable and hasattr(model, "net_") else None

    def snapshot(self) -> Snapshot:
        """A consistent copy of the job's state."""
        position = self._queue_info if self._state == "queued" else None
        ahead, wait = position(self) if position is not None else (None, None)
        with self._lock:
            now = time.monotonic()
            end = self._ended if self._ended is not None else now
            live = self._state in ("running", "pausing", "stopping") and self._phase_started
            if self._paused_at is not None:
                now = self._paused_at
            elapsed_phase = (now - self._phase_started) if live else self._phase_elapsed
            started = self._started or self._submitted
            result = analysis_bytes(self._analysis) + HISTORY_ROW_BYTES * len(self._history) + self._model_bytes
            return Snapshot(
                job_id=self.id, state=self._state, phase=self._phase, phases=self._phases, step=self._step,
                total_steps=self._total, phase_elapsed=elapsed_phase,
                elapsed=(end - started) if (self._started or self._ended) else 0.0, history=tuple(self._history),
                analysis=self._analysis, analysis_version=self._analysis_version,
                analysis_error=self._analysis_error, error=self._error, first_loss_after=self._first_loss,
                model_stopped=self._model_stopped, queue_ahead=ahead if self._state == "queued" else None,
                queue_wait=wait if self._state == "queued" else None, threads=self._threads,
                result_bytes=result, result_cap=self.result_cap, note=self._note,
                cached_phases=self._cached_phases,
            )

    # ------------------------------------------------------------------ the reader thread
    def _send_spec(self) -> JobError | None:
        """Hand the job to the worker (here, not in :meth:`start`: a worker still warming up reads it later)."""
        try:   # SSCN pickles without its stop event (the worker's copy gets its own)
            spec = RunSpec(self.model, self.probe, self.analyse_every, self._analyser, int(self._threads or 1))
            self._worker.send(("run", spec))
        except Exception as exc:  # e.g. an analyser that cannot be pickled: the job fails with the reason
            return JobError.from_exception(exc)
        return None

    def _read(self) -> None:
        worker = self._worker
        final: tuple[str, JobError | None] | None = None
        error = self._send_spec()
        if error is not None:
            final = ("failed", error)
        while final is None:
            message = worker.receive()
            if message is None:
                break
            kind = message[0]
            if kind == "end":
                final = (message[1], message[2])
            else:
                getattr(self, f"_on_{kind}")(*message[1:])
        code = worker.end(KILL_AFTER)
        with self._lock:
            if final is not None:
                state, error = final
            elif self._stop_asked:
                state, error = "stopped", None
            else:
                state = "failed"
                error = JobError("WorkerExited", f"the training process ended without finishing (exit code {code}; "
                                                 f"-9 usually means it was killed for lack of memory)", "")
            if state == "stopped" and final is None:
                self._note = self._note or "the training process ended before it could send back the model"
            self._state, self._error = state, error
            self._ended = time.monotonic()
            self._paused_at = None
            if self._phase_started and self._phase != "analysis":
                self._phase_elapsed = self._ended - self._phase_started
            on_end = self._on_end
        self._ended_event.set()
        if on_end is not None:
            on_end(self)

    def _on_events(self, batch: list[tuple]) -> None:
        with self._lock:
            for kind, phase, step, total, losses, t in batch:
                if kind == "phase":
                    self._phase, self._step, self._total = phase, 0, total
                    self._phase_started, self._phase_elapsed = t, 0.0
                else:
                    self._step, self._total = step, total
                    self._phase_elapsed = t - self._phase_started
                if kind == "done" and losses.get(CACHED):
                    self._cached_phases += (phase,)
                if kind == "step" and losses:
                    self._global_step += 1
                    self._history.append(loss_row(phase, step, self._global_step, losses, t=t - self._started))
                    if self._first_loss is None:
                        self._first_loss = t - self._started
            if HISTORY_ROW_BYTES * len(self._history) > self._history_bytes_cap:
                half = len(self._history) // 2
                self._history = self._history[:half:2] + self._history[half:]   # older steps at half density

    def _on_analysis(self, analysis: Analysis) -> None:
        with self._lock:
            self._analysis = analysis
            self._analysis_version += 1
            self._analysis_error = None

    def _on_analysis_error(self, error: JobError) -> None:
        with self._lock:
            self._analysis_error = error

    def _on_paused(self, t: float) -> None:
        with self._lock:
            self._paused_at = t
            if self._state == "pausing":
                self._state = "paused"

    def _on_resumed(self, t: float) -> None:
        with self._lock:
            if self._paused_at is not None and self._phase_started:
                self._phase_started += t - self._paused_at     # the pause does not count as phase time
            self._paused_at = None

    def _on_model(self, data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="sscn-job-") as tmp:
            path = Path(tmp) / "model.pt"
            path.write_bytes(data)
            model = SSCN.load(path, device=str(self.model.device))
        with self._lock:
            self.model, self._model_ready, self._model_bytes = model, True, len(data)
            self._model_stopped = bool(model.stopped_)
