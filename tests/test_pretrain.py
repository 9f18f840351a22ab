"""Auto-encoder pre-training inside fit: it settles (or runs the paper's epochs), is cached by a
fingerprint of the data and its settings, is recorded in the checkpoint and shows in every progress view."""
from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from app.job import Job, Snapshot
from app.views.controls import progress_text
from sscn_core import SSCN, load_dataset
from sscn_core.analysis import make_probe
from sscn_core.cache import CACHE_ENV, autoencoder_file, cache_dir, fingerprint
from sscn_core.checkpoint import load_checkpoint
from sscn_core.cli import main
from sscn_core.models import ConvAutoEncoder, MLPAutoEncoder, reset_parameters
from sscn_core.persistence import save_autoencoder
from sscn_core.trainer import CACHED, TrainingEvent, pretrain_autoencoder
from sscn_core.viz.live import LiveProgress

SMALL = dict(n_clusters=3, autoencoder="conv", image_shape=(8, 8), schedule="epochs", pretrain_epochs=3, epochs=1,
             classifier_epochs=1, device="cpu", seed=0)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """60 random 8×8 images in [0, 1]."""
    return np.random.default_rng(0).random((60, 64), dtype=np.float32)


def fit(X: np.ndarray, **params: object) -> tuple[SSCN, list[TrainingEvent], list[str]]:
    """A fit of SMALL with ``params`` on top: the model, its phase/done events and its warnings."""
    events: list[TrainingEvent] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = SSCN(**{**SMALL, **params}).fit(X, callback=lambda e: events.append(e) if e.kind != "step" else None)
    return model, events, [str(w.message) for w in caught]


def pretrain_steps(model: SSCN) -> int:
    return sum(row["phase"] == "pretrain" for row in model.history_)


def cache_files() -> list[Path]:
    return sorted((cache_dir() / "autoencoders").glob("*.pt"))


# ---------------------------------------------------------------------------------- the phase settles
def test_with_schedule_auto_pretraining_ends_once_its_loss_settles(images: np.ndarray) -> None:
    model, _, _ = fit(images, schedule="auto", tol=0.05, pretrain_epochs=1000)
    c = model.convergence_["pretrain"]
    assert c["stopped_by"] == "tolerance" and c["converged"] and c["steps"] < c["budget"] == 1000   # 60 points: 1 batch
    assert pretrain_steps(model) == c["steps"] == model.pretrain_["steps"]
    assert model.settings_["pretrain_batch_size"]["value"] == 60                     # 128, cut to N


def test_with_schedule_epochs_pretraining_runs_exactly_its_epochs(images: np.ndarray) -> None:
    model, _, _ = fit(images, pretrain_epochs=7, pretrain_batch_size=16)             # 3 batches of 16 an epoch
    c = model.convergence_["pretrain"]
    assert (c["steps"], c["budget"], c["stopped_by"]) == (21, 21, "schedule") and pretrain_steps(model) == 21
    assert model.pretrain_["epochs"] == 7
    paper = SSCN.from_preset("paper", n_clusters=3, image_shape=(8, 8), pretrain_epochs=4, epochs=1,
                             classifier_epochs=1, device="cpu")
    assert paper.plan(images)["pretrain_batch_size"]["value"] == 60                  # the paper: the full batch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paper.fit(images)
    assert pretrain_steps(paper) == 4


def test_the_recorded_loss_is_per_point_whatever_the_batch() -> None:
    x = torch.rand(64, 64, generator=torch.Generator().manual_seed(1))
    first = {}
    for batch in (None, 16):
        ae = ConvAutoEncoder((8, 8))
        reset_parameters(ae, torch.Generator().manual_seed(0))
        with torch.no_grad():
            full = float(((ae.decode(ae.encode(x)) - x) ** 2).sum()) / 64
        history: list[dict] = []
        pretrain_autoencoder(ae, x, epochs=1, batch_size=batch, lr=1e-3, device=torch.device("cpu"),
                             generator=torch.Generator().manual_seed(0), report=lambda e: None,
                             stop_flag=threading.Event(), history=history)
        first[batch] = history[0]["total"]
    assert first[None] == pytest.approx(full, rel=1e-5)           # the full batch's sum of squares / N
    assert first[16] == pytest.approx(full, rel=0.2)              # a quarter of the points: the same scale


