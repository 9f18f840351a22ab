"""File formats: idx files (MNIST's, gzip-compressed or not) and the user's .npy / .npz arrays.

Every reader checks sizes before it allocates: an idx file decompresses to at most ``MAX_IDX_BYTES``,
an array file is at most ``MAX_ARRAY_FILE_BYTES`` on disk, an .npz's members add up to at most
``MAX_ARRAY_BYTES``, and the arrays' headers must declare at most ``MAX_LOADED_BYTES`` to load. Pickled
objects are never loaded.
"""
from __future__ import annotations

import gzip
import io
import math
import os
import tokenize
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np

from .dataset import DataError, Dataset, _check_labels, format_size

MAX_ARRAY_FILE_BYTES = 1024**3          # .npy / .npz on disk
MAX_ARRAY_BYTES = 4 * 1024**3           # uncompressed content of an .npz
MAX_LOADED_BYTES = 4 * 1024**3          # memory to load an array: as stored plus its float32 rows (from its header)
MAX_IDX_BYTES = 1024**3                 # one decompressed idx file
X_KEYS = ("x", "X", "data", "images")
Y_KEYS = ("y", "labels", "targets")

# ---------------------------------------------------------------------------------------------
# idx files
# ---------------------------------------------------------------------------------------------
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def gunzip(raw: bytes, source: str, limit: int = MAX_IDX_BYTES) -> bytes:
    """Decompress gzip bytes, refusing more than ``limit`` bytes of output; ``source`` names them in errors."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
            out = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{source}: the gzip data is corrupt or truncated ({exc})") from None
    if len(out) > limit:
        raise DataError(f"{source}: decompresses to more than {format_size(limit)}, the limit")
    return out


def parse_idx(raw: bytes, source: str = "idx data") -> np.ndarray:
    """Decode idx bytes (gzip-compressed or not) into an array; :class:`DataError` when malformed."""
    if raw[:2] == b"\x1f\x8b":
        raw = gunzip(raw, source)
    if len(raw) < 4:
        raise DataError(f"{source}: not an idx file (only {len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or not 1 <= raw[3] <= 8:
        raise DataError(f"{source}: not an idx file (bad magic number {raw[:4].hex()}; expected 0000 then a "
                        f"type code and 1-8 dimensions, e.g. 00000803 for images)")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{source}: the idx header is truncated")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise DataError(f"{source}: the file is truncated: dimensions {dims} need {expected:,} bytes of data, "
                        f"found {found:,}")
    if found > expected:
        raise DataError(f"{source}: {found - expected:,} unexpected bytes after the data of dimensions {dims}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (``.gz`` or plain) into an array; :class:`DataError` when missing or malformed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_idx(raw, str(path))


# ---------------------------------------------------------------------------------------------
# .npy / .npz arrays
# ---------------------------------------------------------------------------------------------
def _array_to_rows(arr: np.ndarray, source: str, image_shape: tuple[int, int] | None) -> tuple[np.ndarray, tuple[int, int] | None]:
    """(N, D) float32 rows and the image shape from a 2-D/3-D/4-D numeric array."""
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) \
            or np.iscomplexobj(arr):
        raise DataError(f"{source}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3:
        shape = (int(arr.shape[1]), int(arr.shape[2]))
        arr = arr.reshape(arr.shape[0], -1)
    elif arr.ndim == 2:
        shape = (28, 28) if arr.shape[1] == 784 else None
    else:
        raise DataError(f"{source}: expected an array of shape (N, D) or (N, height, width), got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{source}: the array is empty (shape {arr.shape})")
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)  # type: ignore[assignment]
    if arr.dtype == np.uint8:
        X = arr.astype(np.float32) * np.float32(1.0 / 255.0)
    elif np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0 and arr.max() <= 255:
        X = arr.astype(np.float32) * np.float32(1.0 / 255.0)  # 8-bit pixels stored in a wider type
    else:
        X = arr.astype(np.float32)
        if not np.isfinite(X).all():
            raise DataError(f"{source}: the array contains NaN or infinite values")
    return X, shape


def _labels_from_array(arr: np.ndarray, n: int, source: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    arr = np.asarray(arr)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.dtype.kind in "US":
        if arr.ndim != 1 or arr.shape[0] != n:
            raise DataError(f"{source}: expected {n} labels, got shape {arr.shape}")
        names, y = np.unique(arr.astype(str), return_inverse=True)
        return y.astype(np.int64), tuple(str(s) for s in names)
    return _check_labels(arr, n, source), None


def _npz_members_size(path: Path) -> int:
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(info.file_size for info in zf.infolist())
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: not a valid .npz file ({exc})") from None


def _npy_header(fh: IO[bytes], source: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, reading nothing else."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise DataError(f"{source}: .npy format version {version} is not supported; save with numpy.save")
    except (ValueError, EOFError, SyntaxError, tokenize.TokenError) as exc:   # the header is Python literal text
        raise DataError(f"{source}: not a valid .npy header ({' '.join(str(exc).split())})") from None
    return tuple(int(n) for n in shape), dtype


def _check_memory_budget(headers: Sequence[tuple[tuple[int, ...], np.dtype]], source: str) -> None:
    """Refuse arrays whose headers declare more than MAX_LOADED_BYTES to load (before any is read)."""
    need = sum(math.prod(shape) * (dtype.itemsize + 4) for shape, dtype in headers)
    if need > MAX_LOADED_BYTES:
        shapes = ", ".join(f"{'×'.join(map(str, shape)) or 'scalar'} {dtype}" for shape, dtype in headers)
        raise DataError(f"{source}: its arrays ({shapes}) would need about {format_size(need)} of memory to load; "
                        f"the limit is {format_size(MAX_LOADED_BYTES)}")


def _npz_headers(path: Path, keys: Sequence[str]) -> list[tuple[tuple[int, ...], np.dtype]]:
    with zipfile.ZipFile(path) as zf:
        headers = []
        for key in keys:
            with zf.open(f"{key}.npy") as fh:
                headers.append(_npy_header(fh, f"{path.name}:{key}"))
    return headers


def load_array_file(path: Path, image_shape: tuple[int, int] | None) -> Dataset:
    """The user's .npy or .npz file as a Dataset (an .npz may hold labels too, under one of Y_KEYS)."""
    size = path.stat().st_size
    if size > MAX_ARRAY_FILE_BYTES:
        raise DataError(f"{path.name}: the file is {format_size(size)}; the limit is {format_size(MAX_ARRAY_FILE_BYTES)}")
    if size == 0:
        raise DataError(f"{path.name}: the file is empty")
    y = None
    names = None
    with path.open("rb") as fh:
        head = fh.read(6)
    is_npz = path.suffix.lower() == ".npz"
    if (head[:4] != b"PK\x03\x04") if is_npz else (head != b"\x93NUMPY"):
        kind = "an .npz (zip) archive" if is_npz else "a .npy file"
        raise DataError(f"{path.name}: not a valid NumPy file (it does not start like {kind})")
    try:
        if is_npz:
            if _npz_members_size(path) > MAX_ARRAY_BYTES:
                raise DataError(f"{path.name}: its arrays add up to more than {format_size(MAX_ARRAY_BYTES)} "
                                f"uncompressed; refusing it")
            with np.load(path, allow_pickle=False) as npz:
                keys = list(npz.files)
                x_key = next((k for k in X_KEYS if k in keys), None)
                if x_key is None and len(keys) == 1:
                    x_key = keys[0]
                if x_key is None:
                    raise DataError(f"{path.name}: no data array; expected one named {', '.join(X_KEYS)} "
                                    f"(found: {', '.join(keys) or 'none'})")
                y_key = next((k for k in Y_KEYS if k in keys and k != x_key), None)
                _check_memory_budget(_npz_headers(path, [k for k in (x_key, y_key) if k is not None]), path.name)
                arr = npz[x_key]
                y_arr = npz[y_key] if y_key is not None else None
        else:
            with path.open("rb") as fh:
                _check_memory_budget([_npy_header(fh, path.name)], path.name)
            arr = np.load(path, allow_pickle=False)
            y_arr = None
            if not isinstance(arr, np.ndarray):
                raise DataError(f"{path.name}: expected one array, found an archive")
    except DataError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise DataError(f"{path.name}: holds Python objects (pickled data), which are never loaded for "
                            f"safety; save plain numeric arrays") from None
        raise DataError(f"{path.name}: not a valid NumPy file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise DataError(f"{path.name}: not a valid NumPy file or it is truncated ({exc})") from None
    except (RuntimeError, NotImplementedError) as exc:   # zipfile: an encrypted member, an unknown compression
        raise DataError(f"{path.name}: cannot read the archive ({exc}); save it with numpy.savez") from None
    except MemoryError:
        raise DataError(f"{path.name}: not enough memory to load its arrays") from None
    X, shape = _array_to_rows(arr, path.name, image_shape)
    if y_arr is not None:
        y, names = _labels_from_array(y_arr, X.shape[0], path.name)
    return Dataset(X, y, path.name, shape, names)
