"""data: Dataset, the named data sets, idx files, downloads, synthetic subspaces and user files."""
from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import socket
import threading
import urllib.error
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy.linalg import subspace_angles

from sscn_core import data
from sscn_core.data import bundled, files, folders
from sscn_core.data import (DataError, Dataset, load_dataset, make_subspace_bases, make_subspaces, parse_idx,
                            read_idx)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FASHION_SHARED = SHARED / "fashion-mnist"
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ---- helpers -------------------------------------------------------------------------------------------
def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array in the idx format."""
    assert arr.dtype == np.uint8
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def write_idx_pair(folder: Path, prefix: str, n: int, seed: int = 0, compress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        raw = idx_bytes(arr)
        if compress:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return images, labels


def digit_png(text_width: int = 40, size: tuple[int, int] = (64, 64), seed: int = 0) -> bytes:
    img = Image.new("L", size, 255)
    rng = np.random.default_rng(seed)
    x0 = int(rng.integers(10, 25))
    ImageDraw.Draw(img).line([(x0, 8), (x0 + text_width // 4, size[1] - 8)], fill=0, width=6)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (an ephemeral port); yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache (SSCN_DATA_DIR), no Fashion-MNIST anywhere else, default mirrors."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SSCN_DATA_DIR", str(root))
    for var in ("FASHION_MNIST_DIR", "SSCN_MNIST_MIRROR", "SSCN_FASHION_MNIST_MIRROR", "SSCN_ASSETS_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(bundled, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-copy")
    return root


def forbid_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(url: str, timeout: float) -> None:
        raise AssertionError(f"unexpected download of {url}")
    monkeypatch.setattr(bundled, "_open_url", fail)


def go_offline(monkeypatch: pytest.MonkeyPatch, error: Exception | None = None) -> list[str]:
    tried: list[str] = []

    def offline(url: str, timeout: float) -> None:
        tried.append(url)
        raise error or urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))
    monkeypatch.setattr(bundled, "_open_url", offline)
    return tried


# ---- Dataset -------------------------------------------------------------------------------------------
def test_dataset_converts_and_validates() -> None:
    ds = Dataset(np.arange(12, dtype=np.float64).reshape(3, 4), [0, 1, 1], "t", (2, 2), ("a", "b"))
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64 and len(ds) == 3 and ds.n_features == 4
    with pytest.raises(DataError, match=r"shape \(N, D\)"):
        Dataset(np.zeros(5), None, "t", None)
    with pytest.raises(DataError, match="expected 3 labels"):
        Dataset(np.zeros((3, 2)), np.zeros(2), "t", None)
    with pytest.raises(DataError, match="NaN or infinite"):
        Dataset(np.array([[0.0, np.nan]]), None, "t", None)
    with pytest.raises(DataError, match="empty"):
        Dataset(np.zeros((0, 4)), None, "t", None)
    with pytest.raises(DataError, match="image_shape"):
        Dataset(np.zeros((2, 5)), None, "t", (2, 2))
    with pytest.raises(DataError, match="2 class names"):
        Dataset(np.zeros((2, 1)), [0, 2], "t", None, ("a", "b"))
    with pytest.raises(DataError, match="whole numbers"):
        Dataset(np.zeros((2, 1)), [0.5, 1.0], "t", None)
    with pytest.raises(DataError, match="real numbers"):
        Dataset(np.array([["a"]]), None, "t", None)


def test_dataset_is_frozen_and_subsets() -> None:
    ds = Dataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5), "t", None)
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]
    sub = ds.subset([4, 0])
    np.testing.assert_array_equal(sub.X, [[8, 9], [0, 1]])
    np.testing.assert_array_equal(sub.y, [4, 0])
    assert len(ds.subset(np.array([True, False, True, False, False]))) == 2
    with pytest.raises(DataError, match="empty"):
        ds.subset([])
    with pytest.raises(DataError, match="indices must lie"):
        ds.subset([5])
    with pytest.raises(DataError, match="boolean mask"):
        ds.subset(np.array([True, False]))
    with pytest.raises(DataError, match="integer indices"):
        ds.subset(np.array([0.5]))


# ---- bundled and built-in sets -------------------------------------------------------------------------
def test_mnist_is_the_bundled_test_set() -> None:
    ds = load_dataset("mnist")
    assert ds.X.shape == (10000, 784) and ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert np.bincount(ds.y).tolist() == MNIST_TEST_COUNTS
    assert ds.image_shape == (28, 28) and ds.class_names == tuple("0123456789") and ds.name == "mnist"


def test_mnist_oos_is_disjoint_from_mnist() -> None:
    oos = load_dataset("mnist-oos")
    test = load_dataset("mnist")
    assert oos.X.shape == (10000, 784) and oos.image_shape == (28, 28) and set(oos.y.tolist()) == set(range(10))
    rows = {r.tobytes() for r in np.rint(test.X * 255).astype(np.uint8)}
    assert not any(r.tobytes() in rows for r in np.rint(oos.X * 255).astype(np.uint8))


def test_digits() -> None:
    ds = load_dataset("digits")
    assert ds.X.shape == (1797, 64) and ds.image_shape == (8, 8)
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0 and set(ds.y.tolist()) == set(range(10))


def test_n_samples_is_a_seeded_subset() -> None:
    a = load_dataset("digits", n_samples=100, seed=1)
    b = load_dataset("digits", n_samples=100, seed=1)
    c = load_dataset("digits", n_samples=100, seed=2)
    full = load_dataset("digits")
    assert len(a) == 100 and np.array_equal(a.X, b.X) and not np.array_equal(a.X, c.X)
    rows = {r.tobytes(): i for i, r in enumerate(full.X)}
    idx = [rows[r.tobytes()] for r in a.X]
    assert idx == sorted(idx) and len(set(idx)) == 100  # without replacement, original order
    with pytest.raises(DataError, match="more than the 1,797 samples"):
        load_dataset("digits", n_samples=1798)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(DataError, match="positive integer"):
            load_dataset("digits", n_samples=bad)


def test_unknown_names_and_options() -> None:
    with pytest.raises(DataError, match="valid names: mnist, mnist-oos, mnist-full, fashion-mnist, digits, yaleb, synthetic, file"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="unknown option.*colour.*valid options: none"):
        load_dataset("mnist", colour=True)
    with pytest.raises(DataError, match="unknown option.*spilt.*split"):
        load_dataset("mnist-full", spilt="test")
    with pytest.raises(DataError, match="needs path"):
        load_dataset("file")
    with pytest.raises(DataError, match="must be a string"):
        load_dataset(3)  # type: ignore[arg-type]
    assert load_dataset("  MNIST ", n_samples=3).name == "mnist"


def test_assets_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSCN_ASSETS_DIR", str(tmp_path))
    with pytest.raises(DataError, match=f"missing from {tmp_path / 'mnist'}"):
        load_dataset("mnist")
    write_idx_pair(tmp_path / "mnist", "t10k", 7)
    assert len(load_dataset("mnist")) == 7


# ---- idx files -----------------------------------------------------------------------------------------
def test_idx_round_trip_gz_and_plain(tmp_path: Path) -> None:
    images, labels = write_idx_pair(tmp_path / "gz", "t10k", 5)
    np.testing.assert_array_equal(read_idx(tmp_path / "gz" / "t10k-images-idx3-ubyte.gz"), images)
    write_idx_pair(tmp_path / "plain", "t10k", 5, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain" / "t10k-labels-idx1-ubyte"), labels)
    arr = np.arange(6, dtype=">i4").reshape(2, 3)
    raw = bytes([0, 0, 0x0C, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + arr.tobytes()
    out = parse_idx(raw)
    assert out.dtype == np.dtype("int32") and out.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_idx_errors(tmp_path: Path) -> None:
    raw = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    with pytest.raises(DataError, match="truncated: dimensions \\(4, 28, 28\\) need 3,136 bytes of data, found 3,000"):
        parse_idx(raw[:16 + 3000])
    with pytest.raises(DataError, match="unexpected bytes"):
        parse_idx(raw + b"xx")
    with pytest.raises(DataError, match="bad magic number"):
        parse_idx(b"\x89PNG" + raw[4:])
    with pytest.raises(DataError, match="header is truncated"):
        parse_idx(raw[:10])
    with pytest.raises(DataError, match="gzip data is corrupt or truncated"):
        packed = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)))
        parse_idx(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "missing.gz")


# ---- mnist-full ----------------------------------------------------------------------------------------
def test_mnist_full_test_split_uses_the_bundled_files(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_network(monkeypatch)
    ds = load_dataset("mnist-full", split="test")
    assert len(ds) == 10000 and np.bincount(ds.y).tolist() == MNIST_TEST_COUNTS


def test_mnist_full_offline_error_names_urls_and_folder(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tried = go_offline(monkeypatch)
    with pytest.raises(DataError) as info:
        load_dataset("mnist-full")
    message = str(info.value)
    folder = cache / "mnist"
    assert "could not download" in message and str(folder) in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in message
    assert "train-labels-idx1-ubyte.gz" in message and "name resolution" in message
    assert tried and all(u.endswith("train-images-idx3-ubyte.gz") for u in tried)  # stopped at the first file
    assert not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize("error", [TimeoutError("timed out"), ConnectionResetError("reset by peer"),
                                   urllib.error.URLError("no route")])
def test_other_network_failures_are_data_errors(cache: Path, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    go_offline(monkeypatch, error)
    with pytest.raises(DataError, match=f"could not download.*{error.args[0]}.*{cache / 'mnist'}"):
        load_dataset("mnist-full", split="train")


def test_mnist_full_without_download(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_network(monkeypatch)
    with pytest.raises(DataError, match=f"download=False.*{cache / 'mnist'}"):
        load_dataset("mnist-full", split="train", download=False)


def test_mnist_full_reads_hand_placed_files(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_network(monkeypatch)
    images, labels = write_idx_pair(cache / "mnist", "train", 12, compress=False)
    ds = load_dataset("mnist-full")
    assert len(ds) == 12 + 10000 and ds.name == "mnist-full"
    np.testing.assert_allclose(ds.X[:12], images.reshape(12, -1) / 255.0, atol=1e-7)
    np.testing.assert_array_equal(ds.y[:12], labels)
    assert len(load_dataset("mnist-full", split="train")) == 12


def test_mnist_full_downloads_checks_and_caches(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    images, labels = write_idx_pair(mirror, "train", 30, seed=3)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        payload = gzip.decompress((mirror / (name + ".gz")).read_bytes())
        monkeypatch.setitem(bundled.SHA256["mnist"], name, hashlib.sha256(payload).hexdigest())
    with serve(mirror) as url:
        monkeypatch.setenv("SSCN_MNIST_MIRROR", url)
        ds = load_dataset("mnist-full", split="train")
    np.testing.assert_array_equal(ds.y, labels)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == ["train-images-idx3-ubyte.gz",
                                                                    "train-labels-idx1-ubyte.gz"]
    forbid_network(monkeypatch)  # now served from the cache
    assert len(load_dataset("mnist-full")) == 30 + 10000


def test_download_verifies_the_real_mnist_checksums(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The published checksums accept the genuine test files (served locally, recompressed)."""
    shipped = data.assets_dir() / "mnist"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        payload = gzip.decompress((shipped / (name + ".gz")).read_bytes())
        (mirror / (name + ".gz")).write_bytes(gzip.compress(payload, compresslevel=1, mtime=0))
    monkeypatch.setenv("SSCN_ASSETS_DIR", str(tmp_path / "no-assets"))  # no bundled fallback
    with serve(mirror) as url:
        monkeypatch.setenv("SSCN_MNIST_MIRROR", url)
        ds = load_dataset("mnist-full", split="test")
    assert np.bincount(ds.y).tolist() == MNIST_TEST_COUNTS


