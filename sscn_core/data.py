"""Data sets as ``Dataset`` objects: rows are samples, images flattened row-major, pixels in [0, 1].

``load_dataset(name, ...)`` is the single entry point:

=================  =======================================================================
``mnist``          the bundled official MNIST test set (10,000 digits; the SSCN paper's set)
``mnist-oos``      10,000 bundled MNIST *training* digits, disjoint from ``mnist``
``mnist-full``     all 70,000 MNIST digits from a cache folder, downloaded when missing
``fashion-mnist``  Fashion-MNIST (10,000 test images by default) from a folder or downloaded
``digits``         scikit-learn's 8×8 digits (1,797 images)
``yaleb``          the bundled Extended Yale B faces (2,414 images of 38 people, 32×32)
``synthetic``      points on a union of linear subspaces (:func:`make_subspaces`)
``file``           the user's .npz / .npy arrays, a folder or .zip of images, or one image
=================  =======================================================================

Downloads are checked against SHA-256 checksums of the *uncompressed* idx files (gzip headers
differ between mirrors; the contents do not) and written atomically. Offline, the error names the
URLs and the folder to put the files in by hand.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import inspect
import io
import math
import os
import tempfile
import tokenize
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np

# ---------------------------------------------------------------------------------------------
# Limits and constants
# ---------------------------------------------------------------------------------------------
MAX_ARRAY_FILE_BYTES = 1024**3          # .npy / .npz on disk
MAX_ARRAY_BYTES = 4 * 1024**3           # uncompressed content of an .npz
MAX_LOADED_BYTES = 4 * 1024**3          # memory to load an array: as stored plus its float32 rows (from its header)
MAX_UPLOAD_PIXELS = 200_000_000         # pixels decoded from one folder or .zip of images, all images together
MAX_ZIP_BYTES = 200 * 1024**2           # a .zip of images on disk
MAX_ZIP_UNCOMPRESSED_BYTES = 1024**3    # its members added up
MAX_IMAGES = 100_000                    # images in a folder or a .zip
MAX_IDX_BYTES = 1024**3                 # one decompressed idx file
MAX_DOWNLOAD_BYTES = 200 * 1024**2      # one downloaded file
DOWNLOAD_TIMEOUT_S = 30.0

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm",
                  ".pbm", ".pnm")
X_KEYS = ("x", "X", "data", "images")
Y_KEYS = ("y", "labels", "targets")

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot")

IDX_FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}
# SHA-256 of the uncompressed idx files. MNIST: as published with the data; the two test files
# match the bundled copies. Fashion-MNIST: computed from the release files (their MD5s match the
# ones published for the uncompressed release).
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
MIRROR_ENV = {"mnist": "SSCN_MNIST_MIRROR", "fashion-mnist": "SSCN_FASHION_MNIST_MIRROR"}
DEFAULT_MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion-mnist": ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",),
}
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SPLITS = ("train", "test", "all")
# How the subspaces of ``make_subspaces`` relate: key -> label.
RELATIONS: dict[str, str] = {"independent": "independent", "dependent": "dependent (pairwise disjoint)",
                             "overlapping": "overlapping"}


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


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------------------------
def assets_dir() -> Path:
    """The bundled assets folder: env ``SSCN_ASSETS_DIR``, else ``sscn_core/assets`` in an installed
    package (pyproject.toml puts them there), else ``<project>/assets`` in a checkout."""
    override = os.environ.get("SSCN_ASSETS_DIR")
    if override:
        return Path(override)
    installed = Path(__file__).resolve().parent / "assets"
    return installed if installed.is_dir() else installed.parent.parent / "assets"


def cache_dir(dataset: str) -> Path:
    """Where downloaded copies of ``dataset`` live: ``$SSCN_DATA_DIR/<dataset>``, default
    ``$XDG_CACHE_HOME/sscn/<dataset>`` (``~/.cache/sscn/<dataset>``)."""
    root = os.environ.get("SSCN_DATA_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "sscn") if xdg else str(Path.home() / ".cache" / "sscn")
    return Path(root).expanduser() / dataset


def mirrors(dataset: str) -> tuple[str, ...]:
    """Base URLs to download ``dataset`` from (env ``SSCN_MNIST_MIRROR`` / ``SSCN_FASHION_MNIST_MIRROR``
    replaces the defaults)."""
    override = os.environ.get(MIRROR_ENV[dataset])
    bases = (override,) if override else DEFAULT_MIRRORS[dataset]
    return tuple(b if b.endswith("/") else b + "/" for b in bases)


# ---------------------------------------------------------------------------------------------
# idx files
# ---------------------------------------------------------------------------------------------
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _gunzip(raw: bytes, source: str, limit: int = MAX_IDX_BYTES) -> bytes:
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
        raw = _gunzip(raw, source)
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


def _images_labels(images: np.ndarray, labels: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Checks a pair of idx arrays and flattens the images to float32 rows in [0, 1]."""
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(f"{source}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{source}: {images.shape[0]} images but labels of shape {labels.shape}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{source}: labels must be 0-9, found {int(labels.max())}")
    X = images.reshape(images.shape[0], -1).astype(np.float32)
    X *= np.float32(1.0 / 255.0)
    return X, labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Downloads
