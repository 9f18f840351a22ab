"""Auto-encoder pre-training inside fit: it settles (or runs the paper's epochs), is cached by a
fingerprint of the data and its settings, is recorded in the checkpoint and shows in every progress view."""
from __future__ import annotations

import errno
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
from sscn_core.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
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
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)    # what a read-only folder answers, even to root


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

    monkeypatch.setattr(pretraining, "read_autoencoder", lambda *a, **k: pytest.fail("the cache was read"))
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


# ---------------------------------------------------------------------------------- the cache is untrusted (issue 33)
def _signed(path: Path, meta: object) -> None:
    """Rewrite the cache file ``path`` with metadata ``meta``, signed with this installation's key as a fit
    signs (a file only a fit here could have written, whatever it holds)."""
    from sscn_core.cache import SIGNATURE, cache_key, signature
    from sscn_core.pretraining import CACHE_FIELDS

    ckpt = load_checkpoint(path)
    if isinstance(meta, dict):
        record = {key: meta[key] for key in CACHE_FIELDS if key in meta}
        meta = {**meta, SIGNATURE: signature(cache_key(), ckpt.meta["fingerprint"], ckpt.config, record, ckpt.state)}
    save_checkpoint(path, Checkpoint("autoencoder", ckpt.state, ckpt.config, meta))


def _unsigned(path: Path, meta: object) -> None:
    """Rewrite the cache file ``path`` with metadata ``meta`` as anyone can (a valid SHA-256, no signature)."""
    ckpt = load_checkpoint(path)
    save_checkpoint(path, Checkpoint("autoencoder", ckpt.state, ckpt.config, meta))


def _planted(path: Path) -> None:
    """An auto-encoder with random weights filed under the right fingerprint, with an invented loss and the
    genuine file's signature."""
    meta = load_checkpoint(path).meta
    ae = ConvAutoEncoder((8, 8))
    reset_parameters(ae, torch.Generator().manual_seed(123))
    save_autoencoder(ae, path, {**meta, "final_loss": 1e-9})


def _planted_unsigned(path: Path) -> None:
    meta = {k: v for k, v in load_checkpoint(path).meta.items() if k != "signature"}
    save_autoencoder(ConvAutoEncoder((8, 8)), path, {**meta, "final_loss": 1e-9})


def _invented_loss(path: Path) -> None:
    """The genuine weights with an invented record, its signature kept."""
    _unsigned(path, {**load_checkpoint(path).meta, "final_loss": 1e-9, "steps": 1})


def _signed_with_another_key(path: Path) -> None:
    from sscn_core.cache import SIGNATURE, signature
    from sscn_core.pretraining import CACHE_FIELDS

    ckpt = load_checkpoint(path)
    record = {key: ckpt.meta[key] for key in CACHE_FIELDS}
    _unsigned(path, {**ckpt.meta, SIGNATURE: signature(b"k" * 32, ckpt.meta["fingerprint"], ckpt.config, record,
                                                       ckpt.state)})


NOT_SIGNED = "it does not carry this installation's signature"


@pytest.mark.parametrize("plant", [_planted, _planted_unsigned, _invented_loss, _signed_with_another_key])
def test_a_cache_file_not_signed_here_is_never_used(images: np.ndarray, plant) -> None:
    first, _, _ = fit(images)
    path = cache_files()[0]
    plant(path)
    again, _, messages = fit(images)
    assert not again.pretrain_["cached"] and pretrain_steps(again) == 3
    assert again.pretrain_["final_loss"] == first.pretrain_["final_loss"] != 1e-9
    np.testing.assert_array_equal(again.labels_, first.labels_)
    assert again.pretrain_["cache"] == f"written to {path} (the file there was ignored: {NOT_SIGNED} (it was not " \
                                      f"written by a fit here, or was changed))"
    assert not any("cache" in m for m in messages)
    third = fit(images)[0]                                           # rewritten, signed: used again
    assert third.pretrain_["cached"] and third.pretrain_["final_loss"] == first.pretrain_["final_loss"]


