"""Cayley-Adam: stays on the Stiefel manifold, really optimises, validates its inputs, saves its state."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from sscn_core.stiefel import CayleyAdam, StiefelError, orthonormalize, stiefel_error


def _random_rotation(n: int, p: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A random n×p matrix with orthonormal columns; for n == p one with det +1 (reachable from I)."""
    q = torch.linalg.qr(torch.randn(n, p, generator=generator, dtype=dtype)).Q
    if n == p and torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _block_energy_loss(h: torch.Tensor, r: torch.Tensor, y: torch.Tensor, k: int, q: int) -> torch.Tensor:
    """The SSCN classifier's loss: logits = −energy outside each of K blocks of q coordinates of H R."""
    p = h @ r
    inside = (p * p).reshape(p.shape[0], k, q).sum(dim=2)
    return F.cross_entropy(inside - inside.sum(dim=1, keepdim=True), y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stays_on_the_manifold_for_5000_steps(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    k, q, n = 4, 5, 300
    h = torch.randn(n, k * q, generator=g, dtype=dtype)
    y = torch.randint(0, k, (n,), generator=g)  # random labels: the loss never reaches 0, R keeps moving
    r = torch.nn.Parameter(torch.eye(k * q, dtype=dtype))
    opt = CayleyAdam([r], lr=0.1, qr_every=100)
    start = r.detach().clone()
    worst = 0.0
    for _ in range(5000):
        loss = _block_energy_loss(h, r, y, k, q)
        opt.zero_grad()
        loss.backward()
        opt.step()
        worst = max(worst, stiefel_error(r))  # every step, not only right after a QR
    assert worst < 1e-5
    assert (r.detach() - start).abs().max() > 0.1  # it did move far from the start


@pytest.mark.parametrize("shape", [(10, 10), (8, 3)])
def test_solves_an_orthogonal_procrustes_problem(shape: tuple[int, int]) -> None:
    g = torch.Generator().manual_seed(1)
    n, p = shape
    a = torch.randn(200, n, generator=g, dtype=torch.float64)
    r_true = _random_rotation(n, p, g)
    b = a @ r_true
    r = torch.nn.Parameter(torch.eye(n, p, dtype=torch.float64))
    opt = CayleyAdam([r])
    first = None
    for _ in range(600):
        loss = ((a @ r - b) ** 2).sum()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    final = ((a @ r - b) ** 2).sum().item()
    assert final < 1e-6 * first
    assert torch.allclose(r.detach(), r_true, atol=1e-4)
    assert stiefel_error(r) < 1e-10


def test_reduces_the_sscn_block_energy_cross_entropy() -> None:
    g = torch.Generator().manual_seed(2)
    k, q, n = 3, 2, 240
    y = torch.arange(n) % k
    coeff = torch.randn(n, q, generator=g)
    h_aligned = torch.zeros(n, k * q)
    for c in range(k):
        h_aligned[y == c, c * q:(c + 1) * q] = coeff[y == c]
    rot = _random_rotation(k * q, k * q, g, torch.float32)
    h = h_aligned @ rot.T + 0.01 * torch.randn(n, k * q, generator=g)  # blocks hidden by a rotation
    r = torch.nn.Parameter(torch.eye(k * q))
    opt = CayleyAdam([r], lr=0.1)
    with torch.no_grad():
        initial = _block_energy_loss(h, r, y, k, q).item()
        best = _block_energy_loss(h, rot, y, k, q).item()  # R = rot undoes the hidden rotation
    for _ in range(300):
        loss = _block_energy_loss(h, r, y, k, q)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = _block_energy_loss(h, r, y, k, q).item()
        p = h @ r
        pred = (p * p).reshape(n, k, q).sum(2).argmax(1)
    assert final < 0.5 * initial
    assert final < best + 1e-3  # reaches the optimum (R = rot up to block-wise rotations)
    assert (pred == y).float().mean().item() == 1.0
    assert stiefel_error(r) < 1e-5


def test_invalid_hyperparameters_raise() -> None:
    r = torch.nn.Parameter(torch.eye(3))
    for kwargs, match in [({"lr": 0.0}, "lr"), ({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"),
                          ({"betas": (1.0, 0.99)}, "beta1"), ({"betas": (0.9, -0.1)}, "beta2"),
                          ({"betas": (0.9,)}, "pair"), ({"eps": -1e-8}, "eps"), ({"qr_every": -1}, "qr_every"),
                          ({"qr_every": 2.5}, "qr_every")]:
        with pytest.raises(ValueError, match=match):
            CayleyAdam([r], **kwargs)


def test_invalid_parameters_raise() -> None:
    with pytest.raises(StiefelError, match="2-D"):
        CayleyAdam([torch.nn.Parameter(torch.ones(4))])
    with pytest.raises(StiefelError, match="2-D"):
        CayleyAdam([torch.nn.Parameter(torch.ones(2, 2, 2))])
    with pytest.raises(StiefelError, match="transpose"):
        CayleyAdam([torch.nn.Parameter(torch.eye(3, 8))])
    off = torch.nn.Parameter(torch.randn(5, 5, generator=torch.Generator().manual_seed(0)))
    opt = CayleyAdam([off])
    off.sum().backward()
    with pytest.raises(StiefelError, match=r"torch\.eye\(5\)"):
        opt.step()
    tall = torch.nn.Parameter(2 * torch.eye(6, 2))
    opt = CayleyAdam([tall])
    tall.sum().backward()
    with pytest.raises(StiefelError, match=r"qr\(torch\.randn\(6, 2\)\)"):
        opt.step()
    assert issubclass(StiefelError, ValueError)


def test_tall_matrix_keeps_orthonormal_columns() -> None:
    g = torch.Generator().manual_seed(3)
    r = torch.nn.Parameter(_random_rotation(8, 3, g, torch.float32))
    target = torch.randn(8, 8, generator=g)
    target = target + target.T
    opt = CayleyAdam([r], lr=0.05)
    losses = []
    for _ in range(500):
        loss = -torch.trace(r.T @ target @ r)  # maximise a Rayleigh quotient: top-3 eigen-space
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert r.shape == (8, 3) and stiefel_error(r) < 1e-5
    top3 = torch.linalg.eigvalsh(target)[-3:].sum().item()
    assert losses[-1] == pytest.approx(-top3, abs=1e-3)


def test_state_dict_round_trip_continues_identically() -> None:
    g = torch.Generator().manual_seed(4)
    a = torch.randn(50, 6, generator=g, dtype=torch.float64)
    b = a @ _random_rotation(6, 6, g)

    def run(opt: CayleyAdam, r: torch.nn.Parameter, steps: int) -> None:
        for _ in range(steps):
            loss = ((a @ r - b) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()

    r1 = torch.nn.Parameter(torch.eye(6, dtype=torch.float64))
    opt1 = CayleyAdam([r1], lr=0.05, qr_every=7)
    run(opt1, r1, 10)
    saved = copy.deepcopy(opt1.state_dict())
    r2 = torch.nn.Parameter(r1.detach().clone())
    opt2 = CayleyAdam([r2])  # different defaults: the loaded groups override them
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.05 and opt2.param_groups[0]["qr_every"] == 7
    run(opt1, r1, 10)
    run(opt2, r2, 10)
    assert torch.equal(r1, r2)
    assert opt2.state[r2]["step"] == 20


def test_parameters_without_gradient_are_left_alone_and_closure_is_used() -> None:
    used = torch.nn.Parameter(torch.eye(4))
    unused = torch.nn.Parameter(torch.eye(4))
    target = torch.randn(4, 4, generator=torch.Generator().manual_seed(5))
    opt = CayleyAdam([used, unused])

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ((used - target) ** 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, torch.Tensor)
    assert not torch.equal(used, torch.eye(4)) and torch.equal(unused, torch.eye(4))


def test_orthonormalize_does_not_flip_columns() -> None:
    g = torch.Generator().manual_seed(6)
    x = _random_rotation(7, 7, g) @ torch.diag(torch.tensor([1.0, -1, 1, -1, -1, 1, 1], dtype=torch.float64))
    noisy = x + 1e-4 * torch.randn(7, 7, generator=g, dtype=torch.float64)
    fixed = orthonormalize(noisy)
    assert stiefel_error(fixed) < 1e-12
    assert (fixed - x).abs().max() < 1e-3
    assert orthonormalize(-torch.eye(3)).equal(-torch.eye(3))


def test_stiefel_error_values() -> None:
    assert stiefel_error(torch.eye(4)) == 0.0
    assert stiefel_error(2 * torch.eye(3, 2)) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="2-D"):
        stiefel_error(torch.ones(3))
