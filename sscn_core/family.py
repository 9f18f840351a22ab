"""The self-expression family side by side: EDSC (ℓ2), SSC (ℓ1), SSC-OMP, EnSC (elastic net), LRR (low rank).

Rows are points everywhere, as in :mod:`sscn_core.theory`: X is (N, D) and every method returns an
N × N coefficient matrix C with X ≈ C X, row j holding the coefficients that express point j
(C_jj = 0 for the per-point methods). Labels come from C through the paper's post-processing,
:func:`sscn_core.postprocess.spectral_pseudo_labels`, as for EDSC, DSC-Net and SSCN, with two
defaults chosen for the sparse members (measured on the tests' synthetic cases, where the paper's
defaults leave SSC at 28–47 % accuracy although its C is subspace-preserving and connected):

- ``absolute=True`` feeds |C| rather than the signed C (the SSC literature's affinity). Points of
  one line come in ± pairs whose coefficients are negative; the post-processing's clipping of
  negative cosines then separates them. ``absolute=False`` is exactly ``baselines.edsc_labels``.
- ``rho=1.0`` keeps every coefficient: the sparse methods' C is sparse already, and the paper's
  ρ = 0.1 (meant for dense 1000 × 1000 batches of SSCN's Q) cuts their graphs apart.

The methods (one registry, :data:`METHODS`, name → :class:`Method`):

- ``edsc`` — ℓ2 (EDSC; SSCN learns the same Q, Theorem 1): ``min ½‖C‖² + λ/2‖X − CX‖²``, closed
  form :func:`sscn_core.theory.edsc_closed_form`.
- ``ssc`` — ℓ1 (SSC, Elhamifar & Vidal 2013): per point ``min ‖c‖₁ + γ/2‖x_j − Σ_{i≠j} c_i x_i‖²``
  with ``γ = α_z/μ``, ``μ = min_j max_{i≠j} |⟨x_i, x_j⟩|`` (so every point gets a non-zero
  solution when α_z > 1). Solved by scikit-learn's ``Lasso`` (coordinate descent) with the Gram
  matrix of all points precomputed once; for point j its own column is blanked in place (see
  ``_regression``), which was measured faster than slicing the Gram matrix per point and than
  ``LassoLars`` (measurement note below). No ADMM was written or measured: scikit-learn's solvers
  are the default, a hand-written one only if measured faster.
- ``ssc_omp`` — SSC by orthogonal matching pursuit (You, Robinson & Vidal 2016): per point at most
  ``n_nonzero`` other points, greedily; scikit-learn's ``OrthogonalMatchingPursuit``.
- ``ensc`` — elastic net (EnSC, You et al. 2016): per point
  ``min λ‖c‖₁ + (1−λ)/2‖c‖² + γ/2‖x_j − Σ c_i x_i‖²`` with λ = ``l1_ratio`` and the same γ;
  scikit-learn's ``ElasticNet`` with the Gram matrix precomputed.
- ``lrr`` — low rank (LRR): for clean data ``min ‖C‖_* s.t. X = CX`` has the closed form
  ``C = U_r U_rᵀ`` (the shape-interaction matrix; X = U S Vᵀ, r = rank X); with ``tau`` the noisy
  relaxation ``min ‖C‖_* + τ/2‖X − CX‖²`` has the closed form ``C = U_1 (I − S_1⁻²/τ) U_1ᵀ`` over
  the singular values above 1/√τ (Favaro, Vidal & Ravichandran 2011).

scikit-learn's objectives are ``1/(2D)‖y − Aw‖² + a‖w‖₁`` (Lasso) and
``1/(2D)‖y − Aw‖² + a·λ‖w‖₁ + a(1−λ)/2‖w‖²`` (ElasticNet), so both use ``a = 1/(γD) = μ/(α_z D)``.

Memory: each method's need is :meth:`Method.memory_bytes` (the N × N coefficients, the Gram
matrix or SVD factors, and the post-processing's dense N × N float32 affinity); :func:`check_memory`
refuses, with a :class:`FamilyError` naming the largest N that fits, anything above the budget.

Measurement note: timed by hand while choosing the solver, on the 2-core AMD EPYC development
machine shared with other jobs (a guide for the choice, not a benchmark; ``bench/family.py`` times
the methods as they are). N = 500 unit points on 10
noisy 8-dim subspaces of R^784, α_z = 20: blanked-column ``Lasso`` 7.2 s; ``Lasso`` on a sliced
Gram matrix per point 33 s; ``Lasso`` without a Gram matrix 62 s; ``LassoLars`` 101 s. N = 400
points in R^30: 5.0 s, 8.2 s, 14 s and 7.2 s.
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, OrthogonalMatchingPursuit

from .metrics import PeakMemory, accuracy, block_connectivity, evaluate, subspace_preserving_error
from .postprocess import spectral_pseudo_labels
from .theory import _default_rtol, _matrix, edsc_closed_form, numerical_rank

__all__ = [
    "DEFAULT_MEMORY_BUDGET", "FamilyError", "FamilyFit", "METHODS", "Method", "benchmark_rows", "check_memory",
    "cluster", "compare", "edsc_coefficients", "ensc_coefficients", "local_ssc_coefficients", "lrr_coefficients",
    "self_expression", "ssc_coefficients", "ssc_omp_coefficients", "unit_rows",
]

DEFAULT_MEMORY_BUDGET = 4 * 2**30       # bytes one method may use before it is refused
_CHECK_EVERY = 50                        # local_ssc_coefficients: rounds between two looks at its objective


class FamilyError(ValueError):
    """Bad input to a family method, or a problem too large for the memory budget."""


# ---------------------------------------------------------------------------- input checks
def _points(X: Any) -> tuple[np.ndarray, np.dtype]:
    """X as float64 (N ≥ 2, D), with the float type it came in (for rank tolerances)."""
    try:
        x = _matrix(X, "X", min_rows=2)
    except ValueError as exc:
        raise FamilyError(str(exc)) from None
    return x.astype(np.float64), x.dtype


def _positive(value: Any, name: str, *, above: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= above:
        raise FamilyError(f"{name} must be a finite number > {above:g}, got {value!r}")
    return float(value)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise FamilyError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def unit_rows(X: Any) -> np.ndarray:
    """X with every row scaled to unit Euclidean length (zero rows stay zero), in X's float type."""
    x = _matrix(X, "X")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1).astype(x.dtype)


