"""A least-recently-used cache bounded in bytes, for the data sets all app sessions share.

Streamlit's own caches bound the number of entries, not their size: four cached uploads of a few
GB each would fill the server's memory. Here each value is weighed (``size``) when it is stored;
the oldest entries are dropped until the total fits, and a value larger than the whole budget is
returned without being kept.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ByteBoundedCache(Generic[T]):
    """Thread-safe LRU cache whose entries add up to at most ``max_bytes``."""

    def __init__(self, max_bytes: int, size: Callable[[T], int]) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be ≥ 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[T, int]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def total_bytes(self) -> int:
        """Bytes held now."""
        with self._lock:
            return sum(n for _, n in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get_or_load(self, key: Hashable, load: Callable[[], T]) -> T:
        """The cached value of ``key``, or ``load()`` (outside the lock; its exceptions are not cached)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        value = load()
        n = int(self._size(value))
        if n > self.max_bytes:
            return value
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (value, n)
            total = sum(size for _, size in self._entries.values())
            while total > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                total -= dropped
        return value