def test_download_rejects_a_wrong_checksum(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    write_idx_pair(mirror, "train", 5)  # valid idx files, but not the real MNIST
    with serve(mirror) as url:
        monkeypatch.setenv("SSCN_MNIST_MIRROR", url.rstrip("/"))  # a base without the slash works too
        with pytest.raises(DataError, match="checksum mismatch: expected SHA-256 ba891046") as info:
            load_dataset("mnist-full", split="train")
    assert url + "train-images-idx3-ubyte.gz" in str(info.value)
    assert not (cache / "mnist").exists() or list((cache / "mnist").iterdir()) == []


def test_download_http_error_is_reported(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    with serve(tmp_path / "empty") as url:
        monkeypatch.setenv("SSCN_MNIST_MIRROR", url)
        with pytest.raises(DataError, match="could not download.*File not found"):
            load_dataset("mnist-full", split="train")


# ---- fashion-mnist -------------------------------------------------------------------------------------
def test_fashion_from_data_dir_and_env(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_network(monkeypatch)
    images, labels = write_idx_pair(tmp_path / "fm", "t10k", 8)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path / "fm")
    assert len(ds) == 8 and ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(ds.y, labels)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "fm"))
    assert len(load_dataset("fashion-mnist")) == 8
    with pytest.raises(DataError, match=f"download=False.*{cache / 'fashion-mnist'}"):
        load_dataset("fashion-mnist", split="train", download=False)
    with pytest.raises(DataError, match="split must be one of train, test, all"):
        load_dataset("fashion-mnist", split="val")


