"""Beyond the paper: Theorem-1 start for h, the temperature classifier, the Q-driven triplet loss, self-training."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from sscn_core import SSCN
from sscn_core.data import make_subspaces
from sscn_core.features import PixelFrontEnd
from sscn_core.metrics import evaluate
from sscn_core.models import IdentityAutoEncoder, SSCNNetwork, SubspaceClassifier
from sscn_core.theory import theorem1_solution
from sscn_core.trainer import (STATIONARY, closed_form_h_init, q_neighbours, self_expression_terms, stationarity,
                               triplet_terms)


@pytest.fixture(scope="module")
def data():
    return make_subspaces(n_clusters=4, subspace_dim=3, ambient_dim=20, n_per_cluster=150, noise=0.01, seed=3)


def test_closed_form_init_is_theorem_1_optimum() -> None:
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((60, 8)) @ rng.standard_normal((8, 15))).float()
    net = SSCNNetwork(PixelFrontEnd(15), IdentityAutoEncoder(15), n_clusters=5, subspace_dim=2)
    lam = 2.5
    # batch_size = N: the second moment is ZᵀZ itself, so h must give Theorem 1's Q* exactly.
    closed_form_h_init(net, x, lam=lam, batch_size=60, device=torch.device("cpu"), chunk=16)
    h = net.h(x).detach().double()
    _, q_star = theorem1_solution(x.double().numpy(), lam, 10, rtol=1e-5)
    assert np.allclose((h @ h.T).numpy(), q_star, atol=1e-4 * np.abs(q_star).max())
    # d_H (10) > rank (8): the rows beyond the rank stay zero.
    assert torch.linalg.matrix_rank(net.h.linear.weight.double(), rtol=1e-6) == 8


@pytest.mark.parametrize("lam", [0.5, 15.0, 150.0])
def test_the_closed_form_is_recognised_as_stationary_whatever_the_weight(lam: float) -> None:
    """The weighted terms' gradients cancel at Theorem 1's optimum (float32 leaves ~1e-3 at λ = 15 on
    faces; ‖∇L‖·‖θ‖/|L| grew with λ past any fixed bound and let Adam step away, up to a 10⁵-fold loss);
    from a random start they do not."""
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.standard_normal((400, 30)) @ rng.standard_normal((30, 200))).float()
    x = x / x.norm(dim=1, keepdim=True)
    net = SSCNNetwork(PixelFrontEnd(200), IdentityAutoEncoder(200), n_clusters=4, subspace_dim=5)
    params = list(net.h.parameters())

    def measure() -> float:
        terms = self_expression_terms(net, x, "sum")
        return stationarity([terms["q_norm"], lam / 3 * terms["self_expression"], 2 * lam / 3 * terms["reconstruction"]],
                            params)

    assert measure() > 0.5                                # Xavier's start
    closed_form_h_init(net, x, lam=lam, batch_size=400, device=torch.device("cpu"))
    assert measure() < STATIONARY / 10


def test_temperature_classifier_reads_directions_only() -> None:
    torch.manual_seed(0)
    h = torch.randn(7, 6)
    paper, warm = SubspaceClassifier(3, 2), SubspaceClassifier(3, 2, temperature=20.0)
    for clf in (paper, warm):
        clf.R.data = torch.linalg.qr(torch.randn(6, 6))[0]
    warm.R.data = paper.R.data.clone()
    assert torch.allclose(warm(5.0 * h), warm(h), atol=1e-4)          # scale-free
    assert torch.allclose(paper(5.0 * h), 25.0 * paper(h), atol=1e-3)   # the paper's logits scale with ‖h‖²
    unit = h / h.norm(dim=1, keepdim=True)
    assert torch.allclose(warm(h), 20.0 * paper(unit), atol=1e-4)
    assert (paper(h).argmax(1) == warm(h).argmax(1)).all()             # same decision, sharper softmax


def test_q_neighbours_and_triplet_terms() -> None:
    # Two orthogonal lines: |Q_ij| is large within a line and zero across.
    h = torch.tensor([[1.0, 0], [2.0, 0], [-1.5, 0], [0, 1.0], [0, -2.0], [0, 0.5]])
    pos, neg = q_neighbours(h, 2, torch.Generator().manual_seed(0))
    group = torch.tensor([0, 0, 0, 1, 1, 1])
    assert (group[pos] == group[:, None]).all() and neg.shape == (6, 2)
    onehot = torch.nn.functional.one_hot(group, 2).float()
    trip, balance = triplet_terms(onehot, pos, torch.tensor([[3, 4]] * 3 + [[0, 1]] * 3), margin=0.5)
    assert trip.item() == 0.0                                     # positives agree, negatives differ by 2 > margin
    assert balance.item() == pytest.approx(-np.log(2), abs=1e-6)  # both clusters used equally
    same = torch.full((6, 2), 0.5)
    trip, balance = triplet_terms(same, pos, neg, margin=0.5)
    assert trip.item() == pytest.approx(0.5) and balance.item() == pytest.approx(-np.log(2), abs=1e-6)


def _fit(data, **kw) -> SSCN:
    params = dict(n_clusters=4, subspace_dim=3, autoencoder=None, batch_size=300, epochs=20, lr=1e-2,
                  classifier_epochs=10, classifier_batch_size=300, seed=0)
    return SSCN(**{**params, **kw}).fit(data.X)


def test_triplet_classifier_needs_no_pseudo_labels(data) -> None:
    model = _fit(data, classifier_loss="triplet", classifier_temperature=20.0, h_init="closed_form")
    assert model.pseudo_labels_ is None and "pseudo_labels" not in model.phase_times_
    assert evaluate(data.y, model.labels_)["acc"] >= 0.95
    assert {row["phase"] for row in model.history_} == {"self_expression", "classifier"}


def test_closed_form_start_and_self_training(data, tmp_path) -> None:
    events: list[str] = []
    model = SSCN(n_clusters=4, subspace_dim=3, autoencoder="mlp", latent_dim=12, hidden_dims=(32,), pretrain_epochs=200,
                 batch_size=300, epochs=10, lr=1e-3, classifier_epochs=10, classifier_batch_size=300,
                 h_init="closed_form", classifier_temperature=20.0, self_training_rounds=2, self_training_epochs=3,
                 seed=0)
    before: dict[str, torch.Tensor] = {}

    def watch(event) -> None:
        events.append(event.phase)
        if event.kind == "phase" and event.phase == "self_training":
            before.update({k: v.clone() for k, v in event.model.net_.state_dict().items()})
            before["labels"] = torch.from_numpy(event.model.predict(data.X))

    model.fit(data.X, callback=watch)
    assert model.planned_phases() == ("pretrain", "self_expression", "pseudo_labels", "classifier", "self_training")
    assert [p for i, p in enumerate(events) if i == 0 or events[i - 1] != p] == list(model.planned_phases())
    after = model.net_.state_dict()
    # Encoder, h and R all move during self-training (the classifier feeds back into the embedding).
    for name in ("autoencoder.encoder.0.weight", "h.linear.weight", "classifier.R"):
        assert not torch.equal(before[name], after[name]), name
    rtr = after["classifier.R"].double()
    assert torch.allclose(rtr.T @ rtr, torch.eye(12, dtype=torch.float64), atol=1e-4)
    rows = [r for r in model.history_ if r["phase"] == "self_training"]
    assert len(rows) == 2 * 3 * 2 and all(np.isfinite(r["classifier"]) for r in rows)
    acc_before = evaluate(data.y, before["labels"].numpy())["acc"]
    assert evaluate(data.y, model.labels_)["acc"] >= max(0.85, acc_before - 0.02)
    # Temperature and all new parameters survive save → load.
    loaded = SSCN.load(model.save(tmp_path / "m.pt"))
    assert loaded.net_.classifier.temperature == 20.0 and loaded.self_training_rounds == 2
    assert np.array_equal(loaded.predict(data.X), model.labels_)


def test_presets_beyond_the_paper_keep_the_paper_intact() -> None:
    paper = SSCN.from_preset("paper")
    assert paper.h_init == "random" and paper.classifier_temperature is None
    assert paper.classifier_loss == "cross_entropy" and paper.self_training_rounds == 0 and paper.pseudo_sample_size is None
    for name in ("conv-plus", "scattering", "scattering-triplet"):
        model = SSCN.from_preset(name)
        assert model.classifier_temperature == 20.0
        assert model.h_init == ("random" if name == "conv-plus" else "closed_form")
        model._validate_params()


def test_metric_terms_equal_definition_3_with_q_formed() -> None:
    """The terms computed through H (no B × B matrix) are Definition 3's with Q = H Hᵀ formed, for both reductions."""
    from sscn_core.trainer import definition3_terms, metric_terms

    rng = np.random.default_rng(4)
    h = torch.from_numpy(rng.standard_normal((50, 6))).double()
    z = torch.from_numpy(rng.standard_normal((50, 9))).double()
    x = torch.from_numpy(rng.standard_normal((50, 9))).double()
    for reduction in ("sum", "mean"):
        ours = metric_terms(h, z, x, lambda v: v, reduction)
        ref = definition3_terms(h @ h.T, z, x, lambda v: v, reduction)
        for key in ref:
            assert torch.allclose(ours[key], ref[key], rtol=1e-12), (reduction, key)


