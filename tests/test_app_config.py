"""app.config: validation messages, presets, data loading and model building; sscn_core.analysis helpers."""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from app.config import (AppConfig, DataConfig, ModelConfig, SyntheticConfig, autoencoder_choices, build_model,
                        holdout_choices, load_data, preset_for, split, validate)
from sscn_core import Dataset, DataError, load_dataset
from sscn_core.analysis import NO_PSEUDO_LABELS, analyse, cluster_sizes, display_order, majority_labels, make_probe

MNIST = dict(n_available=10_000, n_features=784, image_shape=(28, 28))


def with_model(config: AppConfig, **kw) -> AppConfig:
    return replace(config, model=replace(config.model, **kw))


def test_defaults_are_valid_for_mnist() -> None:
    assert validate(AppConfig(), **MNIST) == {}


@pytest.mark.parametrize("field, value, needle", [
    ("lr", 0.0, "Learning rate must be a finite number in (0, 1]"),
    ("lr", 5.0, "got 5"),
    ("n_clusters", 1, "K clusters must be an integer in [2, 100]"),
    ("n_clusters", 101, "K clusters must be an integer in [2, 100]"),
    ("epochs", 0, "Epochs must be an integer in [1, 1000]"),
    ("rho", 0.0, "ρ (kept mass per column) must be a finite number in (0, 1]"),
    ("lambda1", -1.0, "λ1 self-expr. must be a finite number in [0"),
    ("batch_size", 5000, "larger than the training set (2000)"),
])
def test_out_of_range_model_fields_are_refused(field: str, value: float, needle: str) -> None:
    errors = validate(with_model(AppConfig(), **{field: value}), **MNIST)
    assert field in errors and needle in errors[field]


def test_a_typed_k_may_be_as_large_as_an_estimated_one() -> None:
    from sscn_core.plan import COUNT_MAX

    assert "n_clusters" not in validate(with_model(AppConfig(), n_clusters=COUNT_MAX), **MNIST)


def test_data_problems_are_refused() -> None:
    too_many = replace(AppConfig(), data=replace(AppConfig().data, n_samples=20_000))
    assert "10,000 points" in validate(too_many, **MNIST)["n_samples"]
    too_few = replace(AppConfig(), data=replace(AppConfig().data, n_samples=10))
    assert "at least 2·K = 20" in validate(too_few, **MNIST)["n_samples"]
    upload = replace(AppConfig(), data=DataConfig(source="upload", holdout="none"))
    assert "upload" in validate(upload, n_available=None, n_features=None, image_shape=None)
    mnist_weights = with_model(AppConfig(), autoencoder="pretrained-mnist")
    small = validate(mnist_weights, n_available=1797, n_features=64, image_shape=(8, 8))
    assert "needs 28×28 images; this data is 8×8 images" in small["autoencoder"]
    vectors = dict(n_available=1797, n_features=64, image_shape=None)
    assert "needs images; this data is plain vectors" in validate(with_model(AppConfig(), autoencoder="conv"),
                                                                  **vectors)["autoencoder"]
    assert "autoencoder" not in validate(with_model(AppConfig(), autoencoder="conv"), n_available=1797,
                                         n_features=64, image_shape=(8, 8))   # the conv net reads any image size
    scattering = with_model(AppConfig(), frontend="scattering", autoencoder="conv")
    assert "autoencoder='mlp' or None" in validate(scattering, **MNIST)["frontend"]
    assert "plain vectors" in validate(with_model(scattering, autoencoder="none"), **vectors)["frontend"]


def test_an_upload_that_failed_to_load_gets_no_size_errors() -> None:
    # Its data error is the one message; "need at least 2·K points" on top of it was false.
    failed = replace(AppConfig(), data=DataConfig(source="upload", n_samples=10, holdout="none",
                                                  upload_path="/tmp/x/broken.zip", upload_name="broken.zip"))
    assert validate(failed, n_available=None, n_features=None, image_shape=None) == {}
    assert "at least 2·K = 20" in validate(failed, n_available=500, n_features=784, image_shape=(28, 28))["n_samples"]


def test_uploads_keep_the_users_file_name(tmp_path) -> None:
    from app.state import AppState

    state = AppState(umap=None, scheduler=None, tempdir=tmp_path)   # type: ignore[arg-type]
    path = state.save_upload("my digits.zip", b"abc")
    assert path.name == "my digits.zip" and path.read_bytes() == b"abc" and path.parent.parent == tmp_path
    assert state.save_upload("my digits.zip", b"abc") == path and state.save_upload("other.zip", b"abc") != path
    assert state.save_upload("..", b"x").name == "upload" and state.save_upload("a/b\\c\x00.npz", b"y").name == "b_c_.npz"


