"""Cayley-Adam: Adam on the Stiefel manifold (Li, Fuxin & Todorovic, ICLR 2020).

Convention: a parameter R of shape (n, p), n ≥ p, lives on St(n, p) = {R : RᵀR = I_p} — its
columns are orthonormal. A square R (d × d) is an orthogonal matrix. Initialise with
``torch.eye(d)`` or the Q factor of a QR decomposition, ``torch.linalg.qr(torch.randn(n, p)).Q``.

One step, with X the tall representation of the parameter (X = Rᵀ for a square R, as the SSCN
reference does; X = R for a tall one — for a square matrix both give the same tangent direction
and differ only in the ‖W‖₁ step cap) and G the Euclidean gradient in that orientation:

    M ← β₁M + (1−β₁)G,   v ← β₂v + (1−β₂)‖G‖²_F           (v is a scalar)
    M̂ = M/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)
    Ŵ = M̂Xᵀ − ½X(XᵀM̂Xᵀ),  W = (Ŵ − Ŵᵀ)/√(v̂+ε)          (n × n, skew-symmetric)
    α = min(lr, 1/(‖W‖₁ + 1e-8))
    M ← (1−β₁ᵗ)√(v̂+ε)·WX                                  (momentum moved to the tangent space)
    Y ← X − αWX, then 5 × Y ← X − (α/2)W(X + Y)            (Cayley retraction, fixed point)

so X follows the Cayley curve (I + α/2·W)⁻¹(I − α/2·W)X, which keeps XᵀX = I up to the
fixed-point and rounding error. Every ``qr_every`` steps X is replaced by the Q factor of its QR
decomposition with the signs fixed (diag of the R factor made positive), which removes the drift
without flipping any column. W is n × n, so memory and time grow as n²: meant for n up to a few
thousand.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["CayleyAdam", "StiefelError", "stiefel_error", "orthonormalize"]

#: How far from the manifold (max |RᵀR − I|) a parameter may start.
INITIAL_TOLERANCE = 1e-3
CAYLEY_ITERATIONS = 5


class StiefelError(ValueError):
    """A parameter handed to CayleyAdam is not a (tall or square) matrix with orthonormal columns."""


def stiefel_error(R: torch.Tensor) -> float:
    """Distance of R (n × p) from the Stiefel manifold: max |RᵀR − I|."""
    if not isinstance(R, torch.Tensor):
        R = torch.as_tensor(R)
    if R.ndim != 2:
        raise ValueError(f"stiefel_error expects a 2-D matrix, got shape {tuple(R.shape)}")
    with torch.no_grad():
        r = R.detach()
        gram = r.T @ r
        gram.diagonal().sub_(1.0)
        return float(gram.abs().max()) if gram.numel() else 0.0


def orthonormalize(X: torch.Tensor) -> torch.Tensor:
    """Q factor of X = QR with the signs chosen so that diag(R) ≥ 0 (close to X when X is nearly orthonormal)."""
    q, r = torch.linalg.qr(X)
    signs = torch.sign(torch.diagonal(r))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return q * signs


def _check_matrix(p: torch.Tensor) -> None:
    if p.ndim != 2:
        raise StiefelError(f"CayleyAdam optimises matrices on the Stiefel manifold; got a parameter of shape "
                           f"{tuple(p.shape)} (expected 2-D (n, p) with n ≥ p)")
    n, k = p.shape
    if n < k:
        raise StiefelError(f"CayleyAdam expects a tall or square matrix with orthonormal columns (n ≥ p), got "
                           f"{n}×{k}; store the transpose and use R.T in the model")
    if not p.is_floating_point():
        raise StiefelError(f"CayleyAdam needs a floating-point parameter, got dtype {p.dtype}")


class CayleyAdam(torch.optim.Optimizer):
    """Adam with a scalar second moment on the Stiefel manifold, by the Cayley transform.

    Args:
        params: matrices (n × p, n ≥ p) with orthonormal columns, RᵀR = I (see the module docstring).
        lr: largest step size (the step is min(lr, 1/‖W‖₁)); > 0.
        betas: decay rates of the first moment and of the scalar second moment, each in [0, 1).
        eps: added to the second moment before the square root; ≥ 0.
        qr_every: re-orthonormalise by QR every this many steps (0 = never).
    """

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], lr: float = 0.1,
                 betas: tuple[float, float] = (0.9, 0.99), eps: float = 1e-8, qr_every: int = 100) -> None:
        _check_hyperparameters(lr, betas, eps, qr_every)
        defaults = {"lr": float(lr), "betas": (float(betas[0]), float(betas[1])), "eps": float(eps),
                    "qr_every": int(qr_every)}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group after checking its hyper-parameters and that every parameter is a tall/square matrix."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        _check_hyperparameters(group["lr"], group["betas"], group["eps"], group["qr_every"])
        for p in group["params"]:
            _check_matrix(p)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """One Cayley-Adam step on every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("CayleyAdam does not support sparse gradients")
                state = self.state[p]
                if not state:
                    _check_on_manifold(p)
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
                    state["exp_avg_sq"] = torch.zeros((), dtype=p.dtype, device=p.device)
                self._update(p, state, group["lr"], beta1, beta2, group["eps"], group["qr_every"])
        return loss

    @staticmethod
    def _update(p: torch.Tensor, state: dict[str, Any], lr: float, beta1: float, beta2: float, eps: float,
                qr_every: int) -> None:
        square = p.shape[0] == p.shape[1]
        # Work on the tall orientation X (n × p, XᵀX = I); M is stored in the parameter's orientation.
        x = p.T if square else p
        g = p.grad.T if square else p.grad
        m = state["exp_avg"].T if square else state["exp_avg"]
        v = state["exp_avg_sq"]
        state["step"] += 1
        t = state["step"]

        m.mul_(beta1).add_(g, alpha=1.0 - beta1)
        v.mul_(beta2).add_(torch.sum(g * g), alpha=1.0 - beta2)
        bias1 = 1.0 - beta1 ** t
        bias2 = 1.0 - beta2 ** t
        scale = torch.sqrt(v / bias2 + eps)
        m_hat = m / bias1
        mx = m_hat @ x.T                                   # n × n
        w_hat = mx - 0.5 * (x @ (x.T @ mx))
        w = (w_hat - w_hat.T) / scale
        alpha = min(lr, 1.0 / (float(torch.linalg.matrix_norm(w, ord=1)) + 1e-8))

        direction = w @ x                                  # tangent direction at X
        m.copy_(direction * (scale * bias1))               # momentum transported to the tangent space
        y = x - alpha * direction
        for _ in range(CAYLEY_ITERATIONS):
            y = x - (0.5 * alpha) * (w @ (x + y))
        if qr_every and t % qr_every == 0:
            y = orthonormalize(y)
        x.copy_(y)


def _check_hyperparameters(lr: Any, betas: Any, eps: Any, qr_every: Any) -> None:
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for name, b in zip(("beta1", "beta2"), betas):
        if not isinstance(b, (int, float)) or isinstance(b, bool) or not 0.0 <= b < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {b!r}")
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number ≥ 0, got {eps!r}")
    if not isinstance(qr_every, int) or isinstance(qr_every, bool) or qr_every < 0:
        raise ValueError(f"qr_every must be an integer ≥ 0 (0 = never re-orthonormalise), got {qr_every!r}")


def _check_on_manifold(p: torch.Tensor) -> None:
    err = stiefel_error(p)
    if not err <= INITIAL_TOLERANCE:
        n, k = p.shape
        how = f"torch.eye({n})" if n == k else f"torch.linalg.qr(torch.randn({n}, {k})).Q"
        raise StiefelError(f"CayleyAdam needs a parameter with orthonormal columns (RᵀR = I) at its first step; "
                           f"this {n}×{k} one has max|RᵀR − I| = {err:.3g} (tolerance {INITIAL_TOLERANCE}). "
                           f"Initialise it with {how}")
