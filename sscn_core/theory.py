"""Theory behind SSCN, in plain numpy/scipy: Theorem 1's closed forms and the independence assumption.

Rows are samples everywhere: X is (N, D), a self-expression matrix C or Q is (N, N) and X ≈ C X.

**EDSC and Theorem 1.** EDSC minimises ``½‖C‖² + λ/2‖X − CX‖²`` over all N×N matrices C; setting
the gradient ``C − λ(X − CX)Xᵀ`` to zero gives ``C* = λ(I + λXXᵀ)⁻¹XXᵀ``, i.e. for the thin SVD
``X = U S Vᵀ``: ``C* = U diag(λs²/(1+λs²)) Uᵀ``. Linear SSCN (no auto-encoder: Z = X, dec = id) has
the loss ``½‖Q‖² + λ1/2‖X − QX‖² + λ2/2‖X − QX‖²``, the same objective with λ = λ1 + λ2 but
restricted to ``Q = X WᵀW Xᵀ`` (W is d_H × D). Since ``X M Xᵀ = U S (VᵀMV) S Uᵀ``, the choice
``W* = diag(√(λ/(1+λs²))) Vᵀ`` (zero rows appended up to d_H; any orthogonal left factor O W* gives
the same Q) reaches ``Q* = C*`` whenever ``d_H ≥ rank(X)`` (Theorem 1), so it is optimal.

**Independence.** Subspaces S_1..S_K are independent when ``dim(S_1 + … + S_K) = Σ dim(S_k)``.
Then EDSC's C* links points of different subspaces only through terms that vanish as λs² grows
(exactly block-diagonal for orthogonal subspaces or λ → ∞), so spectral clustering of Q* recovers
the subspaces. When the sum of dimensions exceeds the rank of the union (e.g. K ≥ 3 lines in a
plane) the data can be self-expressed across subspaces and C* leaks between them.

**Rank decisions.** The rank of a data matrix counts singular values above ``tol × σ_max`` (a
relative tolerance; by default numpy's ``max(shape) × eps`` of the input's float type, right for
exact data). The rank of a *union* of subspaces is that of the stacked orthonormal bases
``M = [B_1 … B_K]``, whose singular values are all 1 when the subspaces are mutually orthogonal
and near 0 when a direction of one lies (nearly) in the sum of the others; it counts singular
values above ``tol`` relative to that scale of 1. For two subspaces they are ``√(1 ± cos θ_i)``, so
``tol = 0.1`` (``diagnose``'s default, for subspaces estimated from noisy data) treats two
directions within ``arccos(1 − 0.1²) ≈ 8.1°`` of each other as one.

Nothing here imports Streamlit; every function works from a notebook.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

__all__ = [
    "Diagnostics", "IndependenceReport", "TheoryError", "diagnose", "edsc_closed_form", "effective_dimension",
    "half_weight_lambda", "independence_report", "numerical_rank", "principal_angles", "q_diagnostics", "relative_error",
    "singular_spectrum", "stratified_sample", "subspace_basis", "theorem1_solution",
]

DEFAULT_ENERGY = 0.95
DEFAULT_RANK_TOL = 0.1          # relative tolerance for the union of *estimated* subspaces (see module doc)
DEFAULT_MAX_POINTS = 5000       # diagnose: points used in all (spread evenly over the clusters)


class TheoryError(ValueError):
    """Bad input to a theory function: the message says what was expected and what came."""


# ---------------------------------------------------------------------------- input checks
def _matrix(a: Any, name: str, *, min_rows: int = 1) -> np.ndarray:
    """A finite 2-D float array (float32 stays float32, anything else becomes float64)."""
    if hasattr(a, "detach"):  # a torch tensor, without importing torch here
        a = a.detach().cpu().numpy()
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) \
            or np.iscomplexobj(arr):
        raise TheoryError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise TheoryError(f"{name} must be 2-D (rows are samples), got shape {arr.shape}")
    if arr.shape[0] < min_rows or arr.shape[1] < 1:
        raise TheoryError(f"{name} is empty or too small: shape {arr.shape}")
    arr = arr.astype(np.float32 if arr.dtype == np.float32 else np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise TheoryError(f"{name} contains NaN or infinite values")
    return arr


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise TheoryError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _energy(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < value <= 1:
        raise TheoryError(f"energy must be a share in (0, 1], got {value!r}")
    return float(value)


def _default_rtol(shape: tuple[int, ...], dtype: np.dtype) -> float:
    return float(max(shape) * np.finfo(dtype if np.issubdtype(dtype, np.floating) else np.float64).eps)


# ---------------------------------------------------------------------------- spectra and ranks
def _spectrum_and_directions(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular values (descending) and right singular vectors (D, r) of ``points`` (float64).

    Through the eigen-decomposition of the smaller Gram matrix, several times faster than an SVD
    for 500 × 784 blocks; singular values below ~1e-8 × the largest lose accuracy, which does not
    matter for energy shares and leading directions.
    """
    n, dim = points.shape
    if n >= dim:
        power, v = np.linalg.eigh(points.T @ points)
        power, v = power[::-1], v[:, ::-1]
    else:
        power, u = np.linalg.eigh(points @ points.T)
        power, u = power[::-1], u[:, ::-1]
    s = np.sqrt(np.clip(power, 0.0, None))
    if n < dim:
        good = s > s[0] * 1e-10 if s[0] > 0 else np.zeros_like(s, dtype=bool)
        v = (points.T @ u[:, good]) / s[good]
        s = s[:min(n, dim)]
    return s[:min(n, dim)], v