def test_fashion_offline_error(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(monkeypatch)
    with pytest.raises(DataError, match=f"could not download.*t10k-images-idx3-ubyte.gz.*{cache / 'fashion-mnist'}"):
        load_dataset("fashion-mnist")


@pytest.mark.skipif(not FASHION_SHARED.is_dir(), reason="shared Fashion-MNIST copy not present")
def test_fashion_download_with_real_checksums(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(FASHION_SHARED) as url:
        monkeypatch.setenv("SSCN_FASHION_MNIST_MIRROR", url)
        ds = load_dataset("fashion-mnist")
    assert ds.X.shape == (10000, 784) and np.bincount(ds.y).tolist() == [1000] * 10
    assert sorted(p.name for p in (cache / "fashion-mnist").iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                                           "t10k-labels-idx1-ubyte.gz"]


@pytest.mark.skipif(not FASHION_SHARED.is_dir(), reason="shared Fashion-MNIST copy not present")
def test_fashion_train_split(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_network(monkeypatch)
    ds = load_dataset("fashion-mnist", split="train", data_dir=FASHION_SHARED, n_samples=500)
    assert ds.name == "fashion-mnist-train" and len(ds) == 500 and ds.image_shape == (28, 28)
    assert 0.0 <= ds.X.min() and ds.X.max() <= 1.0


# ---- synthetic -----------------------------------------------------------------------------------------
def test_synthetic_points_lie_on_their_subspaces() -> None:
    kw = dict(n_clusters=4, subspace_dim=3, ambient_dim=20, seed=5)
    ds = make_subspaces(n_per_cluster=50, **kw)
    bases = make_subspace_bases(**kw)
    assert ds.X.shape == (200, 20) and ds.X.dtype == np.float32 and ds.image_shape is None
    assert np.bincount(ds.y).tolist() == [50] * 4
    assert not np.array_equal(ds.y, np.sort(ds.y))  # shuffled
    for k, U in enumerate(bases):
        pts = ds.X[ds.y == k].astype(np.float64)
        assert np.linalg.norm(pts - pts @ U @ U.T) / np.linalg.norm(pts) < 1e-5
        assert np.linalg.matrix_rank(pts, tol=1e-4) == 3
    assert np.linalg.matrix_rank(ds.X.astype(np.float64), tol=1e-4) == 12


def test_synthetic_is_seeded_and_noise_is_added() -> None:
    a = make_subspaces(seed=1)
    assert np.array_equal(a.X, make_subspaces(seed=1).X) and not np.array_equal(a.X, make_subspaces(seed=2).X)
    noisy = make_subspaces(seed=1, noise=0.5)
    assert np.array_equal(noisy.y, a.y)
    assert np.linalg.matrix_rank(noisy.X.astype(np.float64), tol=1e-3) == 30
    np.testing.assert_allclose((noisy.X - a.X).std(), 0.5, rtol=0.05)
    via_loader = load_dataset("synthetic", seed=1, n_clusters=2, subspace_dim=1, ambient_dim=4)
    assert np.array_equal(via_loader.X, make_subspaces(seed=1, n_clusters=2, subspace_dim=1, ambient_dim=4).X)


@pytest.mark.parametrize("angle", [10.0, 45.0, 90.0])
def test_independent_subspaces_at_a_given_angle(angle: float) -> None:
    bases = make_subspace_bases(n_clusters=4, subspace_dim=3, ambient_dim=12, angle_deg=angle, seed=2)
    assert np.linalg.matrix_rank(np.hstack(bases)) == 12
    for i in range(4):
        np.testing.assert_allclose(bases[i].T @ bases[i], np.eye(3), atol=1e-12)
        for j in range(i + 1, 4):
            np.testing.assert_allclose(np.degrees(subspace_angles(bases[i], bases[j])), angle, atol=1e-6)


def test_dependent_subspaces() -> None:
    bases = make_subspace_bases(n_clusters=5, subspace_dim=3, ambient_dim=30, relation="dependent", seed=0)
    assert np.linalg.matrix_rank(np.hstack(bases)) == 6 < 15
    for i in range(5):
        for j in range(i + 1, 5):
            assert np.linalg.matrix_rank(np.hstack([bases[i], bases[j]]), tol=1e-8) == 6  # trivial intersection
    lines = make_subspace_bases(n_clusters=3, subspace_dim=1, ambient_dim=10, relation="dependent", seed=0)
    assert np.linalg.matrix_rank(np.hstack(lines)) == 2  # three lines in a plane
    np.testing.assert_allclose([np.degrees(subspace_angles(lines[i], lines[j]))[0] for i, j in ((0, 1), (1, 2), (0, 2))],
                               60.0, atol=1e-6)
    wider = make_subspace_bases(n_clusters=5, subspace_dim=3, ambient_dim=30, relation="dependent", union_dim=10)
    assert np.linalg.matrix_rank(np.hstack(wider)) == 10


def test_overlapping_subspaces() -> None:
    bases = make_subspace_bases(n_clusters=4, subspace_dim=3, ambient_dim=20, relation="overlapping", seed=0)
    for i in range(4):
        for j in range(i + 1, 4):
            rank = np.linalg.matrix_rank(np.hstack([bases[i], bases[j]]), tol=1e-8)
            assert rank == (5 if j == i + 1 else 6), (i, j)  # consecutive ones share exactly one direction


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_clusters=11, subspace_dim=3, ambient_dim=30), r"11·3 = 33 > 30"),
    (dict(subspace_dim=40, ambient_dim=30), "cannot exceed"),
    (dict(relation="dependent", n_clusters=2), "n_clusters >= 3"),
    (dict(relation="dependent", union_dim=15), r"union_dim must be in .* = \[6, 14\], got 15"),
    (dict(relation="dependent", n_clusters=5, subspace_dim=3, ambient_dim=5), "ambient_dim >= union_dim"),
    (dict(relation="overlapping", subspace_dim=1), "subspace_dim >= 2"),
    (dict(relation="overlapping", n_clusters=10, subspace_dim=4, ambient_dim=30), "ambient_dim >= .* = 31"),
    (dict(relation="dependent", angle_deg=30), "angle_deg applies to relation='independent' only"),
    (dict(union_dim=8), "union_dim applies to relation='dependent' only"),
    (dict(angle_deg=0), r"angle_deg must be in \(0, 90\]"),
    (dict(angle_deg=120), r"angle_deg must be in \(0, 90\]"),
    (dict(relation="random"), "relation must be one of independent, dependent, overlapping"),
    (dict(n_per_cluster=0), "n_per_cluster must be an integer >= 1"),
    (dict(noise=-1.0), "noise must be a finite number >= 0"),
    (dict(n_clusters=2.5), "n_clusters must be an integer"),
])
def test_synthetic_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        make_subspaces(**kwargs)