# ---------------------------------------------------------------------------------------------
def _open_url(url: str, timeout: float) -> IO[bytes]:
    """The one network call (tests replace it)."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http(s) URLs from our table or the user's env)


def _payload_sha256(raw: bytes, source: str) -> str:
    data = _gunzip(raw, source) if raw[:2] == b"\x1f\x8b" else raw
    return hashlib.sha256(data).hexdigest()


def _fetch(url: str) -> bytes:
    with _open_url(url, DOWNLOAD_TIMEOUT_S) as response:
        raw = response.read(MAX_DOWNLOAD_BYTES + 1)
    if len(raw) > MAX_DOWNLOAD_BYTES:
        raise DataError(f"{url}: the download is larger than {format_size(MAX_DOWNLOAD_BYTES)}; refusing it")
    return raw


def _write_atomically(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _manual_hint(dataset: str, folder: Path, names: Sequence[str]) -> str:
    files = ", ".join(f"{n}.gz" for n in names)
    other = ("set SSCN_DATA_DIR=ROOT to use ROOT/mnist" if dataset == "mnist"
             else "set FASHION_MNIST_DIR to a folder that holds them")
    return (f"To work offline, fetch {files} from {mirrors(dataset)[0]} and put them (gzipped or not) in {folder} "
            f"by hand, or {other}.")


def download_idx(dataset: str, names: Sequence[str], folder: Path) -> None:
    """Download the idx files ``names`` of ``dataset`` into ``folder`` (checksummed, atomic).

    Tries each mirror in turn. Raises :class:`DataError` naming the URLs and ``folder`` when no
    mirror can be reached, or when a file's checksum is wrong.
    """
    bases = mirrors(dataset)
    for name in names:
        expected = SHA256[dataset][name]
        urls = [base + name + ".gz" for base in bases]
        failures: list[str] = []
        for url in urls:
            try:
                raw = _fetch(url)
            except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
                reason = getattr(exc, "reason", None) or exc
                failures.append(f"{url} ({reason})")
                continue
            try:
                got = _payload_sha256(raw, url)
            except DataError as exc:  # a broken gzip from this mirror: try the next one
                failures.append(str(exc))
                continue
            if got != expected:
                failures.append(f"{url} (checksum mismatch: expected SHA-256 {expected} of the uncompressed file, "
                                f"got {got})")
                continue
            dest = folder / (name + ".gz" if raw[:2] == b"\x1f\x8b" else name)
            try:
                _write_atomically(dest, raw)
            except OSError as exc:
                raise DataError(f"could not write {dest} ({exc.strerror or exc}). "
                                + _manual_hint(dataset, folder, names)) from None
            break
        else:
            raise DataError(f"could not download {dataset} file {name}.gz: tried " + "; ".join(failures) + ". "
                            + _manual_hint(dataset, folder, names))


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------------------------
# Named data sets
# ---------------------------------------------------------------------------------------------
def _check_split(split: str, download: bool) -> str:
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if not isinstance(download, bool):
        raise DataError(f"download must be True or False, got {download!r}")
    return split


def _load_pair(paths: dict[str, Path], part: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(paths[f"{part}-images"])
    labels = read_idx(paths[f"{part}-labels"])
    return _images_labels(images, labels, str(paths[f"{part}-images"].parent))


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _load_mnist() -> Dataset:
    folder = assets_dir() / "mnist"
    paths = {"test-images": folder / "t10k-images-idx3-ubyte.gz", "test-labels": folder / "t10k-labels-idx1-ubyte.gz"}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise DataError(f"the bundled MNIST files are missing from {folder}: {', '.join(missing)} "
                        f"(reinstall the project or set SSCN_ASSETS_DIR)")
    X, y = _load_pair(paths, "test")
    return Dataset(X, y, "mnist", (28, 28), DIGIT_NAMES)


def _bundled_array(relpath: str, what: str, shape: tuple[int, int]) -> Dataset:
    """A labelled .npz of images from the assets folder, with a plain error when it is missing."""
    path = assets_dir() / relpath
    if not path.is_file():
        raise DataError(f"the bundled {what} is missing: {path} (reinstall the project or set SSCN_ASSETS_DIR)")
    ds = _load_array_file(path, image_shape=shape)
    if ds.y is None:
        raise DataError(f"{path}: has no labels")
    return ds


def _load_mnist_oos() -> Dataset:
    ds = _bundled_array("mnist/train-subset-10k.npz", "MNIST training subset", (28, 28))
    return Dataset(ds.X, ds.y, "mnist-oos", (28, 28), DIGIT_NAMES)


def _load_yaleb() -> Dataset:
    """Extended Yale B (Georghiades et al. 2001; Lee et al. 2005): 38 people under varying light."""
    ds = _bundled_array("yaleb/extended-yaleb-32x32.npz", "Extended Yale B file", (32, 32))
    if len(ds) != 2414:
        raise DataError(f"the bundled Extended Yale B file holds {len(ds)} faces, expected 2,414")
    names = tuple(f"person {k + 1}" for k in range(int(ds.y.max()) + 1))
    return Dataset(ds.X, ds.y, "yaleb", (32, 32), names)


def _idx_paths(dataset: str, parts: Sequence[str], folders: Sequence[Path], target: Path,
               download: bool, fallbacks: dict[str, Path] | None = None) -> dict[str, Path]:
    """Locate the idx files of ``parts`` (e.g. "train"): first folder holding each, else a bundled
    fallback, else download into ``target``."""
    keys = [f"{p}-{kind}" for p in parts for kind in ("images", "labels")]
    found: dict[str, Path] = {}
    for key in keys:
        name = IDX_FILES[key]
        for folder in folders:
            hit = _find_idx(folder, name)
            if hit is not None:
                found[key] = hit
                break
        else:
            if fallbacks and key in fallbacks and fallbacks[key].is_file():
                found[key] = fallbacks[key]
    missing = [IDX_FILES[k] for k in keys if k not in found]
    if missing:
        if not download:
            raise DataError(f"{dataset}: missing {', '.join(m + '.gz' for m in missing)} and download=False. "
                            + _manual_hint(dataset, target, missing))
        download_idx(dataset, missing, target)
        for key in keys:
            if key not in found:
                hit = _find_idx(target, IDX_FILES[key])
                if hit is None:  # download_idx either writes the file or raises
                    raise DataError(f"{target}: {IDX_FILES[key]} vanished after the download")
                found[key] = hit
    return found


def _load_mnist_full(split: str = "all", data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    parts = {"all": ["train", "test"], "train": ["train"], "test": ["test"]}[_check_split(split, download)]
    target = Path(data_dir).expanduser() if data_dir is not None else cache_dir("mnist")
    bundled = assets_dir() / "mnist"
    fallbacks = {"test-images": bundled / "t10k-images-idx3-ubyte.gz", "test-labels": bundled / "t10k-labels-idx1-ubyte.gz"}
    paths = _idx_paths("mnist", parts, [target], target, download, fallbacks)
    X, y = _concat([_load_pair(paths, p) for p in parts])
    return Dataset(X, y, "mnist-full" if split == "all" else f"mnist-full-{split}", (28, 28), DIGIT_NAMES)


def _load_fashion(split: str = "test", data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    parts = {"all": ["train", "test"], "train": ["train"], "test": ["test"]}[_check_split(split, download)]
    folders: list[Path] = []
    if data_dir is not None:
        folders.append(Path(data_dir).expanduser())
    if os.environ.get("FASHION_MNIST_DIR"):
        folders.append(Path(os.environ["FASHION_MNIST_DIR"]).expanduser())
    folders += [DEBIAN_FASHION_DIR, cache_dir("fashion-mnist")]
    target = folders[0] if data_dir is not None else cache_dir("fashion-mnist")
    paths = _idx_paths("fashion-mnist", parts, folders, target, download)
    X, y = _concat([_load_pair(paths, p) for p in parts])
    return Dataset(X, y, "fashion-mnist" if split == "test" else f"fashion-mnist-{split}", (28, 28), FASHION_NAMES)


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    return Dataset(X, np.asarray(bunch.target, dtype=np.int64), "digits", (8, 8), DIGIT_NAMES)


# ---------------------------------------------------------------------------------------------
# Synthetic unions of subspaces
# ---------------------------------------------------------------------------------------------
def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _orthonormal(rng: np.random.Generator, d: int, k: int) -> np.ndarray:
    """A random (d, k) matrix with orthonormal columns (Haar distributed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, k)))
    return q * np.sign(np.diag(r))


