"""The training worker process: ``python -m app.train_worker`` fits one model for one :class:`app.job.Job`.

Training runs here rather than in a thread of the page server so that the server's GIL is never
shared with a fit or its analyses: a page stays responsive however many runs train. The process
lowers its scheduling priority, imports torch and warms it up, then waits on stdin (so the
scheduler can keep one ready) for two :mod:`app.ipc` messages: ``("path", sys.path)`` and
``("run", RunSpec)``. While it fits, a thread reads ``("pause",)``, ``("resume",)``, ``("stop",)``
and ``("threads", n)``; end of input (the app went away) counts as stop. It writes to stdout:
``("events", [...])`` (batched steps), ``("analysis", Analysis)``, ``("analysis_error", JobError)``,
``("paused", t)``, ``("resumed", t)``, ``("model", bytes)`` (a checkpoint, when paused and at the
end) and finally ``("end", state, JobError | None)``. Times are ``time.monotonic()`` stamps.
No Streamlit here.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, BinaryIO

NICE = 5                # below the page server (about a third of its CPU weight): clicks are served first
FLUSH_EVERY = 0.2       # seconds between two batches of step events
UNCHANGED_BY = ("features", "paper_start")   # phases after whose steps an analysis would show nothing new


class _Run:
    """One fit with its control flags; the callback runs on the main thread of this process."""

    def __init__(self, spec: Any, out: BinaryIO) -> None:
        self.spec = spec
        self.model = spec.model
        self.out = out
        self.stop = threading.Event()
        self.go = threading.Event()
        self.go.set()
        self.threads: int | None = None
        self._buffer: list[tuple] = []
        self._last_flush = 0.0
        self._last_analysis = 0.0
        self._analysis_cost = 0.0
        self._phase = ""
        self._step = 0
        self._last_phase = spec.model.planned_phases(spec.probe.train.n_features)[-1]
        self._out_lock = threading.Lock()

    def send(self, message: object) -> None:
        from app.ipc import send

        with self._out_lock:
            send(self.out, message)

    # ------------------------------------------------------------------ control (reader thread)
    def control(self, stream: BinaryIO) -> None:
        """Apply control messages until end of input (which stops the fit)."""
        from app.ipc import receive

        while True:
            message = receive(stream)
            self.apply(("stop",) if message is None else message)
            if message is None:
                return

    def apply(self, message: tuple) -> None:
        """Act on one control message."""
        kind = message[0]
        if kind == "stop":
            self.stop.set()
            self.model.stop()
            self.go.set()
        elif kind == "pause":
            self.go.clear()
        elif kind == "resume":
            self.go.set()
        elif kind == "threads":
            self.threads = int(message[1])

    # ------------------------------------------------------------------ the fit (main thread)
    def apply_threads(self) -> None:
        if self.threads is None:
            return
        import torch
        from threadpoolctl import threadpool_limits

        n, self.threads = self.threads, None
        torch.set_num_threads(n)
        threadpool_limits(limits=n)

    def flush(self) -> None:
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self.send(("events", batch))
        self._last_flush = time.monotonic()

    def on_event(self, event: Any) -> None:
        now = time.monotonic()
        self._phase, self._step = event.phase, event.step
        self._buffer.append((event.kind, event.phase, event.step, event.total_steps, dict(event.losses or {}), now))
        if event.kind != "step" or now - self._last_flush >= FLUSH_EVERY:
            self.flush()
        if self.stop.is_set():   # stopping: no more analyses (the model keeps the stop request itself)
            return
        self.apply_threads()
        due = now - self._last_analysis >= max(self.spec.analyse_every, 4.0 * self._analysis_cost)
        # The network exists after the front-end; the paper's-start comparison trains a copy and leaves it as it was.
        ready = hasattr(self.model, "net_") and event.phase not in UNCHANGED_BY
        last = event.phase == self._last_phase      # the final analysis follows at once
        if ready and ((event.kind == "done" and not last) or (event.kind == "step" and due)):
            self.analyse(final=False)
        if not self.go.is_set():
            self.pause()

    def pause(self) -> None:
        self.flush()
        self.send_model()
        self.send(("paused", time.monotonic()))
        while not self.go.wait(0.2):
            pass
        self.send(("resumed", time.monotonic()))

    def send_model(self) -> None:
        if not hasattr(self.model, "net_"):
            return
        with tempfile.TemporaryDirectory(prefix="sscn-worker-") as tmp:
            path = self.model.save(Path(tmp) / "model.pt")
            self.send(("model", path.read_bytes()))

    def analyse(self, *, final: bool) -> None:
        from app.job import JobError

        if self.stop.is_set() and not final:
            return
        self.flush()     # the page sees the steps before this (possibly long) analysis
        phase, step = self._phase, self._step
        trained = getattr(self.model, "labels_", None) is not None or (phase == "classifier" and step > 0)
        start = time.perf_counter()
        try:
            result = self.spec.analyser(self.model, self.spec.probe, phase=phase, step=step,
                                        classifier_trained=trained)
        except Exception as exc:  # an analysis failure must not end the training; it is shown as a warning
            self.send(("analysis_error", JobError.from_exception(exc)))
            return
        finally:
            self._analysis_cost = time.perf_counter() - start
            self._last_analysis = time.monotonic()
        self.send(("analysis", result))

    def run(self) -> None:
        from app.job import JobError
        from sscn_core.health import SSCNWarning

        if self.threads is None:
            self.threads = self.spec.threads
        self.apply_threads()
        try:
            with warnings.catch_warnings():
                # The fit's warnings reach the page through its report (Metrics tab), not stderr.
                warnings.simplefilter("ignore", SSCNWarning)
                self.model.fit(self.spec.probe.train.X, callback=self.on_event)
            if not hasattr(self.model, "net_"):
                raise RuntimeError("fit returned without a network")
            self.flush()
            self.send(("events", [("phase", "analysis", 0, 1, {}, time.monotonic())]))
            self._phase, self._step = "analysis", 0
            self.analyse(final=True)
            self.send_model()
        except Exception as exc:  # reported to the page with its cause; the app stays usable
            self.flush()
            self.send(("end", "failed", JobError.from_exception(exc)))
            return
        # a stop that came after the last step (during the final analysis) leaves a finished model
        self.send(("end", "stopped" if getattr(self.model, "stopped_", False) else "finished", None))


BUSY_NAME = "sscn-train"  # the process name (``ps``, ``top``) of a worker that has a job


def name_process(name: str) -> None:
    """Rename this process as ``ps`` and ``top`` show it (Linux only; elsewhere nothing happens)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)     # 15 = PR_SET_NAME
    except (OSError, AttributeError):
        pass


