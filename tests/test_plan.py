"""The plan (sscn_core.plan): every data-dependent setting with its reason, and the label-free model choice."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from sscn_core import SSCN, load_dataset
from sscn_core.data import make_subspaces
from sscn_core.metrics import evaluate
from sscn_core.plan import ALPHA_CANDIDATES, GIVEN, VERDICT_ALPHA, cross_cluster_share, make_plan, subspace_dim_rule
from sscn_core.theory import half_weight_lambda


def _plan(n: int, d: int, **params: object) -> dict:
    return make_plan(SSCN(**params).get_params(), n, d)


def test_q_follows_the_points_per_cluster() -> None:
    assert subspace_dim_rule(2414, 38)[0] == 9            # Yale B: 63 faces a person
    assert subspace_dim_rule(400, 40)[0] == 5             # 40 people, 10 faces each: 2q others a point
    assert subspace_dim_rule(760, 38)[0] == 6             # 20 faces a person: ⌊N / 3K⌋
    assert subspace_dim_rule(165, 15)[0] == 5             # 11 faces a person
    assert subspace_dim_rule(240, 40)[0] == 3             # 6 a cluster: ⌊N / 2K⌋
    assert subspace_dim_rule(40, 20)[0] == 1              # two points a cluster: the least there is
    assert subspace_dim_rule(10_000, 10)[0] == 9
    assert _plan(400, 1024, n_clusters=40)["subspace_dim"]["value"] == 5
    assert _plan(400, 1024, n_clusters=40, subspace_dim=5)["subspace_dim"] == {"value": 5, "reason": GIVEN}


def test_the_front_end_is_chosen_only_where_there_is_a_choice() -> None:
    images = _plan(500, 32 * 32, n_clusters=5)
    assert images["frontend"]["value"] == ("pixels", "scattering") and images["autoencoder"]["value"] is None
    assert images["image_shape"]["value"] == (32, 32)
    assert _plan(500, 30, n_clusters=5)["frontend"]["value"] == "pixels"                     # vectors
    assert _plan(500, 48 * 42, n_clusters=5)["frontend"]["value"] == "pixels"                # not a square...
    assert _plan(500, 48 * 42, n_clusters=5, image_shape=(48, 42))["frontend"]["value"] == ("pixels", "scattering")
    conv = _plan(500, 784, n_clusters=5, autoencoder="conv")
    assert conv["frontend"]["value"] == "pixels" and conv["normalize"]["value"] == "none"
    assert "pre-trained here" in conv["pretrained"]["reason"]


def test_defaults_are_explained_and_given_values_say_so() -> None:
    plan = _plan(1000, 784, n_clusters=10)
    for name in ("autoencoder", "frontend", "subspace_dim", "batch_size", "h_init", "classifier_init"):
        assert not plan[name]["reason"].startswith(GIVEN), name
    paper = make_plan(SSCN.from_preset("paper", n_clusters=10).get_params(), 1000, 784)
    assert paper["autoencoder"]["reason"].startswith(GIVEN) and paper["batch_size"]["reason"].startswith(GIVEN)
    assert plan["alpha"]["value"] == ALPHA_CANDIDATES == (8.0, 5.0, 3.5)   # the paper's first: ties keep it
    assert paper["alpha"] == {"value": 8.0, "reason": GIVEN}


@pytest.fixture(scope="module")
def dependent_fit() -> tuple:
    """A default fit on four dependent 4-dimensional subspaces (the α and λ records are read from it)."""
    data = make_subspaces(n_clusters=4, subspace_dim=4, ambient_dim=40, n_per_cluster=60, noise=0.1,
                          relation="dependent", seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return data, SSCN(n_clusters=4, seed=0, classifier_epochs=2).fit(data.X)


def test_the_fit_keeps_the_chosen_power_with_its_reason(tmp_path, dependent_fit) -> None:
    data, model = dependent_fit
    alpha = model.params_["alpha"]
    assert isinstance(alpha, float) and alpha in ALPHA_CANDIDATES
    entry = model.settings_["alpha"]
    assert entry["value"] == alpha and ("μ_(K+1)/μ_K" in entry["reason"] or "components" in entry["reason"])
    assert model.fit_report()["settings"]["alpha"] == entry
    again = SSCN.load(model.save(tmp_path / "model.pt"))
    assert again.params_["alpha"] == alpha and again.settings_["alpha"] == entry
    np.testing.assert_array_equal(again.predict(data.X), model.predict(data.X))
    given = SSCN(n_clusters=4, alpha=5.0).plan(data.X)["alpha"]
    assert given == {"value": 5.0, "reason": GIVEN}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        triplet = SSCN(n_clusters=4, seed=0, classifier_loss="triplet", classifier_epochs=1).fit(data.X)
    assert triplet.params_["alpha"] is None and "made no spectral pseudo-labels" in triplet.settings_["alpha"]["reason"]
    assert SSCN.load(triplet.save(tmp_path / "triplet.pt")).params_["alpha"] is None


def test_half_weight_lambda_keeps_the_d_th_direction_at_half() -> None:
    values = np.array([9.0, 4.0, 1.0, 0.25, 1e-12])
    lam = half_weight_lambda(values, 3)
    assert lam == pytest.approx(1.0) and lam * 1.0 / (1 + lam * 1.0) == pytest.approx(0.5)
    assert half_weight_lambda(values[::-1], 3) == lam                     # any order
    assert half_weight_lambda(10.0 * values, 3) == pytest.approx(lam / 10)  # λs² is what counts: scale-free
    assert half_weight_lambda(values, 4) is None                          # h has room for every direction
    assert half_weight_lambda(values, 50) is None
    assert half_weight_lambda(np.zeros(3), 2) is None                    # all-zero features: rank 0
    with pytest.raises(ValueError, match="finite"):
        half_weight_lambda(np.array([1.0, np.nan]), 1)


def test_the_self_expression_weight_follows_the_spectrum_for_the_linear_model_only() -> None:
    plan = _plan(1000, 784, n_clusters=10)
    assert plan["lambda_scale"]["value"] is None and "1/s²" in plan["lambda_scale"]["reason"]
    conv = _plan(1000, 784, n_clusters=10, autoencoder="conv")["lambda_scale"]
    assert conv["value"] == 1.0 and "auto-encoder" in conv["reason"]
    assert make_plan(SSCN.from_preset("paper", n_clusters=10).get_params(), 1000, 784)["lambda_scale"] == \
        {"value": 1.0, "reason": GIVEN}
    assert _plan(1000, 784, n_clusters=10, lambda_scale=2.0)["lambda_scale"] == {"value": 2.0, "reason": GIVEN}


def test_the_fit_trains_with_the_spectrums_weight_and_records_why(tmp_path, dependent_fit) -> None:
    data, model = dependent_fit
    scale = model.params_["lambda_scale"]
    x = data.X / np.linalg.norm(data.X, axis=1, keepdims=True)                # the plan's unit rows
    lam = half_weight_lambda(np.linalg.eigvalsh(x.T.astype(np.float64) @ x), 4 * model.params_["subspace_dim"])
    assert lam is not None
    assert scale * 1.5 == pytest.approx(lam, rel=1e-4)
    assert model._lambdas() == pytest.approx((0.5 * scale, 1.0 * scale))
    entry = model.settings_["lambda_scale"]
    assert entry["value"] == scale and "1/s²" in entry["reason"] and "half weight" in entry["reason"]
    # Training started at Theorem 1's optimum for that weight: nothing to step.
    assert model.convergence_["self_expression"]["stopped_by"] == "stationary start"
    again = SSCN.load(model.save(tmp_path / "model.pt"))
    assert again.params_["lambda_scale"] == scale and again.settings_["lambda_scale"] == entry
    # Xavier's start for h: the same rule sets the weight training uses.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        random = SSCN(n_clusters=4, seed=0, h_init="random", classifier_epochs=1, epochs=1, schedule="epochs").fit(data.X)
    assert random.params_["lambda_scale"] == pytest.approx(scale, rel=1e-4)
    # Rows of 8 values, K·q = 16 ≥ their rank: h holds every direction, so the paper's weights, and why.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        low = SSCN(n_clusters=4, subspace_dim=4, seed=0, classifier_epochs=1).fit(data.X[:, :8])
    assert low.params_["lambda_scale"] == 1.0 and "room for every direction" in low.settings_["lambda_scale"]["reason"]


def test_with_few_faces_a_person_the_spectrums_weight_keeps_the_weak_directions() -> None:
    """Ten faces a person (Yale B's 38 people; ORL's size): the paper's λ1 + λ2 = 1.5 drops the weak
    directions that tell people apart; 1/s²_(K·q) keeps them."""
    ds = load_dataset("yaleb")
    rng = np.random.default_rng(0)
    keep = np.sort(np.concatenate([rng.choice(np.flatnonzero(ds.y == c), 10, replace=False) for c in range(38)]))
    x, y = ds.X[keep], ds.y[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rule = SSCN(n_clusters=38, seed=0).fit(x)
        paper = SSCN(n_clusters=38, seed=0, lambda_scale=1.0).fit(x)
    assert rule.params_["lambda_scale"] > 3.0, rule.settings_["lambda_scale"]
    assert evaluate(y, rule.labels_)["acc"] > evaluate(y, paper.labels_)["acc"] + 0.05


def test_the_bundled_weights_are_found_by_the_images_they_were_trained_on() -> None:
    model = SSCN.from_preset("paper", n_clusters=10)
    assert model.plan(load_dataset("mnist", n_samples=500).X)["pretrained"]["value"] == "mnist"
    other = model.plan(load_dataset("mnist-oos", n_samples=500).X)["pretrained"]     # other digits: pre-trained on them
    assert other["value"] is None and "pre-trained here" in other["reason"]


def test_the_pretraining_batch_follows_the_schedule_only_where_an_autoencoder_is_pretrained_here() -> None:
    auto = _plan(2414, 32 * 32, n_clusters=38, autoencoder="conv")["pretrain_batch_size"]
    assert auto["value"] == 128 and "46 s" in auto["reason"] and "0.002 per pixel" in auto["reason"]
    assert _plan(60, 64, n_clusters=3, autoencoder="mlp")["pretrain_batch_size"]["value"] == 60
    paper = make_plan(SSCN.from_preset("paper", n_clusters=38).get_params(), 2414, 32 * 32)
    assert paper["pretrain_batch_size"]["value"] == 2414 and "full batch" in paper["pretrain_batch_size"]["reason"]
    assert "for 100 epochs" in paper["pretrained"]["reason"]
    assert "until its reconstruction loss settles, at most 100 epochs" in \
        _plan(2414, 32 * 32, n_clusters=38, autoencoder="conv")["pretrained"]["reason"]
    assert _plan(2414, 1024, n_clusters=38, autoencoder="conv", pretrain_batch_size=5000)["pretrain_batch_size"] == \
        {"value": 2414, "reason": f"{GIVEN} (cut to N = 2414)"}
    for params in (dict(), dict(autoencoder="conv", pretrained="mnist"), dict(autoencoder="conv", pretrain_epochs=0)):
        assert "pretrain_batch_size" not in _plan(500, 784, n_clusters=5, **params), params
    bundled = make_plan(SSCN(autoencoder="conv").get_params(), 500, 784, bundled="mnist")
    assert bundled["pretrained"]["value"] == "mnist" and "pretrain_batch_size" not in bundled


def test_cross_cluster_share_is_zero_on_blocks_and_grows_with_leakage() -> None:
    labels = np.repeat([0, 1, 2], 4)
    blocks = np.kron(np.eye(3), np.ones((4, 4)))
    assert cross_cluster_share(blocks, labels, 3) == 0.0
    leaky = blocks + 0.1
    assert 0.0 < cross_cluster_share(leaky, labels, 3) < cross_cluster_share(np.ones((12, 12)), labels, 3)


def _faces(people: int = 8) -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset("yaleb")
    keep = np.isin(ds.y, np.arange(people))
    return ds.X[keep].reshape(-1, 32, 32), ds.y[keep]


def test_the_model_choice_keeps_pixels_for_faces_and_scattering_for_digits() -> None:
    """The label-free rule on two kinds of images: illumination subspaces (faces) need the pixels,
    handwriting is better seen through translation-stable scattering."""
    faces, y_faces = _faces()
    digits = load_dataset("mnist", n_samples=1000, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        face_model = SSCN(n_clusters=8, seed=0).fit(faces)
        digit_model = SSCN(n_clusters=10, seed=0).fit(digits.X)
    assert face_model.params_["frontend"] == "pixels", face_model.model_choice_
    assert digit_model.params_["frontend"] == "scattering", digit_model.model_choice_
    assert "lower is better" in face_model.settings_["frontend"]["reason"]
    # Faces: pixels by far, a clear choice; the report says so, with the margin and its noise.
    choice = face_model.model_choice_
    assert choice["clear"] and choice["margin"] > 2 * choice["noise"] > 0
    assert len(choice["resampled"]["pixels"]) == len(choice["resampled"]["scattering"]) == 4
    reported = face_model.fit_report()["choices"][0]
    assert reported["setting"] == "frontend" and reported["runner_up"] == "scattering" and reported["clear"]
    assert evaluate(y_faces, face_model.labels_)["acc"] > 0.9
    assert evaluate(digits.y, digit_model.labels_)["acc"] > 0.8
    # α follows the verdict: whole subspaces for faces (3.5), closest neighbours for digits (8).
    assert face_model.params_["alpha"] == VERDICT_ALPHA["pixels"] == 3.5
    assert digit_model.params_["alpha"] == VERDICT_ALPHA["scattering"] == 8.0
    assert "linear subspaces" in face_model.settings_["alpha"]["reason"]
    assert "manifold-like" in digit_model.settings_["alpha"]["reason"]
    assert not any(c["setting"] == "alpha" for c in face_model.fit_report()["choices"])


def test_alpha_after_the_choice_is_lower_below_fifteen_points_a_cluster() -> None:
    from sscn_core.plan import ALPHA_FEW, FEW_ALPHA, verdict_alpha

    assert ALPHA_FEW == 15 and FEW_ALPHA == {"pixels": 2.5, "scattering": 1.5}
    assert verdict_alpha("scattering", 300, 20) == (8.0, verdict_alpha("scattering", 3000, 10)[1])   # 15 a cluster
    alpha, reason = verdict_alpha("scattering", 299, 20)                                              # 14.95
    assert alpha == 1.5 and "14.9 points a cluster" in reason and "each cluster whole" in reason
    assert verdict_alpha("pixels", 400, 40)[0] == 2.5 and verdict_alpha("pixels", 4000, 40)[0] == 3.5
    assert "manifold-like" in verdict_alpha("scattering", 3000, 10)[1]


@pytest.mark.parametrize("per_cluster, alpha, powers", [
    (40, None, {"pixels": 3.5, "scattering": 8.0}),        # enough points a cluster: the verdict's powers
    (12, None, {"pixels": 2.5, "scattering": 1.5}),        # below 15 a cluster: lower powers, by the verdict
    (40, 5.0, {"pixels": 5.0, "scattering": 5.0}),         # α given: used for both
])
def test_each_front_end_is_judged_at_the_power_it_would_take(monkeypatch: pytest.MonkeyPatch, per_cluster: int,
                                                            alpha: float | None, powers: dict[str, float]) -> None:
    """The model choice clusters each candidate's Q at the power the fit would then use with it."""
    from sscn_core import choice

    seen: list[float] = []
    real = choice.choice_share
    monkeypatch.setattr(choice, "choice_share", lambda q, a, **kw: seen.append(a) or real(q, a, **kw))
    X = make_subspaces(4, 2, 64, n_per_cluster=per_cluster, noise=0.05, seed=1).X    # rows of 64: 8×8 images
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=4, seed=0, alpha=alpha, classifier_epochs=1).fit(X)
    assert set(model.model_choice_["shares"]) == {"pixels", "scattering"}
    per_candidate = len(seen) // 2                                 # the whole sample, then its subsets
    assert seen == [powers["pixels"]] * per_candidate + [powers["scattering"]] * per_candidate
    assert model.params_["alpha"] == powers[model.params_["frontend"]]