def singular_spectrum(points: Any) -> np.ndarray:
    """Singular values (descending, float64) of the points (rows), *not* centred: subspaces are linear.

    Computed like ``diagnose`` does (eigenvalues of the smaller Gram matrix), so values below about
    1e-8 × the largest are only accurate to that level.
    """
    return _spectrum_and_directions(_matrix(points, "points").astype(np.float64))[0]


def numerical_rank(singular_values: Any, rtol: float | None = None, shape: tuple[int, int] | None = None,
                   dtype: Any = np.float64) -> int:
    """Number of singular values above ``rtol × max``.

    ``rtol=None`` uses numpy's convention ``max(shape) × eps(dtype)`` (``shape`` defaults to
    (len(s), len(s))). All-zero input has rank 0.
    """
    s = np.asarray(singular_values, dtype=np.float64).ravel()
    if s.size == 0 or not np.isfinite(s).all() or (s < 0).any():
        raise TheoryError(f"expected a non-empty array of finite, non-negative singular values, got {s[:5]}…")
    if rtol is None:
        rtol = _default_rtol(shape or (s.size, s.size), np.dtype(dtype))
    elif isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.floating)) or not 0 <= rtol < 1:
        raise TheoryError(f"rtol must be a relative tolerance in [0, 1), got {rtol!r}")
    top = s.max()
    return 0 if top == 0 else int((s > rtol * top).sum())


def effective_dimension(singular_values: Any, energy: float = DEFAULT_ENERGY) -> int:
    """The smallest d whose top-d singular values hold at least ``energy`` of Σ s² (the squared norm).

    With points as rows this is the dimension of the linear subspace (through the origin) that
    keeps ``energy`` (e.g. 95 %) of the points' squared length; 0 for all-zero input.
    """
    s = np.sort(np.asarray(singular_values, dtype=np.float64).ravel())[::-1]
    if not np.isfinite(s).all() or (s < 0).any():
        raise TheoryError("singular values must be finite and non-negative")
    e = _energy(energy)
    power = s ** 2
    total = power.sum()
    if s.size == 0 or total == 0:
        return 0
    share = np.cumsum(power) / total
    # a tiny slack so that energy=1.0 does not miss the last value through rounding
    return int(min(s.size, np.searchsorted(share, e - 1e-12) + 1))


