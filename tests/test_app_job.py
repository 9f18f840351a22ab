"""app.job and app.scheduler: a real (tiny) SSCN trained in a worker process: start, pause, resume,
stop, errors, a killed worker, the job limit with its queue, thread budgets and the result cap."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import numpy as np
import psutil
import pytest

from app.job import HISTORY_ROW_BYTES, Job, Snapshot, fit_probe
from app.scheduler import Scheduler, threads_per_job, wait_estimate
from app.views.controls import queue_text
from sscn_core import SSCN, load_dataset
from sscn_core.analysis import make_probe


def broken(*args, **kwargs):
    """An analyser that fails (module level: the worker imports it by name)."""
    raise RuntimeError("analysis exploded")


def hangs(*args, **kwargs):
    """An analyser that never returns in time: its worker must be killed."""
    time.sleep(600)


def crashes(*args, **kwargs):
    """An analyser that ends its worker process abruptly (as the kernel's OOM killer would)."""
    os._exit(3)


def training_workers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and "app.train_worker" in " ".join(p.cmdline())]


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    """Every test ends its jobs: no training process it started may outlive it (an app server's spare
    worker left by an earlier test module is not this test's)."""
    before = {p.pid for p in training_workers()}

    def started_here() -> list[psutil.Process]:
        return [p for p in training_workers() if p.pid not in before]

    yield
    deadline = time.monotonic() + 10
    while started_here() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not started_here()


def tiny_data():
    return load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=10, n_per_cluster=40, noise=0.01)


def tiny_model(**kw) -> SSCN:
    params = dict(n_clusters=3, subspace_dim=2, autoencoder=None, batch_size=40, epochs=30, lr=1e-2,
                  classifier_epochs=3, classifier_batch_size=40, schedule="epochs", h_init="random", device="cpu", seed=0)
    return SSCN(**{**params, **kw})


def wait_for(job: Job, predicate: Callable[[Snapshot], bool], timeout: float = 60.0) -> Snapshot:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = job.snapshot()
        if predicate(snap):
            return snap
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s; last state {job.snapshot().state!r}")


def test_runs_to_the_end_with_history_and_analysis() -> None:
    data = tiny_data()
    job = Job(tiny_model(), make_probe(data, data.subset(range(30))), analyse_every=0.0)
    assert job.snapshot().state == "ready" and not job.snapshot().active
    job.start()
    snap = wait_for(job, lambda s: not s.active)
    assert snap.state == "finished" and snap.error is None
    assert snap.phases == ("self_expression", "pseudo_labels", "classifier")
    assert snap.history and {"phase", "step", "i", "total"} <= set(snap.history[0])
    assert [row["i"] for row in snap.history] == list(range(1, len(snap.history) + 1))
    assert snap.first_loss_after is not None and snap.first_loss_after <= snap.elapsed
    assert snap.analysis is not None and snap.analysis_version >= 3    # per phase end + final
    assert snap.analysis.classifier_trained and snap.analysis.metrics_out is not None
    assert job.join(5) and not job.alive
    with pytest.raises(RuntimeError, match="already started"):
        job.start()


def test_pause_blocks_and_resume_continues() -> None:
    data = tiny_data()
    job = Job(tiny_model(), make_probe(data))
    job.start()
    job.pause()
    paused = wait_for(job, lambda s: s.state == "paused")
    time.sleep(0.3)
    assert job.snapshot().step == paused.step and len(job.snapshot().history) == len(paused.history)
    with job.model_access() as model:          # paused: the page may use the model
        assert model is job.model
    job.resume()
    done = wait_for(job, lambda s: not s.active)
    assert done.state == "finished" and len(done.history) > len(paused.history)


def test_stop_is_prompt_and_keeps_the_model() -> None:
    data = tiny_data()
    job = Job(tiny_model(epochs=1000), make_probe(data))
    job.start()
    wait_for(job, lambda s: s.step >= 3 and s.phase == "self_expression")
    job.stop()
    assert job.join(10), "the thread should end soon after stop()"
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.model_stopped
    assert snap.step < snap.total_steps
    with job.model_access() as model:
        assert model is job.model               # the partly trained model is usable


def test_stop_releases_a_pause_and_close_ends_the_thread() -> None:
    data = tiny_data()
    job = Job(tiny_model(epochs=1000), make_probe(data))
    job.start()
    job.pause()
    wait_for(job, lambda s: s.state == "paused")
    assert job.close(10)
    assert job.snapshot().state == "stopped"


def test_stop_before_start() -> None:
    data = tiny_data()
    job = Job(tiny_model(), make_probe(data))
    job.stop()
    assert job.snapshot().state == "stopped" and job.join(0)


def test_an_error_in_fit_is_reported_with_its_cause() -> None:
    data = tiny_data()
    job = Job(tiny_model(lr=-1.0), make_probe(data))
    job.start()
    snap = wait_for(job, lambda s: not s.active)
    assert snap.state == "failed"
    assert snap.error.type == "ValueError" and "lr" in snap.error.message
    assert "Traceback" in snap.error.traceback


def test_a_killed_worker_is_reported_not_lost() -> None:
    data = tiny_data()
    job = Job(tiny_model(), make_probe(data), analyser=crashes, analyse_every=0.0)
    job.start()
    snap = wait_for(job, lambda s: not s.active)
    assert snap.state == "failed" and "exit code 3" in snap.error.message


def test_an_analyser_that_cannot_be_sent_fails_the_job_with_its_reason() -> None:
    data = tiny_data()
    job = Job(tiny_model(), make_probe(data), analyser=lambda *a, **k: None)
    job.start()
    snap = wait_for(job, lambda s: not s.active)
    assert snap.state == "failed" and "pickle" in snap.error.message.lower()