def test_the_paper_start_comparison_is_recorded_and_changes_nothing(data) -> None:
    """paper_start_steps trains a discarded copy of h from Xavier's start: its losses fall and stay above Theorem 1's
    optimum, which the run itself starts at; labels, λ and Q are those of the fit without it."""
    common = dict(n_clusters=4, subspace_dim=3, seed=0, device="cpu")
    plain = SSCN(**common).fit(data.X)
    compared = SSCN(**common, paper_start_steps=40).fit(data.X)
    assert "paper_start" in compared.planned_phases(data.X.shape[1]) and "paper_start" not in plain.planned_phases()
    assert np.array_equal(plain.labels_, compared.labels_)
    assert plain.params_["lambda_scale"] == compared.params_["lambda_scale"]
    assert np.allclose(plain.affinity(data.X[:50]), compared.affinity(data.X[:50]))
    rows = [row for row in compared.history_ if row["phase"] == "paper_start"]
    optimum = next(row["total"] for row in compared.history_ if row["phase"] == "self_expression")
    assert len(rows) == 40 and [r["step"] for r in rows] == list(range(1, 41))
    assert rows[-1]["total"] < rows[0]["total"] and min(r["total"] for r in rows) > optimum
    assert compared.paper_start_["steps"] == 40 and compared.paper_start_["final_loss"] == rows[-1]["total"]
    assert plain.paper_start_ is None
    # Where h does not start at the closed form (the paper's own start), there is nothing to compare.
    assert "paper_start" not in SSCN(**common, paper_start_steps=40, h_init="random").planned_phases(20)