def _union_rank(bases: Sequence[np.ndarray]) -> int:
    return int(np.linalg.matrix_rank(np.hstack(bases), tol=1e-8))


def make_subspace_bases(n_clusters: int = 5, subspace_dim: int = 3, ambient_dim: int = 30,
                        relation: str = "independent", angle_deg: float | None = None, seed: int = 0,
                        union_dim: int | None = None) -> list[np.ndarray]:
    """Orthonormal bases (float64, (ambient_dim, subspace_dim) each) of K = ``n_clusters`` subspaces.

    ``relation``:

    - ``"independent"``: rank of the union = K·q (needs K·q <= D). Random bases, or, with
      ``angle_deg``, bases with *every* principal angle between *every* pair equal to ``angle_deg``:
      the K blocks of V·G^{1/2} with V a random (D, K·q) orthonormal matrix and
      G = ((1-c) I_K + c 11ᵀ) ⊗ I_q, c = cos(angle); then U_kᵀU_l = c·I_q for k != l.
    - ``"dependent"``: every pair intersects only in 0, yet rank(union) < K·q: all subspaces are
      random q-dim subspaces of one random ``union_dim``-dim subspace (default 2q; it must lie in
      [2q, K·q - 1], so K >= 3). With q = 1 (and the default union_dim): K lines in a plane,
      180°/K apart.
    - ``"overlapping"``: subspaces k and k+1 share exactly one direction (q >= 2; built from
      K·(q-1)+1 generic random directions: K+1 shared ones s_0..s_K, U_k spanning s_k, s_{k+1} and
      q-2 own ones; needs D >= K·(q-1) + 1 so that no other intersections occur).

    The same arguments always give the same bases (:func:`make_subspaces` uses them).
    """
    K = _positive_int(n_clusters, "n_clusters")
    q = _positive_int(subspace_dim, "subspace_dim")
    D = _positive_int(ambient_dim, "ambient_dim")
    if relation not in RELATIONS:
        raise DataError(f"relation must be one of {', '.join(RELATIONS)}; got {relation!r}")
    if q > D:
        raise DataError(f"subspace_dim ({q}) cannot exceed ambient_dim ({D})")
    if angle_deg is not None and relation != "independent":
        raise DataError(f"angle_deg applies to relation='independent' only, not {relation!r}")
    if union_dim is not None and relation != "dependent":
        raise DataError(f"union_dim applies to relation='dependent' only, not {relation!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))

    if relation == "independent":
        if K * q > D:
            raise DataError(f"independent subspaces need n_clusters·subspace_dim <= ambient_dim; got {K}·{q} = "
                            f"{K * q} > {D}")
        if angle_deg is None:
            bases = [_orthonormal(rng, D, q) for _ in range(K)]
            if _union_rank(bases) != K * q:  # probability zero for Gaussian draws
                raise DataError("the random subspaces came out dependent; try another seed")
            return bases
        angle = float(angle_deg)
        if not 0.0 < angle <= 90.0:
            raise DataError(f"angle_deg must be in (0, 90], got {angle_deg!r}")
        c = float(np.cos(np.deg2rad(angle)))
        c = 0.0 if angle == 90.0 else c
        avg = np.full((K, K), 1.0 / K)
        root = np.sqrt(1.0 - c) * (np.eye(K) - avg) + np.sqrt(1.0 + (K - 1) * c) * avg
        full = _orthonormal(rng, D, K * q) @ np.kron(root, np.eye(q))
        return [full[:, k * q:(k + 1) * q].copy() for k in range(K)]

    if relation == "dependent":
        if K < 3:
            raise DataError(f"dependent subspaces need n_clusters >= 3 (two subspaces whose union has rank "
                            f"< 2·q must intersect); got {K}")
        m = 2 * q if union_dim is None else _positive_int(union_dim, "union_dim")
        if not 2 * q <= m <= K * q - 1:
            raise DataError(f"union_dim must be in [2·subspace_dim, n_clusters·subspace_dim - 1] = [{2 * q}, "
                            f"{K * q - 1}], got {m}")
        if m > D:
            raise DataError(f"dependent subspaces need ambient_dim >= union_dim = {m}, got {D}")
        frame = _orthonormal(rng, D, m)
        if q == 1:  # K lines in a plane, evenly spread in angle (180°/K apart) from a random start
            start = rng.uniform(0.0, np.pi / K)
            bases = [frame @ np.array([[np.cos(start + k * np.pi / K)], [np.sin(start + k * np.pi / K)]])
                     for k in range(K)] if m == 2 else [frame @ _orthonormal(rng, m, 1) for _ in range(K)]
        else:
            bases = [frame @ _orthonormal(rng, m, q) for _ in range(K)]
        for i in range(K):
            for j in range(i + 1, K):
                if _union_rank([bases[i], bases[j]]) != 2 * q:  # probability zero
                    raise DataError("two random subspaces came out intersecting; try another seed")
        return bases

    if q < 2:
        raise DataError("overlapping subspaces need subspace_dim >= 2 (lines sharing a direction are equal)")
    needed = K * (q - 1) + 1
    if needed > D:
        raise DataError(f"overlapping subspaces need ambient_dim >= n_clusters·(subspace_dim-1)+1 = {needed}, got {D}")
    directions = rng.standard_normal((D, needed))  # generic, hence linearly independent, directions
    shared = directions[:, :K + 1]
    fresh = directions[:, K + 1:]
    bases = []
    for k in range(K):
        own = fresh[:, k * (q - 2):(k + 1) * (q - 2)]
        bases.append(np.linalg.qr(np.hstack([shared[:, k:k + 2], own]))[0])
    return bases


def make_subspaces(n_clusters: int = 5, subspace_dim: int = 3, ambient_dim: int = 30, n_per_cluster: int = 100,
                   noise: float = 0.0, relation: str = "independent", angle_deg: float | None = None,
                   seed: int = 0, union_dim: int | None = None) -> Dataset:
    """Points on a union of K subspaces (see :func:`make_subspace_bases` for ``relation``).

    Each point is ``U_k @ c`` with ``c ~ N(0, I_q)``, plus ``noise · N(0, I_D)``; values are not
    scaled. Points are generated cluster by cluster, then shuffled (labels with them) by ``seed``.
    """
    bases = make_subspace_bases(n_clusters, subspace_dim, ambient_dim, relation, angle_deg, seed, union_dim)
    n = _positive_int(n_per_cluster, "n_per_cluster")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) \
            or not np.isfinite(noise) or noise < 0:
        raise DataError(f"noise must be a finite number >= 0, got {noise!r}")
    # Separate streams: the same seed gives the same clean points and order whatever the noise.
    coef_rng, noise_rng, order_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), 2]).spawn(3))
    K, q, D = len(bases), bases[0].shape[1], bases[0].shape[0]
    X = np.vstack([(U @ coef_rng.standard_normal((q, n))).T for U in bases])
    if noise > 0:
        X = X + float(noise) * noise_rng.standard_normal((K * n, D))
    y = np.repeat(np.arange(K, dtype=np.int64), n)
    order = order_rng.permutation(K * n)
    return Dataset(X[order].astype(np.float32), y[order], "synthetic", None, None)