def lower_priority() -> None:
    """Let the page server (and anything else at normal priority) go first."""
    if hasattr(os, "nice"):
        try:
            os.nice(NICE)
        except OSError:
            pass


def main() -> None:
    """Warm up, then run the job sent on stdin; exit when it ends or when stdin closes."""
    out = os.fdopen(os.dup(1), "wb")   # the protocol owns the real stdout …
    os.dup2(2, 1)                      # … and anything printed goes to stderr
    lower_priority()
    import torch

    torch.set_num_threads(1)           # until the job's budget arrives
    from app.ipc import receive
    from app.job import warm_up

    warm_up()
    inp = sys.stdin.buffer
    early: list[tuple] = []              # control messages sent before the job itself
    while True:
        message = receive(inp)
        if message is None or message[0] == "stop":
            return
        if message[0] == "run":
            break
        if message[0] == "path":
            sys.path[:] = list(dict.fromkeys([*message[1], *sys.path]))   # so that the spec's references unpickle
        else:
            early.append(message)
    name_process(BUSY_NAME)
    run = _Run(message[1], out)
    for message in early:
        run.apply(message)
    threading.Thread(target=run.control, args=(inp,), name="sscn-worker-control", daemon=True).start()
    try:
        run.run()
        out.close()
    except (BrokenPipeError, OSError):
        pass        # the app went away while this worker was talking to it: nobody is left to tell
    # The control thread is blocked reading stdin; an ordinary interpreter shutdown would abort on its
    # buffered reader's lock ("Fatal Python error: _enter_buffered_busy"). Everything is sent: leave now.
    sys.stderr.flush()
    os._exit(0)



if __name__ == "__main__":
    main()