def test_synthetic_relations_are_checked_by_the_library() -> None:
    data = DataConfig(source="synthetic", n_samples=300, holdout="none",
                      synthetic=SyntheticConfig(n_clusters=5, subspace_dim=3, ambient_dim=10))
    config = AppConfig(data, ModelConfig(n_clusters=5, subspace_dim=3, autoencoder="none", batch_size=100,
                                         classifier_batch_size=100))
    errors = validate(config, n_available=None, n_features=10, image_shape=None)
    assert "n_clusters·subspace_dim <= ambient_dim" in errors["relation"]
    ok = replace(config, data=replace(data, synthetic=SyntheticConfig(5, 3, 30)))
    assert validate(ok, n_available=None, n_features=30, image_shape=None) == {}


def test_choices_and_presets() -> None:
    assert "conv" in autoencoder_choices((28, 28)) and "conv" in autoencoder_choices((32, 32))   # any image size
    assert "conv" not in autoencoder_choices(None) and "pretrained-mnist" not in autoencoder_choices((32, 32))
    assert autoencoder_choices((32, 32))[0] == "auto"
    assert holdout_choices("mnist", 10_000, 2000) == ["none", "mnist-oos", "rest"]
    assert holdout_choices("digits", 1797, 1797) == ["none"]
    p = preset_for("digits", n_total=1797, n_classes=10, image_shape=(8, 8))
    assert p == {"n_samples": 1797, "holdout": "none", "holdout_size": 1000, "n_clusters": 10}   # data fields only
    faces = preset_for("yaleb", n_total=2414, n_classes=38, image_shape=(32, 32))
    assert faces["n_samples"] == 2414 and faces["n_clusters"] == 38 and set(faces) <= {f.name for f in fields(DataConfig)} | {"n_clusters"}
    s = preset_for("synthetic", n_total=None, n_classes=None, image_shape=None, synthetic=SyntheticConfig(4, 2))
    assert s["n_clusters"] == 4 and "subspace_dim" not in s and s["n_samples"] == 400


def test_split_is_seeded_and_disjoint() -> None:
    ds = Dataset(np.arange(1000, dtype=np.float32)[:, None], None, "ids", None)   # each row is its own id
    train, rest = split(ds, 500, 200, seed=3)
    train2, _ = split(ds, 500, 200, seed=3)
    assert len(train) == 500 and len(rest) == 200 and np.array_equal(train.X, train2.X)
    assert not set(train.X[:, 0]) & set(rest.X[:, 0])           # no point used twice
    assert np.all(np.diff(train.X[:, 0]) > 0)                   # the data set's order is kept
    assert not np.array_equal(split(ds, 500, 0, seed=4)[0].X, train.X)
    with pytest.raises(DataError):
        split(ds, 0, 0, seed=0)


def test_load_data_for_each_holdout_kind() -> None:
    train, hold = load_data(DataConfig(source="mnist", n_samples=300, holdout="mnist-oos", holdout_size=100))
    assert len(train) == 300 and len(hold) == 100 and hold.name == "mnist-oos"
    syn = DataConfig(source="synthetic", n_samples=90, holdout="rest", holdout_size=30,
                     synthetic=SyntheticConfig(3, 2, 10, 0.0))
    train, hold = load_data(syn)
    assert len(train) == 90 and len(hold) == 30
    train, hold = load_data(DataConfig(source="digits", n_samples=100, holdout="none"))
    assert len(train) == 100 and hold is None


def test_build_model_maps_the_choices() -> None:
    m = build_model(ModelConfig(autoencoder="pretrained-mnist", n_clusters=4, subspace_dim=2, lr=0.01))
    assert (m.autoencoder, m.pretrained, m.n_clusters, m.subspace_dim, m.lr) == ("conv", "mnist", 4, 2, 0.01)
    assert build_model(ModelConfig(autoencoder="none")).autoencoder is None
    assert build_model(ModelConfig(autoencoder="mlp")).pretrained is None


