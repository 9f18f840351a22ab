"""Pseudo-labels from a self-expression matrix: the paper's post-processing, vectorised.

Given Q (N × N; Q = H Hᵀ for SSCN, any coefficient matrix C for EDSC / DSC-Net):

1. ``threshold_columns``: per column keep the largest |entries| up to and including the first whose
   cumulative sum exceeds ρ·(column L1 norm); kept entries keep their sign.
2. C ← ½(C + Cᵀ); diagonal set to 1.
3. Rank r = d·K + 1 truncated SVD; U ← U·diag(√S); rows of U normalised; Z = UUᵀ; negatives → 0.
4. L = Z^α; L ← L / max L; L ← ½(L + Lᵀ).
5. Spectral clustering of L into K clusters (normalised affinity, top-K eigenvectors, Yu–Shi
   discretisation), seeded.

Steps 1–4 are ``affinity_from_coefficients``; ``spectral_pseudo_labels`` adds step 5.

Differences from the reference, all numerical rather than methodological: the rank-r SVD of the
symmetric matrix of step 2 is computed as its r eigenpairs of largest magnitude (the same thing;
see ``_top_singular_subspace``), and step 5 is our own implementation of what
``sklearn.cluster.spectral_clustering(affinity, eigen_solver="arpack", assign_labels="discretize")``
computes, with a different eigensolver: sklearn's shift-invert ARPACK factorises the dense N × N
affinity (≈ 18 s at N = 10⁴ on 2 cores) while ours uses block matrix products only (see
``_normalized_top_eigenvectors``). Labels agree with sklearn's (tests check it), and are seeded.
"""
from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import psutil
import torch
from scipy import sparse

__all__ = ["PostprocessError", "affinity_from_coefficients", "estimate_pseudo_label_bytes",
           "max_pseudo_label_points", "normalized_cut", "threshold_columns", "spectral_pseudo_labels",
           "well_clustered_ratio"]

_CHUNK = 1024          # columns of C thresholded at a time
_FIRST_K = 64          # first guess of how many entries per column are kept
_DENSE_MAX = 1000      # up to this N, eigen-decompositions are dense (LAPACK) rather than iterative
_BLOCK_ENTRIES = 2**22  # entries of an N × N matrix converted to float64 at a time (32 MB)
_EIGEN_TOL = 1e-5      # residual tolerance of the spectral embedding's eigenvectors (float32 products)
_STALL_TOL = 1e-3
VARIANTS = ("paper", "subspace")      # below this residual, a stalled iteration is accepted as converged


class PostprocessError(ValueError):
    """Bad input to the post-processing (shape, values or parameters)."""


