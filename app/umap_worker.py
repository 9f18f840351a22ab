"""The UMAP worker process: ``python -m app.umap_worker`` answers layout requests on stdin/stdout.

It imports only numpy and umap (no torch, no Streamlit). Messages are :mod:`app.ipc` pickles
exchanged with the app process that started it.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
import warnings
from typing import Any, BinaryIO

import numpy as np

from .ipc import receive, send

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


def warm(metrics: tuple[str, ...]) -> float:
    """Worker-process task: import umap and compile its kernels on toy data; returns seconds."""
    start = time.perf_counter()
    toy = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    for metric in metrics:
        run_umap(toy, metric=metric, n_epochs=20)
    return time.perf_counter() - start


TASKS = {"layout": run_umap, "warm": warm}


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer (task, kwargs) requests with ("ok", result) or ("error", type, message, traceback) until EOF."""
    while True:
        request = receive(requests)
        if request is None:
            return
        task, kwargs = request
        try:
            reply: tuple = ("ok", TASKS[task](**kwargs))
        except Exception as exc:  # sent back to the app, which shows it
            reply = ("error", type(exc).__name__, str(exc), traceback.format_exc())
        try:
            send(replies, reply)
        except BrokenPipeError:   # the app went away: nothing left to answer
            return


if __name__ == "__main__":
    reply_stream = os.fdopen(os.dup(1), "wb")   # the protocol owns the real stdout …
    os.dup2(2, 1)                               # … and anything printed goes to stderr
    serve(sys.stdin.buffer, reply_stream)