# ---------------------------------------------------------------------------------------------
# User files
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


def _load_array_file(path: Path, image_shape: tuple[int, int] | None) -> Dataset:
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


def _is_image_name(name: str) -> bool:
    parts = PurePosixPath(name).parts
    if not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _group_by_class(relpaths: Sequence[tuple[str, ...]], source: str) -> tuple[list[str | None], tuple[str, ...] | None]:
    """Class of each image from its path parts: the first folder, or None when images sit at the top."""
    if not relpaths:
        raise DataError(f"{source}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
    if len(relpaths) > MAX_IMAGES:
        raise DataError(f"{source}: {len(relpaths):,} images; the limit is {MAX_IMAGES:,}")
    flat = [len(p) == 1 for p in relpaths]
    if all(flat):
        return [None] * len(relpaths), None
    if any(flat):
        raise DataError(f"{source}: mixes images at the top level with class sub-folders; put every image in a "
                        f"sub-folder named after its class, or all of them at the top level (no labels)")
    classes = [p[0] for p in relpaths]
    return classes, tuple(sorted(set(classes)))  # type: ignore[return-value]


def _decode(blob: bytes, label: str) -> np.ndarray:
    """One image file as grey levels in [0, 1] at its own size."""
    from .preprocess import ImageError, grey_levels, open_image_safely

    try:
        return grey_levels(open_image_safely(blob))
    except ImageError as exc:
        raise DataError(f"{label}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{label}: the image could not be converted ({exc})") from None


def _prepare_set(arrays: list[np.ndarray], names: list[str], source: str) -> tuple[list[np.ndarray], str]:
    """Preprocessing that follows the data: digit-style when most pictures are drawings on a plain
    background, else photo-style at one common shape (``preprocess.STYLES``). Returns the inputs
    and a sentence saying what was applied."""
    from .preprocess import DIGIT_SHAPE, STYLES, ImageError, photo_shape, prepare_for, style_of

    style = style_of(arrays)
    shape = DIGIT_SHAPE if style == "digit" else photo_shape([a.shape for a in arrays])
    out = []
    for name, a in zip(names, arrays):
        try:
            out.append(prepare_for(a, style, shape))
        except ImageError as exc:
            raise DataError(f"{source}: {name}: {exc}") from None
    return out, f"{STYLES[style]}; {shape[0]}×{shape[1]} inputs"


def _count_pixels(total: int, blob: bytes, label: str, source: str) -> int:
    """``total`` plus this image's pixels (read from its header, before decoding); refuses an
    upload whose images add up to more than MAX_UPLOAD_PIXELS."""
    from .preprocess import probe_size

    size = probe_size(blob)
    total += size[0] * size[1] if size is not None else 0   # unreadable: _decode says why
    if total > MAX_UPLOAD_PIXELS:
        raise DataError(f"{source}: the images add up to more than {MAX_UPLOAD_PIXELS:,} pixels (reached at "
                        f"{label}); the limit is per upload: use smaller images (28×28 is what the model reads) "
                        f"or fewer of them")
    return total


def _stack_images(arrays: list[np.ndarray], labels: list[str | None], classes: tuple[str, ...] | None,
                  names: list[str], source: str, dataset_name: str, raw: bool) -> Dataset:
    note = None
    if not raw and arrays:
        arrays, note = _prepare_set(arrays, names, source)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        odd = next(n for n, a in zip(names, arrays) if a.shape != first)
        raise DataError(f"{source}: with raw=True all images must share one size; {names[0]} is "
                        f"{first[1]}×{first[0]} but {odd} is not (use raw=False to resize them)")
    stack = np.stack(arrays)
    y = None if classes is None else np.array([classes.index(c) for c in labels], dtype=np.int64)  # type: ignore[arg-type]
    h, w = stack.shape[1:]
    return Dataset(stack.reshape(len(arrays), -1), y, dataset_name, (int(h), int(w)), classes, note)


def _load_image_folder(path: Path, raw: bool) -> Dataset:
    files = sorted(p for p in path.rglob("*") if p.is_file() and _is_image_name(p.relative_to(path).as_posix()))
    rel = [p.relative_to(path).parts for p in files]
    labels, classes = _group_by_class(rel, str(path))
    arrays, pixels = [], 0
    for p in files:
        try:
            blob = p.read_bytes()
        except OSError as exc:
            raise DataError(f"{p}: cannot read ({exc.strerror or exc})") from None
        pixels = _count_pixels(pixels, blob, str(p.relative_to(path)), str(path))
        arrays.append(_decode(blob, str(p.relative_to(path))))
    return _stack_images(arrays, labels, classes, [str(p.relative_to(path)) for p in files], str(path), path.name, raw)


def _load_image_zip(path: Path, raw: bool) -> Dataset:
    from .preprocess import MAX_BYTES

    size = path.stat().st_size
    if size > MAX_ZIP_BYTES:
        raise DataError(f"{path.name}: the file is {format_size(size)}; the limit is {format_size(MAX_ZIP_BYTES)}")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and _is_image_name(i.filename)]
            if len(infos) > MAX_IMAGES:
                raise DataError(f"{path.name}: {len(infos):,} images; the limit is {MAX_IMAGES:,}")
            total = sum(i.file_size for i in infos)
            if total > MAX_ZIP_UNCOMPRESSED_BYTES:
                raise DataError(f"{path.name}: the images add up to {format_size(total)} uncompressed; the limit "
                                f"is {format_size(MAX_ZIP_UNCOMPRESSED_BYTES)}")
            big = next((i for i in infos if i.file_size > MAX_BYTES), None)
            if big is not None:
                raise DataError(f"{path.name}: {big.filename} is {format_size(big.file_size)} uncompressed; the "
                                f"limit for one image is {format_size(MAX_BYTES)}")
            infos.sort(key=lambda i: i.filename)
            rel = [PurePosixPath(i.filename).parts for i in infos]
            # Zipping a folder puts everything under one root folder: strip that wrapper (once).
            if rel and all(len(p) > 1 for p in rel) and len({p[0] for p in rel}) == 1:
                rel = [p[1:] for p in rel]
            labels, classes = _group_by_class(rel, path.name)
            arrays, pixels = [], 0
            for info in infos:
                with zf.open(info) as fh:
                    blob = fh.read(MAX_BYTES + 1)
                pixels = _count_pixels(pixels, blob, info.filename, path.name)
                arrays.append(_decode(blob, f"{path.name}:{info.filename}"))
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataError(f"{path.name}: not a valid zip file or it is truncated ({exc})") from None
    except RuntimeError as exc:  # zipfile raises it for encrypted members
        raise DataError(f"{path.name}: cannot read the zip ({exc})") from None
    except NotImplementedError as exc:
        raise DataError(f"{path.name}: unsupported zip compression ({exc})") from None
    return _stack_images(arrays, labels, classes, [i.filename for i in infos], path.name, path.name, raw)