# ---------------------------------------------------------------------------- validation
def _as_square_tensor(C: Any, name: str = "C", check_finite: bool = True, square: bool = True) -> torch.Tensor:
    """A CPU torch view (no copy when possible) of a (square), finite, real matrix."""
    if isinstance(C, torch.Tensor):
        t = C.detach()
        if t.device.type != "cpu":
            t = t.cpu()
    elif isinstance(C, np.ndarray):
        if not np.issubdtype(C.dtype, np.number) or np.iscomplexobj(C):
            raise PostprocessError(f"{name} must hold real numbers, got dtype {C.dtype}")
        t = torch.from_numpy(C if C.dtype in (np.float32, np.float64) else C.astype(np.float64))
    elif sparse.issparse(C):
        raise PostprocessError(f"{name} must be a dense numpy array or torch tensor, got a scipy.sparse matrix; "
                               f"call .toarray() first")
    else:
        raise PostprocessError(f"{name} must be a numpy array or torch tensor, got {type(C).__name__}")
    if square and (t.ndim != 2 or t.shape[0] != t.shape[1]):
        raise PostprocessError(f"{name} must be a square (N, N) matrix, got shape {tuple(t.shape)}")
    if t.ndim != 2:
        raise PostprocessError(f"{name} must be a 2-D matrix, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise PostprocessError(f"{name} is empty (shape {tuple(t.shape)})")
    if t.is_complex():
        raise PostprocessError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.double()
    elif t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    if check_finite and not _all_finite(t):
        raise PostprocessError(f"{name} contains NaN or infinite values")
    return t


def _all_finite(t: torch.Tensor) -> bool:
    """No NaN or ±inf in ``t``, without an N × N mask (max and min propagate NaN and show ±inf)."""
    return bool(torch.isfinite(t.amax())) and bool(torch.isfinite(t.amin()))


def _product64(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``t @ y`` in float64 for a float32/64 matrix ``t`` (N × M) and a thin float64 ``y`` (M × k).

    ``t.double()`` (or ``t.sum(dtype=torch.float64)``) would copy all of ``t``; here row blocks of
    about _BLOCK_ENTRIES entries pass through one reused float64 buffer into a preallocated result
    (fresh blocks interleaved with small results fragment the heap into about as much memory).
    """
    n, m = t.shape
    step = max(1, _BLOCK_ENTRIES // max(1, m))
    out = torch.empty(n, y.shape[1], dtype=torch.float64)
    buffer = torch.empty(min(step, n), m, dtype=torch.float64)
    for i in range(0, n, step):
        block = buffer[:min(step, n - i)]
        block.copy_(t[i:i + step])
        torch.matmul(block, y, out=out[i:i + step])
    return out


def _check_rho(rho: Any) -> float:
    if isinstance(rho, bool) or not isinstance(rho, (int, float, np.floating, np.integer)) or not 0 < rho <= 1:
        raise PostprocessError(f"rho must be a number in (0, 1], got {rho!r}")
    return float(rho)


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise PostprocessError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------- step 1
def threshold_columns(C: Any, rho: float = 0.1, *, drop_diagonal: bool = False, min_keep: int = 1) -> sparse.csc_matrix:
    """Keep, in each column, the largest |entries| whose cumulative sum first exceeds ρ·‖column‖₁.

    Per column j: sort |C[:, j]| in descending order (ties: lower row index first) and keep the
    entries up to and including the first at which the cumulative sum becomes strictly greater
    than ρ·Σ|C[:, j]|; if none does (ρ = 1 up to rounding), every nonzero entry is kept. Kept
    entries keep their value and sign; a zero column stays empty. Returns an N × N CSC matrix in
    the input's float dtype (float32 or float64).

    Beyond the paper (the "subspace" variant of ``affinity_from_coefficients``): ``drop_diagonal``
    leaves each column's diagonal entry out, of the mass and of what is kept — step 2 sets the
    diagonal to 1 anyway, and with few points per subspace the diagonal of C* alone exceeds ρ of a
    column's mass, so the paper's rule keeps nothing else; ``min_keep`` keeps at least that many
    nonzero entries per column (a point of a q-dimensional subspace is a combination of q others).

    Vectorised: per block of columns, ``torch.topk`` with a guessed k, grown only for the columns
    whose top-k mass does not reach ρ — no full sort. Cumulative sums are taken in float64.
    """
    rho = _check_rho(rho)
    t = _as_square_tensor(C, check_finite=False, square=False)  # finiteness: checked block by block below
    n, n_cols = t.shape
    dtype = np.float32 if t.dtype == torch.float32 else np.float64
    indptr = np.zeros(n_cols + 1, dtype=np.int64)
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    k_guess = min(n, _FIRST_K)
    buffer = torch.empty((min(_CHUNK, n_cols), n), dtype=t.dtype)
    for start in range(0, n_cols, _CHUNK):
        b = min(_CHUNK, n_cols - start)
        mags = torch.abs(t[:, start:start + b].T, out=buffer[:b])   # row i = |column start + i of C|
        if drop_diagonal:
            rows_in_block = torch.arange(b)[start + torch.arange(b) < n]
            mags[rows_in_block, start + rows_in_block] = 0
        rows, cols, k_needed = _threshold_block(mags, rho, k_guess, min_keep)
        indptr[start + 1:start + 1 + b] = np.bincount(rows, minlength=b)
        indices.append(cols)
        data.append(t[torch.from_numpy(cols), torch.from_numpy(rows + start)].numpy().astype(dtype, copy=False))
        if k_needed.size:
            k_guess = int(min(n, max(_FIRST_K, 2 ** math.ceil(math.log2(max(1.0, np.quantile(k_needed, 0.99)))))))
    np.cumsum(indptr, out=indptr)
    nnz = int(indptr[-1])
    index_dtype = np.int32 if nnz < 2**31 else np.int64
    out = sparse.csc_matrix((np.concatenate(data) if data else np.zeros(0, dtype),
                             np.concatenate(indices).astype(index_dtype, copy=False),
                             indptr.astype(index_dtype, copy=False)), shape=(n, n_cols))
    out.has_sorted_indices = True
    return out


def _threshold_block(mags: torch.Tensor, rho: float, k_guess: int, min_keep: int = 1
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept positions of a block of columns (given as rows of ``mags`` = |Cᵀ| block).

    Returns (block row, position) pairs sorted by block row then position, and the number of
    entries kept per nonzero row.
    """
    b, n = mags.shape
    target = _row_l1(mags) * rho                                       # ρ·‖column‖₁ in float64
    count = torch.full((b,), n, dtype=torch.int64)                     # entries kept per row
    threshold = torch.zeros(b, dtype=mags.dtype)                       # |value| of the last kept entry
    todo = torch.nonzero(target > 0).flatten()                         # zero columns keep nothing
    count[target <= 0] = 0
    threshold[target <= 0] = math.inf
    k = k_guess
    while todo.numel():
        vals = torch.topk(mags[todo], k, dim=1, sorted=True).values
        cum = vals.cumsum(dim=1, dtype=torch.float64)
        exceeded = cum > target[todo, None]
        done = exceeded.any(dim=1) | (k >= n)
        first = torch.where(exceeded.any(dim=1), exceeded.to(torch.int8).argmax(dim=1), k - 1)
        rows_done = todo[done]
        count[rows_done] = first[done] + 1
        threshold[rows_done] = vals[done, first[done]]
        todo = todo[~done]
        k = min(n, 4 * k)
    if min_keep > 1:
        floor = torch.topk(mags, min(min_keep, n), dim=1).values[:, -1]
        short = (count < min_keep) & (count > 0) & (floor > 0)
        count[short] = min(min_keep, n)
        threshold[short] = torch.minimum(threshold[short], floor[short])
    keep = (mags >= threshold[:, None]) & (mags > 0)
    rows, cols = (x.numpy() for x in torch.nonzero(keep, as_tuple=True))
    # Ties at the threshold can keep more entries than counted: among the tied ones keep the lowest
    # positions, as a stable descending sort would.
    over = np.flatnonzero(np.bincount(rows, minlength=b) > count.numpy())
    if over.size:
        drop = np.zeros(rows.size, dtype=bool)
        starts = np.searchsorted(rows, over, side="left")
        ends = np.searchsorted(rows, over, side="right")
        for r, s0, s1 in zip(over.tolist(), starts.tolist(), ends.tolist()):
            row_cols = cols[s0:s1]
            tied = np.flatnonzero(mags[r, torch.from_numpy(row_cols)].numpy() == threshold[r].item())
            n_above = row_cols.size - tied.size
            drop[s0 + tied[int(count[r]) - n_above:]] = True
        rows, cols = rows[~drop], cols[~drop]
    return rows, cols, count[count > 0].numpy()


def _row_l1(mags: torch.Tensor) -> torch.Tensor:
    """Row sums of a non-negative block in float64; raises if the block held NaN or ±inf."""
    if mags.dtype == torch.float64:
        total = mags.sum(dim=1)
    else:
        total = mags.sum(dim=1).double()                               # float32 cascade sum: ~1e-7 relative
        if not bool(torch.isfinite(total).all()):                      # overflow or a bad value: redo in float64
            total = mags.sum(dim=1, dtype=torch.float64)
    if not bool(torch.isfinite(total).all()):
        raise PostprocessError("the matrix contains NaN or infinite values")
    return total


# ---------------------------------------------------------------------------- steps 2–4
def _symmetrize_unit_diagonal(C: sparse.spmatrix) -> sparse.csr_matrix:
    """½(C + Cᵀ) with its diagonal set to 1 (step 2)."""
    sym = (0.5 * (C + C.T)).tocsr()
    sym = sym - sparse.diags(sym.diagonal()) + sparse.identity(sym.shape[0], dtype=sym.dtype, format="csr")
    sym = sym.tocsr()
    sym.eliminate_zeros()
    sym.sort_indices()
    return sym


def _top_singular_subspace(A: sparse.csr_matrix, rank: int, seed: int, dense: bool = False
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Top-``rank`` singular values (descending) and left singular vectors of a symmetric matrix.

    For a symmetric A the singular values are |eigenvalues| and the left singular vectors are the
    eigenvectors, so the truncated SVD is the ``rank`` eigenpairs of largest magnitude: ARPACK
    (``eigsh``, which="LM", float64, seeded start vector) for N > 1000, dense ``eigh`` otherwise.

    Measured on a 10⁴ × 10⁴ thresholded SSCN-like matrix (2.3M nonzeros, r = 91, 2 cores):
    ``eigsh`` 1.1 s; ``scipy.sparse.linalg.svds`` 1.5 s with the same singular values (to 1e-12) and
    subspace (sine of the largest principal angle 3e-8); sklearn's ``randomized_svd`` 1.5 s
    (n_iter=4) / 2.0 s (n_iter=7) but far off (sine 0.83 / 0.59: the tail singular values are not
    separated enough for a few power iterations). Hence ``eigsh``. ``dense=True`` takes the dense path at
    any N (faster when ``rank`` is a large share of N: 0.7 s at N = 2,000 where ``eigsh`` for r = 342 can
    take a minute).
    """
    n = A.shape[0]
    if n <= _DENSE_MAX or dense:
        w, v = np.linalg.eigh(A.toarray().astype(np.float64))
    else:
        from scipy.sparse.linalg import eigsh
        v0 = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
        w, v = eigsh(A.astype(np.float64), k=rank, which="LM", v0=v0)
    order = np.argsort(-np.abs(w), kind="stable")[:rank]
    return np.abs(w[order]), v[:, order]


def _affinity_from_embedding(U: np.ndarray, S: np.ndarray, alpha: float, signed: bool = True) -> torch.Tensor:
    """Steps 3 (end) and 4: L = max(0, ÛÛᵀ)^α / max, symmetrised, with Û = rows of U·diag(√S) normalised.

    ``signed=False`` takes |ÛÛᵀ| instead of its positive part: x and −x lie in the same subspace
    (on a line, the paper's rule cuts every line in two halves).
    """
    u = torch.from_numpy(U * np.sqrt(S)[None, :]).float()
    norms = torch.linalg.vector_norm(u, dim=1, keepdim=True)
    u = u / torch.where(norms > 0, norms, torch.ones_like(norms))
    z = u @ u.T
    if signed:
        z.clamp_(min=0.0)
    else:
        z.abs_()
    z.pow_(alpha)
    top = z.max()
    if top > 0:
        z.div_(top)
    # ÛÛᵀ is symmetric up to rounding; average with the transpose block by block, in place.
    n = z.shape[0]
    for i in range(0, n, _CHUNK):
        for j in range(i, n, _CHUNK):
            a = z[i:i + _CHUNK, j:j + _CHUNK]
            b = z[j:j + _CHUNK, i:i + _CHUNK]
            avg = 0.5 * (a + b.T)
            a.copy_(avg)
            b.copy_(avg.T)
    return z


def _check_common(n: int, n_clusters: Any, subspace_dim: Any, rho: Any, alpha: Any) -> tuple[int, int, float, float]:
    k = _check_positive_int(n_clusters, "n_clusters")
    d = _check_positive_int(subspace_dim, "subspace_dim")
    if k > n:
        raise PostprocessError(f"n_clusters ({k}) cannot exceed the number of points N = {n}")
    rho = _check_rho(rho)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) \
            or not math.isfinite(alpha) or alpha <= 0:
        raise PostprocessError(f"alpha must be a positive finite number, got {alpha!r}")
    return k, d, rho, float(alpha)


def _rank(n: int, n_clusters: int, subspace_dim: int, extra: int = 1) -> int:
    """r = d·K + ``extra`` (the paper's + 1), clipped to [1, N − 1] (ARPACK needs r < N)."""
    return max(1, min(subspace_dim * n_clusters + extra, n - 1))


def affinity_from_coefficients(C: Any, n_clusters: int, subspace_dim: int, rho: float = 0.1, alpha: float = 8.0,
                               *, seed: int = 0, variant: str = "paper", dense: bool = False,
                               timings: dict[str, float] | None = None) -> np.ndarray:
    """Steps 1–4: the dense N × N float32 affinity L (symmetric, max 1) that spectral clustering sees.

    ``timings``, when given, receives the seconds spent in each stage ("threshold", "symmetrize",
    "svd", "affinity").

    ``variant`` "paper" is the reference's post-processing; "subspace" (beyond the paper) makes it
    exact on independent subspaces whatever the number of points per subspace: the diagonal is left
    out of step 1's mass, each column keeps at least 2·``subspace_dim`` entries (q would express a
    point; 2q keeps each subspace's graph connected on our grid of independent cases, where q left
    some disconnected), the rank is r = d·K, the dimension of a union of K independent
    d-dimensional subspaces (the paper's extra direction splits one cluster's span in two when a
    cluster has few points), and step 3 takes
    |ÛÛᵀ| (sign does not matter to a subspace). See ``threshold_columns``. ``dense=True``: the truncated
    SVD by a dense eigen-decomposition at any N (see ``_top_singular_subspace``).
    """
    s, u, signed = _spectral_basis(C, n_clusters, subspace_dim, rho, alpha, seed=seed, variant=variant,
                                   timings=timings, dense=dense)
    clock = _Clock(timings)
    z = _affinity_from_embedding(u, s, alpha, signed=signed)
    clock.lap("affinity")
    return z.numpy()


def _spectral_basis(C: Any, n_clusters: int, subspace_dim: int, rho: float, alpha: float, *, seed: int,
                    variant: str, timings: dict[str, float] | None, dense: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Steps 1–3 up to the truncated SVD: (singular values, vectors, whether step 3 keeps signs).

    ``alpha`` is only validated here (step 4 applies it), so a choice among several powers shares
    these steps (see ``spectral_pseudo_labels``)."""
    if variant not in VARIANTS:
        raise PostprocessError(f"variant must be one of {VARIANTS}, got {variant!r}")
    subspace = variant == "subspace"
    t = _as_square_tensor(C, check_finite=False)  # finiteness: checked while thresholding
    n = t.shape[0]
    k, d, rho, alpha = _check_common(n, n_clusters, subspace_dim, rho, alpha)
    seed = _check_seed(seed)
    _check_memory(n)
    clock = _Clock(timings)
    thresholded = threshold_columns(t, rho, drop_diagonal=subspace, min_keep=2 * d if subspace else 1)
    clock.lap("threshold")
    sym = _symmetrize_unit_diagonal(thresholded)
    del thresholded
    clock.lap("symmetrize")
    s, u = _top_singular_subspace(sym, _rank(n, k, d, extra=0 if subspace else 1), seed, dense)
    del sym
    clock.lap("svd")
    return s, u, not subspace


class _Clock:
    """Records the seconds between successive ``lap`` calls into an optional dict."""

    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink = sink
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.sink is not None:
            self.sink[name] = now - self.last
        self.last = now


def _check_memory(n: int) -> None:
    """Refuse early when the dense N × N float32 affinity cannot fit in the memory now available."""
    need = 4 * n * n * 1.25                                             # L plus working blocks
    available = psutil.virtual_memory().available
    if need > available:
        raise PostprocessError(f"the dense {n} × {n} affinity needs about {need / 2**30:.1f} GiB but only "
                               f"{available / 2**30:.1f} GiB of memory is available; post-process a random "
                               f"subset of the points (e.g. SSCN(pseudo_sample_size=...)) instead")


def estimate_pseudo_label_bytes(n: int) -> int:
    """Peak bytes of SSCN's pseudo-label phase on ``n`` points, by arithmetic: Q = HHᵀ and the
    affinity L (two dense n × n float32 matrices, on the CPU whatever the device), the thresholding's
    blocks of columns and one float64 row block (``_product64``). Within 25 % of the measured peak
    at n = 3000–6000 (tests/test_postprocess.py)."""
    return 8 * n * n + 8 * min(_CHUNK, n) * n + 8 * min(n * n, _BLOCK_ENTRIES)


def max_pseudo_label_points(available: int) -> int:
    """The largest n whose pseudo-label phase (:func:`estimate_pseudo_label_bytes`) fits in ``available`` bytes."""
    n = max(0, math.isqrt(max(0, available) // 8))
    while n > 0 and estimate_pseudo_label_bytes(n) > available:
        n -= max(1, n // 100)
    return n


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise PostprocessError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# ---------------------------------------------------------------------------- step 5
def _normalized_top_eigenvectors(L: torch.Tensor, k: int, seed: int,
                                 solver: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The spectral embedding sklearn's ``spectral_embedding(norm_laplacian=True, drop_first=False)`` computes.

    Self-loops are ignored (degrees d_i = Σ_{j≠i} L_ij, as in ``scipy.sparse.csgraph.laplacian``);
    the k eigenvectors of largest eigenvalue of M = D^-½ (L − diag L) D^-½ — the smallest of the
    normalised Laplacian — are returned multiplied by D^-½, with deterministic signs.

    The eigensolver differs from sklearn's: sklearn runs ARPACK in shift-invert mode, which
    factorises the dense N × N matrix (≈ 18 s at N = 10⁴ on 2 cores). Here N ≤ 1000 uses a dense
    ``eigh``; larger N a seeded Chebyshev-filtered subspace iteration in float32 (``_top_eigenpairs``).
    Plain Lanczos (ARPACK without shift-invert) is not used: it misses eigenvectors when the top
    eigenvalue is multiple, which is exactly the case of a well-separated (disconnected) affinity.
    ``solver``, when given, receives how the eigenvectors were found (see ``_top_eigenpairs``).
    Returns (the k eigenvalues of M, descending; the k vectors).
    """
    n = L.shape[0]
    self_loops = L.diagonal().to(torch.float64)
    degree = _product64(L, torch.ones(n, 1, dtype=torch.float64))[:, 0] - self_loops
    scale = torch.where(degree > 0, degree.clamp(min=1e-300).rsqrt(), torch.ones_like(degree))
    if n <= _DENSE_MAX or k >= n - 1:
        m = (L.to(torch.float64) - torch.diag(self_loops)) * scale[:, None] * scale[None, :]
        w, v = torch.linalg.eigh(m)
        order = torch.argsort(w, descending=True)[:k]
        values, vectors = w[order].numpy(), v[:, order].numpy()
        report = {"method": "dense", "status": "converged"}
    else:
        scale32 = scale.float()[:, None]
        loops32 = self_loops.float()[:, None]

        def apply(x: torch.Tensor) -> torch.Tensor:
            y = x * scale32
            return (L @ y - loops32 * y) * scale32

        found_values, found, report = _top_eigenpairs(apply, n, k, seed)
        values, vectors = found_values.numpy(), found.numpy()
    if solver is not None:
        solver.update(report)
    vectors = vectors * scale.numpy()[:, None]
    # Deterministic signs: the entry of largest magnitude of each vector is positive.
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])])
    return values, vectors * np.where(signs == 0, 1.0, signs)


def _top_eigenpairs(apply: Any, n: int, k: int, seed: int, *, tol: float = _EIGEN_TOL, degree: int = 6,
                    max_rounds: int = 60, block_size: int | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Top-k eigenpairs of a symmetric operator with spectrum in [−1, 1], by Chebyshev-filtered
    subspace iteration (Zhou & Saad, 2007) on a block of b = max(2k, k + 10) vectors (or ``block_size``).

    Each round applies the degree-``degree`` Chebyshev polynomial that is bounded on the unwanted
    interval [−1, θ_b] (θ_b: the smallest Ritz value of the block) and grows fast above it, then
    re-orthonormalises and does a Rayleigh–Ritz step. Multiple or clustered top eigenvalues are no
    harder than separated ones. Stops when every wanted Ritz pair has residual ‖Mv − θv‖ ≤ ``tol``,
    or when the residual is below 1e-3 and stalls (the float32 rounding floor); warns if
    ``max_rounds`` is reached. ``apply`` maps a float32 (n, b) tensor to M times it.
    Returns (eigenvalues (k,) descending, eigenvectors (n, k)) in float64 and a report: method,
    status ("converged", "stalled": accepted above ``tol`` because the residual stopped falling,
    or "not converged"), the largest residual, the tolerance and the rounds.
    """
    b = min(n, block_size or max(2 * k, k + 10))
    g = torch.Generator().manual_seed(seed)
    x = torch.linalg.qr(torch.randn(n, b, generator=g, dtype=torch.float64)).Q
    theta, x, y = _rayleigh_ritz(apply, x)
    history: list[float] = []
    for _ in range(max_rounds):
        residual = float(torch.linalg.vector_norm(y[:, :k] - x[:, :k] * theta[:k], dim=0).max())
        # Converged, or stuck at the rounding floor of the float32 products (≈1e-5 at N = 10⁴):
        # no halving of the residual in two rounds while it is already small.
        stalled = len(history) >= 2 and residual <= _STALL_TOL and residual > 0.5 * min(history[-2:])
        if residual <= tol or stalled:
            status = "converged" if residual <= tol else "stalled"
            return theta[:k], x[:, :k], {"method": "chebyshev", "status": status, "residual": residual,
                                         "tolerance": tol, "rounds": len(history)}
        history.append(residual)
        upper = max(float(theta[-1]), -1.0 + 1e-3)  # smallest Ritz value: top of the damped interval
        x = torch.linalg.qr(_chebyshev_filter(apply, x.float(), degree, -1.0, upper).double()).Q
        theta, x, y = _rayleigh_ritz(apply, x)
    warnings.warn(f"spectral embedding: the top-{k} eigenvectors did not converge to {tol:g} in {max_rounds} "
                  f"rounds (largest residual {history[-1]:.2e}); using them as they are",
                  RuntimeWarning, stacklevel=3)
    return theta[:k], x[:, :k], {"method": "chebyshev", "status": "not converged", "residual": history[-1],
                                 "tolerance": tol, "rounds": max_rounds}


def _rayleigh_ritz(apply: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ritz values (descending), Ritz vectors and their images M·(vector) for an orthonormal basis x (float64)."""
    y = apply(x.float()).double()
    h = x.T @ y
    w, s = torch.linalg.eigh(0.5 * (h + h.T))
    order = torch.argsort(w, descending=True)
    w, s = w[order], s[:, order]
    return w, x @ s, y @ s


def _chebyshev_filter(apply: Any, x: torch.Tensor, degree: int, lower: float, upper: float) -> torch.Tensor:
    """T_degree(t(M)) x, t mapping [lower, upper] onto [−1, 1]; columns rescaled at each step (no overflow)."""
    half = 0.5 * (upper - lower)
    centre = 0.5 * (upper + lower)
    prev = x
    cur = (apply(x) - centre * x) / half
    for _ in range(1, degree):
        nxt = 2.0 * (apply(cur) - centre * cur) / half - prev
        norms = torch.linalg.vector_norm(nxt, dim=0).clamp(min=torch.finfo(nxt.dtype).tiny)
        prev, cur = cur / norms, nxt / norms
    return cur


def _discretize(vectors: np.ndarray, rng: np.random.Generator, max_iter: int = 20,
                max_restarts: int = 30) -> np.ndarray:
    """Yu & Shi's (2003) multiclass spectral discretisation: the indicator matrix closest to a
    rotation of the row-normalised embedding, by alternating label assignment and Procrustes.

    Mirrors sklearn's ``assign_labels="discretize"``: columns scaled to norm √N, rows normalised,
    the rotation started from k mutually most orthogonal rows (the first one drawn at random) and
    refined until the normalised-cut objective stops changing; restarts only on an SVD failure.
    """
    n, k = vectors.shape
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=0), np.finfo(float).tiny) * math.sqrt(n)
    row_norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(row_norms > 0, row_norms, 1.0)
    for _ in range(max_restarts):
        rotation = np.zeros((k, k))
        rotation[:, 0] = v[rng.integers(n)]
        closeness = np.zeros(n)
        for j in range(1, k):
            closeness += np.abs(v @ rotation[:, j - 1])
            rotation[:, j] = v[np.argmin(closeness)]
        last_objective = 0.0
        try:
            for _ in range(max_iter + 1):
                labels = np.argmax(v @ rotation, axis=1)
                cluster_sums = np.zeros((k, k))
                np.add.at(cluster_sums, labels, v)                   # Yᵀ V for the indicator matrix Y
                u, s, vh = np.linalg.svd(cluster_sums)
                objective = 2.0 * (n - s.sum())
                if abs(objective - last_objective) < np.finfo(float).eps:
                    break
                last_objective = objective
                rotation = vh.T @ u.T
            return labels
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError(f"spectral discretisation failed: the SVD did not converge in {max_restarts} restarts")


def _spectral_clustering(L: torch.Tensor, k: int, seed: int, restarts: int = 1,
                         solver: dict[str, Any] | None = None, vectors: np.ndarray | None = None) -> np.ndarray:
    """Normalised spectral clustering of a precomputed affinity into k clusters (labels 0 … k−1).

    With ``restarts`` > 1 the discretisation starts from that many random rotations (seeds
    ``seed``, ``seed + 1``, …) and the partition of smallest normalised cut is kept. ``solver``,
    when given, receives the eigen-solver's report (see ``_normalized_top_eigenvectors``); ``vectors``,
    when given, are L's spectral embedding already computed (its first k columns are used).
    """
    if k == 1:
        return np.zeros(L.shape[0], dtype=np.int64)
    if vectors is None:
        vectors = _normalized_top_eigenvectors(L, k, seed, solver)[1]
    vectors = vectors[:, :k]
    best, best_cut = None, math.inf
    for r in range(restarts):
        labels = _discretize(vectors, np.random.default_rng(seed + r)).astype(np.int64)
        cut = normalized_cut(L, labels, k) if restarts > 1 else 0.0
        if cut < best_cut:
            best, best_cut = labels, cut
    return best


def _connected_components(affinity: torch.Tensor, chunk: int = 256, max_rounds: int = 64) -> np.ndarray | None:
    """A component id per point of the graph ``affinity > 0`` (symmetric), by min-label propagation
    in row blocks: memory ``chunk`` × N, N² work a round, as many rounds as the graph's diameter.
    None when it has not settled within ``max_rounds`` (a long chain: leave it to the spectral step)."""
    n = affinity.shape[0]
    labels = torch.arange(n)
    for _ in range(max_rounds):
        new = labels.clone()
        for start in range(0, n, chunk):
            block = affinity[start:start + chunk] > 0
            reach = torch.where(block, labels[None, :], n).min(dim=1).values
            new[start:start + chunk] = torch.minimum(new[start:start + chunk], reach)
        new = new[new]                          # jump along the labels found (pointer jumping)
        if torch.equal(new, labels):
            return labels.numpy()
        labels = new
    return None


def _components_as_clusters(affinity: torch.Tensor, Q: Any, k: int, chunk: int = 512) -> np.ndarray | None:
    """When the affinity falls apart into at least k connected components, those components are the
    clusters (beyond the paper, with the subspace variant): spectral clustering cannot tell them apart
    then — every grouping of components has normalised cut 0, and k of the more than k unit
    eigenvectors are an arbitrary choice that may merge two subspaces. Components beyond k are merged,
    smallest first, into the component its points are most self-expressed by (the largest sum of |Q|
    between them). Returns None when there are fewer than k components (the spectral step decides)."""
    comp = _connected_components(affinity)
    if comp is None:
        return None
    values, comp = np.unique(comp, return_inverse=True)
    n_comp = len(values)
    if n_comp < k:
        return None
    q = torch.as_tensor(np.asarray(Q) if not isinstance(Q, torch.Tensor) else Q).cpu()
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(comp).long(), n_comp).double()
    between = torch.zeros(n_comp, n_comp, dtype=torch.float64)
    for start in range(0, q.shape[0], chunk):
        block = q[start:start + chunk].abs().double()
        between += one_hot[start:start + chunk].T @ (block @ one_hot)
    between.fill_diagonal_(0.0)
    sizes = one_hot.sum(dim=0)
    alive = list(range(n_comp))
    owner = np.arange(n_comp)
    while len(alive) > k:
        small = min(alive, key=lambda c: (float(sizes[c]), c))
        others = [c for c in alive if c != small]
        target = max(others, key=lambda c: (float(between[small, c]), -c))
        between[target] += between[small]
        between[:, target] += between[:, small]
        between[target, target] = 0.0
        sizes[target] += sizes[small]
        owner[owner == small] = target
        alive.remove(small)
    labels = owner[comp]
    _, first = np.unique(labels, return_index=True)
    order = {value: i for i, value in enumerate(labels[np.sort(first)])}
    return np.array([order[v] for v in labels], dtype=np.int64)


