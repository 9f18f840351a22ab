"""2-D UMAP layouts of an embedding (H or HR) for display.

Imports only numpy here and umap when first called (``import umap`` takes ~20 s and its first
fit JIT-compiles), so the app's UMAP worker process can use it without loading torch. The app
calls it in that worker; a notebook calls it directly.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

N_EPOCHS = 100          # enough for a readable layout, a few seconds for 5k points
N_NEIGHBORS = 15
METRICS = ("cosine", "euclidean")


def _umap_module() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # numba/umap import-time notices are not the user's concern
        import umap
    return umap


def run_umap(data: np.ndarray, *, metric: str = "cosine", n_epochs: int = N_EPOCHS,
             seed: int | None = None) -> np.ndarray:
    """A 2-D UMAP layout (n, 2) float32 of ``data`` (n, d). Needs at least 3 points."""
    x = np.asarray(data, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError(f"UMAP needs a (n ≥ 3, d) array, got shape {x.shape}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    umap = _umap_module()
    reducer = umap.UMAP(n_components=2, n_neighbors=min(N_NEIGHBORS, x.shape[0] - 1), min_dist=0.1, metric=metric,
                        n_epochs=n_epochs, random_state=seed, init="spectral" if x.shape[0] > 10 else "random")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # e.g. "n_jobs overridden by random_state", spectral init fallbacks
        return np.asarray(reducer.fit_transform(x), dtype=np.float32)
