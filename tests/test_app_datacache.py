"""The byte-bounded data cache the app's sessions share."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from app.datacache import ByteBoundedCache
from app.runtime import DATA_CACHE_BYTES, _nbytes
from sscn_core import Dataset


def test_oldest_entries_are_dropped_to_stay_within_the_budget() -> None:
    loads: list[str] = []
    cache: ByteBoundedCache[bytes] = ByteBoundedCache(100, len)

    def loader(key: str, n: int):
        return lambda: loads.append(key) or bytes(n)

    cache.get_or_load("a", loader("a", 40))
    cache.get_or_load("b", loader("b", 40))
    cache.get_or_load("a", loader("a", 40))          # a hit; "a" becomes the most recent
    cache.get_or_load("c", loader("c", 40))          # 120 > 100: "b", the least recently used, goes
    assert loads == ["a", "b", "c"] and cache.total_bytes == 80 and len(cache) == 2
    cache.get_or_load("a", loader("a", 40))
    cache.get_or_load("b", loader("b", 40))
    assert loads == ["a", "b", "c", "b"]
    big = cache.get_or_load("huge", loader("huge", 500))   # larger than the whole budget: served, not kept
    assert len(big) == 500 and cache.total_bytes <= 100
    cache.get_or_load("huge", loader("huge", 500))
    assert loads.count("huge") == 2


def test_a_failing_load_is_not_cached_and_threads_share_entries() -> None:
    cache: ByteBoundedCache[bytes] = ByteBoundedCache(1000, len)

    def fail() -> bytes:
        raise ValueError("bad file")

    with pytest.raises(ValueError, match="bad file"):
        cache.get_or_load("x", fail)
    assert len(cache) == 0
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_load("y", lambda: b"0" * 10)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(cache) == 1 and cache.total_bytes == 10


def test_data_sets_are_weighed_by_their_arrays() -> None:
    ds = Dataset(np.zeros((10, 4), dtype=np.float32), np.zeros(10, dtype=np.int64), "d", None)
    assert _nbytes(ds) == 160 + 80 and _nbytes((ds, None)) == 240 and _nbytes((ds, ds)) == 480
    assert 0 < DATA_CACHE_BYTES <= 4 * 1024**3
