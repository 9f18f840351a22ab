"""Feature front-ends: pixels pass through; scattering learns a PCA that travels with the model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sscn_core import SSCN, load_dataset
from sscn_core.features import PixelFrontEnd, ScatteringFrontEnd, build_frontend


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return torch.from_numpy(load_dataset("mnist", n_samples=120, seed=0).X)


def test_pixels_pass_through(digits: torch.Tensor) -> None:
    fe = PixelFrontEnd(784)
    assert torch.equal(fe.fit_transform(digits), digits)
    assert build_frontend(fe.config()).config() == fe.config()


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
    with pytest.raises(ValueError, match="7×9 has 63 pixels"):
        SSCN(autoencoder=None, frontend="scattering", n_clusters=2, subspace_dim=2,
             image_shape=(7, 9)).fit(np.zeros((40, 64), np.float32))
    with pytest.raises(ValueError, match="conv"):
        SSCN(autoencoder="conv", frontend="scattering").fit(np.zeros((40, 784), np.float32))
