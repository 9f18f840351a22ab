"""Our scattering transform against kymatio's (the reference), and its shape, batch and device behaviour."""
from __future__ import annotations

import pytest
import torch
from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D

from sscn_core.scattering import Scattering2D, n_channels, padded_size


def _relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out - ref).norm() / ref.norm())


@pytest.mark.parametrize("shape, J, L", [((32, 32), 3, 8), ((28, 28), 3, 8), ((24, 40), 2, 4), ((33, 20), 2, 6),
                                         ((40, 36), 4, 3)])
def test_matches_kymatio(shape: tuple[int, int], J: int, L: int) -> None:
    x = torch.rand(6, *shape, generator=torch.Generator().manual_seed(0))
    ref = ScatteringTorch2D(J=J, shape=shape, L=L)(x)
    out = Scattering2D(shape, J, L)(x)
    assert out.shape == ref.shape == (6, n_channels(J, L), padded_size(shape[0], J) // 2 ** J - 2,
                                      padded_size(shape[1], J) // 2 ** J - 2)
    assert _relative_error(out, ref) < 1e-4
    # Every channel, not only the large ones, agrees.
    per_channel = (out - ref).flatten(2).norm(dim=(0, 2)) / ref.flatten(2).norm(dim=(0, 2))
    assert per_channel.max() < 1e-4


def test_first_order_only_matches_kymatio() -> None:
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))
    ref = ScatteringTorch2D(J=3, shape=(32, 32), max_order=1)(x)
    assert _relative_error(Scattering2D((32, 32), 3, max_order=1)(x), ref) < 1e-4


def test_images_are_independent_and_batch_shape_kept() -> None:
    op = Scattering2D((16, 16), J=2, L=4)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    out = op(x)
    assert out.shape == (2, 3, *op.output_shape)
    assert torch.allclose(op(x[1, 2]), out[1, 2], atol=1e-6)
    # Filters never reach a checkpoint.
    assert op.state_dict() == {}


def test_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError, match="larger than 8×8"):
        Scattering2D((8, 20), J=3)
    with pytest.raises(ValueError, match="J ≥ 1"):
        Scattering2D((32, 32), J=0)
    with pytest.raises(ValueError, match="takes 32×32"):
        Scattering2D((32, 32), J=2)(torch.zeros(1, 28, 28))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_matches_cpu() -> None:
    op = Scattering2D((32, 32), J=3)
    x = torch.rand(8, 32, 32, generator=torch.Generator().manual_seed(3))
    gpu = op.to("cuda")(x.cuda())
    assert gpu.device.type == "cuda"
    assert _relative_error(gpu.cpu(), Scattering2D((32, 32), J=3)(x)) < 1e-4