# ---------------------------------------------------------------------------- the coefficient matrices
def edsc_coefficients(X: Any, lam: float = 1.0) -> np.ndarray:
    """ℓ2 (EDSC, = SSCN's Q* by Theorem 1): ``C = λ(I + λXXᵀ)⁻¹XXᵀ``."""
    x, _ = _points(X)
    return edsc_closed_form(x, _positive(lam, "lam"))


def _sparse_scale(gram: np.ndarray, alpha_z: float, dim: int) -> float:
    """scikit-learn's ``alpha`` for γ = α_z/μ, μ = min_j max_{i≠j} |⟨x_i, x_j⟩|: a = μ / (α_z·D)."""
    off = np.abs(gram)
    np.fill_diagonal(off, 0.0)
    mu = float(off.max(axis=1).min())
    if mu <= 0:
        raise FamilyError("a point is orthogonal to every other point (or zero), so it cannot be expressed by them; "
                          "remove zero rows or isolated points")
    return mu / (alpha_z * dim)


def _per_point(n: int, fit: Callable[[int], np.ndarray], name: str) -> np.ndarray:
    """Row j of C = ``fit(j)``, point j regressed on the other points (``fit`` keeps C_jj = 0).

    Convergence warnings of the solver are counted and reported once.
    """
    c = np.zeros((n, n))
    unconverged = 0
    for j in range(n):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            c[j] = fit(j)
        unconverged += any(issubclass(w.category, ConvergenceWarning) for w in caught)
    if unconverged:
        warnings.warn(f"{name}: the solver did not converge for {unconverged} of {n} points (raise max_iter)",
                      RuntimeWarning, stacklevel=3)
    return c