# ---------------------------------------------------------------------------------- the cache
def test_a_second_fit_on_the_same_data_reads_the_cache(images: np.ndarray) -> None:
    first, _, _ = fit(images)
    assert not first.pretrain_["cached"] and pretrain_steps(first) == 3 and len(cache_files()) == 1
    assert cache_files()[0] == autoencoder_file(first.pretrain_["fingerprint"])
    assert first.pretrain_["cache"] == f"written to {cache_files()[0]}"
    second, events, _ = fit(images)
    assert second.pretrain_["cached"] and pretrain_steps(second) == 0
    assert second.pretrain_["fingerprint"] == first.pretrain_["fingerprint"]
    assert second.pretrain_["final_loss"] == first.pretrain_["final_loss"]
    np.testing.assert_array_equal(second.labels_, first.labels_)
    np.testing.assert_array_equal(second.transform(images), first.transform(images))
    pretrain = [(e.kind, e.losses) for e in events if e.phase == "pretrain"]
    assert pretrain == [("phase", {}), ("done", {CACHED: 1.0})]
    name = cache_files()[0].name
    assert second.settings_["pretrained"]["reason"] == f"cached: pre-trained on these images by an earlier fit ({name})"
    assert second.fit_report()["pretrain"] == second.pretrain_ and second.fit_report()["settings"]["pretrained"]
    assert repr(second.convergence_["pretrain"]) == repr(first.convergence_["pretrain"])      # NaN ≠ NaN


def test_the_fingerprint_covers_the_data_the_autoencoder_and_each_setting() -> None:
    x = torch.rand(6, 64, generator=torch.Generator().manual_seed(0))
    config = ConvAutoEncoder((8, 8)).config()
    settings = dict(epochs=100, batch_size=128, lr=1e-3, tol=1e-4, schedule="auto", seed=0)
    base = fingerprint(x, config, settings)
    assert fingerprint(x.clone(), dict(config), dict(settings)) == base and len(base) == 64
    changed = x.clone()
    changed[0, 0] += 1e-6
    others = [fingerprint(changed, config, settings), fingerprint(x.reshape(12, 32), config, settings),
              fingerprint(x, ConvAutoEncoder((4, 16)).config(), settings)]
    others += [fingerprint(x, config, {**settings, name: value}) for name, value in
               dict(epochs=99, batch_size=64, lr=2e-3, tol=1e-3, schedule="epochs", seed=1).items()]
    assert len({base, *others}) == 1 + len(others)


def test_other_data_or_settings_pretrain_again(images: np.ndarray) -> None:
    first, _, _ = fit(images)
    other = images.copy()
    other[0, 0] = 1.0 - other[0, 0]
    for model, _, _ in (fit(other), fit(images, pretrain_lr=2e-3), fit(images, seed=1)):
        assert not model.pretrain_["cached"] and pretrain_steps(model) == 3
        assert model.pretrain_["fingerprint"] != first.pretrain_["fingerprint"]
    assert len(cache_files()) == 4