def subspace_basis(points: Any, dim: int | None = None, energy: float = DEFAULT_ENERGY) -> np.ndarray:
    """Orthonormal basis (D, d) of the linear subspace that best fits the points (rows), by SVD.

    ``dim`` fixes d; ``dim=None`` takes ``effective_dimension(spectrum, energy)``. The columns are
    the top right singular vectors of the (uncentred) points, most important first.
    """
    x = _matrix(points, "points").astype(np.float64)
    s, v = _spectrum_and_directions(x)
    if dim is None:
        d = effective_dimension(s, energy)
    else:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise TheoryError(f"dim must be a positive integer or None, got {dim!r}")
        if dim > v.shape[1]:
            raise TheoryError(f"dim={dim} is more than the {v.shape[1]} directions that {x.shape[0]} points in "
                              f"{x.shape[1]} dimensions span")
        d = int(dim)
    return v[:, :d].copy()


def _orth(a: Any, name: str) -> np.ndarray:
    """Orthonormal basis of the column span of ``a`` (D, k) (rank-revealing, via SVD)."""
    m = _matrix(a, name).astype(np.float64)
    if not np.any(m):
        raise TheoryError(f"{name} spans only the zero vector; a subspace needs at least one direction")
    return scipy.linalg.orth(m)


def principal_angles(A: Any, B: Any) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spans of A (D, p) and B (D, q).

    Inputs are orthonormalised first (any spanning set works). Angles come from the SVD of AᵀB
    (cosines, clipped to [0, 1]) and, for accuracy at small angles, from the SVD of B − A AᵀB
    (sines): θ = arccos(cos) where cos² < ½, else arcsin(sin). There are min(rank A, rank B) angles.
    """
    a, b = _orth(A, "A"), _orth(B, "B")
    if a.shape[0] != b.shape[0]:
        raise TheoryError(f"A and B must live in the same space: A has {a.shape[0]} rows, B has {b.shape[0]}")
    if b.shape[1] > a.shape[1]:
        a, b = b, a
    m = b.shape[1]
    cos = np.clip(np.linalg.svd(a.T @ b, compute_uv=False)[:m], 0.0, 1.0)           # descending
    sin = np.clip(np.sort(np.linalg.svd(b - a @ (a.T @ b), compute_uv=False))[:m], 0.0, 1.0)  # ascending
    theta = np.where(cos ** 2 < 0.5, np.arccos(cos), np.arcsin(sin))
    return np.sort(np.degrees(theta))


# ---------------------------------------------------------------------------- EDSC and Theorem 1
def _thin_svd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD (U, s, Vᵀ) in float64: U is (N, min(N, D)), Vᵀ is (min(N, D), D)."""
    return np.linalg.svd(x.astype(np.float64), full_matrices=False)


def edsc_closed_form(X: Any, lam: float) -> np.ndarray:
    """EDSC's optimal self-expression ``C* = λ(I + λXXᵀ)⁻¹XXᵀ`` (N×N, float64), rows of X are samples.

    Computed from the thin SVD ``X = U S Vᵀ`` as ``U diag(λs²/(1+λs²)) Uᵀ``: O(N·D·min(N, D)) work and
    no N×N inverse. Memory: the N×N result (8·N² bytes).
    """
    x = _matrix(X, "X")
    lam = _positive(lam, "lam")
    u, s, _ = _thin_svd(x)
    f = lam * s ** 2 / (1.0 + lam * s ** 2)
    return (u * f) @ u.T


def half_weight_lambda(eigenvalues: Any, d_h: int) -> float | None:
    """The self-expression weight that keeps the d_h-th direction of Theorem 1's Q at half weight.

    ``eigenvalues``: those of the second moment ZᵀZ (s², any order; the mini-batch moment (B/N)·ZᵀZ
    when training is in batches of B). Theorem 1's Q keeps the singular direction of s² with weight
    f(s²) = λs²/(1 + λs²); λ = 1/s²_(d_h) makes f = ½ at the d_h-th largest: the directions h has room
    for are kept at ½ or more, those beyond fall off as λs². Unchanged when the data are scaled (λs²
    is what counts), so it is one rule for every data set. None when h has room for every direction
    (d_h ≥ the rank: eigenvalues under 1e-8 of the largest count as zero, as ``closed_form_h_init``
    drops them; all-zero features have rank 0): then there is no boundary to set λ by.
    """
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64).ravel())[::-1]
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise TheoryError("half_weight_lambda needs the eigenvalues of a second moment, finite")
    d_h = int(d_h)
    if d_h < 1:
        raise TheoryError(f"d_h must be at least 1, got {d_h}")
    rank = int((values > values[0] * 1e-8).sum()) if values[0] > 0 else 0
    return float(1.0 / values[d_h - 1]) if d_h < rank else None