def test_without_a_front_end_choice_alpha_is_chosen_by_the_spectrum() -> None:
    digits = load_dataset("mnist", n_samples=300, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=10, seed=0, frontend="pixels", classifier_epochs=1).fit(digits.X)
    assert model.settings_["alpha"]["compared"] and model.params_["alpha"] in ALPHA_CANDIDATES
    assert "μ_(K+1)/μ_K" in model.settings_["alpha"]["reason"]
    assert make_plan(SSCN(n_clusters=10).get_params(), 300, 784)["alpha"]["reason"].startswith("follows the front-end")


def test_probabilities_carry_information() -> None:
    """Not 1/K for every point: calibrated to the pseudo-labels, confident where the classifier agrees."""
    X = make_subspaces(4, 2, 12, n_per_cluster=40, noise=0.05, seed=1).X
    for temperature in (20.0, None):          # the default's sharp logits, and the paper's flat ones
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SSCN(n_clusters=4, seed=0, classifier_temperature=temperature).fit(X)
        proba = model.predict_proba(X)
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
        assert proba.max(axis=1).mean() > 0.9                              # not flat
        assert np.array_equal(proba.argmax(axis=1), model.predict(X))      # the scale does not change predict
        assert model.proba_scale_ != 1.0 and "calibrated" in model.fit_report()["probabilities"]["note"]
        assert (model.proba_scale_ > 1.0) == (temperature is None)         # flat logits are sharpened


