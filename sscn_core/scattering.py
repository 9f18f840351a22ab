"""The 2-D wavelet scattering transform (Mallat 2012; Bruna & Mallat 2013) as batched torch FFTs.

For an image x, with a low-pass φ_J and Morlet wavelets ψ_{j,θ} (scales j < J, L orientations),
the coefficients up to order 2 are

    S0 = x ⋆ φ_J,   S1 = |x ⋆ ψ_{j1,θ1}| ⋆ φ_J,   S2 = ||x ⋆ ψ_{j1,θ1}| ⋆ ψ_{j2,θ2}| ⋆ φ_J  (j2 > j1),

each sampled every 2^J pixels: 1 + J·L + L²·J(J−1)/2 channels (217 for J = 3, L = 8).

The conventions are kymatio's (``Scattering2D(J, shape, L, max_order=2)``, version 0.3), so the
coefficients agree with it to float32 rounding: the image is reflect-padded to
``padded_size`` on each axis; the filters are built in space on that grid (periodised over 5×5
copies) and used through their (real) Fourier transforms; every convolution is a product in
Fourier, and subsampling by k is done in Fourier by averaging the k×k aliased copies of the
spectrum (which equals keeping every k-th pixel after the inverse FFT, at a smaller inverse FFT);
a filter applied at a coarser resolution keeps only its low frequencies; one border row and column
of the coarsest grid is dropped at the end.

Unlike a loop over filters, each scale j1 applies all L first-order wavelets in one broadcast
product, and each pair (j1, j2) all L×L second-order paths in one; the input's FFT is computed once.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def padded_size(n: int, J: int) -> int:
    """The side after reflect padding (kymatio's): the next multiple of 2^J above n, plus 2^J."""
    return ((n + 2 ** J) // 2 ** J + 1) * 2 ** J


def n_channels(J: int, L: int, max_order: int = 2) -> int:
    """Scattering channels: 1 + J·L first order, + L²·J(J−1)/2 second order."""
    return 1 + J * L + (L * L * J * (J - 1) // 2 if max_order >= 2 else 0)


def _gabor(M: int, N: int, sigma: float, theta: float, xi: float, slant: float = 1.0) -> np.ndarray:
    """A Gabor filter g_σ(u)·exp(i ξ·u) on an M×N grid, periodised over the 5×5 neighbouring copies.

    The envelope is a Gaussian of width σ along θ and σ/slant across it; the normalisation is
    2·3.1415·σ²/slant (kymatio's constant, kept so that coefficients agree with it).
    """
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    curv = rot @ np.diag([1.0, slant * slant]) @ rot.T / (2 * sigma * sigma)
    shifts = np.arange(-2, 3)
    u = (shifts[:, None] * M + np.arange(M)[None, :]).reshape(-1)  # every periodic copy of the rows
    v = (shifts[:, None] * N + np.arange(N)[None, :]).reshape(-1)
    uu, vv = u[:, None].astype(np.float64), v[None, :].astype(np.float64)
    arg = -(curv[0, 0] * uu * uu + (curv[0, 1] + curv[1, 0]) * uu * vv + curv[1, 1] * vv * vv) \
        + 1j * xi * (uu * math.cos(theta) + vv * math.sin(theta))
    gab = np.exp(arg).reshape(5, M, 5, N).sum(axis=(0, 2))
    return gab / (2 * 3.1415 * sigma * sigma / slant)


def _morlet(M: int, N: int, sigma: float, theta: float, xi: float, slant: float) -> np.ndarray:
    """A Morlet wavelet: the Gabor filter minus the multiple of its envelope that gives it zero mean."""
    wave = _gabor(M, N, sigma, theta, xi, slant)
    envelope = _gabor(M, N, sigma, theta, 0.0, slant)
    return wave - wave.sum() / envelope.sum() * envelope


def _low_frequencies(spectrum: np.ndarray, res: int) -> np.ndarray:
    """The filter's spectrum on the grid 2^res times coarser: its low frequencies, the rest dropped."""
    M, N = spectrum.shape
    m, n = M >> res, N >> res
    rows = np.r_[0:m // 2, M - m // 2:M] if res else np.arange(M)
    cols = np.r_[0:n // 2, N - n // 2:N] if res else np.arange(N)
    return spectrum[np.ix_(rows, cols)]


def _filter_fold(u_hat: torch.Tensor, filt: torch.Tensor, k: int) -> torch.Tensor:
    """(u ⋆ f) subsampled by k, in Fourier: the product û·f̂ summed over its k×k aliased copies.

    ``filt`` (last two axes M×N, broadcasting against ``u_hat``) is stored already divided by k²,
    which turns the sum into the mean. The product is accumulated block by block, so the
    full-resolution product is never held.
    """
    M, N = u_hat.shape[-2:]
    m, n = M // k, N // k
    blocks = [(slice(i * m, (i + 1) * m), slice(j * n, (j + 1) * n)) for i in range(k) for j in range(k)]
    rows, cols = blocks[0]
    out = u_hat[..., rows, cols] * filt[..., rows, cols]
    for rows, cols in blocks[1:]:
        out.addcmul_(u_hat[..., rows, cols], filt[..., rows, cols])
    return out


class Scattering2D(nn.Module):
    """Scattering coefficients (B, C, M', N') of images (B, M, N); C = ``n_channels(J, L, max_order)``.

    The filters are non-persistent buffers: rebuilt from (shape, J, L), moved by ``.to(device)``,
    never saved in checkpoints. Any float dtype in; float32 out, on the module's device.
    """

    def __init__(self, shape: tuple[int, int], J: int = 3, L: int = 8, max_order: int = 2) -> None:
        super().__init__()
        M, N = (int(s) for s in shape)
        if J < 1 or L < 1 or max_order not in (1, 2):
            raise ValueError(f"scattering needs J ≥ 1, L ≥ 1 and max_order 1 or 2, got J={J}, L={L}, max_order={max_order}")
        if min(M, N) <= 2 ** J:
            raise ValueError(f"scattering with J={J} needs images larger than {2 ** J}×{2 ** J} pixels, got {M}×{N}")
        self.shape, self.J, self.L, self.max_order = (M, N), int(J), int(L), int(max_order)
        self.padded = (padded_size(M, J), padded_size(N, J))
        Mp, Np = self.padded
        phi_hat = np.fft.fft2(_gabor(Mp, Np, 0.8 * 2 ** (J - 1), 0.0, 0.0)).real
        # Each filter is stored divided by the k² of the subsampling that follows it (see _filter_fold).
        for res in range(J):
            self.register_buffer(f"phi{res}", _as_float(_low_frequencies(phi_hat, res) / 4 ** (J - res)),
                                 persistent=False)
        for j in range(J):
            # Orientation θ_l = (⌊L/2⌋ − 1 − l)·π/L, as kymatio orders them.
            spectra = [np.fft.fft2(_morlet(Mp, Np, 0.8 * 2 ** j, (int(L - L / 2 - 1) - l) * math.pi / L,
                                           3.0 / 4.0 * math.pi / 2 ** j, 4.0 / L)).real for l in range(L)]
            for res in range(max(j, 1)):  # level 0 for the first order (then subsampled by 2^j),
                # levels j1 < j for the second (subsampled by 2^(j − j1))
                k2 = 4 ** (j - res)
                self.register_buffer(f"psi{j}_{res}",
                                     _as_float(np.stack([_low_frequencies(s, res) for s in spectra]) / k2),
                                     persistent=False)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(C, M', N') of one image's coefficients."""
        Mp, Np = self.padded
        return (n_channels(self.J, self.L, self.max_order), Mp // 2 ** self.J - 2, Np // 2 ** self.J - 2)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        (M, N), (Mp, Np) = self.shape, self.padded
        top, left = (Mp - M) // 2, (Np - N) // 2
        return F.pad(x[:, None], (left, Np - N - left, top, Mp - M - top), mode="reflect")[:, 0]

    def _low_pass(self, u_hat: torch.Tensor, res: int) -> torch.Tensor:
        """⋆ φ_J of a spectrum at resolution 2^res, sampled every 2^J pixels, border dropped: real."""
        out = torch.fft.ifft2(_filter_fold(u_hat, getattr(self, f"phi{res}"), 2 ** (self.J - res))).real
        return out[..., 1:-1, 1:-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Coefficients in kymatio's order: S0, then S1 by (j1, θ1), then S2 by (j1, θ1, j2, θ2)."""
        if x.shape[-2:] != self.shape:
            raise ValueError(f"this scattering transform takes {self.shape[0]}×{self.shape[1]} images, "
                             f"got {tuple(x.shape[-2:])}")
        batch = x.shape[:-2]
        x = x.reshape(-1, *self.shape).to(device=self.phi0.device, dtype=torch.float32)
        x_hat = torch.fft.fft2(self._pad(x))
        first, second = [], []
        for j1 in range(self.J):
            # |x ⋆ ψ_{j1,θ}| for all θ at once, at resolution 2^j1, back in Fourier.
            u1 = torch.fft.fft2(_modulus(torch.fft.ifft2(_filter_fold(x_hat[:, None], getattr(self, f"psi{j1}_0"), 2 ** j1))))
            first.append(self._low_pass(u1, j1))
            if self.max_order < 2:
                continue
            paths = []
            for j2 in range(j1 + 1, self.J):
                # ||x ⋆ ψ_{j1,θ1}| ⋆ ψ_{j2,θ2}| for all (θ1, θ2) at once, at resolution 2^j2.
                u2 = torch.fft.ifft2(_filter_fold(u1[:, :, None], getattr(self, f"psi{j2}_{j1}"), 2 ** (j2 - j1)))
                u2 = torch.fft.fft2(_modulus(u2))
                paths.append(self._low_pass(u2, j2))
            if paths:
                second.append(torch.cat(paths, dim=2).flatten(1, 2))
        s0 = self._low_pass(x_hat, 0)[:, None]
        out = torch.cat([s0, *first, *second], dim=1)
        return out.reshape(*batch, *out.shape[1:])


def _as_float(a: np.ndarray) -> torch.Tensor:
    # Stored complex (imaginary part 0): a complex × complex product needs no conversion per call.
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.complex64))


def _modulus(u: torch.Tensor) -> torch.Tensor:
    """|u| of a complex tensor, as √(re² + im²) on its real view (faster than ``abs`` on CPU)."""
    v = torch.view_as_real(u)
    return (v * v).sum(dim=-1).sqrt()