def theorem1_solution(X: Any, lam: float, d_h: int, *, truncate: bool = False,
                      rtol: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Theorem 1's optimal linear SSCN: ``W*`` (d_h × D) and ``Q* = X W*ᵀ W* Xᵀ`` (N × N), float64.

    ``W* = diag(√(λ/(1+λs²))) Vᵀ`` over the r = rank(X) singular directions (rank with relative
    tolerance ``rtol``, default ``max(N, D) × eps`` of X's float type), padded with zero rows to
    d_h; then Q* equals EDSC's C* (``edsc_closed_form``). λ is λ1 + λ2 of the estimator.

    When ``d_h < rank(X)`` Theorem 1 does not apply and a :class:`TheoryError` says so, unless
    ``truncate=True``: then the best Q of rank ≤ d_h is returned, keeping the d_h largest singular
    directions (the loss is ``½‖(I+λS²)^{½}A − λS²(I+λS²)^{-½}‖² + const`` in A = S(VᵀMV)S, so
    Eckart–Young picks the largest values λs²/√(1+λs²), i.e. the largest s).
    """
    x = _matrix(X, "X")
    lam = _positive(lam, "lam")
    if isinstance(d_h, bool) or not isinstance(d_h, (int, np.integer)) or d_h < 1:
        raise TheoryError(f"d_h must be a positive integer, got {d_h!r}")
    _, s, vt = _thin_svd(x)
    r = numerical_rank(s, rtol, x.shape, x.dtype)
    if d_h < r and not truncate:
        raise TheoryError(f"Theorem 1 needs d_H ≥ rank(X); got d_H = {d_h} < rank(X) = {r} (relative tolerance "
                          f"{rtol if rtol is not None else _default_rtol(x.shape, x.dtype):.2g}). Use a larger "
                          f"n_clusters·subspace_dim, denoise X, or truncate=True for the best rank-{d_h} solution")
    k = min(r, d_h)
    w = np.zeros((int(d_h), x.shape[1]), dtype=np.float64)
    w[:k] = np.sqrt(lam / (1.0 + lam * s[:k] ** 2))[:, None] * vt[:k]
    h = x.astype(np.float64) @ w.T
    return w, h @ h.T


def relative_error(Q: Any, Q_star: Any) -> float:
    """‖Q − Q*‖_F / ‖Q*‖_F (shapes must match; Q* must not be zero)."""
    a, b = _matrix(Q, "Q").astype(np.float64), _matrix(Q_star, "Q_star").astype(np.float64)
    if a.shape != b.shape:
        raise TheoryError(f"Q and Q_star must have the same shape, got {a.shape} and {b.shape}")
    ref = np.linalg.norm(b)
    if ref == 0:
        raise TheoryError("Q_star is all zeros; the relative error is undefined")
    return float(np.linalg.norm(a - b) / ref)


# ---------------------------------------------------------------------------- independence
@dataclass(frozen=True)
class IndependenceReport:
    """Is a union of subspaces independent (rank of the union = Σ dims)?

    ``dims[k]`` is dim(S_k); ``union_rank`` the dimension of S_1 + … + S_K; ``deficit`` = Σ dims −
    union_rank (0 for independent subspaces); ``verdict`` is "independent" or "dependent by {deficit}
    dims"; ``min_angle_deg`` the smallest principal angle over all pairs (0° when two subspaces
    intersect) and ``min_angle_pair`` the pair (indices) where it occurs; ``tol`` the relative
    tolerance used for every rank.
    """

    dims: tuple[int, ...]
    union_rank: int
    sum_dims: int
    deficit: int
    verdict: str
    min_angle_deg: float
    min_angle_pair: tuple[int, int] | None
    tol: float

    @property
    def independent(self) -> bool:
        """True when the rank of the union equals the sum of the dimensions."""
        return self.deficit == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly values."""
        return {"dims": list(self.dims), "union_rank": self.union_rank, "sum_dims": self.sum_dims,
                "deficit": self.deficit, "verdict": self.verdict, "independent": self.independent,
                "min_angle_deg": _finite_or_none(self.min_angle_deg),
                "min_angle_pair": list(self.min_angle_pair) if self.min_angle_pair else None, "tol": self.tol}


def _verdict(deficit: int) -> str:
    return "independent" if deficit == 0 else f"dependent by {deficit} dims"


def _smallest_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest principal angle (degrees) between spans of orthonormal a (D, p) and b (D, q).

    0 when p + q > D (the spans must intersect); else arccos of the largest cosine, or, when that
    angle is below 45°, arcsin of the smallest sine (from q×q Gram matrices: about 1e-6° accurate,
    plenty for a heat map and several times cheaper than SVDs of D×q blocks).
    """
    if a.shape[1] + b.shape[1] > a.shape[0]:
        return 0.0
    if b.shape[1] > a.shape[1]:
        a, b = b, a
    ab = a.T @ b
    cos2 = float(np.clip(np.linalg.eigvalsh(ab.T @ ab)[-1], 0.0, 1.0))     # largest squared cosine
    if cos2 < 0.5:
        return float(np.degrees(np.arccos(np.sqrt(cos2))))
    rest = b - a @ ab                                                       # parts of b outside span(a)
    sin2 = float(np.clip(np.linalg.eigvalsh(rest.T @ rest)[0], 0.0, 1.0))  # smallest squared sine
    return float(np.degrees(np.arcsin(np.sqrt(sin2))))


def _angle_matrix(bases: Sequence[np.ndarray]) -> np.ndarray:
    """(K, K) smallest principal angle (degrees) between orthonormal bases; 0 on the diagonal, NaN if empty."""
    k = len(bases)
    out = np.full((k, k), np.nan)
    for i in range(k):
        if bases[i].shape[1]:
            out[i, i] = 0.0
        for j in range(i + 1, k):
            if bases[i].shape[1] and bases[j].shape[1]:
                out[i, j] = out[j, i] = _smallest_angle(bases[i], bases[j])
    return out


def _min_off_diagonal(angles: np.ndarray) -> tuple[float, tuple[int, int] | None]:
    k = angles.shape[0]
    if k < 2:
        return math.nan, None
    off = angles + np.diag(np.full(k, np.nan))
    if np.isnan(off).all():
        return math.nan, None
    i, j = np.unravel_index(np.nanargmin(off), off.shape)
    return float(off[i, j]), (int(min(i, j)), int(max(i, j)))


def _union_rank(bases: Sequence[np.ndarray], tol: float) -> int:
    """Rank of [B_1 … B_K] (orthonormal blocks): singular values above ``tol`` (relative to 1).

    1 is the scale of the problem: every singular value equals 1 when the subspaces are mutually
    orthogonal, and one near 0 means a direction of some S_k (nearly) lies in the sum of the others.
    """
    used = [b for b in bases if b.shape[1]]
    if not used:
        return 0
    m = np.hstack(used)
    gram = m.T @ m if m.shape[1] <= m.shape[0] else m @ m.T   # the smaller side; same non-zero spectrum
    power = np.linalg.eigvalsh(gram)                          # = squared singular values of m
    return int((power > tol * tol).sum())


def _report_from_bases(bases: Sequence[np.ndarray], tol: float) -> tuple[IndependenceReport, np.ndarray]:
    dims = tuple(int(b.shape[1]) for b in bases)
    rank = _union_rank(bases, tol)
    deficit = sum(dims) - rank
    angles = _angle_matrix(bases)
    low, pair = _min_off_diagonal(angles)
    return IndependenceReport(dims, rank, sum(dims), deficit, _verdict(deficit), low, pair, float(tol)), angles


def _check_tol(tol: Any) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)) or not 0 <= tol < 1:
        raise TheoryError(f"tol must be a relative tolerance in [0, 1), got {tol!r}")
    return float(tol)


def _labels(labels: Any, n: int) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise TheoryError(f"labels must be a 1-D array with one label per row of X ({n}), got shape {lab.shape}")
    return lab


def independence_report(bases: Sequence[Any] | tuple[Any, Any] | None = None, *, X: Any = None, labels: Any = None,
                        tol: float = 1e-5) -> IndependenceReport:
    """Dimensions, rank of the union and the verdict for subspaces given by bases or by labelled points.

    Either ``bases``, a list of (D, q_k) spanning sets (orthonormality not needed), or the points:
    ``X`` (N, D) with ``labels`` (N,), also accepted as the pair ``independence_report((X, labels))``;
    then S_k is the span of the points labelled k. A subspace's dimension is the number of its
    singular values above ``tol × σ_max``; the union's rank that of the stacked orthonormal bases,
    counting singular values above ``tol`` (see the module doc), so a small cluster counts as much
    as a large one. The default suits exact subspaces and noise-free float32 data; for noisy data
    use :func:`diagnose` (effective dimensions) or a coarse ``tol`` such as 0.1.
    """
    if isinstance(bases, tuple) and len(bases) == 2 and X is None and labels is None \
            and np.ndim(bases[1]) == 1 and np.ndim(bases[0]) == 2:
        bases, X, labels = None, bases[0], bases[1]
    t = _check_tol(tol)
    if (bases is None) == (X is None):
        raise TheoryError("pass either bases=[B_1, …] or X=… with labels=…, not both and not neither")
    if bases is not None:
        mats = [_matrix(b, f"bases[{i}]") for i, b in enumerate(bases)]
        if not mats:
            raise TheoryError("bases is empty; expected at least one (D, q) basis")
        if len({m.shape[0] for m in mats}) > 1:
            raise TheoryError(f"all bases must have the same number of rows D, got {[m.shape[0] for m in mats]}")
        orth = []
        for m in mats:
            m64 = m.astype(np.float64)
            u, s, _ = np.linalg.svd(m64, full_matrices=False)
            orth.append(u[:, :numerical_rank(s, t)] if np.any(m64) else u[:, :0])
    else:
        if labels is None:
            raise TheoryError("X needs labels=… (one per row) to say which points belong to which subspace")
        x = _matrix(X, "X")
        lab = _labels(labels, x.shape[0])
        orth = []
        for value in np.unique(lab):
            pts = x[lab == value].astype(np.float64)
            _, s, vt = np.linalg.svd(pts, full_matrices=False)
            orth.append(vt[:numerical_rank(s, t)].T if np.any(pts) else vt[:0].T)
    report, _ = _report_from_bases(orth, t)
    return report


# ---------------------------------------------------------------------------- diagnostics of a clustering
def _finite_or_none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def _matrix_to_list(m: np.ndarray | None) -> list[list[float | None]] | None:
    if m is None:
        return None
    return [[_finite_or_none(float(v)) for v in row] for row in np.asarray(m, dtype=np.float64)]


@dataclass
class Diagnostics:
    """Subspace diagnostics of labelled points (data X, latent Z or embedding H).

    ``clusters`` are the label values (row/column order of every K×K matrix); ``n_points`` how many
    points each has, ``n_used`` how many were analysed (a seeded per-cluster subsample).
    ``spectra[k]`` are the singular values of cluster k's points (uncentred); ``effective_dims[k]``
    the smallest d keeping ``energy`` of Σ s². ``smallest_angles`` (K×K, degrees) the smallest
    principal angle between the clusters' effective subspaces (0 on the diagonal; NaN for empty
    clusters). ``union_rank`` is the rank of the stacked orthonormal effective bases (singular values
    above ``rank_tol``, on the scale where orthogonal subspaces give 1: see the module doc) and
    ``independence_ratio`` = Σ effective dims / union_rank
    (1 for independent subspaces, up to K when they all coincide). ``sp_error`` (subspace-preserving
    error) and ``leakage`` (K×K, rows sum to 1) come from Q when one was given.
    """

    space: str
    label_kind: str
    ambient_dim: int
    clusters: list[int]
    n_points: list[int]
    n_used: list[int]
    spectra: list[np.ndarray]
    effective_dims: list[int]
    energy: float
    smallest_angles: np.ndarray
    union_rank: int
    sum_dims: int
    rank_tol: float
    independence_ratio: float
    verdict: str
    sp_error: float | None = None
    leakage: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        """K, the number of clusters analysed."""
        return len(self.clusters)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly values (NaN → None)."""
        return {
            "space": self.space, "label_kind": self.label_kind, "ambient_dim": self.ambient_dim,
            "clusters": list(self.clusters), "n_points": list(self.n_points), "n_used": list(self.n_used),
            "energy": self.energy, "effective_dims": list(self.effective_dims),
            "spectra": [[float(v) for v in s] for s in self.spectra],
            "smallest_angles_deg": _matrix_to_list(self.smallest_angles),
            "union_rank": self.union_rank, "sum_dims": self.sum_dims, "rank_tol": self.rank_tol,
            "independence_ratio": _finite_or_none(float(self.independence_ratio)), "verdict": self.verdict,
            "subspace_preserving_error": self.sp_error, "leakage": _matrix_to_list(self.leakage),
            **({"extra": self.extra} if self.extra else {}),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON (strict: no NaN tokens)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv_tables(self) -> dict[str, str]:
        """CSV texts: "summary", "clusters", "spectra", "smallest_angles" and, with Q, "leakage"."""
        names = [str(c) for c in self.clusters]
        summary = [("space", self.space), ("labels", self.label_kind), ("ambient_dim", self.ambient_dim),
                   ("n_clusters", self.n_clusters), ("energy", self.energy), ("sum_effective_dims", self.sum_dims),
                   ("union_rank", self.union_rank), ("rank_tol", self.rank_tol),
                   ("independence_ratio", self.independence_ratio), ("verdict", self.verdict),
                   ("subspace_preserving_error", "" if self.sp_error is None else self.sp_error)]
        tables = {
            "summary": _csv([("quantity", "value"), *summary]),
            "clusters": _csv([("cluster", "n_points", "n_used", "effective_dim"),
                              *zip(names, self.n_points, self.n_used, self.effective_dims)]),
            "spectra": _csv([("cluster", "index", "singular_value", "cumulative_energy"),
                             *[(name, i + 1, float(v), float(e))
                               for name, s in zip(names, self.spectra) for i, (v, e) in enumerate(
                                   zip(s, _cumulative_energy(s)))]]),
            "smallest_angles": _csv([("cluster", *names),
                                     *[(name, *_csv_row(row)) for name, row in zip(names, self.smallest_angles)]]),
        }
        if self.leakage is not None:
            tables["leakage"] = _csv([("from \\ to", *names),
                                      *[(name, *_csv_row(row)) for name, row in zip(names, self.leakage)]])
        return tables


def _cumulative_energy(s: np.ndarray) -> np.ndarray:
    power = np.asarray(s, dtype=np.float64) ** 2
    total = power.sum()
    return np.cumsum(power) / total if total > 0 else np.zeros_like(power)


def _csv_row(row: np.ndarray) -> list[Any]:
    return ["" if not np.isfinite(v) else float(v) for v in np.asarray(row, dtype=np.float64)]


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def stratified_sample(labels: Any, max_points: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``max_points`` points, at most ⌈max_points/K⌉ per label (seeded).

    Small clusters are kept whole; every label keeps at least one point.
    """
    lab = np.asarray(labels)
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise TheoryError(f"max_points must be a positive integer, got {max_points!r}")
    values = np.unique(lab)
    per = max(1, -(-int(max_points) // max(1, values.size)))
    rng = np.random.default_rng(seed)
    keep = []
    for v in values:
        idx = np.flatnonzero(lab == v)
        keep.append(idx if idx.size <= per else rng.choice(idx, size=per, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def q_diagnostics(Q: Any, labels: Any, clusters: Sequence[Any] | None = None) -> tuple[float, np.ndarray]:
    """Subspace-preserving error and K×K leakage matrix of a self-expression matrix Q (N×N) of labelled points.

    ``clusters`` fixes the order (and K) of the leakage rows/columns (default: the sorted labels);
    labels outside it are an error. Both numbers come from :mod:`sscn_core.metrics`.
    """
    from .metrics import leakage_matrix, subspace_preserving_error

    lab = np.asarray(labels)
    q = np.asarray(Q.detach().cpu().numpy() if hasattr(Q, "detach") else Q)
    if q.ndim != 2 or q.shape != (lab.shape[0], lab.shape[0]):
        raise TheoryError(f"Q must be the ({lab.shape[0]}, {lab.shape[0]}) self-expression matrix of the labelled "
                          f"points, got shape {q.shape}")
    order = [v.item() for v in np.unique(lab)] if clusters is None else list(clusters)
    index = {c: i for i, c in enumerate(order)}
    missing = sorted({v.item() for v in np.unique(lab)} - set(index))
    if missing:
        raise TheoryError(f"labels {missing[:5]} are not among the clusters {order[:10]}")
    y = np.array([index[v.item()] for v in lab], dtype=np.int64)
    return subspace_preserving_error(q, y), leakage_matrix(q, y, len(order))


def diagnose(X: Any, labels: Any, Q: Any = None, *, n_clusters: int | None = None, energy: float = DEFAULT_ENERGY,
             max_points: int = DEFAULT_MAX_POINTS, rank_tol: float = DEFAULT_RANK_TOL, space: str = "X",
             label_kind: str = "labels", seed: int = 0) -> Diagnostics:
    """Per-cluster spectra, effective dimensions, pairwise smallest angles and the independence ratio.

    X (N, D) with ``labels`` (N,): the true classes or a model's clusters (say which in
    ``label_kind``). Clusters are the sorted label values, or 0 … n_clusters−1 when ``n_clusters`` is
    given (empty ones then get zero dimension and NaN angles). At most ``max_points`` points are
    analysed, spread evenly over the clusters (seeded), which keeps 10k × 784 inputs at about a second.
    ``Q`` (N, N), the self-expression matrix of exactly these N points, adds the subspace-preserving
    error and the K×K leakage matrix (``sscn_core.metrics``; all N points, no subsampling).
    """
    x = _matrix(X, "X")
    lab = _labels(labels, x.shape[0])
    e = _energy(energy)
    t = _check_tol(rank_tol)
    if n_clusters is None:
        clusters = [v.item() for v in np.unique(lab)]
    else:
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
            raise TheoryError(f"n_clusters must be a positive integer, got {n_clusters!r}")
        if not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0 or lab.max() >= n_clusters:
            raise TheoryError(f"with n_clusters={n_clusters}, labels must be integers in [0, {n_clusters}); got "
                              f"{lab.min()}…{lab.max()}")
        clusters = list(range(int(n_clusters)))
    keep = stratified_sample(lab, max_points, seed)
    xs, ls = x[keep], lab[keep]
    spectra, dims, bases, counts, used = [], [], [], [], []
    for c in clusters:
        pts = xs[ls == c].astype(np.float64)
        counts.append(int((lab == c).sum()))
        used.append(int(pts.shape[0]))
        if pts.shape[0] == 0 or not np.any(pts):
            spectra.append(np.zeros(0))
            dims.append(0)
            bases.append(np.zeros((x.shape[1], 0)))
            continue
        s, v = _spectrum_and_directions(pts)
        d = effective_dimension(s, e)
        spectra.append(s)
        dims.append(d)
        bases.append(v[:, :d])
    report, angles = _report_from_bases(bases, t)
    ratio = report.sum_dims / report.union_rank if report.union_rank > 0 else math.nan
    sp_error = leakage = None
    if Q is not None:
        sp_error, leakage = q_diagnostics(Q, lab, clusters)
    return Diagnostics(space=str(space), label_kind=str(label_kind), ambient_dim=int(x.shape[1]), clusters=clusters,
                       n_points=counts, n_used=used, spectra=spectra, effective_dims=dims, energy=e,
                       smallest_angles=angles, union_rank=report.union_rank, sum_dims=report.sum_dims, rank_tol=t,
                       independence_ratio=float(ratio), verdict=report.verdict, sp_error=sp_error, leakage=leakage)