def test_the_independence_verdict_matches_the_diagnostics() -> None:
    """The report and the Diagnostics tab use one measure (effective dimensions of Z)."""
    from sscn_core.theory import diagnose

    faces, _ = _faces(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=5, seed=0).fit(faces)
    z = model.transform(faces, space="z")
    tab = diagnose(z, model.pseudo_labels_, n_clusters=5, seed=0)
    assert model.independence_["verdict"] == tab.verdict and model.independence_["measure"] == "effective"
    assert not model.independence_["independent"] and "promises no exact recovery" in model.independence_["note"]


@pytest.mark.parametrize("stack", [False, True])
def test_a_stack_of_images_gives_its_shape(stack: bool) -> None:
    faces, _ = _faces(3)
    X = faces if stack else faces.reshape(len(faces), -1)[:, : 32 * 30]   # 32×30 crops as flat rows
    plan = SSCN(n_clusters=3).plan(X if stack else X)
    assert plan["image_shape"]["value"] == ((32, 32) if stack else None)


def test_a_margin_within_its_noise_is_reported_as_a_near_tie() -> None:
    from sscn_core.plan import CLEAR_MARGIN, choice_clarity, decide_frontend, describe_clarity

    clear = decide_frontend({"pixels": 0.50, "scattering": 0.60},
                            {"pixels": [0.50, 0.51, 0.49, 0.50], "scattering": [0.60, 0.61, 0.60, 0.59]})
    assert clear["value"] == "pixels" and clear["clear"] and clear["runner_up"] == "scattering"
    assert abs(clear["margin"] - 0.10) < 1e-12 and clear["noise"] < 0.02 and "clearly" in clear["reason"]
    # The same margin, but the subsets disagree about it: a near tie, still the best share, flagged.
    tie = decide_frontend({"pixels": 0.50, "scattering": 0.60},
                          {"pixels": [0.50, 0.70, 0.45, 0.62], "scattering": [0.60, 0.55, 0.62, 0.50]})
    assert tie["value"] == "pixels" and not tie["clear"] and tie["margin"] <= CLEAR_MARGIN * tie["noise"]
    assert "near tie" in tie["reason"] and "frontend='scattering'" in tie["reason"]
    # No margin at all is never clear, even without noise.
    assert not decide_frontend({"pixels": 0.5, "scattering": 0.5}, {"pixels": [0.5] * 4, "scattering": [0.5] * 4})["clear"]
    rows = choice_clarity({"alpha": {"value": 8.0, "reason": "", "compared": [[8.0, 2.0], [5.0, 1.98], [3.5, 1.0]]}},
                          {**tie, "shares": {}, "resampled": {}})
    assert [r["setting"] for r in rows] == ["frontend", "alpha"]
    assert rows[0]["clear"] is False and "frontend='scattering'" in rows[0]["advice"]
    assert rows[1]["value"] == 8.0 and rows[1]["runner_up"] == 5.0 and rows[1]["clear"] is False
    assert describe_clarity(rows[0]).startswith("NEAR TIE") and "alpha=5" in describe_clarity(rows[1])
    far = choice_clarity({"alpha": {"value": 8.0, "reason": "", "compared": [[8.0, 2.0], [5.0, 1.0]]}}, None)
    assert far[0]["clear"] is None and "noise not measured" in describe_clarity(far[0])
    assert choice_clarity({"alpha": {"value": 8.0, "reason": "given"}}, None) == []