def normalized_cut(L: Any, labels: Any, n_clusters: int) -> float:
    """Shi–Malik normalised cut Σ_k cut(A_k, Ā_k) / vol(A_k) of a partition of the affinity L.

    Needs no ground truth: among partitions of one affinity, the smaller the better. Empty
    clusters count as 1 (the worst a cluster can score).
    """
    A = _as_square_tensor(L, "L")
    y = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(labels), dtype=torch.long), n_clusters).double()
    ay = _product64(A, y)
    volume = ay.sum(dim=0)
    inside = (y * ay).sum(dim=0)
    ratio = torch.where(volume > 0, (volume - inside) / volume.clamp_min(1e-300), torch.ones_like(volume))
    return float(ratio.sum())


def well_clustered_ratio(eigenvalues: Any, n_clusters: int) -> float:
    """μ_{K+1} / μ_K: how clearly a graph falls into K clusters, from its normalised spectrum.

    ``eigenvalues`` are the top K + 1 eigenvalues λ of the normalised affinity D^-½ A D^-½
    (descending); μ = 1 − λ are the normalised Laplacian's smallest. μ_K small means K groups with
    little weight between them, μ_{K+1} large that none of them splits further. It is the computable
    side of Peng, Sun & Zanetti's (COLT 2015) Υ = μ_{K+1} / ρ(K), ρ(K) the K-way expansion (between
    μ_K / 2 and O(K³)·√μ_K by the higher-order Cheeger inequalities): the larger Υ, the less of the
    graph spectral clustering can misplace. Needs no labels, and compares affinities of the same
    points. ∞ when μ_K = 0 < μ_{K+1} (exactly K components), 1 when nothing tells K from K + 1.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    k = _check_positive_int(n_clusters, "n_clusters")
    if lam.shape != (k + 1,):
        raise PostprocessError(f"well_clustered_ratio needs the top K + 1 = {k + 1} eigenvalues, got shape {lam.shape}")
    mu_k, mu_next = max(0.0, 1.0 - lam[k - 1]), max(0.0, 1.0 - lam[k])
    if mu_k <= 1e-12:
        return math.inf if mu_next > 1e-12 else 1.0
    return mu_next / mu_k


def _alphas(alpha: Any) -> tuple[float, ...]:
    """``alpha`` as a non-empty tuple of candidate powers (a single number is one candidate)."""
    values = tuple(alpha) if isinstance(alpha, (tuple, list)) else (alpha,)
    if not values:
        raise PostprocessError("alpha must be a positive number or a non-empty sequence of them, got ()")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value) or value <= 0:
            raise PostprocessError(f"alpha must be a positive finite number, got {value!r}")
    return tuple(float(v) for v in values)


def spectral_pseudo_labels(Q: Any, n_clusters: int, subspace_dim: int, *, rho: float = 0.1,
                           alpha: float | tuple[float, ...] = 8.0,
                           seed: int = 0, restarts: int = 1, variant: str = "paper",
                           return_affinity: bool = False,
                           timings: dict[str, float] | None = None,
                           solver: dict[str, Any] | None = None,
                           choice: dict[str, Any] | None = None,
                           clarity: dict[str, Any] | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Pseudo-labels (N,) int64 in 0 … K−1 from a self-expression matrix Q (N × N), steps 1–5.

    Q may be a numpy array or torch tensor (any device; it is read on the CPU); it need not be
    exactly symmetric. Seeded: the same Q and seed give the same labels. With ``return_affinity``
    also returns the dense float32 affinity L of step 4. ``restarts``: see ``_spectral_clustering``
    (label-free selection by normalised cut). ``variant``: see ``affinity_from_coefficients``. ``timings``, when given, receives the
    seconds of each stage ("threshold", "symmetrize", "svd", "affinity", "spectral"). ``solver``,
    when given, receives the spectral eigen-solver's report: "method", "status" ("converged",
    "stalled" — a residual above the tolerance accepted because it stopped falling — or "not
    converged"), and for the iterative solver "residual", "tolerance" and "rounds".

    ``alpha`` may be a sequence of candidate powers (beyond the paper): steps 1–3 run once, step 4
    once per candidate, and the affinity whose spectrum says it falls most clearly into K clusters
    (the largest :func:`well_clustered_ratio`; ties keep the earlier candidate) goes on to step 5.
    ``choice``, when given, receives "alpha" (the power used) and "ratios" ({power: ratio}; empty
    when there was one candidate or the affinity's connected components were the clusters).
    ``clarity``, when given, receives "ratio": the :func:`well_clustered_ratio` of the affinity the labels come
    from (∞ when its connected components were the K clusters), at the cost of one more eigenvector.
    """
    seed = _check_seed(seed)
    alphas = _alphas(alpha)
    clock_sink: dict[str, float] = {} if timings is None else timings
    s, u, signed = _spectral_basis(Q, n_clusters, subspace_dim, rho, alphas[0], seed=seed, variant=variant,
                                   timings=clock_sink)
    k = int(n_clusters)
    restarts = _check_positive_int(restarts, "restarts")
    start = time.perf_counter()
    affinity = _affinity_from_embedding(u, s, alphas[0], signed=signed)
    clock_sink["affinity"] = time.perf_counter() - start
    start = time.perf_counter()
    chosen, ratios, vectors = alphas[0], {}, None
    # The support of the affinity does not depend on α: its components are the same for every candidate.
    labels = _components_as_clusters(affinity, Q, k) if variant == "subspace" else None
    if labels is not None:
        if solver is not None:
            solver.update({"method": "connected components", "status": "converged"})
        ratio = math.inf
    else:
        ratio = math.nan
        if (len(alphas) > 1 or clarity is not None) and k > 1 and k < affinity.shape[0] - 1:
            best, kept = -1.0, affinity
            for i, a in enumerate(alphas):
                candidate = kept if i == 0 else _affinity_from_embedding(u, s, a, signed=signed)
                report: dict[str, Any] = {}
                values, found = _normalized_top_eigenvectors(candidate, k + 1, seed, report)
                ratios[a] = float(well_clustered_ratio(values, k))
                if ratios[a] > best:  # only the best affinity so far is kept besides the candidate
                    best, chosen, vectors, kept = ratios[a], a, found, candidate
                    if solver is not None:
                        solver.clear()
                        solver.update(report)
                affinity = candidate = None
            affinity, ratio = kept, best
            if len(alphas) == 1:        # one power: its ratio was measured for ``clarity``, not compared
                ratios = {}
        labels = _spectral_clustering(affinity, k, seed, restarts, solver, vectors=vectors)
    clock_sink["spectral"] = time.perf_counter() - start
    if choice is not None:
        choice.update({"alpha": chosen, "ratios": ratios})
    if clarity is not None:
        clarity["ratio"] = ratio
    return (labels, affinity.numpy()) if return_affinity else labels