@pytest.mark.parametrize("field, value, needle", [
    ("h_init", "zeros", "Initial h must be one of ('random', 'closed_form', 'auto'), got 'zeros'"),
    ("classifier_loss", "hinge", "Classifier loss must be one of ('cross_entropy', 'triplet'), got 'hinge'"),
    ("classifier_temperature", -1.0,
     "Classifier temperature τ must be 0 (the paper's logits) or a finite number in (0, 1000], got -1.0"),
    ("classifier_temperature", 2000.0, "got 2000"),
    ("classifier_temperature", float("nan"), "in (0, 1000], got nan"),
    ("pseudo_sample_size", 5, "pseudo_sample_size must hold at least 2·n_clusters = 20 points, got 5"),
    ("pseudo_sample_size", -1, "0 (post-process all N points) or an integer in [2, 100000], got -1"),
    ("pseudo_sample_size", 200_000, "got 200000"),
    ("self_training_rounds", 21, "Self-training rounds must be an integer in [0, 20]"),
    ("self_training_rounds", -1, "got -1"),
    ("self_training_epochs", 0, "Epochs per round must be an integer in [1, 1000]"),
    ("lambda3", -0.5, "λ3 self-training must be a finite number in [0, 1e+09]"),
    ("hidden_dims", "64,x", "MLP hidden widths must be a tuple of positive integers, got '64,x'"),
])
def test_beyond_the_paper_fields_are_checked(field: str, value: object, needle: str) -> None:
    mlp = field == "hidden_dims"                      # shown (and checked) with the MLP auto-encoder only
    config = with_model(AppConfig(), autoencoder="mlp") if mlp else AppConfig()
    assert validate(config, **MNIST) == {}
    errors = validate(with_model(config, **{field: value}), **MNIST)
    assert list(errors) == [field] and needle in errors[field]


def test_beyond_the_paper_defaults_are_the_libraries() -> None:
    m = build_model(ModelConfig())
    assert (m.h_init, m.classifier_temperature, m.classifier_loss, m.pseudo_sample_size) == \
        ("auto", 20.0, "cross_entropy", None)                # τ = 20: sscn_core.plan; the paper preset's is None
    paper = build_model(with_model(AppConfig(), classifier_temperature=None).model)
    assert paper.classifier_temperature is None
    assert (m.self_training_rounds, m.self_training_epochs, m.lambda3) == (0, 5, 1.0)
    assert "self_training" not in m.planned_phases() and "pseudo_labels" in m.planned_phases()


def test_beyond_the_paper_values_are_accepted_and_passed_on() -> None:
    config = with_model(AppConfig(), autoencoder="pretrained-mnist", h_init="closed_form",
                        classifier_temperature=20.0, classifier_loss="triplet", pseudo_sample_size=20,
                        self_training_rounds=2, self_training_epochs=3, lambda3=0.0)
    assert validate(config, **MNIST) == {}
    assert validate(with_model(config, pseudo_sample_size=100_000, classifier_temperature=1000.0,
                               self_training_rounds=20, self_training_epochs=1000), **MNIST) == {}
    m = build_model(config.model)
    assert (m.h_init, m.classifier_temperature, m.classifier_loss, m.pseudo_sample_size) == \
        ("closed_form", 20.0, "triplet", 20)
    assert (m.self_training_rounds, m.self_training_epochs, m.lambda3) == (2, 3, 0.0)
    assert isinstance(m.pseudo_sample_size, int) and isinstance(m.classifier_temperature, float)
    m._validate_params()                                       # SSCN accepts what the app lets through
    assert m.planned_phases() == ("paper_start", "self_expression", "classifier", "self_training")   # no pseudo-labels


def test_a_triplet_model_has_no_pseudo_label_metrics_but_a_note() -> None:
    data = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=10, n_per_cluster=30, noise=0.0)
    model = build_model(ModelConfig(n_clusters=3, subspace_dim=2, autoencoder="none", batch_size=30, epochs=5,
                                    lr=1e-2, classifier_epochs=2, classifier_loss="triplet",
                                    classifier_temperature=20.0, self_training_rounds=1, self_training_epochs=1,
                                    device="cpu"))
    model.fit(data.X)
    assert model.pseudo_labels_ is None and model.labels_ is not None
    a = analyse(model, make_probe(data, data.subset(range(20)), affinity_points=40, embed_points=60))
    assert a.metrics_pseudo is None and a.pseudo_note == NO_PSEUDO_LABELS
    assert a.metrics_in is not None and a.metrics_out is not None
    during = analyse(model, make_probe(data, affinity_points=20, embed_points=20), phase="self_training", step=1,
                     classifier_trained=False)
    assert during.classifier_trained                           # self-training starts from a trained R


