"""Baselines on the same features: EDSC in closed form, DSC-Net, k-means and spectral clustering."""
from __future__ import annotations

import threading
from typing import Any

import numpy as np
import torch
from sklearn.cluster import KMeans, SpectralClustering

from .device import resolve_device
from .estimator import SSCN
from .postprocess import spectral_pseudo_labels
from .theory import edsc_closed_form
from .trainer import Phase, definition3_terms

MAX_DSC_POINTS = 20_000


def edsc_labels(features: np.ndarray, n_clusters: int, subspace_dim: int, lam: float, *, rho: float = 0.1,
                alpha: float | tuple[float, ...] = 8.0, seed: int = 0, variant: str = "paper",
                restarts: int = 1, choice: dict[str, Any] | None = None) -> np.ndarray:
    """EDSC (Definition 1): closed-form C* = λ(I + λZZᵀ)⁻¹ZZᵀ, then the post-processing (the paper's,
    or ``variant="subspace"`` with ``restarts`` and candidate powers ``alpha`` as SSCN's defaults use;
    see ``spectral_pseudo_labels``, which fills ``choice``)."""
    c = edsc_closed_form(np.asarray(features, dtype=np.float64), lam)
    return spectral_pseudo_labels(c, n_clusters, subspace_dim, rho=rho, alpha=alpha, seed=seed, variant=variant,
                                  restarts=restarts, choice=choice)


def kmeans_labels(features: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """k-means (10 initialisations) on the given features."""
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(features)


def spectral_labels(features: np.ndarray, n_clusters: int, seed: int = 0, n_neighbors: int = 10) -> np.ndarray:
    """Spectral clustering on a symmetric k-nearest-neighbour graph of the features."""
    model = SpectralClustering(n_clusters=n_clusters, affinity="nearest_neighbors", n_neighbors=n_neighbors,
                               assign_labels="discretize", random_state=seed)
    return model.fit_predict(features)


class DSCNet:
    """DSC-Net: an N×N self-expressive layer C between a (pre-trained) encoder and decoder.

    Trained full batch with Adam on Definition 3's loss with Q replaced by the free matrix C
    (initialised to ``init``), then pseudo-labelled by the same post-processing as SSCN. Memory
    grows as N² (C plus Adam's two moments), which is what the scaling benchmark shows.
    """

    def __init__(self, n_clusters: int = 10, subspace_dim: int = 9, *, pretrained: str | None = "mnist",
                 autoencoder: str = "conv", lambda1: float = 0.5, lambda2: float = 1.0, epochs: int = 30,
                 lr: float = 1e-3, init: float = 1e-8, rho: float = 0.1, alpha: float = 8.0,
                 device: str = "auto", seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.subspace_dim = subspace_dim
        self.pretrained = pretrained
        self.autoencoder = autoencoder
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.epochs = epochs
        self.lr = lr
        self.init = init
        self.rho = rho
        self.alpha = alpha
        self.device = device
        self.seed = seed

    def fit(self, X: Any, callback: Any = None) -> "DSCNet":
        """Train C and the auto-encoder on all of X at once; sets ``labels_``, ``C_``, ``history_``."""
        # The auto-encoder is built (and pre-trained weights loaded) exactly as SSCN does it.
        template = SSCN.from_preset("paper", n_clusters=self.n_clusters, subspace_dim=self.subspace_dim,
                                    autoencoder=self.autoencoder, pretrained=self.pretrained, device=self.device,
                                    seed=self.seed)
        x = template._planned(X)
        n = x.shape[0]
        if n > MAX_DSC_POINTS:
            raise ValueError(f"DSC-Net stores an N×N matrix; {n} points would need {n * n * 16 / 2**30:.0f} GiB "
                             f"with Adam's moments. Use at most {MAX_DSC_POINTS} points")
        device = resolve_device(self.device)
        generator = torch.Generator().manual_seed(int(self.seed))
        net = template._build_network(template._build_frontend(x.shape[1], "pixels", "none"), generator,
                                      template.params_["autoencoder"])
        if self.pretrained is not None:
            template._load_pretrained(net)
        ae = net.autoencoder.to(device)
        c = torch.nn.Parameter(torch.full((n, n), float(self.init), device=device))
        opt = torch.optim.Adam([*ae.parameters(), c], lr=self.lr)
        xd = x.to(device)
        self.history_: list[dict[str, Any]] = []
        phase = Phase("self_expression", self.epochs, callback or (lambda e: None), threading.Event(), self.history_)
        phase.begin()
        ae.train()
        for _ in range(self.epochs):
            terms = definition3_terms(c, ae.encode(xd), xd, ae.decode)
            loss = terms["q_norm"] + self.lambda1 * terms["self_expression"] + self.lambda2 * terms["reconstruction"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            phase.record({"total": loss.item(), **{k: v.item() for k, v in terms.items()}})
        self.train_seconds_ = phase.end()
        self.C_ = c.detach().cpu().numpy()
        self.labels_ = spectral_pseudo_labels(self.C_, self.n_clusters, self.subspace_dim, rho=self.rho,
                                              alpha=self.alpha, seed=int(self.seed))
        self.n_parameters_ = n * n + sum(p.numel() for p in ae.parameters())
        return self

    def fit_predict(self, X: Any) -> np.ndarray:
        """Fit and return the cluster labels."""
        return self.fit(X).labels_


__all__ = ["DSCNet", "edsc_labels", "kmeans_labels", "spectral_labels"]
