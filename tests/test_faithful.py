"""The `paper` preset is the reference implementation's method: its loss, literally.

The reference code sums three terms with all weights 1.0 (shared notes, "Losses and training"):
sum((X − X̂)²) + sum(Q²) + sum((Z − QZ)²)/2 with X̂ = dec(QZ). The library's loss must equal that
up to ONE global factor (which Adam does not see); checking each term's ratio separately catches a
weight that is off even when the totals happen to be close.
"""
from __future__ import annotations

import copy
import threading

import pytest
import torch

from sscn_core import SSCN
from sscn_core.baselines import DSCNet
from sscn_core.features import PixelFrontEnd
from sscn_core.models import ConvAutoEncoder, SSCNNetwork, reset_parameters
from sscn_core.trainer import train_self_expression


def reference_sums(q: torch.Tensor, z: torch.Tensor, x: torch.Tensor, decode) -> dict[str, float]:
    """The reference's three terms, written out as it writes them (sum reductions, weights 1)."""
    qz = q @ z
    x_hat = decode(qz)
    return {"reconstruction": float(torch.sum((x - x_hat) ** 2)),
            "q_norm": float(torch.sum(q ** 2)),
            "self_expression": float(torch.sum((z - qz) ** 2)) / 2}


def fixed_batch(n: int = 40) -> torch.Tensor:
    return torch.rand(n, 784, generator=torch.Generator().manual_seed(5))


def fixed_network() -> SSCNNetwork:
    net = SSCNNetwork(PixelFrontEnd(784), ConvAutoEncoder(), n_clusters=10, subspace_dim=9)
    generator = torch.Generator().manual_seed(0)
    reset_parameters(net.autoencoder, generator)
    net.h.reset(generator)
    return net.double()


def library_step_terms(net: SSCNNetwork, x: torch.Tensor, lambda1: float, lambda2: float,
                       reduction: str) -> dict[str, float]:
    """The loss terms the trainer records for its first step (one batch = all of x, before any update)."""
    history: list[dict] = []
    train_self_expression(copy.deepcopy(net), x, steps=1, batch_size=x.shape[0], lr=1e-3, lambda1=lambda1,
                          lambda2=lambda2, reduction=reduction, device=torch.device("cpu"),
                          generator=torch.Generator().manual_seed(1), report=lambda e: None,
                          stop_flag=threading.Event(), history=history)
    step = history[0]
    return {"total": step["total"], "q_norm": step["q_norm"], "self_expression": lambda1 * step["self_expression"],
            "reconstruction": lambda2 * step["reconstruction"]}


@pytest.mark.parametrize("source", ["paper preset", "SSCN() defaults"])
def test_library_loss_is_the_reference_sum_up_to_one_factor(source: str) -> None:
    params = (SSCN.from_preset("paper") if source == "paper preset" else SSCN()).get_params()
    assert params["reduction"] == "sum"      # the reference's reductions
    x = fixed_batch()
    net = fixed_network()
    with torch.no_grad():
        z, h = net.embed(x.double())
        ref = reference_sums(h @ h.T, z, x.double(), net.autoencoder.decode)
    ours = library_step_terms(net, x.double(), params["lambda1"], params["lambda2"],
                              params["reduction"])
    ratios = {k: ours[k] / ref[k] for k in ref}
    factor = ratios["q_norm"]
    assert all(v > 0 for v in ref.values())
    for name, ratio in ratios.items():
        assert ratio == pytest.approx(factor, rel=1e-9), f"{name}: ratio {ratio}, expected the global {factor}"
    assert ours["total"] == pytest.approx(factor * sum(ref.values()), rel=1e-9)


def test_dsc_net_loss_is_the_reference_sum_up_to_one_factor() -> None:
    x = fixed_batch(30)
    model = DSCNet(pretrained="mnist", epochs=1, device="cpu", seed=0, init=1e-3)
    # Recompute with the same auto-encoder and C before DSC-Net's single Adam step.
    template = SSCN.from_preset("paper", pretrained="mnist", device="cpu")
    template._planned(x)     # the concrete parameters the network is built from
    net = template._build_network(PixelFrontEnd(784), torch.Generator().manual_seed(0), "conv")
    template._load_pretrained(net)
    c = torch.full((30, 30), 1e-3)
    with torch.no_grad():
        ref = reference_sums(c, net.autoencoder.encode(x), x, net.autoencoder.decode)
    model.fit(x.numpy())
    step = model.history_[0]
    ours = {"q_norm": step["q_norm"], "self_expression": model.lambda1 * step["self_expression"],
            "reconstruction": model.lambda2 * step["reconstruction"]}
    factor = ours["q_norm"] / ref["q_norm"]
    for name in ref:
        assert ours[name] / ref[name] == pytest.approx(factor, rel=1e-4), name
    assert step["total"] == pytest.approx(factor * sum(ref.values()), rel=1e-4)