def test_a_planted_file_is_not_used_by_the_first_fit_either(images: np.ndarray) -> None:
    """Anyone holding the data can compute the fingerprint and file weights under it before any fit."""
    fp = fit(images, pretrain_cache=False)[0].pretrain_["fingerprint"]
    ae = ConvAutoEncoder((8, 8))
    save_autoencoder(ae, autoencoder_file(fp), {"fingerprint": fp, "seconds": 0.1, "steps": 3, "epochs": 3.0,
                                                "final_loss": 1e-9, "convergence": {
                                                    "steps": 3, "budget": 3, "tol": None, "relative_change": 0.0,
                                                    "converged": False, "stopped_by": "schedule"}})
    planted, _, _ = fit(images)
    assert not planted.pretrain_["cached"] and planted.pretrain_["final_loss"] != 1e-9
    assert NOT_SIGNED in planted.pretrain_["cache"]


def test_a_file_from_another_cache_folder_is_not_used(images: np.ndarray, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fit(images)
    genuine = cache_files()[0]
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "other"))
    (tmp_path / "other" / "autoencoders").mkdir(parents=True)
    (tmp_path / "other" / "autoencoders" / genuine.name).write_bytes(genuine.read_bytes())
    model, _, _ = fit(images)
    assert not model.pretrain_["cached"] and NOT_SIGNED in model.pretrain_["cache"]


def test_the_cache_key_is_private_and_a_shared_one_is_replaced(images: np.ndarray) -> None:
    from sscn_core.cache import KEY_FILE

    fit(images)
    key = cache_dir() / KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    assert fit(images)[0].pretrain_["cached"]
    before = key.read_bytes()
    key.chmod(0o644)                          # others could read it: it is no secret any more
    again, _, _ = fit(images)
    assert not again.pretrain_["cached"] and NOT_SIGNED in again.pretrain_["cache"]
    assert key.stat().st_mode & 0o777 == 0o600 and key.read_bytes() != before
    assert fit(images)[0].pretrain_["cached"]
    key.unlink()
    key.symlink_to(cache_files()[0])          # a link is not the key either
    assert not fit(images)[0].pretrain_["cached"] and not key.is_symlink()


def _convergence(**changes: object):
    def meta(m: dict) -> dict:
        return {**m, "convergence": {**m["convergence"], **changes}}
    return meta


@pytest.mark.parametrize("meta, why", [
    (lambda m: ["fingerprint", m["fingerprint"]], "has a damaged metadata block: it holds an array of 2, not an object"),
    (lambda m: "metadata", "has a damaged metadata block: it holds the string 'metadata', not an object"),
    (lambda m: {**m, "convergence": "settled"}, "its record['convergence'] is the string 'settled', expected an object"),
    (lambda m: {**m, "convergence": None}, "its record['convergence'] is null, expected an object"),
    (lambda m: {k: v for k, v in m.items() if k != "convergence"}, "its record has no 'convergence'"),
    (_convergence(budget="3"), "its record['convergence']['budget'] is the string '3', expected an integer ≥ 0"),
    (_convergence(stopped_by="budget", tol=None), "expected a convergence record (a budget stop has a tol)"),
    (_convergence(stopped_by="luck"), "['stopped_by'] is the string 'luck', expected one of tolerance, schedule"),
    (_convergence(relative_change=[1]), "['relative_change'] is an array of 1, expected a number"),
    (lambda m: {**m, "final_loss": "low"}, "its record['final_loss'] is the string 'low', expected a number or null"),
    (lambda m: {**m, "steps": -3}, "its record['steps'] is the number -3, expected an integer ≥ 0"),
    (lambda m: {**m, "fingerprint": 7}, "its record['fingerprint'] is the number 7, expected a string"),
])
def test_a_signed_cache_file_with_a_malformed_record_is_ignored_and_rewritten(images: np.ndarray, meta, why) -> None:
    first, _, _ = fit(images)
    path = cache_files()[0]
    _signed(path, meta(load_checkpoint(path).meta))
    again, _, messages = fit(images)
    assert not again.pretrain_["cached"] and pretrain_steps(again) == 3 and again.labels_ is not None
    assert why in again.pretrain_["cache"] and again.pretrain_["cache"].startswith(f"written to {path} (the file")
    assert again.convergence_["pretrain"] == first.convergence_["pretrain"] or \
        repr(again.convergence_["pretrain"]) == repr(first.convergence_["pretrain"])
    assert not any("cache" in m for m in messages)
    assert fit(images)[0].pretrain_["cached"]                        # rewritten


