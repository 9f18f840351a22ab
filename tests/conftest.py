"""Shared pytest configuration: markers, a fixed small thread count and a cache folder per test."""
from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import torch

from sscn_core.cache import CACHE_ENV

# One intra-op thread: on a 2-core machine shared with a Streamlit server, UMAP or a second test
# process, torch's OpenMP barriers turn a 0.5 ms step into 100 ms when a core is taken.
torch.set_num_threads(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "browser: drives headless Chromium")


_REAL_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True, scope="session")
def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fits in module- and session-scoped fixtures (and the servers they start) cache pre-trained
    auto-encoders in a folder of this session, never in the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("sscn-cache-session")))
        yield


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with an empty cache of its own (SSCN_CACHE_DIR), so no test finds another's
    pre-training or the user's."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("sscn-cache")))


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    """AppTest runs app/main.py as ``__main__`` and leaves it there; multiprocessing workers started
    later (the benchmarks' fork server) would then re-import the Streamlit page. Put pytest's back."""
    yield
    sys.modules["__main__"] = _REAL_MAIN