def test_analysis_helpers() -> None:
    assert list(display_order(np.array([1, 0, 1, 0]), np.array([0, 1, 1, 0]))) == [3, 1, 0, 2]
    assert list(cluster_sizes(np.array([0, 2, 2]), 4)) == [1, 0, 2, 0]
    major = majority_labels(np.array([5, 5, 3, 1]), np.array([0, 0, 0, 2]), 3)
    assert major[0] == (5, pytest.approx(2 / 3)) and major[1] is None and major[2] == (1, 1.0)


def test_analyse_a_fitted_model() -> None:
    data = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=10, n_per_cluster=40, noise=0.0)
    model = build_model(ModelConfig(n_clusters=3, subspace_dim=2, autoencoder="none", batch_size=40, epochs=30,
                                    lr=1e-2, classifier_epochs=3))
    model.fit(data.X)
    probe = make_probe(data, data.subset(range(20)), affinity_points=50, embed_points=80)
    a = analyse(model, probe, phase="done", step=1)
    assert a.affinity_abs.shape == a.affinity_thr.shape == (50, 50)
    assert np.all(np.diff(a.affinity_groups) >= 0)                # sorted by true label
    assert np.array_equal(a.affinity_groups, data.y[a.affinity_rows])
    assert (a.affinity_thr > 0).sum() < (a.affinity_abs > 0).sum()  # thresholding drops entries
    assert 0.0 <= a.sp_error <= 1.0 and 0.0 <= a.sp_error_thr <= 1.0
    assert a.h.shape == a.rotated.shape == (80, 6) and a.energy.shape == (80, 3)
    assert np.allclose(a.energy.sum(axis=1), 1.0, atol=1e-5)
    assert a.cluster_sizes.sum() == len(data) and a.confusion.table.sum() == len(data)
    assert set(a.metrics_in) == {"acc", "ari", "nmi"} and a.metrics_out is not None
    assert a.metrics_pseudo is not None and a.pseudo_note is None


def test_k_from_the_data_is_checked_for_its_worst_case() -> None:
    from app.config import MAX_EMBED_DIM, largest_estimated_k
    from sscn_core.plan import COUNT_MAX, COUNT_MIN_POINTS

    auto = with_model(AppConfig(), n_clusters="auto")
    assert validate(auto, **MNIST) == {}
    assert build_model(auto.model).n_clusters == "auto"
    few = replace(auto, data=replace(auto.data, n_samples=2 * COUNT_MIN_POINTS - 1))
    assert validate(few, **MNIST)["n_samples"] == (f"K from the data needs at least {2 * COUNT_MIN_POINTS} training "
                                                   f"points; got {2 * COUNT_MIN_POINTS - 1}")
    assert "n_samples" not in validate(replace(few, data=replace(few.data, n_samples=2 * COUNT_MIN_POINTS)), **MNIST)
    assert largest_estimated_k(2000) == COUNT_MAX and largest_estimated_k(100) == 100 // COUNT_MIN_POINTS
    wide = with_model(auto, subspace_dim=50)            # K may reach 100: H up to 5,000 columns wide
    message = validate(wide, **MNIST)["subspace_dim"]
    assert message.startswith(f"K from the data may reach {COUNT_MAX} here, so K·q may reach {COUNT_MAX * 50}")
    assert f"at most {MAX_EMBED_DIM}" in message and "give K" in message
    assert "subspace_dim" not in validate(with_model(wide, n_clusters=10), **MNIST)       # a given K of 10: 500


def sidebar_page() -> None:
    import streamlit as st

    from app import sidebar

    result = sidebar.render()
    st.session_state["test.model_config"] = result.config.model
    st.session_state["test.errors"] = result.errors


def test_the_sidebars_switch_asks_for_k_from_the_data() -> None:
    from streamlit.testing.v1 import AppTest

    from app.config import model_params

    at = AppTest.from_function(sidebar_page, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    switch = at.toggle(key="cfg.n_clusters_auto")
    assert switch.label == "auto K" and not switch.value
    assert at.session_state["test.model_config"].n_clusters == 10 and not at.number_input(key="cfg.n_clusters").disabled
    switch.set_value(True).run()
    assert not at.exception, at.exception
    config = at.session_state["test.model_config"]
    assert config.n_clusters == "auto" and model_params(config)["n_clusters"] == "auto"
    assert at.session_state["test.errors"] == {} and at.number_input(key="cfg.n_clusters").disabled
    assert at.number_input(key="cfg.n_clusters").value == 10           # kept for when the switch goes off
    at.toggle(key="cfg.n_clusters_auto").set_value(False).run()
    assert at.session_state["test.model_config"].n_clusters == 10