def _regression(x: np.ndarray, gram: np.ndarray, make: Callable[[np.ndarray], Any], name: str) -> np.ndarray:
    """Per-point scikit-learn regressions on all points, point j's own column blanked while it is the target.

    A zero column (zero Gram row and column) keeps a zero coefficient in coordinate descent, so this
    solves the problem over the other points without copying the N × N Gram matrix per point: the
    column and the Gram row/column are zeroed in place and restored after the fit.
    """
    atoms = x.T.copy(order="F")                    # D × N, the points as features, in the solver's memory order

    def fit(j: int) -> np.ndarray:
        saved_row, saved_atom = gram[j].copy(), atoms[:, j].copy()
        gram[j, :] = 0.0
        gram[:, j] = 0.0
        atoms[:, j] = 0.0
        try:
            return make(gram).fit(atoms, x[j]).coef_
        finally:
            gram[j, :] = saved_row
            gram[:, j] = saved_row
            atoms[:, j] = saved_atom

    return _per_point(x.shape[0], fit, name)


def ssc_coefficients(X: Any, alpha_z: float = 20.0, max_iter: int = 5000) -> np.ndarray:
    """ℓ1 (SSC): per point ``min ‖c‖₁ + γ/2‖x_j − Σ_{i≠j} c_i x_i‖²``, γ = α_z/μ (module doc), by ``Lasso``."""
    x, _ = _points(X)
    gram = x @ x.T
    a = _sparse_scale(gram, _positive(alpha_z, "alpha_z", above=1.0), x.shape[1])
    iters = _positive_int(max_iter, "max_iter")
    return _regression(x, gram, lambda g: Lasso(alpha=a, fit_intercept=False, precompute=g, copy_X=False,
                                                max_iter=iters), "SSC")