# ---- user files: arrays --------------------------------------------------------------------------------
def test_file_npz_images_and_labels(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    np.savez_compressed(tmp_path / "a.npz", images=x, labels=np.arange(6) % 3)
    ds = load_dataset("file", path=tmp_path / "a.npz")
    assert ds.X.shape == (6, 784) and ds.image_shape == (28, 28) and ds.name == "a.npz"
    np.testing.assert_allclose(ds.X, x.reshape(6, -1) / 255.0, atol=1e-7)
    assert ds.y.tolist() == [0, 1, 2, 0, 1, 2] and ds.class_names is None


def test_file_npz_keys_string_labels_and_vectors(tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((5, 7))
    np.savez(tmp_path / "b.npz", X=x, targets=np.array(["cat", "dog", "cat", "eel", "dog"]))
    ds = load_dataset("file", path=str(tmp_path / "b.npz"))
    assert ds.image_shape is None and ds.X.dtype == np.float32
    np.testing.assert_allclose(ds.X, x, rtol=1e-6)
    assert ds.class_names == ("cat", "dog", "eel") and ds.y.tolist() == [0, 1, 0, 2, 1]
    np.savez(tmp_path / "c.npz", data=np.arange(784 * 2).reshape(2, 784) % 256)
    ds = load_dataset("file", path=tmp_path / "c.npz")  # int64 pixels within 0..255: scaled like uint8
    assert ds.image_shape == (28, 28) and ds.X.max() == 1.0 and ds.y is None
    np.savez(tmp_path / "d.npz", a=np.zeros((2, 2)), b=np.zeros((2, 2)))
    with pytest.raises(DataError, match="expected one named x, X, data, images \\(found: a, b\\)"):
        load_dataset("file", path=tmp_path / "d.npz")
    np.savez(tmp_path / "e.npz", x=np.zeros((3, 4)), y=np.zeros(4))
    with pytest.raises(DataError, match="expected 3 labels"):
        load_dataset("file", path=tmp_path / "e.npz")


def test_file_npy(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.ones((4, 3), dtype=np.float64) * 7.5)
    ds = load_dataset("file", path=tmp_path / "v.npy", n_samples=2)
    assert ds.X.shape == (2, 3) and ds.X.max() == 7.5 and ds.y is None
    np.save(tmp_path / "img.npy", np.zeros((3, 10, 12, 1), dtype=np.uint8))
    assert load_dataset("file", path=tmp_path / "img.npy").image_shape == (10, 12)
    np.save(tmp_path / "flat.npy", np.zeros((3, 64), dtype=np.float32))
    assert load_dataset("file", path=tmp_path / "flat.npy", image_shape=(8, 8)).image_shape == (8, 8)


@pytest.mark.parametrize("array, message", [
    (np.array([1.0, np.nan]).reshape(1, 2), "NaN or infinite"),
    (np.zeros(5), r"shape \(N, D\) or \(N, height, width\)"),
    (np.zeros((0, 5)), "empty"),
    (np.array([["a", "b"]]), "expected a numeric array"),
])
def test_file_npy_bad_contents(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=message):
        load_dataset("file", path=tmp_path / "bad.npy")


def test_file_refuses_pickles_corrupt_and_oversized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickled data"):
        load_dataset("file", path=tmp_path / "obj.npy")
    (tmp_path / "junk.npy").write_bytes(b"this is not numpy")
    with pytest.raises(DataError, match="not a valid NumPy file"):
        load_dataset("file", path=tmp_path / "junk.npy")
    np.save(tmp_path / "cut.npy", np.zeros((100, 100)))
    raw = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:5000])
    with pytest.raises(DataError, match="not a valid NumPy file|truncated"):
        load_dataset("file", path=tmp_path / "cut.npy")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match="not a valid .npz"):
        load_dataset("file", path=tmp_path / "junk.npz")
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_dataset("file", path=tmp_path / "empty.npy")
    monkeypatch.setattr(files, "MAX_ARRAY_FILE_BYTES", 1000)
    with pytest.raises(DataError, match="cut.npy: the file is 4.9 KB; the limit is 1000 bytes"):
        load_dataset("file", path=tmp_path / "cut.npy")


