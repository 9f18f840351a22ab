"""Feature front-ends: pixels pass through; scattering learns a PCA that travels with the model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sscn_core import SSCN, features, load_dataset
from sscn_core.features import PixelFrontEnd, ScatteringFrontEnd, build_frontend, clear_cache


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return torch.from_numpy(load_dataset("mnist", n_samples=120, seed=0).X)


def test_pixels_pass_through(digits: torch.Tensor) -> None:
    fe = PixelFrontEnd(784)
    assert torch.equal(fe.fit_transform(digits), digits)
    assert build_frontend(fe.config()).config() == fe.config()


def test_unit_rows_do_not_overflow_and_leave_zero_rows_alone() -> None:
    x = torch.randn(6, 50, generator=torch.Generator().manual_seed(0))
    unit = PixelFrontEnd(50, unit_rows=True)
    expected = x / x.norm(dim=1, keepdim=True)
    assert torch.allclose(unit(x), expected, atol=1e-6)
    assert torch.allclose(unit(x * 1e30), expected, atol=1e-6)      # the squares of 1e30 overflow float32
    assert torch.allclose(unit(x * 1e-30), expected, atol=1e-6)
    assert torch.equal(unit(torch.zeros(2, 50)), torch.zeros(2, 50))


def test_scattering_features_are_unit_rows_and_match_forward(digits: torch.Tensor) -> None:
    fe = ScatteringFrontEnd(J=3, dim=40)
    feats = fe.fit_transform(digits)
    assert feats.shape == (120, 40)
    assert torch.allclose(feats.norm(dim=1), torch.ones(120), atol=1e-5)
    assert torch.allclose(fe(digits), feats, atol=1e-4)
    # Translation stability: a digit shifted by one pixel keeps nearly the same features.
    shifted = torch.roll(digits.reshape(-1, 28, 28), shifts=1, dims=2).reshape(-1, 784)
    cos = (fe(shifted) * feats).sum(1)
    assert cos.median() > 0.9


def test_scattering_needs_fit_and_valid_sizes(digits: torch.Tensor) -> None:
    with pytest.raises(RuntimeError, match="fit it"):
        ScatteringFrontEnd(dim=10)(digits)
    with pytest.raises(ValueError):
        ScatteringFrontEnd(J=0)


def test_scattering_model_round_trip(digits: torch.Tensor, tmp_path: Path) -> None:
    model = SSCN(n_clusters=10, subspace_dim=3, autoencoder=None, frontend="scattering", frontend_dim=40,
                 batch_size=60, epochs=2, classifier_epochs=1, seed=0).fit(digits.numpy())
    assert "features" in model.phase_times_
    loaded = SSCN.load(model.save(tmp_path / "m.pt"))
    assert np.array_equal(loaded.predict(digits.numpy()), model.predict(digits.numpy()))
    assert np.allclose(loaded.transform(digits.numpy()), model.transform(digits.numpy()), atol=1e-5)


def test_scattering_refuses_non_images_and_conv() -> None:
    with pytest.raises(ValueError, match="image_shape"):
        SSCN(autoencoder=None, frontend="scattering", n_clusters=2, subspace_dim=2).fit(np.zeros((40, 63), np.float32))
    with pytest.raises(ValueError, match=r"\(7, 9\) holds 63 pixels"):
        SSCN(autoencoder=None, frontend="scattering", n_clusters=2, subspace_dim=2,
             image_shape=(7, 9)).fit(np.zeros((40, 64), np.float32))
    with pytest.raises(ValueError, match="conv"):
        SSCN(autoencoder="conv", frontend="scattering").fit(np.zeros((40, 784), np.float32))


def test_scattering_takes_any_image_shape() -> None:
    faces = torch.rand(30, 24 * 40, generator=torch.Generator().manual_seed(0))
    fe = ScatteringFrontEnd(J=3, dim=20, image_shape=(24, 40))
    assert fe.canvas == (24, 40) and fe.n_coefficients == 217 * 3 * 5
    assert fe.fit_transform(faces).shape == (30, 20)
    assert build_frontend(fe.config()).image_shape == (24, 40)
    scattering = dict(frontend="scattering", autoencoder="mlp")
    rows = np.zeros((40, 1024), np.float32)
    assert SSCN(**scattering).plan(rows)["image_shape"]["value"] == (32, 32)
    assert SSCN(**scattering, image_shape=(24, 40)).plan(rows[:, :960])["image_shape"]["value"] == (24, 40)
    with pytest.raises(ValueError, match="scattering front-end reads images.*image_shape=\\(height, width\\)"):
        SSCN(**scattering).plan(rows[:, :960])
    with pytest.raises(ValueError, match="downscale"):
        ScatteringFrontEnd(image_shape=(128, 128))


@pytest.mark.parametrize("config", [{"J": 40}, {"L": 100_000}, {"image_shape": (100_000, 100_000)}])
def test_scattering_sizes_are_refused_before_the_filters_are_built(config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # A checkpoint's configuration is untrusted: the filters of these would take gigabytes.
    def must_not_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the filters were built")

    monkeypatch.setattr(features, "Scattering2D", must_not_build)
    with pytest.raises(ValueError, match="scattering coefficients with .*downscale"):
        build_frontend({"kind": "scattering", "J": 3, "dim": 10, **config})


def test_checkpoints_without_a_shape_mean_28x28_digits(digits: torch.Tensor) -> None:
    fe = ScatteringFrontEnd(J=3, dim=10)
    fe.fit_transform(digits)
    old = {"kind": "scattering", "J": 3, "dim": 10}  # written before image_shape and L existed
    loaded = build_frontend(old)
    loaded.load_state_dict(fe.state_dict())
    assert loaded.image_shape == (28, 28) and torch.allclose(loaded(digits), fe(digits))


def test_scattering_matches_kymatio_on_digits(digits: torch.Tensor) -> None:
    from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D
    padded = torch.nn.functional.pad(digits[:20].reshape(-1, 28, 28), (2, 2, 2, 2))
    ref = ScatteringTorch2D(J=3, shape=(32, 32))(padded).reshape(20, -1)
    ours = ScatteringFrontEnd(J=3).coefficients(digits[:20])
    assert float((ours - ref).norm() / ref.norm()) < 1e-4


def test_training_coefficients_are_cached_across_fits(digits: torch.Tensor, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_cache()
    calls = []
    original = ScatteringFrontEnd.coefficients
    monkeypatch.setattr(ScatteringFrontEnd, "coefficients",
                        lambda self, x, batch_size=None: calls.append(len(x)) or original(self, x, batch_size))
    first = ScatteringFrontEnd(dim=30).fit_transform(digits)
    second = ScatteringFrontEnd(dim=30).fit_transform(digits.clone())
    assert calls == [120] and torch.equal(first, second)
    ScatteringFrontEnd(dim=30).fit_transform(digits[:60])  # other images: computed again
    assert calls == [120, 60]
    first_model = ScatteringFrontEnd(dim=30)
    first_model.fit_transform(digits)
    assert torch.allclose(first_model(digits), first, atol=1e-6) and calls == [120, 60]   # a forward pass reads it too
    clear_cache()


def test_the_coefficient_cache_keeps_the_latest_sets(digits: torch.Tensor, monkeypatch: pytest.MonkeyPatch) -> None:
    from sscn_core import features

    clear_cache()
    calls = []
    original = ScatteringFrontEnd.coefficients
    monkeypatch.setattr(ScatteringFrontEnd, "coefficients",
                        lambda self, x, batch_size=None: calls.append(len(x)) or original(self, x, batch_size))
    front = ScatteringFrontEnd(dim=10)
    for size in range(1, features.CACHE_ENTRIES + 2):   # one set more than the cache holds
        features._cached_coefficients(front, digits[:size])
    features._cached_coefficients(front, digits[:features.CACHE_ENTRIES + 1])   # the latest: kept
    features._cached_coefficients(front, digits[:1])                           # the oldest: dropped
    assert calls == [*range(1, features.CACHE_ENTRIES + 2), 1]
    monkeypatch.setattr(features, "CACHE_MAX_BYTES", 0)                       # nothing fits: nothing kept
    clear_cache()
    features._cached_coefficients(front, digits[:2])
    features._cached_coefficients(front, digits[:2])
    assert calls[-2:] == [2, 2]
    clear_cache()


def test_non_square_model_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 20 * 30), dtype=np.float32)
    model = SSCN(n_clusters=2, subspace_dim=2, autoencoder=None, frontend="scattering", frontend_dim=10,
                 image_shape=(20, 30), batch_size=20, epochs=1, classifier_epochs=1, seed=0, device="cpu").fit(x)
    loaded = SSCN.load(model.save(tmp_path / "m.pt"))
    assert loaded.image_shape == (20, 30)
    assert np.allclose(loaded.transform(x), model.transform(x), atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_scattering_model_on_gpu(digits: torch.Tensor) -> None:
    model = SSCN(n_clusters=10, subspace_dim=3, autoencoder=None, frontend="scattering", frontend_dim=40,
                 batch_size=60, epochs=1, classifier_epochs=1, seed=0, device="cuda").fit(digits.numpy())
    assert model.net_.frontend.components.device.type == "cuda"
    assert model.predict(digits.numpy()).shape == (120,)
    assert model.transform(digits.numpy()).shape == (120, 30)


def test_pca_routes_agree() -> None:
    from sscn_core.features import _principal_directions
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(300, 30, dtype=torch.float64, generator=gen) @ torch.randn(30, 400, dtype=torch.float64, generator=gen)
    x = x - x.mean(0)
    small_n = _principal_directions(x, 10)            # 300 < 400 features: the 300 × 300 inner products
    large_n = _principal_directions(torch.cat([x, -x]), 10)  # 600 rows: the 400 × 400 covariance
    assert torch.allclose(small_n.norm(dim=0), torch.ones(10, dtype=torch.float64))
    assert (small_n.T @ large_n).abs().diagonal().min() > 1 - 1e-9
