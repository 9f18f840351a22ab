"""``load_dataset``: the names of the data sets and the loader behind each."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .bundled import load_digits, load_fashion, load_mnist, load_mnist_full, load_mnist_oos, load_yaleb
from .dataset import DataError, Dataset
from .folders import load_file
from .synthetic import make_subspaces

LOADERS: dict[str, Callable[..., Dataset]] = {
    "mnist": load_mnist,
    "mnist-oos": load_mnist_oos,
    "mnist-full": load_mnist_full,
    "fashion-mnist": load_fashion,
    "digits": load_digits,
    "yaleb": load_yaleb,
    "synthetic": make_subspaces,
    "file": load_file,
}


def _random_subset(ds: Dataset, n_samples: Any, seed: int) -> Dataset:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise DataError(f"n_samples must be a positive integer, got {n_samples!r}")
    if n_samples > len(ds):
        raise DataError(f"n_samples={n_samples} is more than the {len(ds):,} samples of {ds.name}")
    rng = np.random.default_rng(seed)
    return ds.subset(np.sort(rng.choice(len(ds), size=int(n_samples), replace=False)))


def load_dataset(name: str, *, n_samples: int | None = None, seed: int = 0, **kwargs: Any) -> Dataset:
    """Load the data set ``name`` (see :mod:`sscn_core.data` for the names and their options).

    ``n_samples``: keep a random subset of that size (without replacement, in the original order),
    drawn with ``seed``; ``seed`` also seeds ``"synthetic"``. Unknown names or options raise
    :class:`DataError` listing the valid ones.
    """
    if not isinstance(name, str):
        raise DataError(f"the data set name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if key not in LOADERS:
        raise DataError(f"unknown data set {name!r}; valid names: {', '.join(LOADERS)}")
    loader = LOADERS[key]
    params = inspect.signature(loader).parameters
    allowed = [p for p in params if p != "seed"]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise DataError(f"load_dataset({key!r}) got unknown option(s) {', '.join(unknown)}; valid options: {valid}")
    if key == "file" and "path" not in kwargs:
        raise DataError("load_dataset('file') needs path=... (an .npz/.npy file, a folder or .zip of images, or "
                        "an image)")
    if "seed" in params:
        kwargs["seed"] = seed
    try:
        ds = loader(**kwargs)
    except TypeError as exc:
        raise DataError(f"load_dataset({key!r}): {exc}") from None
    return ds if n_samples is None else _random_subset(ds, n_samples, seed)