def local_ssc_coefficients(X: Any, neighbours: int = 50, alpha_z: float = 20.0, max_iter: int = 3000,
                           tol: float = 1e-6) -> np.ndarray:
    """ℓ1 (SSC) with each point's dictionary cut to its ``neighbours`` most correlated other points.

    Per point the same problem as :func:`ssc_coefficients` (``min ‖c‖₁ + γ/2‖x_j − Σ c_i x_i‖²``, γ = α_z/μ
    over all points), but only the ``neighbours`` points of largest |⟨x_i, x_j⟩| may get a coefficient: the
    ℓ1 solution keeps a few of the most correlated points anyway (2–16 a point on the stand-ins of
    ``bench.rules``), so the cut changes little and makes every point's problem small. All points are solved
    at once by FISTA (batched ``neighbours`` × ``neighbours`` Gram blocks in float32, step 1 / each block's
    largest eigenvalue, momentum restarted where it overshoots) until the objective falls by less than ``tol``
    of itself in 50 rounds, or ``max_iter`` rounds: 1–2 s for 2,000 points on 2 cores, where the per-point
    ``Lasso`` over all points takes 15 s. With ``neighbours`` ≥ N − 1 it solves :func:`ssc_coefficients`'
    problem.
    """
    x, _ = _points(X)
    n = x.shape[0]
    m = min(_positive_int(neighbours, "neighbours"), n - 1)
    t = torch.as_tensor(x, dtype=torch.float64)
    gram = t @ t.T
    off = gram.abs().fill_diagonal_(-1.0)
    mu = float(off.max(dim=1).values.min())
    if mu <= 0:
        raise FamilyError("a point is orthogonal to every other point (or zero), so it cannot be expressed by them; "
                          "remove zero rows or isolated points")
    shrink = mu / _positive(alpha_z, "alpha_z", above=1.0)      # the ℓ1 weight of ½‖x_j − Σ c_i x_i‖² + shrink·‖c‖₁
    idx = off.topk(m, dim=1).indices                            # n × m: j itself is never among them
    # float32 from here: a graph's coefficients, and the small products are then memory-light and fast
    blocks = gram[idx[:, :, None], idx[:, None, :]].float()     # n × m × m
    target = gram.gather(1, idx).float()                        # n × m: ⟨x_i, x_j⟩
    step = 1.0 / torch.linalg.eigvalsh(blocks)[:, -1].clamp_min(1e-12)[:, None]   # 1 / each block's largest eigenvalue
    c = torch.zeros(n, m)
    y, momentum = c, torch.ones(n, 1)
    before, energy = math.inf, 0.5 * float((t * t).sum())
    for round_ in range(1, _positive_int(max_iter, "max_iter") + 1):
        z = y - step * ((blocks * y[:, None, :]).sum(dim=2) - target)
        new = z.sign() * (z.abs() - step * shrink).clamp_min(0.0)
        following = (1.0 + torch.sqrt(1.0 + 4.0 * momentum * momentum)) / 2.0
        # adaptive restart (O'Donoghue & Candès): a problem whose step went against its momentum starts it again
        again = ((y - new) * (new - c)).sum(dim=1, keepdim=True) > 0
        following = torch.where(again, torch.ones_like(following), following)
        y = new + torch.where(again, torch.zeros_like(momentum), (momentum - 1.0) / following) * (new - c)
        c, momentum = new, following
        if round_ % _CHECK_EVERY == 0:       # Σ_j ½‖x_j − Σ c_i x_i‖² + shrink·‖c‖₁, in float64
            cd = c.double()
            now = float(0.5 * (cd * (blocks.double() * cd[:, None, :]).sum(dim=2)).sum() - (target.double() * cd).sum()
                        + shrink * cd.abs().sum()) + energy
            if before - now <= tol * now:
                break
            before = now
    out = torch.zeros(n, n, dtype=torch.float64)
    out.scatter_(1, idx, c.double())
    return out.numpy()


def ensc_coefficients(X: Any, alpha_z: float = 20.0, l1_ratio: float = 0.5, max_iter: int = 5000) -> np.ndarray:
    """Elastic net (EnSC): per point ``min λ‖c‖₁ + (1−λ)/2‖c‖² + γ/2‖x_j − Σ c_i x_i‖²``, λ = ``l1_ratio``."""
    x, _ = _points(X)
    if isinstance(l1_ratio, bool) or not isinstance(l1_ratio, (int, float, np.floating)) or not 0 < l1_ratio <= 1:
        raise FamilyError(f"l1_ratio must be in (0, 1], got {l1_ratio!r}")
    gram = x @ x.T
    a = _sparse_scale(gram, _positive(alpha_z, "alpha_z", above=1.0), x.shape[1])
    iters = _positive_int(max_iter, "max_iter")
    return _regression(x, gram, lambda g: ElasticNet(alpha=a, l1_ratio=float(l1_ratio), fit_intercept=False,
                                                     precompute=g, copy_X=False, max_iter=iters), "EnSC")


def ssc_omp_coefficients(X: Any, n_nonzero: int = 3) -> np.ndarray:
    """SSC-OMP: per point, orthogonal matching pursuit over the other points, at most ``n_nonzero`` of them."""
    x, _ = _points(X)
    n = x.shape[0]
    k = min(_positive_int(n_nonzero, "n_nonzero"), n - 1, x.shape[1])

    def fit(j: int) -> np.ndarray:
        others = np.r_[0:j, j + 1:n]
        row = np.zeros(n)
        model = OrthogonalMatchingPursuit(n_nonzero_coefs=k, fit_intercept=False, precompute=False)
        row[others] = model.fit(x[others].T, x[j]).coef_
        return row

    return _per_point(n, fit, "SSC-OMP")