def test_file_npz_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.savez_compressed(tmp_path / "z.npz", x=np.zeros((1000, 1000)))  # 8 MB of zeros, a few KB on disk
    monkeypatch.setattr(files, "MAX_ARRAY_BYTES", 1024**2)
    with pytest.raises(DataError, match="uncompressed; refusing it"):
        load_dataset("file", path=tmp_path / "z.npz")


def test_file_path_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset("file", path=tmp_path / "nope.npz")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="unsupported file type .txt"):
        load_dataset("file", path=tmp_path / "notes.txt")


# ---- user files: images --------------------------------------------------------------------------------
def make_image_tree(root: Path, layout: dict[str, int]) -> None:
    for i, (folder, count) in enumerate(layout.items()):
        for j in range(count):
            target = root / folder if folder else root
            target.mkdir(parents=True, exist_ok=True)
            (target / f"img{j}.png").write_bytes(digit_png(seed=10 * i + j))


def test_folder_with_class_subfolders(tmp_path: Path) -> None:
    make_image_tree(tmp_path / "set", {"seven": 2, "one": 3})
    (tmp_path / "set" / "one" / "README.txt").write_text("ignored")
    (tmp_path / "set" / "one" / ".hidden.png").write_bytes(b"ignored too")
    ds = load_dataset("file", path=tmp_path / "set")
    assert ds.X.shape == (5, 784) and ds.image_shape == (28, 28) and ds.name == "set"
    assert ds.class_names == ("one", "seven") and ds.y.tolist() == [0, 0, 0, 1, 1]
    assert 0.0 <= ds.X.min() and ds.X.max() <= 1.0 and np.allclose(ds.X.max(axis=1), 1.0)


def test_folder_flat_and_raw(tmp_path: Path) -> None:
    make_image_tree(tmp_path / "flat", {"": 3})
    ds = load_dataset("file", path=tmp_path / "flat")
    assert len(ds) == 3 and ds.y is None and ds.class_names is None
    raw = load_dataset("file", path=tmp_path / "flat", raw=True)
    assert raw.image_shape == (64, 64) and raw.X.max() == 1.0  # white paper, not inverted
    Image.new("L", (30, 30), 255).save(tmp_path / "flat" / "small.png")
    with pytest.raises(DataError, match="must share one size"):
        load_dataset("file", path=tmp_path / "flat", raw=True)


def test_folder_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_dataset("file", path=tmp_path / "empty")
    make_image_tree(tmp_path / "mixed", {"": 1, "a": 1})
    with pytest.raises(DataError, match="mixes images at the top level with class sub-folders"):
        load_dataset("file", path=tmp_path / "mixed")
    make_image_tree(tmp_path / "broken", {"a": 1})
    (tmp_path / "broken" / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataError, match=r"a/bad.png: .*(not an image|corrupt|could not be read)"):
        load_dataset("file", path=tmp_path / "broken")
    (tmp_path / "blank").mkdir()
    Image.new("L", (20, 20), 255).save(tmp_path / "blank" / "white.png")
    with pytest.raises(DataError, match="white.png: no ink found"):
        load_dataset("file", path=tmp_path / "blank")
    monkeypatch.setattr(folders, "MAX_IMAGES", 2)
    make_image_tree(tmp_path / "many", {"": 3})
    with pytest.raises(DataError, match="3 images; the limit is 2"):
        load_dataset("file", path=tmp_path / "many")


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)


