"""Tests for sscn_core.theory: closed forms, principal angles, independence, diagnostics, Theorem 1 live."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sscn_core import SSCN
from sscn_core.data import make_subspace_bases, make_subspaces
from sscn_core.metrics import accuracy, subspace_preserving_error
from sscn_core.theory import (Diagnostics, TheoryError, diagnose, edsc_closed_form, effective_dimension,
                              independence_report, numerical_rank, principal_angles, q_diagnostics, relative_error,
                              singular_spectrum, stratified_sample, subspace_basis, theorem1_solution)


def linear_sscn_loss(X: np.ndarray, W: np.ndarray, lam: float) -> float:
    """½‖Q‖² + λ/2‖X − QX‖² with Q = X WᵀW Xᵀ (linear SSCN, sum reductions)."""
    H = X @ W.T
    Q = H @ H.T
    return 0.5 * float((Q ** 2).sum()) + 0.5 * lam * float(((X - Q @ X) ** 2).sum())


# ---------------------------------------------------------------------------- EDSC and Theorem 1
@pytest.mark.parametrize("shape", [(12, 5), (6, 9)])
def test_edsc_closed_form_matches_the_direct_formula(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal(shape)
    lam = 0.7
    G = X @ X.T
    direct = lam * np.linalg.inv(np.eye(shape[0]) + lam * G) @ G
    C = edsc_closed_form(X, lam)
    assert C.shape == (shape[0], shape[0])
    np.testing.assert_allclose(C, direct, atol=1e-12)
    # and it is the minimiser: the gradient C − λ(X − CX)Xᵀ vanishes
    np.testing.assert_allclose(C - lam * (X - C @ X) @ X.T, 0.0, atol=1e-10)


def test_theorem1_solution_reaches_edsc_and_is_a_minimum() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 4)) @ rng.standard_normal((4, 10))  # N=20, D=10, rank 4
    lam = 2.5
    W, Q = theorem1_solution(X, lam, d_h=6)
    assert W.shape == (6, 10)
    np.testing.assert_array_equal(W[4:], 0.0)                          # padded with zero rows past rank 4
    np.testing.assert_allclose(Q, edsc_closed_form(X, lam), atol=1e-10)
    np.testing.assert_allclose(Q, X @ W.T @ W @ X.T, atol=1e-10)
    O, _ = np.linalg.qr(rng.standard_normal((6, 6)))                   # any orthogonal left factor
    np.testing.assert_allclose(X @ (O @ W).T @ (O @ W) @ X.T, Q, atol=1e-10)
    best = linear_sscn_loss(X, W, lam)
    for _ in range(20):
        assert linear_sscn_loss(X, W + 1e-3 * rng.standard_normal(W.shape), lam) > best


def test_theorem1_refuses_too_small_d_h_and_truncates_on_request() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((15, 6))
    with pytest.raises(ValueError, match=r"d_H ≥ rank\(X\).*d_H = 4 < rank\(X\) = 6"):
        theorem1_solution(X, 1.0, d_h=4)
    W, Q = theorem1_solution(X, 1.0, d_h=4, truncate=True)
    assert np.linalg.matrix_rank(Q) == 4
    u, s, _ = np.linalg.svd(X, full_matrices=False)
    f = s[:4] ** 2 / (1 + s[:4] ** 2)
    np.testing.assert_allclose(Q, (u[:, :4] * f) @ u[:, :4].T, atol=1e-10)
    best = linear_sscn_loss(X, W, 1.0)
    for _ in range(20):                                                # no rank-4 W does better nearby or at random
        assert linear_sscn_loss(X, W + 1e-3 * rng.standard_normal(W.shape), 1.0) > best
        assert linear_sscn_loss(X, 0.3 * rng.standard_normal(W.shape), 1.0) > best


def test_theorem1_rejects_bad_arguments() -> None:
    X = np.ones((4, 3))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(TheoryError, match="d_h"):
            theorem1_solution(X, 1.0, bad)
    for lam in (0.0, -1.0, float("nan")):
        with pytest.raises(TheoryError, match="lam"):
            edsc_closed_form(X, lam)
    with pytest.raises(TheoryError, match="NaN"):
        edsc_closed_form(np.array([[1.0, np.nan]]), 1.0)
    with pytest.raises(TheoryError, match="2-D"):
        edsc_closed_form(np.ones(3), 1.0)


def test_relative_error() -> None:
    Q = np.eye(3)
    assert relative_error(Q, Q) == 0.0
    assert relative_error(2 * Q, Q) == pytest.approx(1.0)
    with pytest.raises(TheoryError, match="same shape"):
        relative_error(np.eye(2), Q)
    with pytest.raises(TheoryError, match="all zeros"):
        relative_error(Q, np.zeros((3, 3)))


# ---------------------------------------------------------------------------- angles, spectra, bases
def hand_built_pair() -> tuple[np.ndarray, np.ndarray]:
    """A = span(e1, e2, e3); B tilted from it by 30°, 60° and 90° in R^6."""
    e = np.eye(6)
    A = e[:, :3]
    c30, s30, c60, s60 = np.cos(np.pi / 6), np.sin(np.pi / 6), np.cos(np.pi / 3), np.sin(np.pi / 3)
    B = np.stack([c30 * e[:, 0] + s30 * e[:, 3], c60 * e[:, 1] + s60 * e[:, 4], e[:, 5]], axis=1)
    return A, B


def test_principal_angles_hand_built_case() -> None:
    A, B = hand_built_pair()
    np.testing.assert_allclose(principal_angles(A, B), [30.0, 60.0, 90.0], atol=1e-10)
    np.testing.assert_allclose(principal_angles(B, A), [30.0, 60.0, 90.0], atol=1e-10)
    # any spanning set works: mix and scale the columns, add a redundant one
    mix = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 0.5]])
    B2 = np.hstack([B @ mix, B[:, :1] + B[:, 1:2]])
    np.testing.assert_allclose(principal_angles(5 * A, B2), [30.0, 60.0, 90.0], atol=1e-10)
    # different dimensions: min(p, q) angles
    np.testing.assert_allclose(principal_angles(A, B[:, 1:2]), [60.0], atol=1e-10)


def test_principal_angles_are_accurate_near_zero() -> None:
    e = np.eye(3)
    tiny = 1e-9  # radians; arccos alone would return 0 (or 1e-6° noise)
    B = (np.cos(tiny) * e[:, 0] + np.sin(tiny) * e[:, 2])[:, None]
    angle = principal_angles(e[:, :2], B)
    np.testing.assert_allclose(angle, [np.degrees(tiny)], rtol=1e-6)
    with pytest.raises(TheoryError, match="same space"):
        principal_angles(np.eye(3)[:, :1], np.eye(4)[:, :1])
    with pytest.raises(TheoryError, match="zero vector"):
        principal_angles(np.zeros((3, 1)), np.eye(3)[:, :1])


def test_effective_dimension_definition() -> None:
    s = np.array([3.0, 2.0, 1.0])  # energies 9, 4, 1 of 14: cumulative 64 %, 93 %, 100 %
    assert effective_dimension(s, 0.5) == 1
    assert effective_dimension(s, 0.9) == 2
    assert effective_dimension(s, 0.95) == 3
    assert effective_dimension(s, 1.0) == 3
    assert effective_dimension(s[::-1], 0.9) == 2      # order does not matter
    assert effective_dimension(np.zeros(4)) == 0
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(TheoryError, match="energy"):
            effective_dimension(s, bad)


def test_spectrum_and_basis_recover_a_subspace() -> None:
    rng = np.random.default_rng(4)
    U = np.linalg.qr(rng.standard_normal((20, 3)))[0]
    pts = (U @ rng.standard_normal((3, 200))).T
    s = singular_spectrum(pts)
    np.testing.assert_allclose(s[:3], np.linalg.svd(pts, compute_uv=False)[:3], rtol=1e-10)
    assert numerical_rank(s, 1e-6) == 3
    assert effective_dimension(s, 0.999) == 3
    basis = subspace_basis(pts)
    assert basis.shape == (20, 3)
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-10)
    assert principal_angles(basis, U).max() < 1e-5
    assert subspace_basis(pts, dim=2).shape == (20, 2)
    with pytest.raises(TheoryError, match="dim=30"):
        subspace_basis(pts, dim=30)


def test_numerical_rank_default_tolerance() -> None:
    assert numerical_rank([1.0, 1e-3, 1e-20]) == 2
    assert numerical_rank([1.0, 1e-3], rtol=0.01) == 1
    assert numerical_rank([0.0, 0.0]) == 0
    with pytest.raises(TheoryError, match="rtol"):
        numerical_rank([1.0], rtol=2.0)


# ---------------------------------------------------------------------------- independence
def test_independence_report_verdicts() -> None:
    ind = independence_report(make_subspace_bases(5, 3, 30, "independent"))
    assert (ind.verdict, ind.independent, ind.union_rank, ind.sum_dims, ind.deficit) == ("independent", True, 15, 15, 0)
    assert ind.dims == (3,) * 5 and ind.min_angle_deg > 1.0
    lines = independence_report(make_subspace_bases(5, 1, 30, "dependent"))       # 5 lines in a plane
    assert (lines.verdict, lines.union_rank, lines.sum_dims) == ("dependent by 3 dims", 2, 5)
    assert lines.min_angle_deg == pytest.approx(36.0)                              # 180°/5 apart
    over = independence_report(make_subspace_bases(4, 3, 30, "overlapping"))
    assert over.verdict == f"dependent by {over.deficit} dims" and over.deficit > 0
    assert over.min_angle_deg == pytest.approx(0.0, abs=1e-6)                      # they share a direction
    tilted = independence_report(make_subspace_bases(3, 2, 30, "independent", angle_deg=30.0))
    assert tilted.verdict == "independent" and tilted.min_angle_deg == pytest.approx(30.0)
    json.dumps(lines.to_dict())


def test_independence_report_from_points() -> None:
    ds = make_subspaces(4, 2, 20, 30, relation="independent")
    for report in (independence_report(X=ds.X, labels=ds.y), independence_report((ds.X, ds.y))):
        assert report.verdict == "independent" and report.dims == (2, 2, 2, 2)
    lines = make_subspaces(4, 1, 10, 30, relation="dependent")
    assert independence_report((lines.X, lines.y)).verdict == "dependent by 2 dims"
    with pytest.raises(TheoryError, match="either"):
        independence_report()
    with pytest.raises(TheoryError, match="labels"):
        independence_report(X=ds.X)
    with pytest.raises(TheoryError, match="one label per row"):
        independence_report(X=ds.X, labels=ds.y[:-1])
    with pytest.raises(TheoryError, match="same number of rows"):
        independence_report([np.eye(3)[:, :1], np.eye(4)[:, :1]])


# ---------------------------------------------------------------------------- diagnose
def test_diagnose_independent_vs_dependent() -> None:
    ind = make_subspaces(5, 3, 30, 40, relation="independent")
    dep = make_subspaces(5, 1, 30, 40, relation="dependent")
    d_ind = diagnose(ind.X, ind.y, edsc_closed_form(ind.X, 2.0))
    d_dep = diagnose(dep.X, dep.y, edsc_closed_form(dep.X, 2.0))
    assert d_ind.effective_dims == [3] * 5 and d_ind.union_rank == 15
    assert d_ind.independence_ratio == 1.0 and d_ind.verdict == "independent"
    assert d_dep.effective_dims == [1] * 5 and d_dep.union_rank == 2
    assert d_dep.independence_ratio == 2.5 and d_dep.verdict == "dependent by 3 dims"
    assert d_ind.sp_error < 0.1 < 0.5 < d_dep.sp_error                   # leakage when independence fails
    assert d_ind.leakage.shape == (5, 5)
    np.testing.assert_allclose(d_ind.leakage.sum(axis=1), 1.0)
    assert np.trace(d_ind.leakage) > 4.5 and np.trace(d_dep.leakage) < 2.5
    angles = d_dep.smallest_angles
    np.testing.assert_allclose(np.diag(angles), 0.0)
    np.testing.assert_allclose(angles, angles.T)
    assert np.sort(angles[np.triu_indices(5, 1)])[0] == pytest.approx(36.0, abs=1e-6)


def test_diagnose_subsamples_and_handles_empty_clusters() -> None:
    ds = make_subspaces(3, 2, 12, 300, relation="independent")
    y = ds.y.copy()
    d = diagnose(ds.X, y, n_clusters=4, max_points=90, space="Z", label_kind="predicted clusters")
    assert d.n_points == [300, 300, 300, 0] and d.n_used == [30, 30, 30, 0]
    assert d.effective_dims == [2, 2, 2, 0] and d.spectra[3].size == 0
    assert np.isnan(d.smallest_angles[3]).all() and not np.isnan(d.smallest_angles[:3, :3]).any()
    assert d.sp_error is None and d.leakage is None
    payload = json.loads(d.to_json())
    assert payload["space"] == "Z" and payload["smallest_angles_deg"][3][0] is None
    tables = d.to_csv_tables()
    assert set(tables) == {"summary", "clusters", "spectra", "smallest_angles"}
    rows = list(csv.reader(io.StringIO(tables["clusters"])))
    assert rows[0] == ["cluster", "n_points", "n_used", "effective_dim"] and rows[4] == ["3", "0", "0", "0"]
    spectra = list(csv.reader(io.StringIO(tables["spectra"])))
    assert len(spectra) == 1 + 3 * 12 and float(spectra[-1][3]) == pytest.approx(1.0)
    idx = stratified_sample(y, 90)
    assert idx.size == 90 and np.all(np.diff(idx) > 0)


def test_diagnose_with_q_adds_leakage_tables_and_checks_shapes() -> None:
    ds = make_subspaces(3, 2, 12, 20, relation="independent")
    d = diagnose(ds.X, ds.y + 7, edsc_closed_form(ds.X, 1.0))   # any label values
    assert isinstance(d, Diagnostics) and d.clusters == [7, 8, 9]
    assert "leakage" in d.to_csv_tables()
    assert d.sp_error == pytest.approx(subspace_preserving_error(edsc_closed_form(ds.X, 1.0), ds.y))
    with pytest.raises(TheoryError, match=r"\(60, 60\)"):
        diagnose(ds.X, ds.y, np.eye(5))
    with pytest.raises(TheoryError, match="n_clusters=2"):
        diagnose(ds.X, ds.y, n_clusters=2)


def test_diagnose_handles_mnist_sized_inputs() -> None:
    from sscn_core import load_dataset

    mnist = load_dataset("mnist")                          # 10k × 784, bundled
    with threadpool_limits(1):                              # 2 BLAS threads on 2 busy cores spin for ages
        d = diagnose(mnist.X, mnist.y)                      # subsampled per cluster: about a second
    assert sum(d.n_used) == 5000 and d.n_points == np.bincount(mnist.y).tolist()
    assert all(10 < k < 120 for k in d.effective_dims)      # digits need tens of pixel-space directions
    assert d.independence_ratio > 1.0 and d.verdict.startswith("dependent")


# ---------------------------------------------------------------------------- Theorem 1, trained
def train_linear(ds, K: int, q: int, epochs: int, lam: float = 1.0) -> tuple[SSCN, list[float], np.ndarray]:
    X = ds.X
    _, q_star = theorem1_solution(X, lam, K * q)
    errors: list[float] = []

    def record(event) -> None:
        if event.kind == "step" and event.phase == "self_expression" and event.step % 100 == 0:
            errors.append(relative_error(event.model.affinity(X), q_star))

    model = SSCN(n_clusters=K, subspace_dim=q, autoencoder=None, batch_size=len(X), epochs=epochs, lr=0.1,
                 h_init="random", schedule="epochs", normalize="none",
                 lambda1=lam, lambda2=0.0, lambda_scale=1.0, rho=0.5, classifier_batch_size=len(X), classifier_epochs=10, device="cpu",
                 seed=0)
    model.fit(X, callback=record)
    return model, errors, q_star


def test_linear_sscn_learns_the_closed_form_on_independent_subspaces() -> None:
    ds = make_subspaces(3, 2, 12, 20, relation="independent", seed=0)
    model, errors, q_star = train_linear(ds, 3, 2, epochs=800)
    assert errors[-1] < 0.05 and errors[-1] < errors[0]
    assert relative_error(model.affinity(ds.X), q_star) < 0.05
    assert accuracy(ds.y, model.labels_) == 1.0


def test_linear_sscn_on_lines_in_a_plane_leaks() -> None:
    ind = make_subspaces(3, 2, 12, 20, relation="independent", seed=0)
    dep = make_subspaces(4, 1, 12, 30, relation="dependent", seed=0)
    m_ind, _, _ = train_linear(ind, 3, 2, epochs=400)
    m_dep, errors, q_star = train_linear(dep, 4, 1, epochs=400)
    assert independence_report((dep.X, dep.y)).verdict.startswith("dependent")
    assert errors[-1] < 0.05                     # Theorem 1 still holds: Q reaches Q* …
    sp_ind = subspace_preserving_error(m_ind.affinity(ind.X), ind.y)
    sp_dep = subspace_preserving_error(m_dep.affinity(dep.X), dep.y)
    assert sp_dep > 0.5 > 0.2 > sp_ind           # … but Q* itself mixes the lines
    # Whatever the post-processing makes of that Q (lines at distinct angles may still be told apart), the
    # classifier reproduces it: the clusters are the spectral step's, not a classifier's failure.
    assert np.array_equal(m_dep.labels_, m_dep.pseudo_labels_)


def test_q_diagnostics_orders_clusters_and_rejects_strangers() -> None:
    Q = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 1.0]])
    labels = np.array([5, 5, 9])
    err, leak = q_diagnostics(Q, labels)
    assert err == pytest.approx(0.5 / 1.5)                   # off-diagonal mass: 1.0 within, 0.5 across
    np.testing.assert_allclose(leak, [[0.8, 0.2], [1.0, 0.0]])   # cluster 5: 1.0 inside, 0.25 to 9
    _, leak3 = q_diagnostics(Q, labels, clusters=[9, 5, 7])  # fixed order, an empty cluster
    np.testing.assert_allclose(leak3, [[0.0, 1.0, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 0.0]])
    with pytest.raises(TheoryError, match=r"labels \[9\]"):
        q_diagnostics(Q, labels, clusters=[5])
    with pytest.raises(TheoryError, match=r"\(3, 3\)"):
        q_diagnostics(np.eye(2), labels)