def lrr_coefficients(X: Any, tau: float | None = None, rtol: float | None = None) -> np.ndarray:
    """Low rank (LRR) in closed form: ``U_r U_rᵀ`` for clean data (``tau=None``), else ``U_1(I − S_1⁻²/τ)U_1ᵀ``.

    Clean data: r = numerical rank of X (singular values above ``rtol`` × the largest; default
    ``max(N, D)·eps`` of X's float type, right for exact data). With ``tau`` the singular values
    above 1/√τ are kept, shrunk (Favaro et al. 2011); noisy data needs it, since its rank is full.
    """
    x, dtype = _points(X)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    if tau is None:
        r = numerical_rank(s, _default_rtol(x.shape, dtype) if rtol is None else rtol)
        weights = np.ones(r)
    else:
        t = _positive(tau, "tau")
        r = int((s > 1.0 / np.sqrt(t)).sum())
        weights = 1.0 - 1.0 / (t * s[:r] ** 2)
    return (u[:, :r] * weights) @ u[:, :r].T


# ---------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Method:
    """One member of the family: how it is named, what prior it puts on C and how it computes C.

    ``coefficients(X, **params)`` returns C (N × N, X ≈ CX); ``defaults`` are its parameters'
    defaults; memory is ``n2_bytes·N² + nd_bytes·N·D`` bytes (:meth:`memory_bytes`).
    """

    name: str
    label: str
    prior: str
    solver: str
    coefficients: Callable[..., np.ndarray]
    defaults: Mapping[str, Any]
    n2_bytes: int
    nd_bytes: int

    def memory_bytes(self, n: int, d: int) -> int:
        """Bytes this method needs for N points of dimension D, post-processing included."""
        return int(self.n2_bytes * n * n + self.nd_bytes * n * d)

    def max_points(self, d: int, budget: int) -> int:
        """The largest N whose :meth:`memory_bytes` stays within ``budget`` bytes."""
        a, b = self.n2_bytes, self.nd_bytes * d
        return int((-b + np.sqrt(b * b + 4 * a * budget)) / (2 * a))


# Bytes per N² entry, post-processing (ρ = 1) included, calibrated on Extended Yale B (N = 2414,
# D = 1024; bench/results/family-yaleb38.json): measured peak growth 424 MiB (EDSC), 415 MiB (LRR),
# 236 MiB (EnSC) and 249 MiB (SSC), i.e. about 70 and 38 bytes per N² entry once the N·D terms are
# taken off. A dense C (EDSC, LRR) keeps all N² entries through the post-processing's sparse
# thresholding and symmetrisation; a sparse C keeps few, leaving C, the Gram matrix and the dense
# float32 affinity. SSC-OMP (no Gram matrix) is not measured at that size: SSC's figure less the
# Gram matrix's 8 bytes.
METHODS: dict[str, Method] = {m.name: m for m in (
    Method("edsc", "EDSC / SSCN (ℓ2)", "ℓ2", "closed form λ(I + λXXᵀ)⁻¹XXᵀ", edsc_coefficients,
           {"lam": 1.0}, 72, 16),
    Method("ssc", "SSC (ℓ1)", "ℓ1", "scikit-learn Lasso per point", ssc_coefficients,
           {"alpha_z": 20.0, "max_iter": 5000}, 40, 16),
    Method("ssc_omp", "SSC-OMP (ℓ0, greedy)", "ℓ0", "scikit-learn OrthogonalMatchingPursuit per point",
           ssc_omp_coefficients, {"n_nonzero": 3}, 32, 24),
    Method("ensc", "EnSC (elastic net)", "elastic net", "scikit-learn ElasticNet per point", ensc_coefficients,
           {"alpha_z": 20.0, "l1_ratio": 0.5, "max_iter": 5000}, 40, 16),
    Method("lrr", "LRR (low rank)", "nuclear norm", "closed form (shape-interaction matrix)", lrr_coefficients,
           {"tau": None}, 72, 16),
)}