def test_zip_with_root_folder_and_classes(tmp_path: Path) -> None:
    write_zip(tmp_path / "d.zip", {"digits/3/a.png": digit_png(seed=1), "digits/3/b.png": digit_png(seed=2),
                                   "digits/1/c.png": digit_png(seed=3), "__MACOSX/digits/1/._c.png": b"junk",
                                   "digits/notes.txt": b"ignored"})
    ds = load_dataset("file", path=tmp_path / "d.zip")
    assert ds.class_names == ("1", "3") and ds.y.tolist() == [0, 1, 1] and ds.X.shape == (3, 784)
    write_zip(tmp_path / "flat.zip", {"a.png": digit_png(seed=1), "b.png": digit_png(seed=2)})
    flat = load_dataset("file", path=tmp_path / "flat.zip")
    assert len(flat) == 2 and flat.y is None
    # The same pictures give the same rows whether they come from a zip or a folder.
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "a.png").write_bytes(digit_png(seed=1))
    (tmp_path / "f" / "b.png").write_bytes(digit_png(seed=2))
    np.testing.assert_array_equal(flat.X, load_dataset("file", path=tmp_path / "f").X)


def test_zip_guards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_zip(tmp_path / "bomb.zip", {"big.png": b"\0" * (30 * 1024**2)})  # 30 MB that packs to ~30 KB
    assert (tmp_path / "bomb.zip").stat().st_size < 200_000
    with pytest.raises(DataError, match="big.png is 30 MB uncompressed; the limit for one image is 20 MB"):
        load_dataset("file", path=tmp_path / "bomb.zip")
    write_zip(tmp_path / "ok.zip", {f"{i}.png": digit_png(seed=i) for i in range(3)})
    monkeypatch.setattr(folders, "MAX_ZIP_UNCOMPRESSED_BYTES", 500)
    with pytest.raises(DataError, match="uncompressed; the limit is"):
        load_dataset("file", path=tmp_path / "ok.zip")
    monkeypatch.setattr(folders, "MAX_IMAGES", 2)
    with pytest.raises(DataError, match="3 images; the limit is 2"):
        load_dataset("file", path=tmp_path / "ok.zip")
    monkeypatch.setattr(folders, "MAX_ZIP_BYTES", 100)
    with pytest.raises(DataError, match=r"ok.zip: the file is \d+ bytes; the limit is 100 bytes"):
        load_dataset("file", path=tmp_path / "ok.zip")


def test_zip_corrupt_and_bad_members(tmp_path: Path) -> None:
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match="not a valid zip file"):
        load_dataset("file", path=tmp_path / "junk.zip")
    write_zip(tmp_path / "bad.zip", {"x/a.png": b"not an image"})
    with pytest.raises(DataError, match="bad.zip:x/a.png: this file is not an image PIL can read"):
        load_dataset("file", path=tmp_path / "bad.zip")
    write_zip(tmp_path / "none.zip", {"readme.txt": b"hi"})
    with pytest.raises(DataError, match="no images found"):
        load_dataset("file", path=tmp_path / "none.zip")


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_tiny_image_files_are_refused_by_name(tmp_path: Path, size: int) -> None:
    # PIL's header checks read 4 bytes unguarded: these files once ended in a struct.error traceback.
    make_image_tree(tmp_path / "set", {"a": 2})
    (tmp_path / "set" / "a" / "tiny.png").write_bytes(b"\x89PNG"[:size])
    with pytest.raises(DataError, match=r"^a/tiny.png: (the file is empty|this file is not an image)"):
        load_dataset("file", path=tmp_path / "set")
    write_zip(tmp_path / "t.zip", {"d/a.png": digit_png(seed=1), "d/tiny.gif": b"GIF"[:size]})
    with pytest.raises(DataError, match=r"^t.zip:d/tiny.gif: (the file is empty|this file is not an image)"):
        load_dataset("file", path=tmp_path / "t.zip")


def test_single_image_file(tmp_path: Path) -> None:
    (tmp_path / "one.png").write_bytes(digit_png())
    ds = load_dataset("file", path=tmp_path / "one.png")
    assert ds.X.shape == (1, 784) and ds.image_shape == (28, 28) and ds.y is None


def test_yaleb_is_bundled() -> None:
    faces = load_dataset("yaleb")
    assert faces.X.shape == (2414, 1024) and faces.image_shape == (32, 32)
    assert np.bincount(faces.y).size == 38 and 59 <= np.bincount(faces.y).min() and np.bincount(faces.y).max() <= 64
    assert 0.0 <= faces.X.min() and faces.X.max() <= 1.0


def _save_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)


def test_user_photos_get_photo_preprocessing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:36] / 40.0
    for person in ("ann", "bob"):
        for k in range(3):   # smooth pictures that fill the frame, like faces under changing light
            _save_png(tmp_path / "faces" / person / f"{k}.png", 0.5 + 0.4 * np.sin(3 * xx + k + (person == "bob") * yy * 5)
                      + 0.02 * rng.standard_normal(xx.shape))
    faces = load_dataset("file", path=tmp_path / "faces")
    assert faces.image_shape == (40, 36) and faces.preprocessing.startswith("photo-style")
    assert faces.y.tolist() == [0, 0, 0, 1, 1, 1] and faces.class_names == ("ann", "bob")
    big = tmp_path / "big"
    _save_png(big / "a.png", rng.random((300, 200)))
    _save_png(big / "b.png", rng.random((200, 300)))
    assert load_dataset("file", path=big).image_shape == (32, 32)


