"""The networks of SSCN: auto-encoders, the self-expression embedding h and the subspace classifier R.

Rows are samples everywhere: X is (N, D), Z = enc(X) is (N, d_Z), H = h(Z) is (N, d_H) and the
self-expression matrix of a batch is Q = H Hᵀ (N × N).
"""
from __future__ import annotations

import torch
from torch import nn

from .metrics import format_bytes

MNIST_SIDE = 28


def reset_parameters(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Re-initialise every Linear/Conv layer of ``module`` as the reference does: Xavier-uniform
    weights and zero biases, drawn from ``generator`` so that a seeded fit neither depends on nor
    disturbs the global random state.

    Zero biases also keep the conv decoder's final ReLU alive: its input is a random-sign
    combination of non-negative activations, so about half of the output pixels start positive
    (PyTorch's default scheme draws a bias that, when negative, silenced the whole output and
    stalled pre-training for about half of all seeds).
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def _conv_sizes(side: int) -> list[int]:
    """Side lengths through the encoder's three stride-2 convolutions: s → ⌈s/2⌉ three times."""
    sizes = [side]
    for _ in range(3):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


class ConvAutoEncoder(nn.Module):
    """The paper's convolutional auto-encoder, for grey images of any shape (28×28: 14,991 parameters).

    Encoder: Conv(1→10, k5, s2, p2) → ReLU → Conv(10→20, k3, s2, p1) → ReLU → Conv(20→30, k3, s2, p1)
    → ReLU → flatten; each convolution halves a side (rounding up), so d_Z = 30·⌈H/8⌉·⌈W/8⌉ (480 at
    28×28, the paper's; 480 at 32×32 too). The decoder mirrors it with transposed convolutions whose
    output paddings restore the exact sizes (0, 1, 1 at 28×28, the paper's) and a ReLU after each
    layer. DSC-Net uses the same three layers of 10/20/30 channels for its face sets. Inputs are
    (N, H·W), (N, H, W) or (N, 1, H, W); decoded outputs are flattened to (N, H·W).
    """

    kind = "conv"

    def __init__(self, image_shape: tuple[int, int] = (MNIST_SIDE, MNIST_SIDE)) -> None:
        super().__init__()
        height, width = (int(s) for s in image_shape)
        if height < 1 or width < 1:
            raise ValueError(f"ConvAutoEncoder needs a positive image shape, got {image_shape}")
        self.image_shape = (height, width)
        rows, cols = _conv_sizes(height), _conv_sizes(width)
        self.input_dim = height * width
        self.latent_dim = 30 * rows[3] * cols[3]
        # A transposed convolution of stride 2 maps n to 2n − 1 + output_padding; pick the padding
        # that lands on the encoder's size at that depth.
        pads = [(rows[i] - (2 * rows[i + 1] - 1), cols[i] - (2 * cols[i + 1] - 1)) for i in (2, 1, 0)]
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 10, kernel_size=5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(10, 20, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(20, 30, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (30, rows[3], cols[3])),
            nn.ConvTranspose2d(30, 20, kernel_size=3, stride=2, padding=1, output_padding=pads[0]), nn.ReLU(),
            nn.ConvTranspose2d(20, 10, kernel_size=3, stride=2, padding=1, output_padding=pads[1]), nn.ReLU(),
            nn.ConvTranspose2d(10, 1, kernel_size=5, stride=2, padding=2, output_padding=pads[2]), nn.ReLU(),
            nn.Flatten(),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images → latent codes Z (N, d_Z)."""
        return self.encoder(x.reshape(-1, 1, *self.image_shape))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent codes → flattened images (N, H·W)."""
        return self.decoder(z)

    def config(self) -> dict:
        """The constructor arguments, for checkpoints (the paper's 28×28 stays ``{"kind": "conv"}``)."""
        if self.image_shape == (MNIST_SIDE, MNIST_SIDE):
            return {"kind": self.kind}
        return {"kind": self.kind, "image_shape": list(self.image_shape)}


class MLPAutoEncoder(nn.Module):
    """A fully connected auto-encoder for vector data (8×8 digits, synthetic points, user features).

    Encoder: Linear → ReLU for each hidden width, then a linear layer to ``latent_dim`` (no
    activation, so Z can be signed like a linear subspace). The decoder mirrors it and ends linear.
    """

    kind = "mlp"

    def __init__(self, input_dim: int, hidden_dims: tuple[int, ...] = (256,), latent_dim: int = 32) -> None:
        super().__init__()
        if input_dim < 1 or latent_dim < 1 or any(h < 1 for h in hidden_dims):
            raise ValueError(f"MLPAutoEncoder needs positive sizes, got input_dim={input_dim}, "
                             f"hidden_dims={hidden_dims}, latent_dim={latent_dim}")
        self.input_dim = int(input_dim)
        self.latent_dim = int(latent_dim)
        self.hidden_dims = tuple(int(h) for h in hidden_dims)
        self.encoder = _mlp([self.input_dim, *self.hidden_dims, self.latent_dim])
        self.decoder = _mlp([self.latent_dim, *reversed(self.hidden_dims), self.input_dim])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Vectors → latent codes Z (N, latent_dim)."""
        return self.encoder(x.reshape(x.shape[0], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent codes → reconstructed vectors (N, input_dim)."""
        return self.decoder(z)

    def config(self) -> dict:
        """The constructor arguments, for checkpoints."""
        return {"kind": self.kind, "input_dim": self.input_dim, "hidden_dims": list(self.hidden_dims),
                "latent_dim": self.latent_dim}


def _mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class IdentityAutoEncoder(nn.Module):
    """No auto-encoder: Z = X and dec(Z) = Z (the linear model of Definition 2 / Theorem 1)."""

    kind = "none"

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        self.input_dim = int(input_dim)
        self.latent_dim = int(input_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Z = X, flattened."""
        return x.reshape(x.shape[0], -1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """dec(Z) = Z."""
        return z

    def config(self) -> dict:
        """The constructor arguments, for checkpoints."""
        return {"kind": self.kind, "input_dim": self.input_dim}


AutoEncoder = ConvAutoEncoder | MLPAutoEncoder | IdentityAutoEncoder


def build_autoencoder(config: dict) -> AutoEncoder:
    """Rebuild an auto-encoder from its ``config()`` dict (as stored in checkpoints)."""
    kind = config.get("kind")
    if kind == "conv":
        return ConvAutoEncoder(tuple(config.get("image_shape", (MNIST_SIDE, MNIST_SIDE))))
    if kind == "mlp":
        return MLPAutoEncoder(config["input_dim"], tuple(config["hidden_dims"]), config["latent_dim"])
    if kind == "none":
        return IdentityAutoEncoder(config["input_dim"])
    raise ValueError(f"unknown auto-encoder kind {kind!r}; expected 'conv', 'mlp' or 'none'")


def describe_autoencoder(config: dict) -> str:
    """An auto-encoder's ``config()`` in words, for messages: "the conv auto-encoder of 32×32 images"...

    Parameters
    ----------
    config : dict
        What ``config()`` returns (as stored in checkpoints).

    Returns
    -------
    str
        A noun phrase naming the kind and the input it reads.
    """
    kind = config.get("kind")
    if kind == "conv":
        height, width = config.get("image_shape", (MNIST_SIDE, MNIST_SIDE))
        return f"the conv auto-encoder of {height}×{width} images"
    if kind == "mlp":
        widths = " → ".join(str(w) for w in (config["input_dim"], *config["hidden_dims"], config["latent_dim"]))
        return f"an MLP auto-encoder ({widths})"
    if kind == "none":
        return f"no auto-encoder ({config['input_dim']} features)"
    return f"an auto-encoder of unknown kind {kind!r}"


CONV_PARAMETERS = 14_991
CONV_ACTIVATIONS = 10 * 14 * 14 + 20 * 7 * 7 + 30 * 4 * 4   # per image, encoder (the decoder mirrors it)


def estimate_training_bytes(autoencoder: str | None, input_dim: int, hidden_dims: tuple[int, ...], latent_dim: int,
                            n_clusters: int, subspace_dim: int, batch_size: int, n_samples: int) -> int:
    """Rough float32 bytes a fit needs for its network, by arithmetic alone (nothing is allocated).

    Parameters four times (weights, gradients, Adam's two moments), one batch's activations three
    times (forward, backward, the decoded batch) with its batch × batch Q, and H of all points (the
    classifier's input). Meant to refuse sizes that cannot fit, not to predict the peak.
    """
    d_h = n_clusters * subspace_dim
    if autoencoder == "conv":
        params, latent, activations = CONV_PARAMETERS, 30 * 4 * 4, 2 * CONV_ACTIVATIONS
    elif autoencoder == "mlp":
        widths = [input_dim, *hidden_dims, latent_dim]
        params = _mlp_parameters(widths) + _mlp_parameters(widths[::-1])
        latent, activations = latent_dim, 2 * sum(widths)
    else:
        params, latent, activations = 0, input_dim, input_dim
    params += latent * d_h + d_h * d_h
    batch = min(batch_size, n_samples)
    per_batch = batch * (activations + input_dim + 2 * d_h) + batch * batch
    return 4 * (4 * params + 3 * per_batch + n_samples * d_h)


def _mlp_parameters(widths: list[int]) -> int:
    """Weights and biases of the Linear layers of ``_mlp(widths)``."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def network_parameters(autoencoder: dict, n_clusters: int, subspace_dim: int) -> int:
    """Parameters of the network that ``autoencoder`` (a ``config()`` dict, as stored in checkpoints)
    with h and R for K = ``n_clusters`` blocks of ``subspace_dim`` describes, by arithmetic alone:
    what rebuilding it would allocate, known before anything is built."""
    kind = autoencoder.get("kind")
    if kind == "conv":
        height, width = (int(s) for s in autoencoder.get("image_shape", (MNIST_SIDE, MNIST_SIDE)))
        params, latent = CONV_PARAMETERS, 30 * _conv_sizes(height)[3] * _conv_sizes(width)[3]
    elif kind == "mlp":
        widths = [int(autoencoder["input_dim"]), *(int(h) for h in autoencoder["hidden_dims"]),
                  int(autoencoder["latent_dim"])]
        params, latent = _mlp_parameters(widths) + _mlp_parameters(widths[::-1]), widths[-1]
    elif kind == "none":
        params, latent = 0, int(autoencoder["input_dim"])
    else:
        raise ValueError(f"unknown auto-encoder kind {kind!r}; expected 'conv', 'mlp' or 'none'")
    d_h = int(n_clusters) * int(subspace_dim)
    return params + latent * d_h + d_h * d_h


def check_network_size(autoencoder: dict, n_clusters: int, subspace_dim: int, limit_bytes: int) -> None:
    """Raise ValueError, before anything is built, when the network a checkpoint's configuration
    describes (see :func:`network_parameters`) has more float32 weights than ``limit_bytes`` (the
    bytes of tensors the file holds: a larger network cannot be what was saved)."""
    need = 4 * network_parameters(autoencoder, n_clusters, subspace_dim)
    if need > limit_bytes:
        raise ValueError(f"its configuration (auto-encoder {autoencoder}, n_clusters={n_clusters}, subspace_dim="
                         f"{subspace_dim}) describes {format_bytes(need)} of weights but the file holds "
                         f"{format_bytes(limit_bytes)} of tensors; the file was edited or damaged, so nothing "
                         f"is built from it: save the model again")


class SelfExpression(nn.Module):
    """The embedding h: H = Z Wᵀ with W ∈ R^{d_H × d_Z}, d_H = K·q, no bias, Xavier-uniform init."""

    def __init__(self, latent_dim: int, n_clusters: int, subspace_dim: int) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.embed_dim = int(n_clusters) * int(subspace_dim)
        self.linear = nn.Linear(self.latent_dim, self.embed_dim, bias=False)
        nn.init.xavier_uniform_(self.linear.weight)

    def reset(self, generator: torch.Generator | None = None) -> None:
        """Xavier-uniform re-initialisation from ``generator``."""
        nn.init.xavier_uniform_(self.linear.weight, generator=generator)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Z (N, d_Z) → H (N, d_H)."""
        return self.linear(z)


class SubspaceClassifier(nn.Module):
    """Classifier on the Stiefel manifold: R ∈ St(d_H, d_H), K fixed axis-aligned blocks of q dims.

    With P = H R (rows are samples), block k holds coordinates q·k … q·k + q − 1. The energy of a
    point outside block k is ‖P − P S_k S_kᵀ‖², the logits are minus these energies and a softmax
    turns them into probabilities. R starts at the identity and is trained with Cayley-Adam.

    ``temperature`` None is the paper's classifier. A number τ (beyond the paper) first scales each
    row of H to unit length and multiplies the logits by τ: the logits then depend on the direction
    of a point only (energy shares in [0, 1]), so points with a small ‖h‖ are classified as
    confidently as the others, and τ sets how sharp the softmax is.
    """

    def __init__(self, n_clusters: int, subspace_dim: int, temperature: float | None = None) -> None:
        super().__init__()
        self.n_clusters = int(n_clusters)
        self.subspace_dim = int(subspace_dim)
        self.temperature = None if temperature is None else float(temperature)
        d = self.n_clusters * self.subspace_dim
        self.R = nn.Parameter(torch.eye(d))

    def rotate(self, h: torch.Tensor) -> torch.Tensor:
        """H (N, d_H) → the rotated embedding H R (N, d_H)."""
        return h @ self.R

    def block_energies(self, h: torch.Tensor) -> torch.Tensor:
        """Energy of each point inside each block: (N, K), rows sum to ‖H R‖²."""
        p = self.rotate(h)
        return (p * p).reshape(p.shape[0], self.n_clusters, self.subspace_dim).sum(dim=2)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Logits (N, K) = − energy outside each block (unit rows and × τ with a temperature)."""
        if self.temperature is not None:      # unit rows; scaled by the largest entry first, so that a huge but
            h = h / h.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)          # finite row does not overflow
            h = h / torch.linalg.vector_norm(h, dim=1, keepdim=True).clamp_min(1e-12)
        inside = self.block_energies(h)
        logits = inside - inside.sum(dim=1, keepdim=True)
        return logits if self.temperature is None else logits * self.temperature


class SSCNNetwork(nn.Module):
    """All parts together: a feature front-end, the auto-encoder, h and the classifier.

    ``embed`` takes front-end features (what the auto-encoder is trained on); the trainer computes
    the features once, and inference applies ``frontend`` first (see trainer.embed_all).
    """

    def __init__(self, frontend: nn.Module, autoencoder: AutoEncoder, n_clusters: int, subspace_dim: int,
                 temperature: float | None = None) -> None:
        super().__init__()
        self.frontend = frontend
        self.autoencoder = autoencoder
        self.h = SelfExpression(autoencoder.latent_dim, n_clusters, subspace_dim)
        self.classifier = SubspaceClassifier(n_clusters, subspace_dim, temperature)

    def embed(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Front-end features → (Z, H)."""
        z = self.autoencoder.encode(features)
        return z, self.h(z)