@pytest.mark.parametrize("meta", [lambda m: [m], lambda m: _convergence(budget="3")(m),
                                  lambda m: {**m, "convergence": "settled"}])
def test_an_unsigned_cache_file_with_a_malformed_record_is_ignored(images: np.ndarray, meta) -> None:
    """Before the signature, these made every fit of the data fail (AttributeError, TypeError in health)."""
    fit(images)
    path = cache_files()[0]
    _unsigned(path, meta(load_checkpoint(path).meta))
    again, _, _ = fit(images)
    assert not again.pretrain_["cached"] and again.labels_ is not None
    assert fit(images)[0].pretrain_["cached"]


def _torch_save_fails(exc: BaseException):
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        def fail(*args: object, **kwargs: object) -> None:
            raise exc
        monkeypatch.setattr(torch, "save", fail)
    return patch


def _fsync_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", fail)


@pytest.mark.parametrize("full_disk, why", [
    (_torch_save_fails(RuntimeError("[enforce fail at inline_container.cc:626] . PytorchStreamWriter failed writing "
                                    "file data/0: file write failed")), "PytorchStreamWriter failed writing file"),
    (_torch_save_fails(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))), os.strerror(errno.ENOSPC)),
    (_fsync_fails, os.strerror(errno.ENOSPC)),
])
def test_a_full_disk_while_caching_does_not_fail_the_fit(images: np.ndarray, monkeypatch: pytest.MonkeyPatch,
                                                         full_disk, why: str) -> None:
    full_disk(monkeypatch)
    model, _, messages = fit(images)
    assert model.labels_ is not None and pretrain_steps(model) == 3 and not model.pretrain_["cached"]
    report = model.pretrain_["cache"]
    assert report.startswith(f"not kept: the weights could not be written to {cache_dir() / 'autoencoders'} (") and \
        why in report and "\n" not in report
    assert model.fit_report()["pretrain"]["cache"] == report
    assert not any("cache" in m for m in messages)
    folder = cache_dir() / "autoencoders"
    assert not folder.exists() or not list(folder.iterdir())        # nothing half-written was left behind


@pytest.mark.parametrize("config, why", [
    ({"kind": "conv", "image_shape": [8, 8, 1]}, "its configuration['image_shape'] has 3 items, expected 2"),
    ({"kind": "conv", "image_shape": "8x8"}, "its configuration['image_shape'] is the string '8x8', expected an array"),
    ({"kind": "mlp", "input_dim": 64, "hidden_dims": [8]}, "its configuration has no 'latent_dim', which a 'mlp' "
                                                           "auto-encoder needs"),
    ({"kind": 3}, "its configuration['kind'] is the number 3, expected one of 'conv', 'mlp', 'none'"),
])
def test_pretrained_weights_with_an_odd_configuration_are_one_checkpoint_error(images: np.ndarray, tmp_path: Path,
                                                                               config: dict, why: str) -> None:
    from sscn_core.checkpoint import CheckpointError

    path = save_checkpoint(tmp_path / "ae.pt", Checkpoint("autoencoder", ConvAutoEncoder((8, 8)).state_dict(), config))
    with pytest.raises(CheckpointError) as info:
        SSCN(**{**SMALL, "pretrained": str(path)}).fit(images)
    assert str(info.value) == f"'ae.pt' does not describe an auto-encoder: {why}"
