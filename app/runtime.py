"""Streamlit-cached resources: the session's state object, the job scheduler, the UMAP warm-up, loaded data sets."""
from __future__ import annotations

import os
import threading

import streamlit as st
import torch

from sscn_core import Dataset, DataError
from sscn_core.data import load_dataset

from .config import DataConfig, SyntheticConfig, load_data, load_source
from .embedding import UmapService
from .job import warm_up_torch
from .scheduler import Scheduler
from .state import AppState, new_state


@st.cache_resource(show_spinner=False)
def torch_setup() -> threading.Thread:
    """Once per process: leave one core to UMAP and the training workers (torch's intra-op pool stalls
    when a core is taken), and warm torch up in a daemon thread for the page's own model calls."""
    torch.set_num_threads(min(torch.get_num_threads(), max(1, (os.cpu_count() or 1) - 1)))
    thread = threading.Thread(target=warm_up_torch, name="torch-warmup", daemon=True)
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


@st.cache_resource(max_entries=4, show_spinner="Loading data…")
def _source(key: str, source: str, seed: int, _synthetic: SyntheticConfig, n_synthetic: int,
            upload_path: str | None) -> Dataset:
    return load_source(source, seed=seed, synthetic=_synthetic, n_synthetic=n_synthetic, upload_path=upload_path)


def source_dataset(config: DataConfig) -> Dataset:
    """The whole data set the sidebar points at (synthetic: just what the run needs). Raises DataError."""
    extra = config.holdout_size if config.holdout == "rest" else 0
    n_syn = config.n_samples + extra if config.source == "synthetic" else 0
    seed = config.seed if config.source == "synthetic" else 0
    key = repr((config.source, seed, config.synthetic, n_syn, config.upload_path))
    return _source(key, config.source, seed, config.synthetic, n_syn, config.upload_path)


@st.cache_resource(max_entries=4, show_spinner="Preparing the training set…")
def _training_data(key: str, _config: DataConfig) -> tuple[Dataset, Dataset | None]:
    return load_data(_config)


def training_data(config: DataConfig) -> tuple[Dataset, Dataset | None]:
    """The training and held-out sets for ``config`` (cached). Raises DataError."""
    return _training_data(repr(config), config)


@st.cache_resource(show_spinner=False)
def fashion_mnist_available() -> bool:
    """Whether Fashion-MNIST is on this machine (no download is attempted)."""
    try:
        load_dataset("fashion-mnist", download=False)
    except DataError:
        return False
    return True