def _method(name: str) -> Method:
    if name not in METHODS:
        raise FamilyError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    return METHODS[name]


def check_memory(method: str, n: int, d: int, budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """The bytes ``method`` needs for N × D data; raises :class:`FamilyError` when that exceeds ``budget``."""
    m = _method(method)
    need = m.memory_bytes(n, d)
    if need > budget:
        raise FamilyError(f"{m.label} on {n:,} points of dimension {d} needs about {need / 2**30:.1f} GiB (N × N "
                          f"coefficients and affinity), above the budget of {budget / 2**30:.1f} GiB; use a sample of "
                          f"at most {m.max_points(d, budget):,} points")
    return need


def _params(method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    m = _method(method)
    given = dict(params or {})
    unknown = sorted(set(given) - set(m.defaults))
    if unknown:
        raise FamilyError(f"{m.label} has no parameter {', '.join(unknown)}; its parameters are "
                          f"{', '.join(m.defaults)}")
    return {**m.defaults, **given}


def self_expression(method: str, X: Any, params: Mapping[str, Any] | None = None, *,
                    memory_budget: int = DEFAULT_MEMORY_BUDGET) -> np.ndarray:
    """C (N × N, X ≈ CX) of one family member, after checking its memory need against ``memory_budget``."""
    x, _ = _points(X)
    check_memory(method, x.shape[0], x.shape[1], memory_budget)
    return METHODS[method].coefficients(X, **_params(method, params))


@dataclass(frozen=True)
class FamilyFit:
    """One method's coefficients and labels on one data set, with its cost.

    ``seconds`` covers C and the labels; ``peak_bytes`` is the growth of the process's peak memory
    while they were computed (:class:`sscn_core.metrics.PeakMemory`); ``memory_bytes`` the estimate
    that was checked against the budget. With true labels: ``sp_error`` (share of |C| off the true
    blocks), ``acc`` and per true block the connected components and algebraic connectivity of C's
    graph (:func:`sscn_core.metrics.block_connectivity`).
    """

    method: str
    params: dict[str, Any]
    C: np.ndarray
    labels: np.ndarray
    seconds: float
    coefficient_seconds: float
    peak_bytes: int
    memory_bytes: int
    sp_error: float | None = None
    acc: float | None = None
    components: np.ndarray | None = None
    algebraic_connectivity: np.ndarray | None = None

    @property
    def label(self) -> str:
        """The method's display name."""
        return METHODS[self.method].label


def cluster(method: str, X: Any, n_clusters: int, subspace_dim: int, params: Mapping[str, Any] | None = None, *,
            y: Any = None, rho: float = 1.0, alpha: float = 8.0, absolute: bool = True, seed: int = 0,
            memory_budget: int = DEFAULT_MEMORY_BUDGET) -> FamilyFit:
    """C and labels of one method, labels by the paper's post-processing (ρ, α, rank d·K + 1) of |C|
    (or of C with ``absolute=False``; see the module doc for both defaults).

    ``y`` (true labels, only to score) adds the subspace-preserving error, accuracy and per-block
    connectivity. X is used as given (see :func:`unit_rows`). SSC-OMP's ``n_nonzero`` defaults to
    ``subspace_dim`` here.
    """
    x, _ = _points(X)
    if method == "ssc_omp":                 # the textbook number of points per point: the subspace dimension
        params = {"n_nonzero": subspace_dim, **(params or {})}
    values = _params(method, params)
    need = check_memory(method, x.shape[0], x.shape[1], memory_budget)
    with PeakMemory("cpu") as peak:
        start = time.perf_counter()
        c = METHODS[method].coefficients(X, **values)
        coefficient_seconds = time.perf_counter() - start
        labels = spectral_pseudo_labels(np.abs(c) if absolute else c, n_clusters, subspace_dim, rho=rho,
                                        alpha=alpha, seed=seed)
        seconds = time.perf_counter() - start
    fit = FamilyFit(method, values, c, labels, seconds, coefficient_seconds, peak.growth_bytes, need)
    if y is None:
        return fit
    truth = np.asarray(y)
    conn = block_connectivity(c, truth)
    return FamilyFit(method, values, c, labels, seconds, coefficient_seconds, peak.growth_bytes, need,
                     sp_error=subspace_preserving_error(c, truth), acc=accuracy(truth, labels),
                     components=conn.components, algebraic_connectivity=conn.algebraic)


def compare(X: Any, y: Any, n_clusters: int, subspace_dim: int, methods: Sequence[str] = ("edsc", "ssc", "ensc", "lrr"),
            params: Mapping[str, Mapping[str, Any]] | None = None, *, normalize: bool = True, rho: float = 1.0,
            alpha: float = 8.0, absolute: bool = True, seed: int = 0, memory_budget: int = DEFAULT_MEMORY_BUDGET,
            progress: Callable[[int, str], None] | None = None) -> list[FamilyFit]:
    """Several methods on the same labelled points (rows scaled to unit length unless ``normalize=False``).

    ``params`` maps a method's name to its parameters; ``progress(i, name)`` is called before method i.
    Every method's memory is checked before any runs.
    """
    x = unit_rows(X) if normalize else _matrix(X, "X")
    for name in methods:
        check_memory(name, x.shape[0], x.shape[1], memory_budget)
        _params(name, (params or {}).get(name))
    out = []
    for i, name in enumerate(methods):
        if progress is not None:
            progress(i, name)
        out.append(cluster(name, x, n_clusters, subspace_dim, (params or {}).get(name), y=y, rho=rho, alpha=alpha,
                           absolute=absolute, seed=seed, memory_budget=memory_budget))
    return out


def benchmark_rows(features: Any, labels: Any, n_clusters: int, subspace_dim: int,
                   methods: Sequence[str] = tuple(METHODS), params: Mapping[str, Mapping[str, Any]] | None = None, *,
                   normalize: bool = True, rho: float = 1.0, alpha: float = 8.0, absolute: bool = True,
                   seed: int = 0, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> list[dict[str, Any]]:
    """One JSON-friendly row per method on a feature matrix: ACC / NMI / ARI, time and peak memory.

    Labels are used only to score. A method above ``memory_budget`` gives a row with
    ``status: "skipped: …"`` and its estimated need instead of failing the others; any other error
    propagates. Keys: method, label, status, n, feature_dim, params, memory_estimate_bytes and, when
    run, seconds, coefficient_seconds, peak_growth_bytes, acc, nmi, ari, sp_error, min_algebraic_connectivity,
    max_components.
    """
    x = unit_rows(features) if normalize else _matrix(features, "features")
    truth = np.asarray(labels)
    rows = []
    for name in methods:
        m = _method(name)
        given = (params or {}).get(name)
        values = _params(name, {"n_nonzero": subspace_dim, **(given or {})} if name == "ssc_omp" else given)
        row: dict[str, Any] = {"method": name, "label": m.label, "n": int(x.shape[0]), "feature_dim": int(x.shape[1]),
                               "params": values, "memory_estimate_bytes": m.memory_bytes(x.shape[0], x.shape[1])}
        try:
            check_memory(name, x.shape[0], x.shape[1], memory_budget)
        except FamilyError as exc:
            rows.append({**row, "status": f"skipped: {exc}"})
            continue
        fit = cluster(name, x, n_clusters, subspace_dim, values, y=truth, rho=rho, alpha=alpha, absolute=absolute,
                      seed=seed, memory_budget=memory_budget)
        rows.append({**row, "status": "ok", "seconds": fit.seconds, "coefficient_seconds": fit.coefficient_seconds,
                     "peak_growth_bytes": fit.peak_bytes, **evaluate(truth, fit.labels), "sp_error": fit.sp_error,
                     "min_algebraic_connectivity": float(np.min(fit.algebraic_connectivity)),
                     "max_components": int(np.max(fit.components))})
    return rows