def test_the_pseudo_label_graph_is_planned_and_the_paper_keeps_q() -> None:
    from sscn_core.plan import SPARSE_CLEAR, SPARSE_MAX_POINTS, sparse_graph_verdict

    assert _plan(500, 30, n_clusters=5)["pseudo_graph"]["value"] == "auto"
    over = _plan(SPARSE_MAX_POINTS + 1, 30, n_clusters=5)["pseudo_graph"]
    assert over["value"] == "q" and f"{SPARSE_MAX_POINTS:,}" in over["reason"]
    assert _plan(SPARSE_MAX_POINTS + 1, 30, n_clusters=5, pseudo_sample_size=1000)["pseudo_graph"]["value"] == "auto"
    given = _plan(500, 30, n_clusters=5, pseudo_graph="ssc")["pseudo_graph"]
    assert given["value"] == "ssc" and given["reason"].startswith(GIVEN)
    assert SSCN.from_preset("paper").get_params()["pseudo_graph"] == "q"
    unused = _plan(500, 30, n_clusters=5, classifier_loss="triplet")["pseudo_graph"]
    assert unused["value"] is None and unused["reason"].startswith("not used")
    assert sparse_graph_verdict(SPARSE_CLEAR, 4)[0] and sparse_graph_verdict(float("inf"), 4)[0]
    trusted, reason = sparse_graph_verdict(SPARSE_CLEAR * 0.99, 4)
    assert not trusted and "Q's graph" in reason