def test_close_kills_a_worker_that_does_not_stop() -> None:
    data = tiny_data()
    job = Job(tiny_model(epochs=1000), make_probe(data), analyser=hangs, analyse_every=0.0)
    job.start()
    wait_for(job, lambda s: s.step >= 1)
    time.sleep(0.5)                       # now inside the endless analysis
    pid = job.pid
    start = time.monotonic()
    assert job.close(timeout=1.0)
    assert time.monotonic() - start < 5.0
    snap = job.snapshot()
    assert snap.state == "stopped" and "did not stop within 1 s" in snap.note
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_scheduler_queues_beyond_its_limit_and_starts_in_order() -> None:
    data = tiny_data()
    scheduler = Scheduler(limit=1, cores=2, spare=False)
    first = Job(tiny_model(epochs=1000), make_probe(data))
    second, third = Job(tiny_model(), make_probe(data)), Job(tiny_model(), make_probe(data))
    try:
        for job in (first, second, third):
            scheduler.submit(job)
        assert first.snapshot().state == "running" and scheduler.counts() == (1, 2)
        waiting = second.snapshot()
        assert waiting.state == "queued" and waiting.active and waiting.queue_ahead == 0
        assert third.snapshot().queue_ahead == 1
        assert queue_text(third.snapshot()).startswith("Waiting: 1 run ahead of you")
        assert queue_text(waiting).startswith("Waiting: You are next")
        third.stop()                       # a run withdrawn while waiting never starts
        assert third.snapshot().state == "stopped" and scheduler.counts() == (1, 1)
        wait_for(first, lambda s: s.step >= 2)
        first.stop()
        done = wait_for(second, lambda s: not s.active)
        assert done.state == "finished" and done.threads == 2     # alone on 2 cores: both
        assert third.pid is None
        assert scheduler.counts() == (0, 0)
    finally:
        scheduler.close()


def test_thread_budgets_add_up_to_the_cores() -> None:
    for cores in (1, 2, 4, 16):
        for running in range(1, cores + 1):
            budget = threads_per_job(running, cores)
            assert budget >= 1 and running * budget <= cores
    assert threads_per_job(1, 16) == 16 and threads_per_job(2, 16) == 8 and threads_per_job(1, 2) == 2
    assert threads_per_job(2, 2) == 1 and threads_per_job(3, 2) == 1


def test_wait_estimate() -> None:
    assert wait_estimate(0, [10.0, 20.0], 2, 30.0) == 10.0      # next: the first slot to free
    assert wait_estimate(1, [10.0, 20.0], 2, 30.0) == 20.0
    assert wait_estimate(2, [10.0, 20.0], 2, 30.0) == 40.0
    assert wait_estimate(0, [], 2, 30.0) == 0.0
    assert wait_estimate(3, [5.0], 2, None) is None


def test_result_cap_sizes_the_affinity_sample_and_thins_the_history() -> None:
    data = tiny_data()
    probe = make_probe(data)
    assert len(fit_probe(probe, 2 ** 20).affinity_idx) == len(probe.affinity_idx)
    small = fit_probe(probe, 16 * 50 ** 2)               # two 50×50 float32 maps in half of it
    assert len(small.affinity_idx) <= 50 and set(small.affinity_idx) <= set(probe.affinity_idx)
    cap = 2 ** 20
    job = Job(tiny_model(epochs=400), probe, result_cap=cap)
    job.start()
    snap = wait_for(job, lambda s: not s.active, timeout=120)
    assert snap.state == "finished"
    steps = snap.history[-1]["i"]
    assert len(snap.history) * HISTORY_ROW_BYTES <= cap // 8 + HISTORY_ROW_BYTES * 10 < steps * HISTORY_ROW_BYTES
    assert np.all(np.diff([row["i"] for row in snap.history]) > 0)      # thinned, still in order
    assert 0 < snap.result_bytes <= cap


def test_a_failing_analysis_does_not_end_training() -> None:
    data = tiny_data()
    job = Job(tiny_model(), make_probe(data), analyser=broken, analyse_every=0.0)
    job.start()
    snap = wait_for(job, lambda s: not s.active)
    assert snap.state == "finished" and snap.analysis is None
    assert snap.analysis_error.message == "analysis exploded"


def test_planned_phases_follow_the_parameters() -> None:
    assert SSCN(autoencoder="mlp", pretrain_epochs=5).planned_phases()[0] == "pretrain"
    assert SSCN(autoencoder="conv", pretrained="mnist").planned_phases()[0] == "self_expression"
    assert SSCN(autoencoder=None, frontend="pixels").planned_phases()[0] == "self_expression"
    assert SSCN(autoencoder=None).planned_phases(30)[0] == "self_expression"          # vectors: nothing to choose
    assert SSCN().planned_phases(784)[:2] == ("model_choice", "features")              # images: pixels or scattering
    assert SSCN.from_preset("scattering-triplet").planned_phases() == ("features", "self_expression", "classifier")
    assert SSCN(self_training_rounds=1).planned_phases()[-2:] == ("classifier", "self_training")


def test_snapshot_progress_and_eta() -> None:
    snap = Snapshot(job_id=1, state="running", phase="self_expression", phases=(), step=5, total_steps=20,
                    phase_elapsed=10.0, elapsed=12.0, history=(), analysis=None, analysis_version=0,
                    analysis_error=None, error=None, first_loss_after=1.0)
    assert snap.progress == 0.25 and snap.eta_seconds == pytest.approx(30.0) and snap.active
