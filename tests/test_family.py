"""The self-expression family (sscn_core.family) on hand-built cases, and block connectivity (sscn_core.metrics)."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from sscn_core import baselines, family
from sscn_core.data import make_subspace_bases, make_subspaces
from sscn_core.metrics import accuracy, block_connectivity, subspace_preserving_error


def lines_in_a_plane(k: int, n: int = 15, ambient: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """K lines through the origin of one plane of R^ambient (180°/K apart), unit-length points."""
    ds = make_subspaces(k, 1, ambient, n, 0.0, "dependent", None, seed)
    return family.unit_rows(ds.X).astype(np.float64), ds.y


def brute_force_ncut(w: np.ndarray, k: int) -> np.ndarray:
    """The labelling of all k^N that minimises the normalised cut Σ_a cut(A_a, rest)/vol(A_a) (no empty group)."""
    n = w.shape[0]
    labellings = np.array(list(itertools.product(range(k), repeat=n)))
    onehot = np.eye(k)[labellings]                                   # (L, N, k)
    within = np.einsum("lia,ij,lja->la", onehot, w, onehot)
    volume = np.einsum("lia,i->la", onehot, w.sum(axis=1))
    ok = (onehot.sum(axis=1) > 0).all(axis=1)
    ncut = np.where(ok, ((volume - within) / np.where(volume > 0, volume, 1)).sum(axis=1), np.inf)
    return labellings[int(np.argmin(ncut))]


# ---------------------------------------------------------------------------- acceptance cases
@pytest.mark.parametrize("k", [3, 4, 5])
def test_ssc_stays_on_dependent_but_disjoint_lines_where_edsc_mixes_them(k: int) -> None:
    x, y = lines_in_a_plane(k)
    ssc = subspace_preserving_error(family.ssc_coefficients(x), y)
    edsc = subspace_preserving_error(family.edsc_coefficients(x), y)
    assert edsc > 0.3                      # 4 lines × 15 points: 60 %
    assert ssc <= edsc / 10                # the acceptance bound; measured ≈ 0
    omp = subspace_preserving_error(family.ssc_omp_coefficients(x, n_nonzero=1), y)
    assert omp <= edsc / 10


def test_every_member_is_subspace_preserving_on_independent_subspaces() -> None:
    ds = make_subspaces(3, 2, 30, 20, 0.0, "independent", None, 0)
    x = family.unit_rows(ds.X)            # float32: LRR's rank tolerance follows the data's precision
    errors = {name: subspace_preserving_error(family.self_expression(name, x, params), ds.y)
              for name, params in [("edsc", {"lam": 1e6}), ("ssc", None), ("ssc_omp", {"n_nonzero": 2}),
                                   ("ensc", None), ("lrr", None)]}
    assert max(errors.values()) < 1e-3, errors


def test_edsc_leaks_on_independent_subspaces_only_through_finite_lambda() -> None:
    ds = make_subspaces(3, 2, 30, 20, 0.0, "independent", None, 0)
    x = family.unit_rows(ds.X)
    err = [subspace_preserving_error(family.edsc_coefficients(x, lam), ds.y) for lam in (1.0, 100.0, 1e4)]
    assert err[0] > err[1] > err[2]


# ---------------------------------------------------------------------------- textbook coefficients
def tiny() -> tuple[np.ndarray, np.ndarray]:
    """3 independent planes in R^8, 5 points each, drawn in float64 (exact up to rounding), unit length."""
    bases = make_subspace_bases(3, 2, 8, "independent", None, 3)
    rng = np.random.default_rng(3)
    x = np.vstack([(u @ rng.standard_normal((2, 5))).T for u in bases])
    return family.unit_rows(x), np.repeat(np.arange(3), 5)


def test_lrr_is_the_shape_interaction_matrix_and_edsc_its_formula() -> None:
    x, _ = tiny()
    np.testing.assert_allclose(family.lrr_coefficients(x), x @ np.linalg.pinv(x, rcond=1e-10), atol=1e-10)
    lam = 3.0
    g = x @ x.T
    np.testing.assert_allclose(family.edsc_coefficients(x, lam), lam * np.linalg.solve(np.eye(len(x)) + lam * g, g),
                               atol=1e-10)
    # LRR with τ: singular values shrunk by 1 − 1/(τ s²), those at or below 1/√τ dropped.
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    tau = 4.0 / s[2] ** 2
    keep = s > 1 / np.sqrt(tau)
    expected = (u[:, keep] * (1 - 1 / (tau * s[keep] ** 2))) @ u[:, keep].T
    np.testing.assert_allclose(family.lrr_coefficients(x, tau=tau), expected, atol=1e-10)


def _objective(c: np.ndarray, a: np.ndarray, y: np.ndarray, alpha: float, l1_ratio: float) -> float:
    r = y - a @ c
    return r @ r / (2 * len(y)) + alpha * l1_ratio * np.abs(c).sum() + alpha * (1 - l1_ratio) / 2 * c @ c


@pytest.mark.parametrize("name,l1_ratio", [("ssc", 1.0), ("ensc", 0.5)])
def test_sparse_rows_solve_their_convex_problem(name: str, l1_ratio: float) -> None:
    """Each row against a generic solver (L-BFGS-B on c = p − n, p, n ≥ 0) of the documented objective."""
    x, _ = tiny()
    c = family.ssc_coefficients(x) if name == "ssc" else family.ensc_coefficients(x, l1_ratio=l1_ratio)
    off = np.abs(x @ x.T)
    np.fill_diagonal(off, 0)
    alpha = off.max(axis=1).min() / (20.0 * x.shape[1])
    for j in (0, 7):
        others = np.r_[0:j, j + 1:len(x)]
        a, y = x[others].T, x[j]
        m = len(others)

        def split(v: np.ndarray) -> tuple[float, np.ndarray]:
            p, n = v[:m], v[m:]
            r = y - a @ (p - n)
            f = r @ r / (2 * len(y)) + alpha * l1_ratio * v.sum() + alpha * (1 - l1_ratio) / 2 * (p - n) @ (p - n)
            g_c = -a.T @ r / len(y) + alpha * (1 - l1_ratio) * (p - n)
            return f, np.concatenate([g_c + alpha * l1_ratio, -g_c + alpha * l1_ratio])

        ref = minimize(split, np.zeros(2 * m), jac=True, method="L-BFGS-B", bounds=[(0, None)] * (2 * m),
                       options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20000})
        ours = _objective(c[j, others], a, y, alpha, l1_ratio)
        theirs = _objective(ref.x[:m] - ref.x[m:], a, y, alpha, l1_ratio)
        assert c[j, j] == 0
        assert ours <= theirs * (1 + 1e-4)       # coordinate descent stops at a relative duality gap of 1e-4


def test_omp_with_one_atom_picks_the_best_single_point() -> None:
    x, _ = tiny()
    c = family.ssc_omp_coefficients(x, n_nonzero=1)
    for j in range(len(x)):
        scores = np.abs(x @ x[j])
        scores[j] = -1
        best = int(np.argmax(scores))                               # unit rows: the smallest residual
        assert np.flatnonzero(c[j]).tolist() == [best]
        assert c[j, best] == pytest.approx(x[best] @ x[j])


# ---------------------------------------------------------------------------- labels
@pytest.mark.parametrize("method", list(family.METHODS))
def test_labels_match_the_brute_force_normalised_cut_on_independent_lines(method: str) -> None:
    """3 independent lines in R^3, 3 points each: every C is block-diagonal, so the best normalised cut
    of |C| + |C|ᵀ over all 3^9 labellings is the three lines, and the post-processing finds it."""
    ds = make_subspaces(3, 1, 3, 3, 0.0, "independent", None, 2)
    x = family.unit_rows(ds.X)
    params = {"n_nonzero": 1} if method == "ssc_omp" else None
    fit = family.cluster(method, x, 3, 1, params, y=ds.y)
    w = np.abs(fit.C) + np.abs(fit.C).T
    np.fill_diagonal(w, 0)
    best = brute_force_ncut(w, 3)
    assert accuracy(best, ds.y) == 1.0
    assert accuracy(fit.labels, best) == 1.0


def test_ssc_labels_on_lines_in_a_plane_match_the_brute_force_cut() -> None:
    x, y = lines_in_a_plane(3, n=3, ambient=3, seed=1)
    fit = family.cluster("ssc", x, 3, 1, y=y)
    w = np.abs(fit.C) + np.abs(fit.C).T
    np.fill_diagonal(w, 0)
    assert accuracy(brute_force_ncut(w, 3), y) == 1.0
    assert fit.acc == 1.0 and fit.sp_error < 1e-6


def test_absolute_false_is_the_edsc_baseline() -> None:
    ds = make_subspaces(3, 2, 10, 15, 0.05, "independent", None, 0)
    fit = family.cluster("edsc", ds.X, 3, 2, {"lam": 2.0}, rho=0.1, absolute=False)
    np.testing.assert_array_equal(fit.labels, baselines.edsc_labels(ds.X, 3, 2, 2.0, rho=0.1))


# ---------------------------------------------------------------------------- memory, parameters, rows
def test_memory_above_the_budget_is_refused_with_the_largest_sample_that_fits() -> None:
    with pytest.raises(family.FamilyError, match=r"SSC \(ℓ1\) on 100,000 points .* GiB .* at most [\d,]+ points"):
        family.check_memory("ssc", 100_000, 784)
    m = family.METHODS["ssc"]
    cap = m.max_points(784, family.DEFAULT_MEMORY_BUDGET)
    assert m.memory_bytes(cap, 784) <= family.DEFAULT_MEMORY_BUDGET < m.memory_bytes(cap + 1, 784)
    x, _ = tiny()
    with pytest.raises(family.FamilyError, match="budget"):
        family.self_expression("lrr", x, memory_budget=1000)


def test_bad_names_and_parameters_are_clear() -> None:
    x, y = tiny()
    with pytest.raises(family.FamilyError, match="unknown method 'sparse'"):
        family.self_expression("sparse", x)
    with pytest.raises(family.FamilyError, match="no parameter lam"):
        family.self_expression("ssc", x, {"lam": 1.0})
    with pytest.raises(family.FamilyError, match="alpha_z must be a finite number > 1"):
        family.ssc_coefficients(x, alpha_z=0.5)
    with pytest.raises(family.FamilyError, match="l1_ratio"):
        family.ensc_coefficients(x, l1_ratio=0.0)
    with pytest.raises(family.FamilyError, match="X must be 2-D"):
        family.self_expression("edsc", x[0])


def test_benchmark_rows_time_memory_and_skips() -> None:
    ds = make_subspaces(3, 2, 12, 10, 0.02, "independent", None, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # no solver warnings on ordinary data
        rows = family.benchmark_rows(ds.X, ds.y, 3, 2)
    assert [r["method"] for r in rows] == list(family.METHODS)
    for r in rows:
        assert r["status"] == "ok" and r["n"] == 30 and r["feature_dim"] == 12
        assert r["seconds"] >= r["coefficient_seconds"] > 0
        assert r["peak_growth_bytes"] >= 0 and r["memory_estimate_bytes"] > 0
        assert 0 <= r["acc"] <= 1 and 0 <= r["sp_error"] <= 1 and r["max_components"] >= 1
    small = family.benchmark_rows(ds.X, ds.y, 3, 2, methods=["edsc"], memory_budget=10_000)
    assert small[0]["status"].startswith("skipped: EDSC / SSCN (ℓ2) on 30 points")


# ---------------------------------------------------------------------------- block connectivity
def test_block_connectivity_counts_components_and_the_fiedler_value() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    q = np.zeros((7, 7))
    q[:4, :4] = 1.0                                       # cluster 0: complete graph on 4 points
    q[4, 5] = 0.5                                          # cluster 1: an edge and an isolated point
    q[0, 6] = 9.0                                          # across clusters: ignored
    conn = block_connectivity(q, y)
    assert conn.components.tolist() == [1, 2]
    assert conn.algebraic[0] == pytest.approx(4 / 3)       # normalised Laplacian of K_n: n/(n−1)
    assert conn.algebraic[1] == 0.0
    path = np.diag(np.ones(3), 1)                          # a path of 4 points: connected, weakly
    assert block_connectivity(path, np.zeros(4, int)).algebraic[0] == pytest.approx(0.5)


def _ssc_objective(x: np.ndarray, c: np.ndarray, alpha_z: float = 20.0) -> float:
    gram = x @ x.T
    np.fill_diagonal(gram, 0.0)
    mu = np.abs(gram).max(axis=1).min()
    return 0.5 * float(((x - c @ x) ** 2).sum()) + mu / alpha_z * float(np.abs(c).sum())


def test_local_ssc_solves_sscs_problem_and_keeps_to_its_neighbours() -> None:
    ds = make_subspaces(3, 4, 30, 40, 0.01, "independent", None, 0)
    x = family.unit_rows(ds.X).astype(np.float64)
    full = family.ssc_coefficients(x, max_iter=100_000)
    every = family.local_ssc_coefficients(x, neighbours=len(x))         # the whole dictionary: SSC's own problem
    assert np.all(np.diag(every) == 0)
    assert _ssc_objective(x, every) <= _ssc_objective(x, full) * (1 + 1e-3)
    few = family.local_ssc_coefficients(x, neighbours=10)
    assert np.all((np.abs(few) > 0).sum(axis=1) <= 10) and np.all(np.diag(few) == 0)
    gram = np.abs(x @ x.T)
    np.fill_diagonal(gram, -1.0)
    allowed = np.argsort(-gram, axis=1)[:, :10]
    for j in range(len(x)):                                  # only the 10 most correlated points may be used
        assert set(np.flatnonzero(few[j])) <= set(allowed[j])
    assert accuracy(ds.y, family.spectral_pseudo_labels(np.abs(few), 3, 4, rho=1.0)) == 1.0


def test_local_ssc_refuses_what_it_cannot_solve() -> None:
    with pytest.raises(family.FamilyError, match="too small"):
        family.local_ssc_coefficients(np.ones((1, 4)))
    x = np.eye(4)                                            # every point orthogonal to the others
    with pytest.raises(family.FamilyError, match="orthogonal"):
        family.local_ssc_coefficients(x)
    with pytest.raises(family.FamilyError):
        family.local_ssc_coefficients(np.ones((3, 4)), neighbours=0)
