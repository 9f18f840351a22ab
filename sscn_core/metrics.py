"""Clustering metrics, self-expression diagnostics, parameter counts and peak-memory measurement.

Labels may be any integers (or other sortable values): clusters are matched to classes by the
Hungarian algorithm on the contingency matrix, so the number of predicted clusters may differ
from the number of classes. ARI and NMI (arithmetic mean normalisation) come from scikit-learn.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import psutil
import torch
from scipy import sparse
from scipy.sparse.csgraph import connected_components, laplacian
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from .device import resolve_device

__all__ = [
    "BlockConnectivity", "PeakMemory", "accuracy", "block_connectivity", "confusion", "contingency", "count_parameters", "evaluate", "format_bytes",
    "leakage_matrix", "match_labels", "relabel", "subspace_preserving_error",
]

_ROW_CHUNK = 1024  # rows of Q processed at a time, so |Q| is never copied whole


# ---------------------------------------------------------------------------- label metrics
def _as_labels(y: Any, name: str) -> np.ndarray:
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {arr.shape}")
    return arr


def _check_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}")
    if t.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty; at least one labelled point is needed")
    return t, p


def contingency(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts (n_classes, n_clusters) of points per (true class, predicted cluster), with the sorted
    class and cluster values that index its rows and columns."""
    t, p = _check_pair(y_true, y_pred)
    classes, ti = np.unique(t, return_inverse=True)
    clusters, pi = np.unique(p, return_inverse=True)
    table = np.zeros((classes.size, clusters.size), dtype=np.int64)
    np.add.at(table, (ti, pi), 1)
    return table, classes, clusters


