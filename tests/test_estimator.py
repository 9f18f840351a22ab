"""The SSCN estimator: fitting, inductive prediction, events, stopping, persistence and bad input."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sscn_core import SSCN, load_dataset
from sscn_core.checkpoint import CheckpointError
from sscn_core.data import make_subspaces
from sscn_core.metrics import evaluate


def linear_model(**kw: object) -> SSCN:
    """The linear model trained from Xavier's start (the defaults start at Theorem 1's optimum and
    are covered by test_exactness.py)."""
    params = dict(n_clusters=3, subspace_dim=2, autoencoder=None, batch_size=10_000, epochs=500, lr=3e-2,
                  classifier_epochs=20, classifier_batch_size=10_000, seed=0, h_init="random", schedule="epochs")
    params.update(kw)
    return SSCN(**params)


@pytest.fixture(scope="module")
def all_points():
    return make_subspaces(n_clusters=3, subspace_dim=2, ambient_dim=12, n_per_cluster=100, noise=0.0, seed=1)


@pytest.fixture(scope="module")
def subspaces(all_points):
    return all_points.subset(np.arange(180))


@pytest.fixture(scope="module")
def held_out(all_points):
    return all_points.subset(np.arange(180, 300))


@pytest.fixture(scope="module")
def fitted(subspaces) -> SSCN:
    return linear_model().fit(subspaces.X)


def test_recovers_independent_subspaces_and_predicts_new_points(fitted: SSCN, subspaces, held_out) -> None:
    assert evaluate(subspaces.y, fitted.labels_)["acc"] == 1.0
    assert evaluate(subspaces.y, fitted.pseudo_labels_)["acc"] == 1.0
    # Inductive: points never seen in training, same subspaces, same cluster ids as in-sample.
    pred = fitted.predict(held_out.X)
    assert evaluate(held_out.y, pred)["acc"] == 1.0
    mapping = {int(t): int(p) for t, p in zip(subspaces.y, fitted.labels_)}
    assert all(mapping[int(t)] == int(p) for t, p in zip(held_out.y, pred))
    proba = fitted.predict_proba(subspaces.X)
    assert proba.shape == (180, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert (proba.argmax(1) == fitted.predict(subspaces.X)).all()


def test_transform_spaces_and_affinity(fitted: SSCN, subspaces) -> None:
    h = fitted.transform(subspaces.X)
    assert h.shape == (180, 6)
    assert fitted.transform(subspaces.X, space="z").shape == (180, 12)
    rotated = fitted.transform(subspaces.X, space="rotated")
    assert np.allclose(np.linalg.norm(rotated, axis=1), np.linalg.norm(h, axis=1), rtol=1e-4)
    q = fitted.affinity(subspaces.X[:50])
    assert q.shape == (50, 50) and np.allclose(q, h[:50] @ h[:50].T, atol=1e-4)
    energy = fitted.block_energy(subspaces.X)
    assert energy.shape == (180, 3) and np.allclose(energy.sum(1), 1, atol=1e-5)
    assert (energy.argmax(1) == fitted.labels_).all()
    with pytest.raises(ValueError, match="space must be"):
        fitted.transform(subspaces.X, space="q")


def test_history_times_and_memory(fitted: SSCN) -> None:
    phases = {row["phase"] for row in fitted.history_}
    assert phases == {"self_expression", "classifier"}
    se = [row for row in fitted.history_ if row["phase"] == "self_expression"]
    assert len(se) == 500 and se[-1]["total"] < se[0]["total"]
    assert set(se[0]) >= {"total", "q_norm", "self_expression", "reconstruction"}
    assert set(fitted.phase_times_) == {"self_expression", "pseudo_labels", "classifier"}
    assert all(v > 0 for v in fitted.peak_memory_.values())


def test_save_load_identical_predictions(fitted: SSCN, subspaces, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "model.pt")
    loaded = SSCN.load(path)
    assert loaded.get_params() == {**fitted.get_params(), "device": "auto"}
    assert np.array_equal(loaded.predict(subspaces.X), fitted.predict(subspaces.X))
    assert np.allclose(loaded.predict_proba(subspaces.X), fitted.predict_proba(subspaces.X))
    assert np.array_equal(loaded.labels_, fitted.labels_)
    assert len(loaded.history_) == len(fitted.history_)


def test_load_refuses_an_autoencoder_file(tmp_path: Path) -> None:
    from sscn_core.estimator import ASSETS_DIR
    with pytest.raises(CheckpointError, match="expected 'sscn'"):
        SSCN.load(ASSETS_DIR / "mnist_conv_ae.pt")


def test_callback_events_and_stop_from_another_thread(subspaces) -> None:
    model = linear_model(epochs=100_000)
    events = []
    started = threading.Event()

    def callback(event) -> None:
        events.append((event.kind, event.phase, event.step))
        assert event.model is model
        if event.kind == "step" and event.step == 5:
            started.set()

    thread = threading.Thread(target=model.fit, args=(subspaces.X,), kwargs={"callback": callback})
    thread.start()
    assert started.wait(30)
    model.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert model.stopped_ and model.labels_ is None
    assert events[0] == ("phase", "self_expression", 0)
    assert events[-1][0] == "step" and events[-1][2] < 100_000
    # A stopped model can be fitted again.
    model.set_params(epochs=20).fit(subspaces.X)
    assert not model.stopped_ and model.labels_ is not None


def test_sklearn_conventions() -> None:
    model = SSCN(n_clusters=4, subspace_dim=3, autoencoder="mlp", seed=2)
    assert model.get_params()["n_clusters"] == 4
    assert clone(model).get_params() == model.get_params()
    assert SSCN.from_preset("paper", seed=5).get_params()["seed"] == 5
    with pytest.raises(ValueError, match="unknown preset"):
        SSCN.from_preset("magic")
    with pytest.raises(NotFittedError):
        model.predict(np.zeros((2, 5)))


@pytest.mark.parametrize("params, message", [
    ({"n_clusters": 1}, "n_clusters"), ({"subspace_dim": 0}, "subspace_dim"), ({"autoencoder": "vae"}, "autoencoder"),
    ({"lambda1": -1.0}, "lambda1"), ({"lambda2": float("nan")}, "lambda2"), ({"reduction": "max"}, "reduction"),
    ({"batch_size": 1}, "batch_size"), ({"epochs": -1}, "epochs"), ({"lr": 0.0}, "lr"), ({"rho": 1.5}, "rho"),
    ({"alpha": 0}, "alpha"), ({"device": "tpu"}, "device"), ({"seed": -3}, "seed"),
    ({"pseudo_sample_size": 3}, "pseudo_sample_size"), ({"classifier_iters": 0}, "classifier_iters"),
    ({"h_init": "zeros"}, "h_init"), ({"classifier_temperature": 0.0}, "classifier_temperature"),
    ({"classifier_loss": "hinge"}, "classifier_loss"), ({"triplet_neighbors": 0}, "triplet_neighbors"),
    ({"lambda3": -1.0}, "lambda3"), ({"self_training_rounds": -1}, "self_training_rounds"),
    ({"self_training_confidence": 1.0}, "self_training_confidence"),
])
def test_bad_hyper_parameters_are_refused(params: dict, message: str) -> None:
    X = np.random.default_rng(0).random((40, 10), dtype=np.float32)
    with pytest.raises(ValueError, match=message):
        SSCN(**{"autoencoder": None, "n_clusters": 2, "subspace_dim": 2, **params}).fit(X)


def test_bad_input_is_refused(fitted: SSCN) -> None:
    X = np.random.default_rng(0).random((40, 10), dtype=np.float32)
    X[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SSCN(autoencoder=None, n_clusters=2, subspace_dim=2).fit(X)
    with pytest.raises(ValueError, match="not a square"):
        SSCN(autoencoder="conv").fit(np.zeros((40, 65), np.float32))
    with pytest.raises(ValueError, match="image_shape"):
        SSCN(autoencoder="conv", image_shape=(5, 12)).fit(np.zeros((40, 64), np.float32))
    with pytest.raises(ValueError, match="at least"):
        SSCN(autoencoder=None, n_clusters=10, subspace_dim=2).fit(np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        fitted.predict(np.zeros(12, np.float32))
    with pytest.raises(ValueError, match="numeric"):
        fitted.predict(np.array([["a"] * 12]))


def test_mlp_autoencoder_on_digits_runs_all_phases() -> None:
    data = load_dataset("digits", n_samples=300, seed=0)
    model = SSCN(n_clusters=10, subspace_dim=3, autoencoder="mlp", latent_dim=16, hidden_dims=(64,),
                 pretrain_epochs=5, pretrain_batch_size=100, batch_size=100, epochs=2, classifier_epochs=2, seed=0)
    labels = model.fit_predict(data.X)
    assert labels.shape == (300,) and set(model.phase_times_) == {"pretrain", "self_expression", "pseudo_labels",
                                                                   "classifier"}


def test_bundled_mnist_autoencoder_and_pseudo_label_sample() -> None:
    data = load_dataset("mnist", n_samples=600, seed=0)
    model = SSCN(pretrained="mnist", batch_size=200, epochs=2, classifier_epochs=2, pseudo_sample_size=300, seed=0)
    model.fit(data.X)
    assert model.pseudo_labels_.shape == (300,) and model.pseudo_label_indices_.shape == (300,)
    assert model.labels_.shape == (600,)
    assert "pretrain" not in model.phase_times_
    assert evaluate(data.y, model.labels_)["acc"] > 0.3  # far above chance (0.1) after 6 steps


def test_seed_makes_fits_reproducible(subspaces) -> None:
    a = linear_model(epochs=30).fit(subspaces.X)
    b = linear_model(epochs=30).fit(subspaces.X)
    assert np.allclose(a.transform(subspaces.X), b.transform(subspaces.X))