def _garbage(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 not a checkpoint")


def _flipped_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def _other_fingerprint(path: Path) -> None:
    ckpt = load_checkpoint(path)
    ae = ConvAutoEncoder((8, 8))
    save_autoencoder(ae, path, {**ckpt.meta, "fingerprint": "0" * 64})


def _other_autoencoder(path: Path) -> None:
    save_autoencoder(MLPAutoEncoder(64, (8,), 4), path, load_checkpoint(path).meta)


@pytest.mark.parametrize("spoil", [_garbage, _flipped_byte, _other_fingerprint, _other_autoencoder])
def test_an_unusable_cache_file_is_pretrained_again_and_replaced(images: np.ndarray, spoil) -> None:
    first, _, _ = fit(images)
    path = cache_files()[0]
    spoil(path)
    again, _, messages = fit(images)
    assert not again.pretrain_["cached"] and pretrain_steps(again) == 3
    np.testing.assert_array_equal(again.labels_, first.labels_)
    assert not any("cache" in m for m in messages)
    assert load_checkpoint(path).meta["fingerprint"] == first.pretrain_["fingerprint"]     # written afresh
    assert fit(images)[0].pretrain_["cached"]


def _file_in_the_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cache").write_text("a file, not a folder")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


def _no_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sscn_core.checkpoint as checkpoint

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", refuse)    # what a read-only folder answers, even to root


@pytest.mark.parametrize("read_only", [_file_in_the_way, _no_permission])
def test_a_cache_folder_that_cannot_be_written_does_not_fail_the_fit(images: np.ndarray, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch, read_only) -> None:
    read_only(tmp_path, monkeypatch)
    model, _, messages = fit(images)
    assert model.labels_ is not None and pretrain_steps(model) == 3
    assert model.pretrain_["cache"].startswith("not kept: ") and not any("cache" in m for m in messages)
    assert not fit(images)[0].pretrain_["cached"]


def test_pretrain_cache_false_never_reads_or_writes_the_cache(images: np.ndarray,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    off, _, _ = fit(images, pretrain_cache=False)
    assert cache_files() == [] and not off.pretrain_["cached"] and off.pretrain_["cache"] == "off (pretrain_cache=False)"
    cached, _, _ = fit(images)
    assert len(cache_files()) == 1
    import sscn_core.pretraining as pretraining

    monkeypatch.setattr(pretraining, "load_checkpoint", lambda *a, **k: pytest.fail("the cache was read"))
    again, _, _ = fit(images, pretrain_cache=False)
    assert not again.pretrain_["cached"] and pretrain_steps(again) == 3
    assert again.pretrain_["fingerprint"] == cached.pretrain_["fingerprint"]


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "sscn-explorer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "sscn-explorer"


def test_tests_never_use_the_users_cache() -> None:
    assert Path(os.environ[CACHE_ENV]).resolve() != (Path.home() / ".cache" / "sscn-explorer").resolve()


# ---------------------------------------------------------------------------------- the checkpoint
def test_the_pretraining_record_survives_save_and_load(images: np.ndarray, tmp_path: Path) -> None:
    for model in (fit(images)[0], fit(images)[0]):          # trained here, then read from the cache
        loaded = SSCN.load(model.save(tmp_path / "model.pt"))
        assert loaded.pretrain_ == model.pretrain_ and loaded.fit_report()["pretrain"] == model.pretrain_
    assert loaded.pretrain_["cached"]
    assert SSCN.load(fit(images, autoencoder=None)[0].save(tmp_path / "linear.pt")).pretrain_ is None


# ---------------------------------------------------------------------------------- progress
def test_the_cli_shows_the_pretraining_and_its_cached_end(capsys: pytest.CaptureFixture) -> None:
    args = ["train", "--dataset", "digits", "--n-samples", "60", "--n-clusters", "3", "--autoencoder", "conv",
            "--pretrain-epochs", "3", "--schedule", "epochs", "--epochs", "1", "--classifier-epochs", "1"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "[1/4] pre-training: 100%" in err and "pre-training: 3 steps (3 epochs)" in out and "written to" in out
    assert main(args + ["--pretrain-cache", "true"]) == 0
    out, err = capsys.readouterr()
    assert "[1/4] pre-training: cached" in err and "pre-training by an earlier fit: 3 steps" in out
    assert "setting pretrained = None: cached: pre-trained on these images by an earlier fit" in out
    assert main(args + ["--pretrain-cache", "false"]) == 0
    assert "pre-training: cached" not in capsys.readouterr().err


def test_the_notebook_progress_says_cached() -> None:
    live = LiveProgress()
    live._started = 1.0
    live._phases = ("pretrain", "self_expression")
    text, html = live._text(TrainingEvent("done", "pretrain", 0, 0, {CACHED: 1.0}))
    assert text.startswith("phase 1/2: pre-training: cached") and "value='1.000'" in html
    assert "cached" not in live._text(TrainingEvent("done", "pretrain", 5, 5))[0]


def test_the_app_shows_a_cached_phase() -> None:
    data = load_dataset("digits", n_samples=60, seed=0)
    job = Job(SSCN(**SMALL), make_probe(data))
    job._on_events([("phase", "pretrain", 0, 0, {}, 0.0), ("done", "pretrain", 0, 0, {CACHED: 1.0}, 0.1),
                    ("phase", "self_expression", 0, 1, {}, 0.1)])
    snap = job.snapshot()
    assert snap.cached_phases == ("pretrain",) and snap.history == ()
    running = Snapshot(job_id=1, state="running", phase="pretrain", phases=("pretrain", "self_expression"), step=0,
                       total_steps=0, phase_elapsed=0.0, elapsed=1.0, history=(), analysis=None, analysis_version=0,
                       analysis_error=None, error=None, first_loss_after=None, cached_phases=("pretrain",))
    assert "phase 1/2: pre-training: cached" in progress_text(running)