def test_user_drawings_get_digit_preprocessing(tmp_path: Path) -> None:
    for k in range(3):
        canvas = np.ones((60, 50))
        canvas[10 + k:45, 20:26] = 0.0          # a dark stroke on white paper
        _save_png(tmp_path / "digits" / f"{k}.png", canvas)
    drawn = load_dataset("file", path=tmp_path / "digits")
    assert drawn.image_shape == (28, 28) and drawn.preprocessing.startswith("digit-style")
    assert drawn.X.max() == pytest.approx(1.0) and np.median(drawn.X) == 0.0     # bright ink on black


def npz_declaring(shape: tuple[int, ...], dtype: str = "<f4", name: str = "X") -> bytes:
    """A small .npz whose member's header declares ``shape`` but holds only a few bytes of data."""
    member = io.BytesIO()
    np.lib.format.write_array_header_2_0(member, {"descr": dtype, "fortran_order": False, "shape": shape})
    member.write(b"\0" * 4096)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.npy", member.getvalue())
    return out.getvalue()


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_an_array_declaring_more_memory_than_the_budget_is_refused_before_loading(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"huge{suffix}"
    raw = npz_declaring((30_000, 30_000))     # 3.35 GiB of float32 declared in a few kB
    if suffix == ".npy":
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            raw = zf.read("X.npy")
    path.write_bytes(raw)
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match=r"huge\.np[yz]: its arrays \(30000×30000 float32\) would need about "
                                        r"6\.7 GB of memory to load; the limit is 4 GB"):
        load_dataset("file", path=path)


def test_a_small_array_within_the_budget_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.npz"
    np.savez(path, X=np.ones((20, 6), dtype=np.uint8), y=np.arange(20) % 2)
    ds = load_dataset("file", path=path)
    assert ds.X.shape == (20, 6) and ds.y is not None


@pytest.mark.parametrize("container", ["zip", "folder"])
def test_decoded_pixels_per_upload_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              container: str) -> None:
    monkeypatch.setattr(folders, "MAX_UPLOAD_PIXELS", 3 * 100 * 100 + 50)   # three 100×100 images fit, not four
    decoded: list[str] = []
    real_decode = folders._decode
    monkeypatch.setattr(folders, "_decode", lambda blob, label: decoded.append(label) or real_decode(blob, label))
    png = digit_png(size=(100, 100))
    names = [f"a/{i}.png" for i in range(5)]
    if container == "zip":
        target = tmp_path / "many.zip"
        with zipfile.ZipFile(target, "w") as zf:
            for name in names:
                zf.writestr(name, png)
    else:
        target = tmp_path / "many"
        for name in names:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(png)
    with pytest.raises(DataError, match=r"the images add up to more than 30,050 pixels \(reached at a/3\.png\)"):
        load_dataset("file", path=target)
    assert len(decoded) == 3          # refused from the header, before decoding the fourth image


# ---- what a folder load may read (issue 33) ------------------------------------------------------------
_OPENED: list[str] = []
_WATCHING = threading.Event()


def _watch_opens(event: str, args: tuple) -> None:
    if _WATCHING.is_set() and event == "open" and isinstance(args[0], (str, bytes, Path)):
        _OPENED.append(str(args[0] if not isinstance(args[0], bytes) else args[0].decode(errors="replace")))


@contextlib.contextmanager
def opened_files() -> Iterator[list[str]]:
    """Every path Python opens (io.open, os.open, ...) while the block runs, as it was given to open."""
    if not getattr(opened_files, "hooked", False):
        import sys
        sys.addaudithook(_watch_opens)           # cannot be removed: it records only while watching
        opened_files.hooked = True               # type: ignore[attr-defined]
    _OPENED.clear()
    seen: list[str] = []
    _WATCHING.set()
    try:
        yield seen
    finally:
        _WATCHING.clear()
        seen.extend(_OPENED)


