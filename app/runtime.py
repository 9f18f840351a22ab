"""Streamlit-cached resources: the session's state object, the job scheduler, the UMAP warm-up, loaded data sets."""
from __future__ import annotations

import os
import threading

import streamlit as st
import torch

from sscn_core import Dataset, DataError
from sscn_core.data import load_dataset

from .config import DataConfig, load_data, load_source
from .datacache import ByteBoundedCache
from .embedding import UmapService
from .job import warm_up
from .scheduler import Scheduler
from .state import AppState, new_state

DATA_CACHE_BYTES = 1024**3   # data sets kept in memory for all sessions together


@st.cache_resource(show_spinner=False)
def torch_setup() -> threading.Thread:
    """Once per process: leave one core to UMAP and the training workers (torch's intra-op pool stalls
    when a core is taken), and warm torch up in a daemon thread for the page's own model calls."""
    torch.set_num_threads(min(torch.get_num_threads(), max(1, (os.cpu_count() or 1) - 1)))
    thread = threading.Thread(target=warm_up, name="torch-warmup", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def umap_service() -> UmapService:
    """Start the UMAP worker process (and its warm-up) once per server."""
    return UmapService()


@st.cache_resource(show_spinner=False)
def scheduler() -> Scheduler:
    """The server's training scheduler (job limit, queue, thread budgets, a warm spare worker), once per server."""
    return Scheduler()


def _release(state: AppState) -> None:
    state.close()


@st.cache_resource(scope="session", on_release=_release, show_spinner=False)
def session_state() -> AppState:
    """This browser session's :class:`AppState`; released (training stopped) when the session ends."""
    return new_state(umap_service(), scheduler())


def _nbytes(value: Dataset | tuple[Dataset, Dataset | None]) -> int:
    """Memory held by a data set, or by a (training, held-out) pair."""
    parts = value if isinstance(value, tuple) else (value,)
    return sum(d.X.nbytes + (d.y.nbytes if d.y is not None else 0) for d in parts if d is not None)


@st.cache_resource(show_spinner=False)
def data_cache() -> ByteBoundedCache:
    """The data sets every session has loaded (whole sources, prepared training sets), at most
    DATA_CACHE_BYTES together: the least recently used are dropped first."""
    return ByteBoundedCache(DATA_CACHE_BYTES, _nbytes)


def source_dataset(config: DataConfig) -> Dataset:
    """The whole data set the sidebar points at (synthetic: just what the run needs). Raises DataError."""
    extra = config.holdout_size if config.holdout == "rest" else 0
    n_syn = config.n_samples + extra if config.source == "synthetic" else 0
    seed = config.seed if config.source == "synthetic" else 0

    def load() -> Dataset:
        with st.spinner("Loading data…"):
            return load_source(config.source, seed=seed, synthetic=config.synthetic, n_synthetic=n_syn,
                               upload_path=config.upload_path)

    return data_cache().get_or_load(("source", repr((config.source, seed, config.synthetic, n_syn,
                                                     config.upload_path))), load)


def training_data(config: DataConfig) -> tuple[Dataset, Dataset | None]:
    """The training and held-out sets for ``config`` (cached). Raises DataError."""
    def load() -> tuple[Dataset, Dataset | None]:
        with st.spinner("Preparing the training set…"):
            return load_data(config)

    return data_cache().get_or_load(("training", repr(config)), load)


@st.cache_resource(show_spinner=False)
def fashion_mnist_available() -> bool:
    """Whether Fashion-MNIST is on this machine (no download is attempted)."""
    try:
        load_dataset("fashion-mnist", download=False)
    except DataError:
        return False
    return True
