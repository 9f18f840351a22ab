"""Feature front-ends applied before the auto-encoder: raw pixels, or a wavelet scattering transform.

The scattering front-end (Mallat; the ``kymatio`` package) turns a 28×28 image, zero-padded to
32×32, into 217 channels × 4×4 = 3,472 translation-stable coefficients with J = 3 scales and 8
orientations; a PCA learned at fit time keeps ``dim`` components and each row is scaled to unit
length. This is the front-end with which sparse subspace clustering methods (EnSC, SENet) reach
94–97% on MNIST. The PCA lives in buffers, so it is saved in checkpoints with the rest.
"""
from __future__ import annotations

import torch
from torch import nn

SCATTERING_SIDE = 32


class PixelFrontEnd(nn.Module):
    """The data as given, or with each row scaled to unit length (``unit_rows``).

    Scaling a point keeps it in its subspace, so unit rows change nothing a union of linear
    subspaces is made of, while they stop the brightest images (faces under strong light) from
    dominating the self-expression.
    """

    kind = "pixels"

    def __init__(self, input_dim: int, unit_rows: bool = False) -> None:
        super().__init__()
        self.input_dim = self.output_dim = int(input_dim)
        self.unit_rows = bool(unit_rows)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """X flattened to (N, D), rows scaled to unit length with ``unit_rows``."""
        x = x.reshape(x.shape[0], -1)
        return _unit_rows(x) if self.unit_rows else x

    def fit_transform(self, x: torch.Tensor) -> torch.Tensor:
        """Nothing to learn: X itself."""
        return self(x)

    def config(self) -> dict:
        """The constructor arguments, for checkpoints."""
        return {"kind": self.kind, "input_dim": self.input_dim, **({"unit_rows": True} if self.unit_rows else {})}


def _scattering_operator(J: int):
    # kymatio's top-level module also imports its 3-D code, which needs a SciPy function removed in
    # SciPy 1.17; the 2-D torch front-end alone does not.
    try:
        from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D
    except ImportError as exc:
        raise ImportError("the scattering front-end needs the 'kymatio' package: pip install kymatio") from exc
    return ScatteringTorch2D(J=J, shape=(SCATTERING_SIDE, SCATTERING_SIDE))


class ScatteringFrontEnd(nn.Module):
    """28×28 images → scattering coefficients (J scales) → PCA to ``dim`` → unit-length rows."""

    kind = "scattering"

    def __init__(self, J: int = 3, dim: int = 500) -> None:
        super().__init__()
        if J < 1 or dim < 1:
            raise ValueError(f"scattering needs J ≥ 1 and dim ≥ 1, got J={J}, dim={dim}")
        self.J = int(J)
        self.input_dim = 784
        self.output_dim = int(dim)
        # The scattering filters are fixed (rebuilt from J on load), so the operator is kept out of
        # the module tree and out of checkpoints.
        object.__setattr__(self, "_operator", None)
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("components", torch.zeros(0, self.output_dim))

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scattering coefficients, (N, 3472) for J = 3."""
        if self._operator is None:
            object.__setattr__(self, "_operator", _scattering_operator(self.J))
        img = x.reshape(-1, 28, 28).float().cpu()
        pad = (SCATTERING_SIDE - 28) // 2
        img = nn.functional.pad(img, (pad, pad, pad, pad))
        return self._operator(img).reshape(img.shape[0], -1)

    def _batched_coefficients(self, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        return torch.cat([self.coefficients(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])

    @torch.no_grad()
    def fit_transform(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Learn the PCA on the scattering coefficients of ``x``; return the features of ``x``."""
        coeffs = self._batched_coefficients(x, batch_size).double()
        dim = min(self.output_dim, *coeffs.shape)
        self.output_dim = dim
        mean = coeffs.mean(dim=0)
        centred = coeffs - mean
        # Principal directions from the (features × features) covariance: exact, and cheaper than
        # an SVD of the (N × features) matrix when N is large.
        _, vectors = torch.linalg.eigh(centred.T @ centred)
        self.mean = mean.float()
        self.components = vectors[:, -dim:].flip(1).float().contiguous()
        return _unit_rows(centred.float() @ self.components)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 784) → unit-length PCA features (N, dim); needs ``fit`` first."""
        if self.mean.numel() == 0:
            raise RuntimeError("the scattering front-end has no PCA yet: fit it on training images first")
        return _unit_rows((self.coefficients(x) - self.mean) @ self.components).to(x.device)

    def config(self) -> dict:
        """The constructor arguments, for checkpoints."""
        return {"kind": self.kind, "J": self.J, "dim": self.output_dim}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[override]
        # The PCA buffers are empty until fit(); take their saved shapes when loading.
        for name in ("mean", "components"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _unit_rows(feats: torch.Tensor) -> torch.Tensor:
    return feats / feats.norm(dim=1, keepdim=True).clamp_min(1e-12)


FrontEnd = PixelFrontEnd | ScatteringFrontEnd


def build_frontend(config: dict) -> FrontEnd:
    """Rebuild a front-end from its ``config()`` dict."""
    kind = config.get("kind")
    if kind == "pixels":
        return PixelFrontEnd(config["input_dim"], bool(config.get("unit_rows", False)))
    if kind == "scattering":
        return ScatteringFrontEnd(config["J"], config["dim"])
    raise ValueError(f"unknown front-end {kind!r}; expected 'pixels' or 'scattering'")