def _hungarian(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row (class) and column (cluster) indices of the one-to-one matching with most points."""
    return linear_sum_assignment(table, maximize=True)


def match_labels(y_true: Any, y_pred: Any) -> dict[Any, Any]:
    """Best one-to-one map {predicted cluster: true class} (Hungarian algorithm).

    With more clusters than classes, the clusters left over are absent from the map; with more
    classes than clusters, some classes receive no cluster.
    """
    table, classes, clusters = contingency(y_true, y_pred)
    rows, cols = _hungarian(table)
    return {clusters[c].item(): classes[r].item() for r, c in zip(rows, cols)}


def relabel(y_pred: Any, mapping: dict[Any, Any], unmatched: Any = -1) -> np.ndarray:
    """Apply a ``match_labels`` map to predictions; clusters missing from it become ``unmatched``."""
    p = _as_labels(y_pred, "y_pred")
    return np.array([mapping.get(v.item() if hasattr(v, "item") else v, unmatched) for v in p])


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Clustering accuracy: the share of points correctly labelled under the best one-to-one
    matching of clusters to classes (Hungarian algorithm on the contingency matrix)."""
    table, _, _ = contingency(y_true, y_pred)
    rows, cols = _hungarian(table)
    return float(table[rows, cols].sum() / table.sum())


def evaluate(y_true: Any, y_pred: Any) -> dict[str, float]:
    """{"acc", "ari", "nmi"} of a clustering; NMI uses the arithmetic mean normalisation."""
    t, p = _check_pair(y_true, y_pred)
    return {
        "acc": accuracy(t, p),
        "ari": float(adjusted_rand_score(t, p)),
        "nmi": float(normalized_mutual_info_score(t, p, average_method="arithmetic")),
    }


def confusion(y_true: Any, y_pred: Any, *, reorder: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confusion matrix (rows: true classes, columns: predicted clusters) with its row and column labels.

    With ``reorder`` the columns are permuted so that the cluster matched to the i-th class (by
    ``match_labels``) is the i-th column — the matched counts lie on the diagonal — and clusters
    matched to no class come last. Without it, both axes are in sorted label order.
    """
    table, classes, clusters = contingency(y_true, y_pred)
    if not reorder:
        return table, classes, clusters
    rows, cols = _hungarian(table)
    order = list(cols[np.argsort(rows)])
    order += [c for c in range(clusters.size) if c not in set(order)]
    return table[:, order], classes, clusters[order]


# ---------------------------------------------------------------------------- self-expression diagnostics
def _as_square(q: Any, n: int) -> np.ndarray | sparse.csr_matrix:
    if sparse.issparse(q):
        m = sparse.csr_matrix(q)
    else:
        m = q.detach().cpu().numpy() if isinstance(q, torch.Tensor) else np.asarray(q)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"Q must be a square (N, N) matrix, got shape {m.shape}")
    if m.shape[0] != n:
        raise ValueError(f"Q is {m.shape[0]}×{m.shape[0]} but there are {n} labels; they must match")
    values = m.data if sparse.issparse(m) else m
    if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values)):
        raise ValueError("Q must hold finite numbers (found NaN/inf or a non-numeric dtype)")
    return m


def _label_indices(y: Any, n_clusters: int | None) -> tuple[np.ndarray, int]:
    lab = _as_labels(y, "y")
    if n_clusters is None:
        if lab.size == 0:
            raise ValueError("y is empty; at least one labelled point is needed")
        _, idx = np.unique(lab, return_inverse=True)
        return idx, int(idx.max()) + 1
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    if not np.issubdtype(lab.dtype, np.integer) or (lab.size and (lab.min() < 0 or lab.max() >= n_clusters)):
        raise ValueError(f"with n_clusters={n_clusters}, y must hold integers in [0, {n_clusters}); "
                         f"got values from {lab.min() if lab.size else None} to {lab.max() if lab.size else None}")
    return lab.astype(np.int64), int(n_clusters)


def _block_mass(q: Any, y: Any, n_clusters: int | None) -> np.ndarray:
    """(K, K) sums of |Q_ij| over i in cluster a, j in cluster b, i ≠ j (the diagonal is left out)."""
    lab = _as_labels(y, "y")
    m = _as_square(q, lab.shape[0])
    idx, k = _label_indices(lab, n_clusters)
    n = idx.shape[0]
    onehot = np.zeros((n, k), dtype=np.float64)
    onehot[np.arange(n), idx] = 1.0
    if sparse.issparse(m):
        a = abs(m)
        a = (a - sparse.diags(a.diagonal())).tocsr()
        mass = onehot.T @ (a @ onehot)
    else:
        mass = np.zeros((k, k), dtype=np.float64)
        for start in range(0, n, _ROW_CHUNK):
            block = np.abs(m[start:start + _ROW_CHUNK]).astype(np.float64, copy=False)
            rows = np.arange(start, start + block.shape[0])
            block[rows - start, rows] = 0.0  # np.abs made a copy, Q itself is untouched
            mass += onehot[rows].T @ (block @ onehot)
    return np.asarray(mass)


def subspace_preserving_error(Q: Any, y: Any) -> float:
    """Share of the off-diagonal |Q| mass that links points of different true clusters.

    0 for a subspace-preserving (block-diagonal after sorting by label) matrix, up to 1. The diagonal
    (each point expressing itself) is left out of both sums; a matrix with no off-diagonal mass gives 0.
    ``Q`` may be numpy, torch or scipy.sparse.
    """
    mass = _block_mass(Q, y, None)
    total = mass.sum()
    return float((total - np.trace(mass)) / total) if total > 0 else 0.0


def leakage_matrix(Q: Any, y: Any, n_clusters: int | None = None) -> np.ndarray:
    """(K, K) share of the off-diagonal |Q| mass of cluster a's points that goes to cluster b's points.

    Rows sum to 1 (a cluster with no mass at all gets a zero row). Clusters are the sorted distinct
    values of ``y``, or 0 … n_clusters−1 when ``n_clusters`` is given (then empty clusters get zero rows).
    """
    mass = _block_mass(Q, y, n_clusters)
    totals = mass.sum(axis=1, keepdims=True)
    return np.divide(mass, totals, out=np.zeros_like(mass), where=totals > 0)


@dataclass(frozen=True)
class BlockConnectivity:
    """How well each true cluster's points are linked by a self-expression matrix (see :func:`block_connectivity`).

    ``clusters`` are the sorted label values; ``components[k]`` the number of connected components
    of cluster k's graph (1 = connected) and ``algebraic[k]`` the second-smallest eigenvalue of its
    normalised Laplacian (0 when disconnected, up to n/(n−1) for a complete graph; NaN for a
    one-point cluster).
    """

    clusters: np.ndarray
    components: np.ndarray
    algebraic: np.ndarray


def block_connectivity(Q: Any, y: Any, tol: float = 1e-6) -> BlockConnectivity:
    """Connected components and algebraic connectivity of each true cluster's graph W = |Q_kk| + |Q_kk|ᵀ.

    Only the within-cluster block counts (the diagonal left out); entries at or below ``tol`` × the
    largest |Q| entry are no edge. A subspace-preserving Q can still split a cluster into several
    components, and spectral clustering then cuts it: the other half of the picture next to
    :func:`subspace_preserving_error` (the "connectivity" of You, Li, Robinson & Vidal, CVPR 2016).
    """
    lab = _as_labels(y, "y")
    m = _as_square(Q, lab.shape[0])
    dense = np.abs(m.toarray() if sparse.issparse(m) else np.asarray(m, dtype=np.float64))
    top = float(dense.max()) if dense.size else 0.0
    clusters = np.unique(lab)
    components = np.zeros(clusters.size, dtype=np.int64)
    algebraic = np.full(clusters.size, np.nan)
    for k, value in enumerate(clusters):
        idx = np.flatnonzero(lab == value)
        w = dense[np.ix_(idx, idx)]
        w = w + w.T
        np.fill_diagonal(w, 0.0)
        w[w <= tol * top] = 0.0
        components[k] = connected_components(sparse.csr_matrix(w), directed=False)[0]
        if idx.size > 1:
            eig = np.linalg.eigvalsh(laplacian(w, normed=True))
            algebraic[k] = 0.0 if components[k] > 1 else float(max(eig[1], 0.0))
    return BlockConnectivity(clusters, components, algebraic)


# ---------------------------------------------------------------------------- models and memory
def count_parameters(module: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``module`` (shared tensors counted once)."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"count_parameters expects a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def format_bytes(n: float | int) -> str:
    """Human-readable size with binary units, e.g. 1536 → "1.5 KiB", -2**30 → "-1.00 GiB"."""
    if isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating)) or not np.isfinite(n):
        raise ValueError(f"format_bytes expects a finite number of bytes, got {n!r}")
    sign = "-" if n < 0 else ""
    value = float(abs(n))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    if unit == "B":
        return f"{sign}{int(value)} B"
    digits = 2 if value < 10 else 1 if value < 100 else 0
    return f"{sign}{value:.{digits}f} {unit}"


class PeakMemory:
    """Context manager measuring the peak memory used while its block runs.

    * CUDA devices: ``torch.cuda`` peak statistics are reset on entry; ``peak_bytes`` is
      ``max_memory_allocated`` and ``baseline_bytes`` the memory allocated on entry (tensors only).
    * CPU: a daemon thread samples this process's resident set size
      (psutil) every ``interval`` seconds (5 ms); ``peak_bytes`` is the largest RSS seen, including
      what the process held before, and ``baseline_bytes`` the RSS on entry. Allocations shorter than
      the interval may be missed.

    ``growth_bytes`` = ``peak_bytes − baseline_bytes``. Values are final after the block exits and
    readable (as a running value) inside it. ``device`` is anything ``resolve_device`` accepts
    ("auto", "cpu", "cuda:0", a torch.device).
    """

    def __init__(self, device: str | torch.device | None = "cpu", interval: float = 0.005) -> None:
        self.device = resolve_device(device)
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
        self.interval = float(interval)
        self.baseline_bytes = 0
        self._peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = False
        self._process = psutil.Process()

    @property
    def _cuda(self) -> bool:
        return self.device.type == "cuda"

    def __enter__(self) -> "PeakMemory":
        if self._cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.baseline_bytes = int(torch.cuda.memory_allocated(self.device))
            self._peak = self.baseline_bytes
        else:
            self.baseline_bytes = self._rss()
            self._peak = self.baseline_bytes
            self._stop.clear()
            self._thread = threading.Thread(target=self._poll, name="PeakMemory", daemon=True)
            self._thread.start()
        self._active = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._active = False
        if self._cuda:
            torch.cuda.synchronize(self.device)
            self._peak = max(self._peak, int(torch.cuda.max_memory_allocated(self.device)))
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
                self._thread = None
            self._peak = max(self._peak, self._rss())

    def _rss(self) -> int:
        return int(self._process.memory_info().rss)

    def _poll(self) -> None:
        while not self._stop.is_set():
            rss = self._rss()
            if rss > self._peak:
                self._peak = rss
            time.sleep(self.interval)

    @property
    def peak_bytes(self) -> int:
        """Peak bytes seen (see the class docstring for what is counted on each device)."""
        if self._cuda and self._active:
            return max(self._peak, int(torch.cuda.max_memory_allocated(self.device)))
        return self._peak

    @property
    def growth_bytes(self) -> int:
        """Peak minus the baseline on entry."""
        return self.peak_bytes - self.baseline_bytes
