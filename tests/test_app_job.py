"""app.job: the background training job with a real (tiny) SSCN: start, pause, resume, stop, errors."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from app.job import Job, Snapshot
from sscn_core import SSCN, load_dataset
from sscn_core.analysis import make_probe


def tiny_data():
    return load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=10, n_per_cluster=40, noise=0.01)


def tiny_model(**kw) -> SSCN:
    params = dict(n_clusters=3, subspace_dim=2, autoencoder=None, batch_size=40, epochs=30, lr=1e-2,
                  classifier_epochs=3, classifier_batch_size=40, device="cpu", seed=0)
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


def test_a_failing_analysis_does_not_end_training() -> None:
    data = tiny_data()

    def broken(*args, **kwargs):
        raise RuntimeError("analysis exploded")

    job = Job(tiny_model(), make_probe(data), analyser=broken, analyse_every=0.0)
    job.start()
    snap = wait_for(job, lambda s: not s.active)
    assert snap.state == "finished" and snap.analysis is None
    assert snap.analysis_error.message == "analysis exploded"


def test_planned_phases_follow_the_parameters() -> None:
    assert SSCN(autoencoder="mlp", pretrain_epochs=5).planned_phases()[0] == "pretrain"
    assert SSCN(pretrained="mnist").planned_phases()[0] == "self_expression"
    assert SSCN(autoencoder=None).planned_phases()[0] == "self_expression"
    assert SSCN.from_preset("scattering-triplet").planned_phases() == ("features", "self_expression", "classifier")
    assert SSCN(self_training_rounds=1).planned_phases()[-2:] == ("classifier", "self_training")


def test_snapshot_progress_and_eta() -> None:
    snap = Snapshot(job_id=1, state="running", phase="self_expression", phases=(), step=5, total_steps=20,
                    phase_elapsed=10.0, elapsed=12.0, history=(), analysis=None, analysis_version=0,
                    analysis_error=None, error=None, first_loss_after=1.0)
    assert snap.progress == 0.25 and snap.eta_seconds == pytest.approx(30.0) and snap.active
