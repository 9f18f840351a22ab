"""Feature front-ends applied before the auto-encoder: raw pixels, or a wavelet scattering transform.

The scattering front-end (Mallat; computed by ``sscn_core.scattering``, which agrees with the
``kymatio`` package) zero-pads each H×W image to the next multiple of 2^J on each side (28×28 →
32×32 for J = 3) and turns it into 217 channels × (H'/8)×(W'/8) translation-stable coefficients
with J = 3 scales and L = 8 orientations (3,472 for MNIST); a PCA learned at fit time keeps ``dim``
components and each row is scaled to unit length. This is the front-end with which sparse subspace
clustering methods (EnSC, SENet) reach 94–97% on MNIST. The PCA lives in buffers, so it is saved in
checkpoints with the rest; the filters are rebuilt from the configuration. Everything runs on the
device the module is moved to (``.to(device)``).
"""
from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .scattering import Scattering2D, n_channels, padded_size

# The PCA works on the (coefficients × coefficients) covariance: keep it a few hundred MB.
MAX_COEFFICIENTS = 16_384
# Coefficients kept for image sets seen again (the training set, a held-out set): entries and bytes in all.
CACHE_ENTRIES = 4
CACHE_MAX_BYTES = 1024 ** 3


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


class ScatteringFrontEnd(nn.Module):
    """H×W images → scattering coefficients (J scales, L orientations) → PCA to ``dim`` → unit-length rows."""

    kind = "scattering"

    def __init__(self, J: int = 3, dim: int = 500, image_shape: tuple[int, int] = (28, 28), L: int = 8) -> None:
        super().__init__()
        if J < 1 or dim < 1 or L < 1:
            raise ValueError(f"scattering needs J ≥ 1, L ≥ 1 and dim ≥ 1, got J={J}, L={L}, dim={dim}")
        self.J, self.L = int(J), int(L)
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 2 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (height, width) with positive sides, got {image_shape!r}")
        self.input_dim = self.image_shape[0] * self.image_shape[1]
        self.output_dim = int(dim)
        # A black border up to the next multiple of 2^J (a digit keeps its black surround).
        step = 2 ** self.J
        self.canvas = tuple(max(-(-s // step), 2) * step for s in self.image_shape)
        # Counted before the filters are built: their size grows with the canvas and L.
        self.n_coefficients = n_channels(self.J, self.L) * math.prod(padded_size(s, self.J) // step - 2
                                                                     for s in self.canvas)
        if self.n_coefficients > MAX_COEFFICIENTS:
            raise ValueError(f"{self.image_shape[0]}×{self.image_shape[1]} images give {self.n_coefficients:,} "
                             f"scattering coefficients with J={self.J}, L={self.L}; the PCA takes at most "
                             f"{MAX_COEFFICIENTS:,}: downscale the images (64×64 gives 13,888)")
        # The filters are non-persistent buffers: rebuilt from the configuration, moved with .to().
        self.transform = Scattering2D(self.canvas, self.J, self.L)
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("components", torch.zeros(0, self.output_dim))

    @property
    def device(self) -> torch.device:
        """Where the filters and the PCA live; inputs are moved there."""
        return self.mean.device

    def coefficients(self, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Raw scattering coefficients of images (N, H·W), (N, n_coefficients), on the module's device."""
        if batch_size is None:
            batch_size = 2048 if self.device.type == "cuda" else 32
        (h, w), (ch, cw) = self.image_shape, self.canvas
        top, left = (ch - h) // 2, (cw - w) // 2
        out = []
        for start in range(0, x.shape[0], batch_size):
            img = x[start:start + batch_size].to(self.device, torch.float32).reshape(-1, h, w)
            img = F.pad(img, (left, cw - w - left, top, ch - h - top))
            out.append(self.transform(img).reshape(img.shape[0], -1))
        return torch.cat(out) if out else torch.empty(0, self.n_coefficients, device=self.device)

    @torch.no_grad()
    def fit_transform(self, x: torch.Tensor) -> torch.Tensor:
        """Learn the PCA on the scattering coefficients of ``x``; return the features of ``x`` (on the CPU)."""
        coeffs = _cached_coefficients(self, x).to(self.device).double()
        dim = min(self.output_dim, *coeffs.shape)
        self.output_dim = dim
        mean = coeffs.mean(dim=0)
        centred = coeffs - mean
        self.mean = mean.float()
        self.components = _principal_directions(centred, dim).float().contiguous()
        return _unit_rows(centred.float() @ self.components).cpu()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, H·W) → unit-length PCA features (N, dim) on the module's device; needs ``fit`` first."""
        if self.mean.numel() == 0:
            raise RuntimeError("the scattering front-end has no PCA yet: fit it on training images first")
        return _unit_rows((_cached_coefficients(self, x).to(self.device) - self.mean) @ self.components)

    def config(self) -> dict:
        """The constructor arguments, for checkpoints."""
        return {"kind": self.kind, "J": self.J, "L": self.L, "dim": self.output_dim,
                "image_shape": list(self.image_shape)}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[override]
        # The PCA buffers are empty until fit(); take their saved shapes when loading.
        for name in ("mean", "components"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name], device=self.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _principal_directions(centred: torch.Tensor, dim: int) -> torch.Tensor:
    """The ``dim`` leading principal directions (features × dim, unit columns) of centred rows (N × features).

    Exact, from the eigenvectors of the smaller of the two Gram matrices: the (features × features)
    covariance when N is larger, else the (N × N) inner products (their eigenvectors u give the
    directions Xᵀu), so that a small training set never pays for the large covariance.
    """
    n, f = centred.shape
    if n >= f:
        _, vectors = torch.linalg.eigh(centred.T @ centred)
        return vectors[:, -dim:].flip(1)
    _, vectors = torch.linalg.eigh(centred @ centred.T)
    directions = centred.T @ vectors[:, -dim:].flip(1)
    return directions / directions.norm(dim=0, keepdim=True).clamp_min(1e-30)


def _unit_rows(feats: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length; zero rows stay zero.

    Each row is first divided by its largest magnitude (its norm is then between 1 and √D), so the
    squares in its norm can neither overflow (values of 1e30 in float32 would square to infinity and
    turn the row into zeros) nor vanish.
    """
    peak = feats.abs().amax(dim=1, keepdim=True)
    scaled = feats / torch.where(peak > 0, peak, torch.ones_like(peak))
    return scaled / scaled.norm(dim=1, keepdim=True).clamp_min(1.0)


_cache_lock = threading.Lock()
_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()


def _cached_coefficients(frontend: ScatteringFrontEnd, x: torch.Tensor) -> torch.Tensor:
    """The coefficients of ``x`` (CPU), computed once for the last few image sets this process saw.

    The transform is the costly part of the front-end, and the same images come back: a refit on
    the same training set (another seed, other settings; the app's reruns), and every analysis of a
    run (the app's views embed the training and held-out sets after each phase). The key is a hash
    of the pixels and the transform's configuration; at most ``CACHE_ENTRIES`` sets and
    ``CACHE_MAX_BYTES`` are kept, the least recently used dropped first.
    """
    pixels = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
    key = (hashlib.blake2b(pixels.tobytes(), digest_size=16).hexdigest(), pixels.shape,
           frontend.J, frontend.L, frontend.image_shape)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    coeffs = frontend.coefficients(x).cpu()
    size = coeffs.numel() * coeffs.element_size()
    if size <= CACHE_MAX_BYTES:
        with _cache_lock:
            _cache[key] = coeffs
            while len(_cache) > CACHE_ENTRIES or \
                    sum(t.numel() * t.element_size() for t in _cache.values()) > CACHE_MAX_BYTES:
                _cache.popitem(last=False)
    return coeffs


def clear_cache() -> None:
    """Forget the cached coefficients."""
    with _cache_lock:
        _cache.clear()


FrontEnd = PixelFrontEnd | ScatteringFrontEnd


def build_frontend(config: dict) -> FrontEnd:
    """Rebuild a front-end from its ``config()`` dict (files without a shape or L held 28×28 images, L = 8)."""
    kind = config.get("kind")
    if kind == "pixels":
        return PixelFrontEnd(config["input_dim"], bool(config.get("unit_rows", False)))
    if kind == "scattering":
        return ScatteringFrontEnd(config["J"], config["dim"], tuple(config.get("image_shape", (28, 28))),
                                  config.get("L", 8))
    raise ValueError(f"unknown front-end {kind!r}; expected 'pixels' or 'scattering'")