def _load_file(path: str | os.PathLike, raw: bool = False, image_shape: tuple[int, int] | None = None) -> Dataset:
    target = Path(path).expanduser()
    if not target.exists():
        raise DataError(f"{target}: no such file or folder")
    if target.is_dir():
        return _load_image_folder(target, raw)
    suffix = target.suffix.lower()
    if suffix in (".npz", ".npy"):
        return _load_array_file(target, image_shape)
    if suffix == ".zip":
        return _load_image_zip(target, raw)
    if suffix in IMAGE_SUFFIXES:
        from .preprocess import MAX_BYTES

        if target.stat().st_size > MAX_BYTES:
            raise DataError(f"{target.name}: the file is larger than {format_size(MAX_BYTES)}, the limit")
        return _stack_images([_decode(target.read_bytes(), target.name)], [None], None, [target.name], target.name,
                             target.name, raw)
    raise DataError(f"{target.name}: unsupported file type {suffix or '(none)'}; expected .npz, .npy, .zip, an image "
                    f"({', '.join(IMAGE_SUFFIXES)}) or a folder of images")


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------
LOADERS: dict[str, Callable[..., Dataset]] = {
    "mnist": _load_mnist,
    "mnist-oos": _load_mnist_oos,
    "mnist-full": _load_mnist_full,
    "fashion-mnist": _load_fashion,
    "digits": _load_digits,
    "yaleb": _load_yaleb,
    "synthetic": make_subspaces,
    "file": _load_file,
}


def _random_subset(ds: Dataset, n_samples: Any, seed: int) -> Dataset:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise DataError(f"n_samples must be a positive integer, got {n_samples!r}")
    if n_samples > len(ds):
        raise DataError(f"n_samples={n_samples} is more than the {len(ds):,} samples of {ds.name}")
    rng = np.random.default_rng(seed)
    return ds.subset(np.sort(rng.choice(len(ds), size=int(n_samples), replace=False)))


def load_dataset(name: str, *, n_samples: int | None = None, seed: int = 0, **kwargs: Any) -> Dataset:
    """Load the data set ``name`` (see the module docstring for the names and their options).

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