def _circles(ambient: int = 5, per: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three circles, each in a 3-dim subspace of R^ambient (dependent subspaces: 9 > 5 dimensions)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, per, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t), np.full_like(t, 1.5)], 1)
    x = np.concatenate([circle @ np.linalg.qr(rng.standard_normal((ambient, 3)))[0].T for _ in range(3)])
    return x.astype(np.float32), np.repeat(np.arange(3), per)


def test_the_fit_takes_the_sparse_graph_only_when_it_splits_clearly() -> None:
    x, y = _circles()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = SSCN(n_clusters=3, seed=0).fit(x)
        q_only = SSCN(n_clusters=3, seed=0, pseudo_graph="q").fit(x)
        noise = SSCN(n_clusters=3, seed=0).fit(np.random.default_rng(1).standard_normal((180, 30)).astype(np.float32))
    chosen = auto.settings_["pseudo_graph"]
    # the circles' sparse graph has exactly 3 components: its ratio is infinite, recorded as None (strict JSON)
    assert chosen["value"] == "ssc" and chosen["ratio"] is None and "falls clearly" in chosen["reason"]
    clarity = {c["setting"]: c for c in auto.fit_report()["choices"]}["pseudo_graph"]
    assert clarity["runner_up"] == "q" and clarity["margin"] == float("inf")
    assert evaluate(y, auto.pseudo_labels_)["acc"] == 1.0                  # the chains the sparse graph follows
    assert evaluate(y, q_only.pseudo_labels_)["acc"] < 1.0                 # Q mixes the dependent subspaces
    assert q_only.settings_["pseudo_graph"]["value"] == "q" and "ratio" not in q_only.settings_["pseudo_graph"]
    refused = noise.settings_["pseudo_graph"]
    assert refused["value"] == "q" and refused["ratio"] < 10 and "does not fall clearly" in refused["reason"]
    short = {c["setting"]: c for c in noise.fit_report()["choices"]}["pseudo_graph"]
    assert short["runner_up"] == "ssc" and short["margin"] == pytest.approx(10 / refused["ratio"])


def test_a_sparse_graph_that_cannot_be_built_leaves_q_and_says_why() -> None:
    from sscn_core.estimator import SSCNWarning

    x = np.eye(12, dtype=np.float32)                         # every point orthogonal to the others
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = SSCN(n_clusters=2, seed=0, subspace_dim=1).fit(x)
    setting = auto.settings_["pseudo_graph"]
    assert setting["value"] == "q" and "could not be built" in setting["reason"] and "ratio" not in setting
    assert "pseudo_graph" not in {c["setting"] for c in auto.fit_report()["choices"]}
    with pytest.warns(SSCNWarning, match="pseudo_graph='ssc'.*from Q"):
        forced = SSCN(n_clusters=2, seed=0, subspace_dim=1, pseudo_graph="ssc").fit(x)
    assert forced.settings_["pseudo_graph"]["value"] == "q" and len(forced.labels_) == 12
