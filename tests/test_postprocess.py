"""Post-processing: column thresholding against a naive reference, the affinity, spectral pseudo-labels."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.cluster import spectral_clustering

from sscn_core import postprocess
from sscn_core.metrics import accuracy
from sscn_core.postprocess import (PostprocessError, affinity_from_coefficients, spectral_pseudo_labels,
                                   threshold_columns, well_clustered_ratio)


# ---------------------------------------------------------------------------- references and data
def naive_threshold(C: np.ndarray, rho: float) -> np.ndarray:
    """Column by column, literally as the notes say: stable descending sort of |C[:, j]|, keep up to
    and including the first entry where the cumulative sum exceeds rho·L1 (everything if none does)."""
    out = np.zeros_like(C)
    for j in range(C.shape[1]):
        column = C[:, j]
        mags = np.abs(column).astype(np.float64)
        order = np.argsort(-mags, kind="stable")
        cumulative = np.cumsum(mags[order])
        exceeded = np.flatnonzero(cumulative > rho * mags.sum())
        last = exceeded[0] if exceeded.size else column.size - 1
        keep = order[:last + 1]
        out[keep, j] = column[keep]
    return out


def block_matrix(sizes: list[int], noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy block-diagonal self-expression matrix: random positive entries inside blocks, small
    noise outside, rows and columns randomly permuted. Returns (Q, labels)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    same = y[:, None] == y[None, :]
    q = np.where(same, rng.uniform(0.5, 1.0, size=same.shape), noise * rng.normal(size=same.shape))
    perm = rng.permutation(y.size)
    return q[np.ix_(perm, perm)], y[perm]


def subspace_q(n_per: int, k: int, q: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Q = H Hᵀ for H whose clusters live in disjoint q-dimensional coordinate blocks, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n_per)
    h = np.zeros((y.size, k * q))
    for c in range(k):
        h[y == c, c * q:(c + 1) * q] = rng.normal(size=(n_per, q))
    h += noise * rng.normal(size=h.shape)
    perm = rng.permutation(y.size)
    h, y = h[perm], y[perm]
    return h @ h.T, y


# ---------------------------------------------------------------------------- threshold_columns
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rho", [0.01, 0.1, 0.3, 0.5, 0.9, 1.0])
def test_threshold_matches_the_naive_reference(dtype: type, rho: float) -> None:
    rng = np.random.default_rng(int(rho * 1000))
    for trial in range(12):
        n = int(rng.integers(1, 70))
        if trial % 2:
            c = rng.normal(size=(n, n)) * (rng.random((n, n)) < 0.7)   # signs and exact zeros
        else:
            c = rng.integers(-4, 5, size=(n, n)).astype(float)       # many ties, exact sums
        if n > 2 and trial % 3 == 0:
            c[:, 1] = 0.0                                             # a zero column
        c = c.astype(dtype)
        got = threshold_columns(c, rho)
        assert got.format == "csc" and got.shape == (n, n) and got.dtype == dtype
        np.testing.assert_array_equal(got.toarray(), naive_threshold(c, rho))


def test_threshold_with_columns_needing_many_entries() -> None:
    # Flat columns with rho = 0.9 keep ~90% of 1500 entries: far beyond the first top-k guess.
    rng = np.random.default_rng(7)
    c = rng.uniform(1.0, 1.1, size=(1500, 1500)) * rng.choice([-1.0, 1.0], size=(1500, 1500))
    c[:, :700] = rng.normal(size=(1500, 700)) ** 3                    # and some peaked columns
    for rho in (0.1, 0.9):
        np.testing.assert_array_equal(threshold_columns(c, rho).toarray(), naive_threshold(c, rho))


def test_threshold_known_column_signs_and_ties() -> None:
    c = np.array([[3.0, 1.0], [-1.0, 1.0], [-2.0, 1.0], [0.5, 1.0]])
    out = threshold_columns(c, 0.5).toarray()
    # Column 0: L1 = 6.5, 0.5·L1 = 3.25; 3 (cum 3) then −2 (cum 5 > 3.25): keep 3 and −2 with signs.
    np.testing.assert_array_equal(out[:, 0], [3.0, 0.0, -2.0, 0.0])
    # Column 1: four equal entries, 0.5·L1 = 2: cum 1, 2, 3 > 2 → three kept, lowest rows first.
    np.testing.assert_array_equal(out[:, 1], [1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(threshold_columns(c, 0.01).toarray()[:, 0], [3.0, 0, 0, 0])
    assert threshold_columns(np.zeros((3, 3)), 0.1).nnz == 0
    rect = np.random.default_rng(0).normal(size=(7, 30))                      # any 2-D shape works
    assert threshold_columns(rect, 0.3).shape == (7, 30)
    np.testing.assert_array_equal(threshold_columns(rect, 0.3).toarray(), naive_threshold(rect, 0.3))
    np.testing.assert_array_equal(threshold_columns(c, 1.0).toarray(), c)  # ρ = 1 keeps every nonzero


def test_threshold_accepts_torch_and_is_deterministic() -> None:
    rng = np.random.default_rng(3)
    c = rng.integers(-3, 4, size=(40, 40)).astype(np.float32)
    from_numpy = threshold_columns(c, 0.2).toarray()
    from_torch = threshold_columns(torch.from_numpy(c), 0.2).toarray()
    np.testing.assert_array_equal(from_numpy, from_torch)
    np.testing.assert_array_equal(from_numpy, threshold_columns(c.copy(), 0.2).toarray())
    ints = threshold_columns(c.astype(np.int64), 0.2)  # integer input is read as float64
    assert ints.dtype == np.float64 and np.array_equal(ints.toarray(), from_numpy)


@pytest.mark.parametrize("rho", [0.0, -0.1, 1.5, float("nan"), True, "0.1"])
def test_threshold_rejects_bad_rho(rho: object) -> None:
    with pytest.raises(PostprocessError, match="rho"):
        threshold_columns(np.eye(3), rho)  # type: ignore[arg-type]


def test_threshold_rejects_bad_matrices() -> None:
    with pytest.raises(PostprocessError, match="2-D"):
        threshold_columns(np.ones(3))
    with pytest.raises(PostprocessError, match="empty"):
        threshold_columns(np.ones((0, 0)))
    bad = np.eye(3)
    bad[1, 2] = np.nan
    with pytest.raises(PostprocessError, match="NaN"):
        threshold_columns(bad)
    bad[1, 2] = np.inf
    with pytest.raises(PostprocessError, match="NaN or infinite"):
        threshold_columns(bad.astype(np.float32))
    with pytest.raises(PostprocessError, match="real"):
        threshold_columns(np.eye(3, dtype=complex))
    with pytest.raises(PostprocessError, match="numpy array or torch tensor"):
        threshold_columns([[1.0, 0.0], [0.0, 1.0]])
    from scipy import sparse
    with pytest.raises(PostprocessError, match="toarray"):
        threshold_columns(sparse.eye(3))
    assert issubclass(PostprocessError, ValueError)


# ---------------------------------------------------------------------------- spectral pseudo-labels
@pytest.mark.parametrize("sizes", [[60, 90, 45, 75], [400, 300, 350, 250]])  # dense path; iterative path (N > 1000)
def test_noisy_block_diagonal_matrix_gives_its_blocks(sizes: list[int]) -> None:
    q, y = block_matrix(sizes, noise=0.05, seed=len(sizes) + sizes[0])
    labels = spectral_pseudo_labels(q, n_clusters=len(sizes), subspace_dim=3)
    assert labels.shape == y.shape and labels.dtype == np.int64
    assert set(labels.tolist()) == set(range(len(sizes)))
    assert accuracy(y, labels) == 1.0


def test_disconnected_affinity_multiple_top_eigenvalue() -> None:
    # Exactly independent subspaces: the affinity splits into K components, the top eigenvalue of
    # the normalised affinity is 1 with multiplicity K (the case plain Lanczos gets wrong).
    q, y = subspace_q(n_per=240, k=5, q=3, noise=0.0, seed=1)  # N = 1200: the iterative eigensolver
    labels, affinity = spectral_pseudo_labels(q, 5, 3, return_affinity=True)
    assert np.all(affinity[y[:, None] != y[None, :]] == 0.0)
    assert accuracy(y, labels) == 1.0


@pytest.mark.parametrize("n_per", [150, 300])  # N = 750 (dense eigh) and 1500 (Chebyshev subspace iteration)
def test_agrees_with_sklearn_spectral_clustering(n_per: int) -> None:
    q, y = subspace_q(n_per=n_per, k=5, q=4, noise=0.35, seed=2)
    labels, affinity = spectral_pseudo_labels(q, 5, 4, seed=0, return_affinity=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn may warn that the graph is not fully connected
        reference = spectral_clustering(affinity.astype(np.float64), n_clusters=5, eigen_solver="arpack",
                                        assign_labels="discretize", random_state=0)
    assert accuracy(reference, labels) >= 0.99
    assert accuracy(y, labels) > 0.8  # and it is a meaningful clustering of this noisy data


def test_seeded_determinism_and_affinity_properties() -> None:
    q, _ = subspace_q(n_per=60, k=4, q=3, noise=0.3, seed=4)
    timings: dict[str, float] = {}
    a, aff_a = spectral_pseudo_labels(q, 4, 3, seed=5, return_affinity=True, timings=timings)
    b, aff_b = spectral_pseudo_labels(torch.from_numpy(q).float(), 4, 3, seed=5, return_affinity=True)
    c = spectral_pseudo_labels(q, 4, 3, seed=5)
    np.testing.assert_array_equal(a, c)
    assert accuracy(a, b) == 1.0  # float32 input: same clustering
    assert set(timings) == {"threshold", "symmetrize", "svd", "affinity", "spectral"}
    assert all(v >= 0 for v in timings.values())
    assert aff_a.dtype == np.float32 and aff_a.shape == (240, 240)
    np.testing.assert_array_equal(aff_a, aff_a.T)
    assert aff_a.min() >= 0.0 and aff_a.max() == pytest.approx(1.0)
    np.testing.assert_allclose(aff_a, affinity_from_coefficients(q, 4, 3, 0.1, 8.0), atol=1e-6)


def test_affinity_is_block_structured() -> None:
    q, y = block_matrix([30, 40, 50], noise=0.02, seed=9)
    aff = affinity_from_coefficients(q, 3, 2, rho=0.1, alpha=8.0)
    same = y[:, None] == y[None, :]
    assert aff[~same].max() < 1e-3 * aff[same].mean()


def test_single_cluster_and_tiny_inputs() -> None:
    q, _ = block_matrix([10], noise=0.0, seed=0)
    np.testing.assert_array_equal(spectral_pseudo_labels(q, 1, 2), np.zeros(10, dtype=np.int64))
    assert spectral_pseudo_labels(np.array([[1.0]]), 1, 1).tolist() == [0]
    labels = spectral_pseudo_labels(np.array([[1.0, 0.0], [0.0, 1.0]]), 2, 1)
    assert sorted(labels.tolist()) == [0, 1]


@pytest.mark.parametrize("kwargs, match", [
    ({"n_clusters": 0}, "n_clusters"), ({"n_clusters": 2.0}, "n_clusters"), ({"n_clusters": 11}, "cannot exceed"),
    ({"subspace_dim": 0}, "subspace_dim"), ({"alpha": 0.0}, "alpha"), ({"alpha": float("inf")}, "alpha"),
    ({"alpha": ()}, "alpha"), ({"alpha": (8.0, -1.0)}, "alpha"), ({"alpha": (8.0, True)}, "alpha"),
    ({"rho": 0.0}, "rho"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"),
])
def test_spectral_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    params = {"n_clusters": 2, "subspace_dim": 2, **kwargs}
    with pytest.raises(PostprocessError, match=match):
        spectral_pseudo_labels(np.eye(10), **params)


def test_spectral_rejects_bad_matrices() -> None:
    with pytest.raises(PostprocessError, match="square"):
        spectral_pseudo_labels(np.ones((4, 5)), 2, 1)
    bad = np.eye(4)
    bad[0, 0] = np.nan
    with pytest.raises(PostprocessError, match="NaN"):
        spectral_pseudo_labels(bad, 2, 1)


# ---------------------------------------------------------------------------- the choice of α
def test_well_clustered_ratio_reads_the_laplacian_eigenvalues() -> None:
    # μ = 1 − λ: (1 − 0.5) / (1 − 0.9) for K = 2
    assert well_clustered_ratio([1.0, 0.9, 0.5], 2) == pytest.approx(5.0)
    assert well_clustered_ratio([1.0, 1.0, 0.5], 2) == float("inf")   # exactly K components
    assert well_clustered_ratio([1.0, 1.0, 1.0], 2) == 1.0            # K + 1 components: no K-structure
    assert well_clustered_ratio([1.0, 0.8, 0.8], 2) == pytest.approx(1.0)
    with pytest.raises(PostprocessError, match="K \\+ 1"):
        well_clustered_ratio([1.0, 0.9], 2)


def test_the_chosen_power_is_the_best_clustered_and_gives_that_powers_labels() -> None:
    q, y = subspace_q(n_per=60, k=4, q=6, noise=0.3, seed=3)
    choice: dict = {}
    labels = spectral_pseudo_labels(q, 4, 6, alpha=(8.0, 5.0, 3.5), seed=0, variant="paper", choice=choice)
    ratios = choice["ratios"]
    assert set(ratios) == {8.0, 5.0, 3.5} and all(r >= 1.0 for r in ratios.values())
    assert choice["alpha"] == max(ratios, key=ratios.get)
    np.testing.assert_array_equal(labels, spectral_pseudo_labels(q, 4, 6, alpha=choice["alpha"], seed=0,
                                                                 variant="paper"))
    # One candidate is that power, with nothing compared.
    one: dict = {}
    np.testing.assert_array_equal(spectral_pseudo_labels(q, 4, 6, alpha=(5.0,), variant="paper", choice=one),
                                  spectral_pseudo_labels(q, 4, 6, alpha=5.0, variant="paper"))
    assert one == {"alpha": 5.0, "ratios": {}}


def test_ties_keep_the_first_power_and_components_need_no_choice() -> None:
    q, y = subspace_q(n_per=60, k=3, q=3, noise=0.0, seed=0)       # exactly independent: K components
    paper: dict = {}
    labels = spectral_pseudo_labels(q, 3, 3, alpha=(8.0, 3.5), variant="paper", choice=paper)
    assert paper["alpha"] == 8.0 and paper["ratios"] == {8.0: float("inf"), 3.5: float("inf")}
    assert accuracy(y, labels) == 1.0
    subspace: dict = {}
    labels = spectral_pseudo_labels(q, 3, 3, alpha=(8.0, 3.5), variant="subspace", choice=subspace)
    assert subspace == {"alpha": 8.0, "ratios": {}} and accuracy(y, labels) == 1.0


def test_a_power_that_splits_a_cluster_is_not_chosen() -> None:
    # Planes with 40 points each under the paper's variant: at α = 8 one plane's graph falls in two
    # (K + 1 components: ratio 1, nothing tells K from K + 1), at α = 3.5 each plane stays whole.
    q, y = subspace_q(n_per=40, k=3, q=2, noise=0.0, seed=0)
    choice: dict = {}
    labels = spectral_pseudo_labels(q, 3, 2, alpha=(8.0, 3.5), variant="paper", choice=choice)
    assert choice == {"alpha": 3.5, "ratios": {8.0: 1.0, 3.5: float("inf")}}
    assert accuracy(y, labels) == 1.0


def test_on_faces_the_choice_keeps_each_persons_subspace_together() -> None:
    """Faces under changing light fill a subspace each; at the paper's α = 8 their cosine graph
    falls apart into more pieces than people, and the spectral ratio sees it without labels."""
    from sscn_core import load_dataset
    from sscn_core.theory import edsc_closed_form
    ds = load_dataset("yaleb")
    keep = ds.y < 20
    x = ds.X[keep].reshape(int(keep.sum()), -1).astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = edsc_closed_form(x, 1.5)
    choice: dict = {}
    chosen = spectral_pseudo_labels(q, 20, 9, alpha=(8.0, 5.0, 3.5), seed=0, restarts=10, variant="subspace",
                                    choice=choice)
    paper = spectral_pseudo_labels(q, 20, 9, alpha=8.0, seed=0, restarts=10, variant="subspace")
    assert choice["alpha"] < 8.0, choice
    assert accuracy(ds.y[keep], chosen) > accuracy(ds.y[keep], paper) + 0.01     # 97.8 % against 96.0 %


# ---------------------------------------------------------------------------- the eigensolver
def test_chebyshev_subspace_iteration_finds_a_multiple_top_eigenvalue() -> None:
    rng = np.random.default_rng(0)
    n, k = 400, 4
    basis, _ = np.linalg.qr(rng.normal(size=(n, n)))
    values = np.concatenate([np.ones(k), [0.9995], rng.uniform(-1.0, 0.8, size=n - k - 1)])
    m = torch.from_numpy((basis * values) @ basis.T).float()
    theta, vectors, report = postprocess._top_eigenpairs(lambda x: m @ x, n, k, seed=0)
    np.testing.assert_allclose(theta.numpy(), np.ones(k), atol=1e-5)
    overlap = np.linalg.svd(basis[:, :k].T @ vectors.numpy(), compute_uv=False)
    assert overlap.min() > 1 - 1e-6  # the whole 4-dimensional eigenspace, not one vector of it
    assert report["status"] == "converged" and report["residual"] <= report["tolerance"]


def test_a_stalled_eigensolver_is_reported() -> None:
    """An operator known only to ±1e-5 (noise in every product) stalls above the 1e-5 tolerance."""
    rng = np.random.default_rng(1)
    n, k = 300, 3
    basis, _ = np.linalg.qr(rng.normal(size=(n, n)))
    m = torch.from_numpy((basis * np.concatenate([np.ones(k), rng.uniform(-1.0, 0.5, n - k)])) @ basis.T).float()
    noise = torch.Generator().manual_seed(0)
    _, _, report = postprocess._top_eigenpairs(lambda x: m @ x + 1e-5 * torch.randn(x.shape, generator=noise),
                                               n, k, seed=0)
    assert report["status"] == "stalled" and report["tolerance"] < report["residual"] <= 1e-3


def test_the_solver_report_reaches_the_caller() -> None:
    q, _ = block_matrix([400, 400, 400], noise=0.01, seed=0)
    solver: dict = {}
    spectral_pseudo_labels(q, 3, 3, seed=0, solver=solver)
    assert solver["method"] == "chebyshev" and solver["status"] in ("converged", "stalled")
    small: dict = {}
    spectral_pseudo_labels(q[:90, :90], 3, 3, seed=0, solver=small)
    assert small == {"method": "dense", "status": "converged"}


def test_refuses_an_affinity_that_cannot_fit_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tiny:
        available = 1000  # bytes
    monkeypatch.setattr(postprocess.psutil, "virtual_memory", lambda: Tiny())
    with pytest.raises(PostprocessError, match="subset"):
        spectral_pseudo_labels(np.eye(100), 2, 1)


# ---------------------------------------------------------------------------- memory of the pseudo-label phase
PEAK_SCRIPT = """
import re, sys, numpy as np, torch
torch.set_num_threads(1)
from sscn_core import postprocess as pp
def reset_peak():  # Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return peak()
def peak():
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", fh.read()).group(1)) * 1024
n, what = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
bases = [np.linalg.qr(rng.normal(size=(90, 9)))[0] for _ in range(10)]
h = torch.from_numpy(np.concatenate([rng.normal(size=(n // 10, 9)) @ b.T for b in bases]).astype(np.float32))
labels = np.repeat(np.arange(10), n // 10)
pp.spectral_pseudo_labels((h[:1200] @ h[:1200].T).numpy(), 10, 9, variant="subspace", restarts=2)  # warm up
if what == "phase":                        # what SSCN's pseudo-label phase holds: Q, then L from it
    base = reset_peak()
    Q = (h @ h.T).numpy()
    pp.spectral_pseudo_labels(Q, 10, 9, variant="subspace", restarts=2)
else:                                      # the spectral step and the cut on a given affinity
    L = torch.rand(n, n)
    base = reset_peak()
    pp._normalized_top_eigenvectors(L, 10, 0)
    pp.normalized_cut(L, labels, 10)
print(peak() - base)
"""


def measured_peak(n: int, what: str) -> int:
    """Growth of the peak resident memory of a fresh process running ``what`` on ``n`` points (torch's
    CPU allocations are invisible to tracemalloc)."""
    import subprocess
    import sys

    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak memory")

    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(n), what], capture_output=True, text=True,
                          check=True, timeout=120)
    return int(done.stdout.split()[-1])


def test_the_spectral_step_makes_no_float64_copy_of_the_affinity() -> None:
    # sum(dtype=float64) and .double() of the N × N affinity once held 8·N² bytes more (7 GiB at N = 20k).
    n = 4000
    assert measured_peak(n, "spectral") < 4 * n * n       # less than one more float32 copy


def test_the_pseudo_label_estimate_matches_the_measured_peak() -> None:
    n = 3000
    ratio = postprocess.estimate_pseudo_label_bytes(n) / measured_peak(n, "phase")
    assert 1 / 1.5 < ratio < 1.5, ratio


def test_max_pseudo_label_points_is_the_largest_that_fits() -> None:
    for available in (10**8, 2 * 10**9, 16 * 2**30):
        n = postprocess.max_pseudo_label_points(available)
        assert postprocess.estimate_pseudo_label_bytes(n) <= available
        assert postprocess.estimate_pseudo_label_bytes(int(n * 1.02) + 1) > available


def test_clarity_reports_the_ratio_of_the_graph_the_labels_come_from() -> None:
    from sscn_core.postprocess import well_clustered_ratio

    rng = np.random.default_rng(0)
    blocks = np.kron(np.eye(3), np.ones((10, 10))) + 0.05 * np.abs(rng.standard_normal((30, 30)))
    q = blocks + blocks.T
    clarity: dict = {}
    plain = spectral_pseudo_labels(q, 3, 2, rho=1.0, alpha=8.0, seed=0)
    labels, affinity = spectral_pseudo_labels(q, 3, 2, rho=1.0, alpha=8.0, seed=0, clarity=clarity,
                                              return_affinity=True)
    assert np.array_equal(plain, labels)                     # asking for the ratio changes nothing
    a = torch.as_tensor(affinity, dtype=torch.float64).clone()
    a.fill_diagonal_(0.0)
    d = a.sum(1).rsqrt()
    top = torch.linalg.eigvalsh(a * d[:, None] * d[None, :]).flip(0)[:4].numpy()
    assert clarity["ratio"] == pytest.approx(well_clustered_ratio(top, 3), rel=1e-3)
    exact: dict = {}
    spectral_pseudo_labels(np.kron(np.eye(3), np.ones((10, 10))), 3, 2, rho=1.0, variant="subspace", clarity=exact)
    assert exact["ratio"] == float("inf")                   # the components are the clusters
