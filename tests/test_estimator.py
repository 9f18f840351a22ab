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


def test_embedding_gives_every_view_from_one_pass(fitted: SSCN, subspaces, monkeypatch: pytest.MonkeyPatch) -> None:
    x = subspaces.X[:80]
    expected = {"h": fitted.transform(x), "rotated": fitted.transform(x, space="rotated"),
                "labels": fitted.predict(x), "proba": fitted.predict_proba(x), "energy": fitted.block_energy(x)}
    calls = []
    original = SSCN._embed
    monkeypatch.setattr(SSCN, "_embed", lambda self, *a, **kw: calls.append(1) or original(self, *a, **kw))
    emb = fitted.embedding(x)
    assert len(calls) == 1
    for key, value in expected.items():
        assert np.allclose(emb[key], value, atol=1e-6), key
    assert np.array_equal(emb["labels"], emb["logits"].argmax(axis=1))
    assert np.allclose(fitted.affinity_of(emb["h"]), fitted.affinity(x), atol=1e-5)


def test_an_analysis_embeds_each_point_set_once(fitted: SSCN, subspaces, held_out,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The app analyses after every phase; each analysis used to run the front-end seven times over the
    training points (22 s a time with scattering on 2,000 digits)."""
    from sscn_core.analysis import analyse, make_probe

    calls = []
    original = SSCN._embed
    monkeypatch.setattr(SSCN, "_embed", lambda self, x, *a, **kw: calls.append(len(x)) or original(self, x, *a, **kw))
    result = analyse(fitted, make_probe(subspaces, held_out, affinity_points=50, embed_points=60))
    assert sorted(calls) == sorted([len(subspaces.X), len(held_out.X)])
    assert np.array_equal(result.train_pred, fitted.predict(subspaces.X))
    assert result.affinity_abs.shape == (50, 50) and result.h.shape[0] == 60


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
    from sscn_core.pretraining import ASSETS_DIR
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
    model = SSCN(autoencoder="conv", pretrained="mnist", batch_size=200, epochs=2, classifier_epochs=2,
                 pseudo_sample_size=300, seed=0)
    model.fit(data.X)
    assert model.pseudo_labels_.shape == (300,) and model.pseudo_label_indices_.shape == (300,)
    assert model.labels_.shape == (600,)
    assert "pretrain" not in model.phase_times_
    assert evaluate(data.y, model.labels_)["acc"] > 0.3  # far above chance (0.1) after 6 steps


def test_seed_makes_fits_reproducible(subspaces) -> None:
    a = linear_model(epochs=30).fit(subspaces.X)
    b = linear_model(epochs=30).fit(subspaces.X)
    assert np.allclose(a.transform(subspaces.X), b.transform(subspaces.X))


# ------------------------------------------------------------------ a failed fit keeps the previous model
def fitted_state(model: SSCN) -> tuple:
    return (model.net_, model.labels_.copy(), [p.detach().clone() for p in model.net_.parameters()])


def assert_unchanged(model: SSCN, before: tuple, X: np.ndarray) -> None:
    net, labels, params = before
    assert model.net_ is net and np.array_equal(model.labels_, labels)
    assert all(p.equal(q) for p, q in zip(model.net_.parameters(), params))
    assert np.array_equal(model.predict(X), labels)


def test_a_failing_refit_leaves_the_fitted_model_intact(subspaces, tmp_path: Path) -> None:
    model = linear_model(epochs=50).fit(subspaces.X)
    before = fitted_state(model)
    good = model.save(tmp_path / "good.pt")
    # A non-finite loss midway (an enormous learning rate), then a pre-trained file that does not fit.
    with pytest.raises(FloatingPointError, match="self-expression loss became"):
        model.set_params(lr=1e30, epochs=200).fit(subspaces.X * 1e6)
    assert_unchanged(model, before, subspaces.X)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        model.set_params(lr=3e-2, autoencoder="mlp", pretrained=str(junk)).fit(subspaces.X)
    assert_unchanged(model, before, subspaces.X)
    model.save(good)                                    # what gets saved is still the good model
    assert np.array_equal(SSCN.load(good).predict(subspaces.X), before[1])


def test_a_first_fit_that_fails_leaves_the_model_unfitted(subspaces) -> None:
    model = linear_model(lr=1e30)
    with pytest.raises(FloatingPointError):
        model.fit(subspaces.X * 1e6)
    assert not hasattr(model, "net_") and not hasattr(model, "labels_")
    with pytest.raises(NotFittedError):
        model.predict(subspaces.X)


# ------------------------------------------------------------------ stopping
def test_a_stop_requested_before_fit_starts_is_honoured_once(subspaces) -> None:
    model = linear_model(epochs=20)
    model.stop()                        # e.g. a Stop click that reaches the model before its thread calls fit
    model.fit(subspaces.X)
    assert model.stopped_ and model.labels_ is None and model.history_ == []
    model.fit(subspaces.X)              # the request was consumed: the next fit runs to the end
    assert not model.stopped_ and model.labels_ is not None


def test_the_stop_flag_exists_from_construction_and_survives_copies(subspaces) -> None:
    import copy
    import pickle

    model = linear_model(epochs=5)
    assert isinstance(model.__dict__["_stop_event"], threading.Event)
    model.stop()
    twin = copy.deepcopy(model)
    assert not twin._stop_event.is_set() and twin._stop_event is not model._stop_event
    restored = pickle.loads(pickle.dumps(linear_model(epochs=5).fit(subspaces.X)))
    assert restored.predict(subspaces.X).shape == (180,)
    restored.stop()
    assert restored.fit(subspaces.X).stopped_


# ------------------------------------------------------------------ sizes that cannot fit
@pytest.mark.parametrize("params", [dict(subspace_dim=1_000_000), dict(autoencoder="mlp", hidden_dims=(1_000_000, 1_000_000))])
def test_a_network_too_large_for_memory_is_refused_before_allocating(subspaces, params: dict) -> None:
    model = linear_model(**params)
    with pytest.raises(ValueError, match=r"this network would need about .* to train .* available on cpu"):
        model.fit(subspaces.X)
    assert not hasattr(model, "net_")


def test_the_pseudo_label_solver_report_is_kept(fitted: SSCN, tmp_path: Path) -> None:
    assert fitted.pseudo_label_solver_["status"] in ("converged", "stalled", "not converged")
    assert SSCN.load(fitted.save(tmp_path / "m.pt")).pseudo_label_solver_ == fitted.pseudo_label_solver_


def test_a_flipped_bit_in_saved_weights_is_refused_on_load(fitted: SSCN, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "m.pt")
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(fitted.net_.h.linear.weight.detach().numpy().tobytes())
    assert at > 0
    raw[at + 7] ^= 0x04
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="SHA-256"):
        SSCN.load(path)


def test_values_too_large_for_the_model_are_refused() -> None:
    data = make_subspaces(n_clusters=2, subspace_dim=2, ambient_dim=8, n_per_cluster=20, noise=0.0, seed=1)
    model = SSCN(n_clusters=2, subspace_dim=2, autoencoder="mlp", hidden_dims=(8,), latent_dim=4, epochs=2,
                 pretrain_epochs=1, classifier_epochs=1, seed=0, schedule="epochs", classifier_temperature=None)
    with pytest.warns():   # a two-epoch fit is warned about
        model.fit(data.X)
    huge = np.full((3, 8), 3e37, np.float32)
    for method in (model.predict, model.predict_proba, model.affinity):
        with pytest.raises(ValueError, match=r"^the values are too large for this model: .* 3e\+37\)"):
            method(huge)
    assert np.isfinite(model.block_energy(np.full((3, 8), 1e20, np.float32))).all()   # squares beyond float32


def test_the_classifiers_unit_rows_do_not_overflow() -> None:
    """With a temperature the classifier reads unit rows of H: a huge but finite row keeps its direction
    (its norm would overflow float32 and leave flat logits), and a row of infinities is NaN, not a guess."""
    import torch

    from sscn_core.models import SubspaceClassifier

    classifier = SubspaceClassifier(2, 2, temperature=20.0)
    h = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    assert torch.allclose(classifier(h * 3e37), classifier(h)) and classifier(h).argmax(dim=1).tolist() == [0, 1]
    assert torch.isnan(classifier(torch.full((1, 4), float("inf")))).all()


def test_a_pseudo_label_phase_too_large_for_memory_is_refused_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import psutil

    from sscn_core import estimator, postprocess

    points = 20_000
    available = postprocess.estimate_pseudo_label_bytes(points) // 2
    monkeypatch.setattr(psutil, "virtual_memory", lambda: types.SimpleNamespace(available=available))
    monkeypatch.setattr(estimator, "estimate_training_bytes", lambda *args: 0)    # the network itself fits
    monkeypatch.setattr(SSCN, "_fit", lambda *args: pytest.fail("training started"))
    X = np.random.default_rng(0).random((points, 4), dtype=np.float32)
    fits = postprocess.max_pseudo_label_points(available)
    with pytest.raises(ValueError, match=rf"^the pseudo-labels of 20,000 points need two dense .* set "
                                         rf"pseudo_sample_size to at most {fits:,} "):
        SSCN(autoencoder=None, n_clusters=2, subspace_dim=2).fit(X)
    monkeypatch.setattr(SSCN, "_fit", lambda *args: None)                     # the checks pass: nothing to train
    SSCN(autoencoder=None, n_clusters=2, subspace_dim=2, pseudo_sample_size=fits).fit(X)
    SSCN(autoencoder=None, n_clusters=2, subspace_dim=2, classifier_loss="triplet").fit(X)


def test_a_model_saved_before_its_fit_chose_alpha_loads_and_bad_candidates_do_not(fitted: SSCN, tmp_path: Path) -> None:
    """The app saves a paused run before the post-processing chose α: params_ then holds the candidates."""
    import copy

    paused = copy.deepcopy(fitted)
    paused.params_["alpha"] = (8.0, 5.0, 3.5)
    assert SSCN.load(paused.save(tmp_path / "paused.pt")).params_["alpha"] == (8.0, 5.0, 3.5)
    paused.params_["alpha"] = (8.0, -1.0)
    with pytest.raises(CheckpointError, match="alpha must be"):
        SSCN.load(paused.save(tmp_path / "bad.pt"))
