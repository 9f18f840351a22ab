"""The networks: shapes, parameter counts (the paper's 66,291) and the classifier's block energies."""
from __future__ import annotations

import pytest
import torch

from sscn_core.features import PixelFrontEnd
from sscn_core.models import (ConvAutoEncoder, IdentityAutoEncoder, MLPAutoEncoder, SSCNNetwork, SelfExpression,
                              SubspaceClassifier, build_autoencoder, check_network_size, network_parameters,
                              reset_parameters)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_conv_autoencoder_shapes_and_paper_parameter_count() -> None:
    ae = ConvAutoEncoder()
    x = torch.rand(5, 784)
    z = ae.encode(x)
    assert z.shape == (5, 480)
    assert ae.decode(z).shape == (5, 784)
    assert ae.encode(x.reshape(5, 1, 28, 28)).shape == (5, 480)
    net = SSCNNetwork(PixelFrontEnd(784), ae, n_clusters=10, subspace_dim=9)
    assert n_params(ae) == 14_991
    assert n_params(net.h) == 43_200
    assert n_params(net.classifier) == 8_100
    assert n_params(net) == 66_291


def test_mlp_and_identity_autoencoders() -> None:
    ae = MLPAutoEncoder(64, (32, 16), 8)
    x = torch.randn(7, 64)
    assert ae.encode(x).shape == (7, 8) and ae.decode(ae.encode(x)).shape == (7, 64)
    ident = IdentityAutoEncoder(12)
    x = torch.randn(3, 12)
    assert torch.equal(ident.decode(ident.encode(x)), x) and n_params(ident) == 0
    with pytest.raises(ValueError):
        MLPAutoEncoder(0, (4,), 2)


@pytest.mark.parametrize("ae", [ConvAutoEncoder(), MLPAutoEncoder(20, (8,), 4), IdentityAutoEncoder(6)])
def test_build_autoencoder_round_trip(ae: torch.nn.Module) -> None:
    rebuilt = build_autoencoder(ae.config())
    assert type(rebuilt) is type(ae) and rebuilt.config() == ae.config()
    rebuilt.load_state_dict(ae.state_dict())


@pytest.mark.parametrize("ae", [ConvAutoEncoder(), ConvAutoEncoder((32, 20)), MLPAutoEncoder(20, (8, 6), 4),
                                IdentityAutoEncoder(6)])
def test_network_parameters_is_the_built_count(ae: torch.nn.Module) -> None:
    net = SSCNNetwork(PixelFrontEnd(ae.input_dim), ae, n_clusters=3, subspace_dim=2)
    assert network_parameters(ae.config(), 3, 2) == n_params(net)


def test_check_network_size_refuses_a_huge_config_without_building_it() -> None:
    config = {"kind": "mlp", "input_dim": 784, "hidden_dims": [1_000_000], "latent_dim": 32}
    with pytest.raises(ValueError, match=r"describes 6\.09 GiB of weights but the file holds 1\.00 MiB"):
        check_network_size(config, 10, 9, 2**20)
    check_network_size(ConvAutoEncoder().config(), 10, 9, 4 * 66_291)   # the paper's network, exactly


def test_build_autoencoder_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown auto-encoder kind"):
        build_autoencoder({"kind": "transformer"})


def test_seeded_reset_is_reproducible() -> None:
    a, b = ConvAutoEncoder(), ConvAutoEncoder()
    reset_parameters(a, torch.Generator().manual_seed(3))
    reset_parameters(b, torch.Generator().manual_seed(3))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    h1, h2 = SelfExpression(5, 2, 2), SelfExpression(5, 2, 2)
    h1.reset(torch.Generator().manual_seed(1))
    h2.reset(torch.Generator().manual_seed(1))
    assert torch.equal(h1.linear.weight, h2.linear.weight)


def test_classifier_logits_are_minus_energy_outside_each_block() -> None:
    clf = SubspaceClassifier(n_clusters=3, subspace_dim=2)
    h = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0],   # all energy in block 0
                      [0.0, 0.0, 3.0, 4.0, 0.0, 0.0],   # 25 in block 1
                      [1.0, 0.0, 0.0, 0.0, 0.0, 2.0]])  # 1 in block 0, 4 in block 2
    logits = clf(h)
    expected = -torch.tensor([[0.0, 1.0, 1.0], [25.0, 0.0, 25.0], [4.0, 5.0, 1.0]])
    assert torch.allclose(logits, expected)
    assert logits.argmax(1).tolist() == [0, 1, 2]
    # A rotation moves energy between blocks: swap the first two coordinates into block 1's.
    with torch.no_grad():
        clf.R.copy_(torch.eye(6)[[2, 3, 0, 1, 4, 5]])
    assert clf(h[:1]).argmax(1).item() == 1


@pytest.mark.parametrize("seed", range(8))
def test_conv_decoder_output_is_alive_at_initialisation(seed: int) -> None:
    ae = ConvAutoEncoder()
    reset_parameters(ae, torch.Generator().manual_seed(seed))
    out = ae.decode(ae.encode(torch.rand(16, 784)))
    assert (out > 0).any(), "the final ReLU is dead: pre-training would get no gradient"
