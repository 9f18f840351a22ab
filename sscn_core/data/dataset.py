"""The ``Dataset`` type every loader returns, and ``DataError``, the one error they raise."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def format_size(n: int) -> str:
    """A byte count for people: "512 bytes", "4.9 KB", "20 MB", "1 GB"."""
    if n < 1024:
        return f"{n} bytes"
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{n} bytes"


class DataError(ValueError):
    """A data set could not be loaded or made: unknown name, bad option, missing or corrupt file."""


def check_rows_vary(X: np.ndarray, name: str | None = None) -> None:
    """Refuse data in which every row is constant: there is nothing to cluster.

    The rule ``SSCN.fit`` applies to the rows it is given, whichever door they came through (a
    loaded :class:`Dataset`, an array, the CLI's ``--data``, the app's upload); loading itself
    accepts them, so that a set can still be looked at. A row of one value in all its features (a
    blank image, or one that became blank when prepared) carries no direction: scaled to unit
    length, every such row is the same point. Data with some varying rows is accepted; rows of a
    single feature are not checked.

    Parameters
    ----------
    X : numpy.ndarray
        The data, (N, D), finite.
    name : str, optional
        The data set's name, put in front of the message.

    Raises
    ------
    DataError
        Every one of the N rows (D >= 2) is constant.
    """
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] < 2 or not bool((X == X[:, :1]).all()):
        return
    n, d = X.shape
    rows = "the one row is" if n == 1 else f"all {n:,} rows are"
    levels = np.unique(X[:, 0])
    values = ", ".join(f"{v:.3g}" for v in levels[:3]) + (", ..." if len(levels) > 3 else "")
    raise DataError(f"{name + ': ' if name else ''}{rows} constant (one value in all {d:,} features: {values}): "
                    f"there is nothing to cluster (blank images give such rows)")


@dataclass(frozen=True)
class Dataset:
    """Samples as rows of ``X`` (float32, (N, D)), optional integer labels ``y`` (int64, (N,)).

    ``image_shape`` is (height, width) when each row is a flattened image (row-major), else None.
    ``class_names[k]`` names label ``k`` when known. ``preprocessing`` says how a user's images were
    turned into rows (``preprocess.STYLES``), None for arrays used as given. Inputs are converted (X to float32, y to
    int64) and checked: 2-D X with N >= 1 rows and finite values, matching lengths, labels within
    ``class_names``, ``image_shape`` matching D.
    """

    X: np.ndarray
    y: np.ndarray | None
    name: str
    image_shape: tuple[int, int] | None
    class_names: tuple[str, ...] | None = None
    preprocessing: str | None = None

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim != 2:
            raise DataError(f"{self.name}: expected X of shape (N, D), got an array of shape {X.shape}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise DataError(f"{self.name}: the data set is empty (X has shape {X.shape})")
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or np.iscomplexobj(X):
            raise DataError(f"{self.name}: expected real numbers in X, got dtype {X.dtype}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not np.isfinite(X).all():
            bad = int((~np.isfinite(X)).sum())
            raise DataError(f"{self.name}: X contains {bad} NaN or infinite value(s) (after conversion to float32)")
        object.__setattr__(self, "X", X)
        if self.y is not None:
            object.__setattr__(self, "y", _check_labels(self.y, X.shape[0], self.name))
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if len(shape) != 2 or min(shape) < 1 or shape[0] * shape[1] != X.shape[1]:
                raise DataError(f"{self.name}: image_shape {self.image_shape} does not fit rows of {X.shape[1]} values")
            object.__setattr__(self, "image_shape", shape)
        if self.class_names is not None:
            names = tuple(str(c) for c in self.class_names)
            object.__setattr__(self, "class_names", names)
            if self.y is not None and len(self.y) and (self.y.min() < 0 or self.y.max() >= len(names)):
                raise DataError(f"{self.name}: labels range over {int(self.y.min())}..{int(self.y.max())} "
                                f"but there are {len(names)} class names")

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """D, the number of values per sample."""
        return int(self.X.shape[1])

    def subset(self, idx: Sequence[int] | np.ndarray) -> Dataset:
        """The samples at ``idx`` (integer indices or a boolean mask of length N), in that order."""
        index = np.asarray(idx)
        if index.dtype == np.bool_:
            if index.shape != (len(self),):
                raise DataError(f"{self.name}: a boolean mask must have shape ({len(self)},), got {index.shape}")
        elif index.size == 0:
            index = index.astype(np.int64)
        elif not np.issubdtype(index.dtype, np.integer):
            raise DataError(f"{self.name}: expected integer indices or a boolean mask, got dtype {index.dtype}")
        elif index.ndim != 1:
            raise DataError(f"{self.name}: expected a 1-D index, got shape {index.shape}")
        elif index.min() < -len(self) or index.max() >= len(self):
            raise DataError(f"{self.name}: indices must lie in [0, {len(self)}), got {int(index.min())}..{int(index.max())}")
        return Dataset(self.X[index], None if self.y is None else self.y[index], self.name, self.image_shape,
                       self.class_names, self.preprocessing)


def _check_labels(y: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(f"{name}: expected {n} labels (shape ({n},)), got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
            raise DataError(f"{name}: labels must be whole numbers, got non-integer floats")
        return arr.astype(np.int64)
    raise DataError(f"{name}: labels must be integers, got dtype {arr.dtype}")
