"""The UMAP worker process: ``python -m app.umap_worker`` answers layout requests on stdin/stdout.

It imports only numpy and umap (no torch, no Streamlit): the layout itself is
:func:`sscn_core.umap_layout.run_umap`. Messages are length-prefixed pickles exchanged with the
app process that started it.
"""
from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from typing import BinaryIO

import numpy as np

from sscn_core.umap_layout import run_umap


def warm(metrics: tuple[str, ...]) -> float:
    """Worker-process task: import umap and compile its kernels on toy data; returns seconds."""
    start = time.perf_counter()
    toy = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    for metric in metrics:
        run_umap(toy, metric=metric, n_epochs=20)
    return time.perf_counter() - start


TASKS = {"layout": run_umap, "warm": warm}


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def send(stream: BinaryIO, message: object) -> None:
    """Write one length-prefixed pickled message."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(payload).to_bytes(8, "little"))
    stream.write(payload)
    stream.flush()


def receive(stream: BinaryIO) -> object | None:
    """Read one message written by :func:`send`; None at end of stream.

    Only used between the app and the worker process it started itself (trusted both ways).
    """
    header = _read_exactly(stream, 8)
    if header is None:
        return None
    payload = _read_exactly(stream, int.from_bytes(header, "little"))
    return None if payload is None else pickle.loads(payload)


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