def test_a_folder_load_reads_no_file_outside_the_folder(tmp_path: Path) -> None:
    """A link to a file outside the folder (such as /etc/passwd) was opened and read as one of its images."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_bytes(digit_png(seed=99))              # a valid image: read, it would become a row
    (outside / "more").mkdir()
    (outside / "more" / "x.png").write_bytes(digit_png(seed=98))
    root = tmp_path / "set"
    make_image_tree(root, {"a": 2, "b": 2})
    (root / "a" / "leak.png").symlink_to(secret)                       # absolute link out
    (root / "b" / "up.png").symlink_to(Path("..", "..", "elsewhere", "secret.png"))   # relative link out
    (root / "b" / "inside.png").symlink_to(Path("..", "a", "img0.png"))               # link within: read
    (root / "a" / "gone.png").symlink_to(tmp_path / "nowhere.png")                     # leads to nothing
    (root / "c").symlink_to(outside / "more", target_is_directory=True)              # a folder link: not entered
    with opened_files() as seen:
        ds = load_dataset("file", path=root)
    mine = [Path(p).resolve() for p in seen if Path(p).resolve().is_relative_to(tmp_path.resolve())]
    assert mine and all(p.is_relative_to(root.resolve()) for p in mine), mine        # nothing outside was opened
    assert (root / "a" / "img0.png").resolve() in mine                               # the watch works
    assert len(ds) == 5 and ds.class_names == ("a", "b") and ds.y.tolist() == [0, 0, 1, 1, 1]
    np.testing.assert_array_equal(ds.X[2], ds.X[0])                                   # b/inside.png is a/img0.png
    assert ds.preprocessing.endswith("; 3 symbolic links skipped (2 lead outside the folder, 1 leads to no regular "
                                     "file): only files inside the folder are read"), ds.preprocessing
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)                                  # the folder named by a link
    assert load_dataset("file", path=alias).X.shape == ds.X.shape
    raw = load_dataset("file", path=root, raw=True)
    assert raw.preprocessing == "3 symbolic links skipped (2 lead outside the folder, 1 leads to no regular file): " \
                                "only files inside the folder are read"


def test_a_folder_of_only_outside_links_says_why_it_is_empty(tmp_path: Path) -> None:
    (tmp_path / "real.png").write_bytes(digit_png())
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "link.png").symlink_to(tmp_path / "real.png")
    with opened_files() as seen, pytest.raises(DataError, match=r"set: no images found: 1 symbolic link skipped "
                                                                  r"\(1 leads outside the folder\)"):
        load_dataset("file", path=tmp_path / "set")
    assert not [p for p in seen if Path(p).resolve().is_relative_to(tmp_path.resolve())]


def test_a_link_stored_in_a_zip_is_skipped_and_nothing_is_extracted(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("d/a/passwd.png")
    link.external_attr = (0o120777 << 16)                   # a symbolic link, as `zip --symlinks` stores it
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        zf.writestr("d/a/x.png", digit_png(seed=1))
        zf.writestr("d/b/y.png", digit_png(seed=2))
        zf.writestr(link, "/etc/passwd")
    before = sorted(tmp_path.rglob("*"))
    ds = load_dataset("file", path=tmp_path / "d.zip")
    assert len(ds) == 2 and ds.class_names == ("a", "b")
    assert ds.preprocessing.endswith("; 1 symbolic link stored in the .zip skipped (links are not followed)")
    assert sorted(tmp_path.rglob("*")) == before                                       # nothing written


# ---- images that would carry nothing once prepared (issue 33) ------------------------------------------
@pytest.mark.parametrize("shape, words", [((1, 1000), "1000 pixels wide and 1 high"),
                                          ((1000, 1), "1 pixel wide and 1000 high"),
                                          ((20, 300), "300 pixels wide and 20 high")])
def test_a_folder_of_strips_is_refused_not_cropped_to_a_pixel(tmp_path: Path, shape: tuple[int, int],
                                                              words: str) -> None:
    """1×1000 images were centre-cropped to one pixel: every row constant, and training ran without a word."""
    rng = np.random.default_rng(0)
    for person in ("a", "b"):
        for k in range(3):
            _save_png(tmp_path / "strips" / person / f"{k}.png", rng.random(shape))
    with pytest.raises(DataError) as info:
        load_dataset("file", path=tmp_path / "strips")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'strips'}: a/0.png: the image is {words}: cropping it to the "
                              f"proportions of photo-style inputs of 32×32 (height×width) would keep ") and \
        "more than 4 times wider or taller than the inputs is refused" in message and "\n" not in message, message
    assert load_dataset("file", path=tmp_path / "strips", raw=True).image_shape == shape     # as they are: kept


def test_a_folder_whose_pictures_are_plain_in_the_middle_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    framed = np.full((40, 120), 0.5)
    framed[:, :30] = rng.random((40, 30))
    _save_png(tmp_path / "set" / "a.png", framed)
    _save_png(tmp_path / "set" / "b.png", rng.random((50, 50)))
    with pytest.raises(DataError, match=r"set: a.png: the image is 120 pixels wide and 40 high: nothing is left"):
        load_dataset("file", path=tmp_path / "set")


def test_the_rule_for_rows_that_are_all_constant() -> None:
    """SSCN.fit refuses them (tests/test_image_edges.py); loading accepts them, to be looked at."""
    from sscn_core.data.dataset import check_rows_vary

    levels = np.linspace(0.1, 0.9, 6, dtype=np.float32)
    blank = np.repeat(levels[:, None], 256, axis=1)
    with pytest.raises(DataError, match=r"^blank.npz: all 6 rows are constant \(one value in all 256 features: "
                                        r"0.1, 0.26, 0.42, \.\.\.\): there is nothing to cluster"):
        check_rows_vary(blank, "blank.npz")
    with pytest.raises(DataError, match=r"^the one row is constant \(one value in all 4 features: 0\)"):
        check_rows_vary(np.zeros((1, 4)))
    some = np.zeros((3, 4), dtype=np.float32)
    some[1, 2] = 1.0
    check_rows_vary(some)                                                  # one varying row is enough
    check_rows_vary(np.arange(3.0)[:, None])                               # rows of one feature: not checked
    assert len(Dataset(blank, None, "blank", (16, 16))) == 6               # loading accepts them


def test_a_file_swapped_for_an_outside_link_after_listing_is_not_followed(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(digit_png(seed=5))
    make_image_tree(tmp_path / "set", {"a": 2})
    listed = folders._folder_images

    def list_then_swap(root: Path) -> tuple:
        found = listed(root)
        (root / "a" / "img1.png").unlink()
        (root / "a" / "img1.png").symlink_to(secret)          # between the check and the read
        return found

    monkeypatch.setattr(folders, "_folder_images", list_then_swap)
    with opened_files() as seen, pytest.raises(DataError, match=r"set/a/img1.png: cannot read"):
        load_dataset("file", path=tmp_path / "set")
    assert str(secret) not in seen and str(tmp_path / "set" / "a" / "img1.png") in seen   # the link, unfollowed


def test_an_oversized_file_in_a_folder_is_refused_before_it_is_read(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import sscn_core.preprocess as preprocess

    make_image_tree(tmp_path / "set", {"a": 2})
    (tmp_path / "set" / "a" / "big.png").write_bytes(b"\x89PNG" + bytes(5000))
    monkeypatch.setattr(preprocess, "MAX_BYTES", 4000)
    with pytest.raises(DataError, match=r"^a/big.png: the file is 4.9 KB; the limit for one image is 3.9 KB$"):
        load_dataset("file", path=tmp_path / "set")
