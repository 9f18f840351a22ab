"""Shared pytest configuration: markers and a fixed small thread count."""
from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import torch

# One intra-op thread: on a 2-core machine shared with a Streamlit server, UMAP or a second test
# process, torch's OpenMP barriers turn a 0.5 ms step into 100 ms when a core is taken.
torch.set_num_threads(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "browser: drives headless Chromium")


_REAL_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    """AppTest runs app/main.py as ``__main__`` and leaves it there; multiprocessing workers started
    later (the benchmarks' fork server) would then re-import the Streamlit page. Put pytest's back."""
    yield
    sys.modules["__main__"] = _REAL_MAIN
