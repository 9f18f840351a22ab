"""Theorem 1 promises exact recovery on independent noise-free subspaces: the defaults must deliver it.

The grid uses its own generator (random bases of K independent q-dimensional subspaces of R^D,
mixed so that they are not orthogonal) and only ``SSCN(n_clusters=K, subspace_dim=q,
autoencoder=None)``: pseudo-labels, the classifier in sample and out of sample must all be exact.
Dependent cases must say, in the fit's report, why exactness is not promised.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from sscn_core import SSCN
from sscn_core.health import SSCNWarning
from sscn_core.metrics import accuracy


def union_of_subspaces(K: int, q: int, D: int, n: int, seed: int, *, dependent: bool = False
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n training and 20 test points per subspace; dependent: all K subspaces inside one space of dimension min(K·q − 1, D)."""
    rng = np.random.default_rng(seed)
    span = min(K * q - 1, D) if dependent else K * q
    frame = np.linalg.qr(rng.standard_normal((D, span)))[0]
    bases = [frame @ rng.standard_normal((span, q)) for _ in range(K)]
    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        X = np.concatenate([(b @ rng.standard_normal((q, m))).T for b in bases]).astype(np.float32)
        return X, np.repeat(np.arange(K), m)
    X, y = draw(n)
    Xt, yt = draw(20)
    return X, y, Xt, yt


# (K, q, D, points per subspace as a multiple of q, seed): K 2…10, q 1…5, D ≥ K·q, n 2q…50q.
GRID = [(2, 1, 2, 2, 0), (2, 5, 12, 50, 1), (3, 1, 3, 10, 2), (3, 3, 9, 2, 3), (4, 2, 10, 20, 4),
        (5, 1, 8, 50, 5), (5, 4, 20, 3, 6), (6, 3, 30, 10, 7), (7, 2, 14, 5, 8), (8, 5, 40, 2, 9),
        (10, 1, 10, 2, 10), (10, 2, 25, 10, 11), (10, 3, 30, 4, 12), (10, 5, 50, 2, 13), (4, 5, 60, 8, 14),
        (9, 4, 36, 6, 15)]


@pytest.mark.slow
@pytest.mark.parametrize("K,q,D,mult,seed", GRID)
def test_defaults_are_exact_on_independent_subspaces(K: int, q: int, D: int, mult: int, seed: int) -> None:
    X, y, Xt, yt = union_of_subspaces(K, q, D, mult * q, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SSCNWarning)          # an exact fit must not warn
        model = SSCN(n_clusters=K, subspace_dim=q, autoencoder=None).fit(X)
    assert accuracy(y, model.pseudo_labels_) == 1.0
    assert accuracy(y, model.labels_) == 1.0
    assert accuracy(yt, model.predict(Xt)) == 1.0
    report = model.fit_report()
    assert report["agreement"] == 1.0
    assert report["independence"]["independent"]
    assert report["convergence"]["self_expression"]["converged"]


@pytest.mark.parametrize("K,q,D,seed", [(3, 2, 10, 0), (4, 1, 2, 1), (5, 3, 20, 2)])
def test_dependent_subspaces_are_reported(K: int, q: int, D: int, seed: int) -> None:
    X, y, _, _ = union_of_subspaces(K, q, D, 10 * q, seed, dependent=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SSCNWarning)
        model = SSCN(n_clusters=K, subspace_dim=q, autoencoder=None, seed=seed).fit(X)
    independence = model.fit_report()["independence"]
    assert not independence["independent"]
    assert independence["deficit"] >= 1
    assert "not independent" in independence["note"]


def test_paper_preset_keeps_fixed_epochs_and_reports_convergence() -> None:
    X, _, _, _ = union_of_subspaces(3, 2, 8, 20, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SSCNWarning)
        model = SSCN.from_preset("paper", n_clusters=3, subspace_dim=2, autoencoder=None, epochs=4,
                                 classifier_epochs=2, batch_size=30, classifier_batch_size=30).fit(X)
    se = model.fit_report()["convergence"]["self_expression"]
    assert se["steps"] == 4 * (60 // 30) and se["stopped_by"] == "schedule"
    assert model.settings_["classifier_steps"]["value"] == 2 * 2 * 10


def test_the_classifier_stops_once_its_predictions_settle() -> None:
    """Convergence.settled: three windows without a changed prediction, at ≥ 99 % of the pseudo-labels."""
    import torch

    from sscn_core.trainer import PREDICTION_PATIENCE, Convergence

    targets = torch.arange(100) % 4
    wrong = targets.clone()
    wrong[:2] = (wrong[:2] + 1) % 4                    # 98 % reproduced: below the health check's 99 %
    rule = Convergence(tol=1e-4, window=10)
    assert not any(rule.settled(wrong, targets) for _ in range(PREDICTION_PATIENCE + 3))
    assert [rule.settled(targets, targets) for _ in range(PREDICTION_PATIENCE + 1)] == \
        [False] * PREDICTION_PATIENCE + [True]          # the first call sees a change (from ``wrong``)
    assert rule.converged and rule.summary(300)["stopped_by"] == "predictions settled"
    fixed = Convergence(tol=None, window=10)           # a fixed schedule never stops early
    assert not any(fixed.settled(targets, targets) for _ in range(PREDICTION_PATIENCE + 3))
    # In a default fit the classifier ends there, well inside its budget, and reproduces its pseudo-labels.
    from sscn_core.data import make_subspaces

    X = make_subspaces(4, 2, 12, n_per_cluster=40, noise=0.05, seed=1).X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SSCNWarning)
        model = SSCN(n_clusters=4, seed=0).fit(X)
    report = model.fit_report()["convergence"]["classifier"]
    assert report["stopped_by"] == "predictions settled" and report["steps"] < report["budget"]
    assert model.agreement_ >= 0.99 and not model.warnings_
