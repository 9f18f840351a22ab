"""The named data sets: bundled with the package (MNIST's test digits and a training subset, Extended
Yale B), downloaded into a cache folder when missing (all of MNIST, Fashion-MNIST), or from scikit-learn
(8×8 digits); where they live, and the checked downloads.

Downloads are checked against SHA-256 checksums of the *uncompressed* idx files (gzip headers
differ between mirrors; the contents do not) and written atomically. Offline, the error names the
URLs and the folder to put the files in by hand.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np

from ..atomic import write_atomically
from .dataset import DataError, Dataset, format_size
from .files import gunzip, load_array_file, read_idx

MAX_DOWNLOAD_BYTES = 200 * 1024**2      # one downloaded file
DOWNLOAD_TIMEOUT_S = 30.0

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


# ---------------------------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------------------------
def assets_dir() -> Path:
    """The bundled assets folder: env ``SSCN_ASSETS_DIR``, else ``sscn_core/assets`` in an installed
    package (pyproject.toml puts them there), else ``<project>/assets`` in a checkout."""
    override = os.environ.get("SSCN_ASSETS_DIR")
    if override:
        return Path(override)
    installed = Path(__file__).resolve().parents[1] / "assets"   # sscn_core/assets
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
# Downloads
# ---------------------------------------------------------------------------------------------
def _open_url(url: str, timeout: float) -> IO[bytes]:
    """The one network call (tests replace it)."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http(s) URLs from our table or the user's env)


def _payload_sha256(raw: bytes, source: str) -> str:
    data = gunzip(raw, source) if raw[:2] == b"\x1f\x8b" else raw
    return hashlib.sha256(data).hexdigest()


def _fetch(url: str) -> bytes:
    with _open_url(url, DOWNLOAD_TIMEOUT_S) as response:
        raw = response.read(MAX_DOWNLOAD_BYTES + 1)
    if len(raw) > MAX_DOWNLOAD_BYTES:
        raise DataError(f"{url}: the download is larger than {format_size(MAX_DOWNLOAD_BYTES)}; refusing it")
    return raw


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
                write_atomically(dest, raw)
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


def load_mnist() -> Dataset:
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
    ds = load_array_file(path, image_shape=shape)
    if ds.y is None:
        raise DataError(f"{path}: has no labels")
    return ds


def load_mnist_oos() -> Dataset:
    ds = _bundled_array("mnist/train-subset-10k.npz", "MNIST training subset", (28, 28))
    return Dataset(ds.X, ds.y, "mnist-oos", (28, 28), DIGIT_NAMES)


def load_yaleb() -> Dataset:
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


def load_mnist_full(split: str = "all", data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    parts = {"all": ["train", "test"], "train": ["train"], "test": ["test"]}[_check_split(split, download)]
    target = Path(data_dir).expanduser() if data_dir is not None else cache_dir("mnist")
    bundled = assets_dir() / "mnist"
    fallbacks = {"test-images": bundled / "t10k-images-idx3-ubyte.gz", "test-labels": bundled / "t10k-labels-idx1-ubyte.gz"}
    paths = _idx_paths("mnist", parts, [target], target, download, fallbacks)
    X, y = _concat([_load_pair(paths, p) for p in parts])
    return Dataset(X, y, "mnist-full" if split == "all" else f"mnist-full-{split}", (28, 28), DIGIT_NAMES)


def load_fashion(split: str = "test", data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
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


def load_digits() -> Dataset:
    from sklearn import datasets

    bunch = datasets.load_digits()
    X = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    return Dataset(X, np.asarray(bunch.target, dtype=np.int64), "digits", (8, 8), DIGIT_NAMES)
