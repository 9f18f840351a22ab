"""SSCN: a scikit-learn-style estimator over the models and the training phases."""
from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import NotFittedError

from . import __version__
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .device import resolve_device
from .features import FRONTENDS, PixelFrontEnd, ScatteringFrontEnd, build_frontend, infer_image_shape
from .metrics import PeakMemory
from .models import (ConvAutoEncoder, IdentityAutoEncoder, MLPAutoEncoder, SSCNNetwork, build_autoencoder,
                     reset_parameters)
from .postprocess import spectral_pseudo_labels
from .trainer import (TrainingEvent, TrainingStopped, closed_form_h_init, embed_all, pretrain_autoencoder, self_train,
                      train_classifier, train_classifier_triplet, train_self_expression)

ASSETS_DIR = Path(os.environ.get("SSCN_ASSETS_DIR", Path(__file__).resolve().parent.parent / "assets"))
PRETRAINED = {"mnist": "mnist_conv_ae.pt", "fashion-mnist": "fashion_mnist_conv_ae.pt"}
AUTOENCODER_KIND = "autoencoder"
MODEL_KIND = "sscn"
MAX_AFFINITY_POINTS = 20_000

PRESETS: dict[str, dict[str, Any]] = {
    # The paper's reference setup (see docs/configurations.md): batch 1000, 30 epochs, Adam 1e-3,
    # sum reductions, Q's diagonal kept, the decoder fed QZ, Cayley-Adam lr 0.1 for 30 epochs of
    # 10 iterations per batch, rho 0.1, alpha 8. The reference code weighs its terms as
    # ‖Q‖² + ½‖Z−QZ‖² + ‖X−dec(QZ)‖²; in Definition 3's form (½‖Q‖² + λ1/2‖·‖² + λ2/2‖·‖²) that
    # is λ1 = 0.5, λ2 = 2 up to a factor 2 on the whole loss, which Adam does not see.
    "paper": dict(autoencoder="conv", lambda1=0.5, lambda2=2.0, reduction="sum", batch_size=1000, epochs=30,
                  lr=1e-3, pretrain_epochs=100, pretrain_batch_size=None, pretrain_lr=1e-3, rho=0.1, alpha=8.0,
                  pseudo_sample_size=None, classifier_epochs=30, classifier_lr=0.1, classifier_batch_size=1000,
                  classifier_iters=10, h_init="random", classifier_temperature=None, classifier_loss="cross_entropy",
                  self_training_rounds=0),
}
# Beyond the paper (README "Beyond the paper"): the pseudo-labels come from a uniform sample of
# 4,000 points (memory flat in N) and the classifier reads unit rows of H with temperature 20.
PRESETS["conv-plus"] = dict(PRESETS["paper"], classifier_temperature=20.0, pseudo_sample_size=4000)
# The same on wavelet scattering features (PCA-500, unit rows) with the linear model (Z = features),
# where h starts at Theorem 1's optimum (EDSC's self-expression, best rank d_H) and training refines it.
PRESETS["scattering"] = dict(PRESETS["conv-plus"], h_init="closed_form", autoencoder=None, frontend="scattering",
                             frontend_dim=500)
# No spectral clustering at all: the classifier learns from Q's neighbours (triplet loss).
PRESETS["scattering-triplet"] = dict(PRESETS["scattering"], classifier_loss="triplet", pseudo_sample_size=None)
CLASSIFIER_LOSSES = ("cross_entropy", "triplet")
H_INITS = ("random", "closed_form")


class SSCN(ClusterMixin, BaseEstimator):
    """Siamese Subspace Clustering Network (Busch et al.): learn h so that Q = H Hᵀ self-expresses Z.

    Training minimises, on uniformly sampled mini-batches (Definition 3),
    ``½‖Q‖² + λ1/2‖Z − QZ‖² + λ2/2‖X − dec(QZ)‖²`` with Q = H Hᵀ, H = h(Z), Z = enc(X); then
    pseudo-labels come from spectral post-processing of Q and a classifier R on the Stiefel manifold
    learns to put each cluster into its own block of ``subspace_dim`` coordinates, so that any new
    point can be classified (inductive).

    The defaults are the paper's reference configuration (``SSCN.from_preset("paper")``).

    Parameters
    ----------
    n_clusters, subspace_dim: K and q; d_H = K·q.
    autoencoder: "conv" (28×28 images), "mlp" (vectors) or None (Z = X, the linear model).
    frontend: "pixels" (the data as given) or "scattering" (images → wavelet scattering
        coefficients → PCA to ``frontend_dim`` → unit rows; then use autoencoder "mlp" or None).
    image_shape: (height, width) of the flattened images for the scattering front-end; None infers
        a square from the number of features (784 → 28×28).
    latent_dim, hidden_dims: sizes of the "mlp" auto-encoder.
    pretrained: None, "mnist", "fashion-mnist" (bundled auto-encoders) or a path to an auto-encoder
        checkpoint (``python -m sscn_core pretrain``); skips pre-training.
    lambda1, lambda2: weights of the self-expression and reconstruction terms.
    reduction: "sum" (the paper) or "mean" (averages of squared entries).
    batch_size, epochs, lr: self-expression training (Adam).
    pretrain_epochs, pretrain_batch_size (None = full batch), pretrain_lr: auto-encoder pre-training.
    rho, alpha: post-processing (keep ρ of each column's mass; affinity power α).
    pseudo_sample_size: None to post-process Q over all N points; an int m to post-process a uniform
        sample of m points (memory flat in N) and train the classifier on that sample.
    classifier_epochs, classifier_lr, classifier_batch_size, classifier_iters: Cayley-Adam on R.

    Beyond the paper (the defaults keep the paper's method):

    h_init: "random" (Xavier, the paper) or "closed_form" (Theorem 1's optimum for the starting
        encoder, from the d_Z × d_Z second moment of Z; see ``trainer.closed_form_h_init``).
    classifier_temperature: None (the paper's logits) or τ > 0: the classifier reads unit rows of H
        and multiplies its logits by τ.
    classifier_loss: "cross_entropy" (on spectral pseudo-labels, the paper) or "triplet" (the
        paper's future work: positives are each point's largest |Q_ij| in its batch, with a balance
        term; no pseudo-labels and no spectral clustering; ``pseudo_labels_`` stays None).
    triplet_neighbors, triplet_margin, triplet_balance: the triplet loss's k, margin and balance weight.
    self_training_rounds: rounds of end-to-end self-training after the classifier (0 = none): the
        classifier's assignments with probability ≥ ``self_training_confidence`` train encoder, h
        and R jointly on Definition 3 + ``lambda3`` · cross-entropy, ``self_training_epochs`` per round.
    device: "auto" (CUDA when present, else CPU), "cpu" or "cuda[:i]".
    seed: seeds initialisation, batch order, sampling and spectral clustering.
    """

    def __init__(self, n_clusters: int = 10, subspace_dim: int = 9, autoencoder: str | None = "conv", *,
                 frontend: str = "pixels", frontend_dim: int = 500,
                 image_shape: tuple[int, int] | None = None, latent_dim: int = 32, hidden_dims: tuple[int, ...] = (256,), pretrained: str | None = None,
                 lambda1: float = 0.5, lambda2: float = 2.0, reduction: str = "sum", batch_size: int = 1000,
                 epochs: int = 30, lr: float = 1e-3, pretrain_epochs: int = 100,
                 pretrain_batch_size: int | None = None, pretrain_lr: float = 1e-3, rho: float = 0.1,
                 alpha: float = 8.0, pseudo_sample_size: int | None = None, classifier_epochs: int = 30,
                 classifier_lr: float = 0.1, classifier_batch_size: int = 1000, classifier_iters: int = 10,
                 h_init: str = "random", classifier_temperature: float | None = None,
                 classifier_loss: str = "cross_entropy", triplet_neighbors: int = 10, triplet_margin: float = 0.5,
                 triplet_balance: float = 1.0, self_training_rounds: int = 0, self_training_epochs: int = 5,
                 self_training_confidence: float = 0.9, lambda3: float = 1.0,
                 device: str = "auto", seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.subspace_dim = subspace_dim
        self.autoencoder = autoencoder
        self.frontend = frontend
        self.frontend_dim = frontend_dim
        self.image_shape = image_shape
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.pretrained = pretrained
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.reduction = reduction
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_lr = pretrain_lr
        self.rho = rho
        self.alpha = alpha
        self.pseudo_sample_size = pseudo_sample_size
        self.classifier_epochs = classifier_epochs
        self.classifier_lr = classifier_lr
        self.classifier_batch_size = classifier_batch_size
        self.classifier_iters = classifier_iters
        self.h_init = h_init
        self.classifier_temperature = classifier_temperature
        self.classifier_loss = classifier_loss
        self.triplet_neighbors = triplet_neighbors
        self.triplet_margin = triplet_margin
        self.triplet_balance = triplet_balance
        self.self_training_rounds = self_training_rounds
        self.self_training_epochs = self_training_epochs
        self.self_training_confidence = self_training_confidence
        self.lambda3 = lambda3
        self.device = device
        self.seed = seed

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "SSCN":
        """An estimator with a named configuration (see PRESETS), with ``overrides`` on top."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def _validate_params(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        def is_int(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_num(v: Any) -> bool:
            return isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and np.isfinite(v)

        check(is_int(self.n_clusters) and self.n_clusters >= 2, f"n_clusters must be an integer ≥ 2, got {self.n_clusters!r}")
        check(is_int(self.subspace_dim) and self.subspace_dim >= 1, f"subspace_dim must be an integer ≥ 1, got {self.subspace_dim!r}")
        check(self.autoencoder in ("conv", "mlp", None), f"autoencoder must be 'conv', 'mlp' or None, got {self.autoencoder!r}")
        check(self.frontend in FRONTENDS, f"frontend must be one of {FRONTENDS}, got {self.frontend!r}")
        check(is_int(self.frontend_dim) and self.frontend_dim >= 1, f"frontend_dim must be an integer ≥ 1, got {self.frontend_dim!r}")
        check(self.image_shape is None or (len(self.image_shape) == 2 and all(is_int(s) and s >= 1 for s in self.image_shape)),
              f"image_shape must be None or (height, width) with positive integers, got {self.image_shape!r}")
        check(not (self.frontend == "scattering" and self.autoencoder == "conv"),
              "the conv auto-encoder reads 28×28 pixels; with frontend='scattering' use autoencoder='mlp' or None")
        check(is_int(self.latent_dim) and self.latent_dim >= 1, f"latent_dim must be an integer ≥ 1, got {self.latent_dim!r}")
        check(all(is_int(h) and h >= 1 for h in self.hidden_dims), f"hidden_dims must be positive integers, got {self.hidden_dims!r}")
        for name in ("lambda1", "lambda2"):
            v = getattr(self, name)
            check(is_num(v) and v >= 0, f"{name} must be a finite number ≥ 0, got {v!r}")
        check(self.reduction in ("sum", "mean"), f"reduction must be 'sum' or 'mean', got {self.reduction!r}")
        for name in ("batch_size", "classifier_batch_size"):
            v = getattr(self, name)
            check(is_int(v) and v >= 2, f"{name} must be an integer ≥ 2, got {v!r}")
        check(self.pretrain_batch_size is None or (is_int(self.pretrain_batch_size) and self.pretrain_batch_size >= 1),
              f"pretrain_batch_size must be None (full batch) or an integer ≥ 1, got {self.pretrain_batch_size!r}")
        for name in ("epochs", "pretrain_epochs", "classifier_epochs"):
            v = getattr(self, name)
            check(is_int(v) and v >= 0, f"{name} must be an integer ≥ 0, got {v!r}")
        check(is_int(self.classifier_iters) and self.classifier_iters >= 1, f"classifier_iters must be an integer ≥ 1, got {self.classifier_iters!r}")
        for name in ("lr", "pretrain_lr", "classifier_lr", "alpha"):
            v = getattr(self, name)
            check(is_num(v) and v > 0, f"{name} must be a finite number > 0, got {v!r}")
        check(is_num(self.rho) and 0 < self.rho <= 1, f"rho must be in (0, 1], got {self.rho!r}")
        check(self.pseudo_sample_size is None or (is_int(self.pseudo_sample_size) and self.pseudo_sample_size >= 2 * self.n_clusters),
              f"pseudo_sample_size must be None or an integer ≥ 2·n_clusters, got {self.pseudo_sample_size!r}")
        check(is_int(self.seed) and self.seed >= 0, f"seed must be an integer ≥ 0, got {self.seed!r}")
        check(self.h_init in H_INITS, f"h_init must be one of {H_INITS}, got {self.h_init!r}")
        check(self.classifier_temperature is None or (is_num(self.classifier_temperature) and self.classifier_temperature > 0),
              f"classifier_temperature must be None or a finite number > 0, got {self.classifier_temperature!r}")
        check(self.classifier_loss in CLASSIFIER_LOSSES,
              f"classifier_loss must be one of {CLASSIFIER_LOSSES}, got {self.classifier_loss!r}")
        check(is_int(self.triplet_neighbors) and self.triplet_neighbors >= 1,
              f"triplet_neighbors must be an integer ≥ 1, got {self.triplet_neighbors!r}")
        for name in ("triplet_margin", "triplet_balance", "lambda3"):
            v = getattr(self, name)
            check(is_num(v) and v >= 0, f"{name} must be a finite number ≥ 0, got {v!r}")
        for name in ("self_training_rounds", "self_training_epochs"):
            v = getattr(self, name)
            check(is_int(v) and v >= 0, f"{name} must be an integer ≥ 0, got {v!r}")
        check(is_num(self.self_training_confidence) and 0 <= self.self_training_confidence < 1,
              f"self_training_confidence must be in [0, 1), got {self.self_training_confidence!r}")
        check(self.pretrained is None or self.autoencoder is not None,
              "pretrained weights need an auto-encoder; set autoencoder='conv' or 'mlp'")
        resolve_device(self.device)

    def _check_input(self, X: Any, *, fitting: bool) -> torch.Tensor:
        """Turn X into a float32 (N, D) CPU tensor, with plain errors for bad shapes and values."""
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = np.asarray(X)
        if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"X must be a numeric array, got dtype {X.dtype}")
        if X.ndim == 4 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim == 3:
            X = X.reshape(X.shape[0], -1)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features) or a stack of images, got shape {X.shape}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X is empty (shape {X.shape})")
        if X.dtype == np.uint8:
            X = X.astype(np.float32) / 255.0
        X = X.astype(np.float32, copy=False)
        bad = ~np.isfinite(X)
        if bad.any():
            row = int(np.argwhere(bad)[0, 0])
            raise ValueError(f"X contains NaN or infinite values ({int(bad.sum())} entries; first in row {row})")
        if fitting:
            if self.autoencoder == "conv" and X.shape[1] != 784:
                raise ValueError(f"the conv auto-encoder takes 28×28 images (784 features), got {X.shape[1]} "
                                 f"features; use autoencoder='mlp' or None for other data")
            if self.frontend == "scattering":
                infer_image_shape(X.shape[1], self.image_shape)
            if X.shape[0] < 2 * self.n_clusters:
                raise ValueError(f"need at least 2·n_clusters = {2 * self.n_clusters} points, got {X.shape[0]}")
        else:
            self._check_fitted()
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but this SSCN was fitted with {self.n_features_in_}")
        return torch.from_numpy(np.ascontiguousarray(X))

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("this SSCN is not fitted yet: call fit(X) first, or SSCN.load(path)")

    def _build_frontend(self, input_dim: int) -> PixelFrontEnd | ScatteringFrontEnd:
        if self.frontend == "pixels":
            return PixelFrontEnd(input_dim)
        return ScatteringFrontEnd(dim=self.frontend_dim, image_shape=infer_image_shape(input_dim, self.image_shape))

    def _build_network(self, frontend: PixelFrontEnd | ScatteringFrontEnd, generator: torch.Generator) -> SSCNNetwork:
        """A freshly initialised network on top of a (fitted) front-end."""
        dim = frontend.output_dim
        if self.autoencoder == "conv":
            ae = ConvAutoEncoder()
        elif self.autoencoder == "mlp":
            ae = MLPAutoEncoder(dim, tuple(self.hidden_dims), self.latent_dim)
        else:
            ae = IdentityAutoEncoder(dim)
        net = SSCNNetwork(frontend, ae, self.n_clusters, self.subspace_dim, self.classifier_temperature)
        reset_parameters(net.autoencoder, generator)
        net.h.reset(generator)
        return net

    def _load_pretrained(self, net: SSCNNetwork) -> None:
        path = Path(ASSETS_DIR / PRETRAINED[self.pretrained]) if self.pretrained in PRETRAINED else Path(self.pretrained)
        ckpt = load_checkpoint(path, expected_kind=AUTOENCODER_KIND)
        if ckpt.config != net.autoencoder.config():
            raise CheckpointError(f"pre-trained auto-encoder {path.name!r} has configuration {ckpt.config}, "
                                  f"but this SSCN needs {net.autoencoder.config()}")
        try:
            net.autoencoder.load_state_dict(ckpt.state)
        except RuntimeError as exc:
            raise CheckpointError(f"pre-trained auto-encoder {path.name!r} does not fit: {exc}") from exc

    # ------------------------------------------------------------------ training
    def stop(self) -> None:
        """Ask a running ``fit`` (in another thread) to end after its current step."""
        self._stop_flag().set()

    def _stop_flag(self) -> threading.Event:
        if "_stop_event" not in self.__dict__:
            self._stop_event = threading.Event()
        return self._stop_event

    def fit(self, X: Any, y: Any = None, *, callback: Callable[[TrainingEvent], None] | None = None) -> "SSCN":
        """Train all phases on X (N, D) or (N, 28, 28); ``y`` is ignored.

        ``callback(event)`` is called on the training thread at every phase start, step and phase
        end; it may block (to pause) and may call ``transform``/``affinity``. After ``stop()``
        the fit returns early with ``stopped_ = True`` and whatever phases had finished.
        """
        self._validate_params()
        x = self._check_input(X, fitting=True)
        stop_flag = self._stop_flag()
        stop_flag.clear()
        device = resolve_device(self.device)
        generator = torch.Generator().manual_seed(int(self.seed))

        self.n_features_in_ = x.shape[1]
        self.device_ = str(device)
        self.history_: list[dict[str, Any]] = []
        self.phase_times_: dict[str, float] = {}
        self.peak_memory_: dict[str, int] = {}
        self.labels_: np.ndarray | None = None
        self.pseudo_labels_: np.ndarray | None = None
        self.pseudo_label_indices_: np.ndarray | None = None
        self.stopped_ = False
        def report(event: TrainingEvent) -> None:
            event.model = self
            if callback is not None:
                callback(event)

        start = time.perf_counter()
        frontend = self._build_frontend(x.shape[1]).to(device)
        if self.frontend != "pixels":
            report(TrainingEvent("phase", "features", 0, 1))
        # The auto-encoder trains on front-end features, computed once (pixels: X itself).
        features = frontend.fit_transform(x)
        if self.frontend != "pixels":
            self.phase_times_["features"] = time.perf_counter() - start
            report(TrainingEvent("done", "features", 1, 1, {}, self.phase_times_["features"]))
        self.net_ = self._build_network(frontend, generator).to(device)

        common = dict(device=device, generator=generator, report=report, stop_flag=stop_flag, history=self.history_)
        try:
            if self.pretrained is not None:
                self._load_pretrained(self.net_)
                self.net_.to(device)
            elif self.autoencoder is not None and self.pretrain_epochs > 0:
                with PeakMemory(device) as mem:
                    self.phase_times_["pretrain"] = pretrain_autoencoder(
                        self.net_.autoencoder, features, epochs=self.pretrain_epochs, batch_size=self.pretrain_batch_size,
                        lr=self.pretrain_lr, **common)
                self.peak_memory_["pretrain"] = mem.peak_bytes
            if self.h_init == "closed_form":
                closed_form_h_init(self.net_, features, lam=self.lambda1 + self.lambda2, batch_size=self.batch_size,
                                   device=device)
            with PeakMemory(device) as mem:
                self.phase_times_["self_expression"] = train_self_expression(
                    self.net_, features, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, lambda1=self.lambda1,
                    lambda2=self.lambda2, reduction=self.reduction, **common)
            self.peak_memory_["self_expression"] = mem.peak_bytes
            classifier = dict(epochs=self.classifier_epochs, batch_size=self.classifier_batch_size,
                              iters_per_batch=self.classifier_iters, lr=self.classifier_lr, **common)
            if self.classifier_loss == "cross_entropy":
                with PeakMemory(device) as mem:
                    h_train, labels = self._pseudo_labels(features, device, generator, report)
                self.peak_memory_["pseudo_labels"] = mem.peak_bytes
                with PeakMemory(device) as mem:
                    self.phase_times_["classifier"] = train_classifier(self.net_, h_train, torch.from_numpy(labels).long(),
                                                                       **classifier)
            else:
                with PeakMemory(device) as mem:
                    self.phase_times_["classifier"] = train_classifier_triplet(
                        self.net_, self._classifier_sample(features, device, generator), neighbors=self.triplet_neighbors,
                        margin=self.triplet_margin, balance=self.triplet_balance, **classifier)
            self.peak_memory_["classifier"] = mem.peak_bytes
            if self.self_training_rounds > 0:
                with PeakMemory(device) as mem:
                    self.phase_times_["self_training"] = self_train(
                        self.net_, features, rounds=self.self_training_rounds, epochs=self.self_training_epochs,
                        batch_size=self.batch_size, lr=self.lr, classifier_lr=self.classifier_lr, lambda1=self.lambda1,
                        lambda2=self.lambda2, lambda3=self.lambda3, confidence=self.self_training_confidence,
                        reduction=self.reduction, **common)
                self.peak_memory_["self_training"] = mem.peak_bytes
            # In-sample labels from the features computed once (a front-end may be costly).
            self.labels_ = embed_all(self.net_, features, device, space="logits", raw=False).argmax(dim=1).numpy()
        except TrainingStopped:
            self.stopped_ = True
        return self

    def planned_phases(self) -> tuple[str, ...]:
        """The phases ``fit`` goes through with the current parameters, in order."""
        features = ("features",) if self.frontend != "pixels" else ()
        pretrain = ("pretrain",) if self.autoencoder is not None and self.pretrained is None and self.pretrain_epochs > 0 else ()
        pseudo = ("pseudo_labels",) if self.classifier_loss == "cross_entropy" else ()
        selftrain = ("self_training",) if self.self_training_rounds > 0 else ()
        return features + pretrain + ("self_expression",) + pseudo + ("classifier",) + selftrain

    def _classifier_sample(self, features: torch.Tensor, device: torch.device, generator: torch.Generator) -> torch.Tensor:
        """H of the points the classifier trains on: all N, or a uniform sample of ``pseudo_sample_size``."""
        n = features.shape[0]
        if self.pseudo_sample_size is not None and n > self.pseudo_sample_size:
            idx = torch.randperm(n, generator=generator)[: self.pseudo_sample_size].sort().values
            self.pseudo_label_indices_ = idx.numpy()
            features = features[idx]
        return embed_all(self.net_, features, device, raw=False)

    def _pseudo_labels(self, features: torch.Tensor, device: torch.device, generator: torch.Generator,
                       report: Callable[[TrainingEvent], None]) -> tuple[torch.Tensor, np.ndarray]:
        """Embed all points (or a uniform sample), post-process their Q into pseudo-labels."""
        start = time.perf_counter()
        report(TrainingEvent("phase", "pseudo_labels", 0, 1))
        h = self._classifier_sample(features, device, generator)
        if self._stop_flag().is_set():
            raise TrainingStopped("pseudo_labels")
        q = (h @ h.T).numpy()
        labels = spectral_pseudo_labels(q, self.n_clusters, self.subspace_dim, rho=self.rho, alpha=self.alpha,
                                        seed=int(self.seed))
        del q
        self.pseudo_labels_ = np.asarray(labels, dtype=np.int64)
        elapsed = time.perf_counter() - start
        self.phase_times_["pseudo_labels"] = elapsed
        report(TrainingEvent("done", "pseudo_labels", 1, 1, {}, elapsed))
        return h, self.pseudo_labels_

    # ------------------------------------------------------------------ inference
    def _device(self) -> torch.device:
        return next(self.net_.parameters()).device

    def _predict_tensor(self, x: torch.Tensor) -> np.ndarray:
        return embed_all(self.net_, x, self._device(), space="logits").argmax(dim=1).numpy()

    def transform(self, X: Any, space: str = "h") -> np.ndarray:
        """Embed new points: ``space="h"`` → H (N, d_H), ``"rotated"`` → H R, ``"z"`` → Z = enc(X)."""
        x = self._check_input(X, fitting=False)
        return embed_all(self.net_, x, self._device(), space=space).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of each new point: the block of R holding most of its energy (argmax of the logits)."""
        return self._predict_tensor(self._check_input(X, fitting=False))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax over clusters of minus the energy outside each block, (N, K)."""
        logits = embed_all(self.net_, self._check_input(X, fitting=False), self._device(), space="logits")
        return torch.softmax(logits.double(), dim=1).float().numpy()

    def block_energy(self, X: Any) -> np.ndarray:
        """Share of each point's energy ‖H R‖² inside each of the K blocks, (N, K); rows sum to 1."""
        rotated = torch.from_numpy(self.transform(X, space="rotated"))
        inside = (rotated ** 2).reshape(rotated.shape[0], self.n_clusters, self.subspace_dim).sum(dim=2)
        return (inside / inside.sum(dim=1, keepdim=True).clamp_min(1e-30)).numpy()

    def affinity(self, X: Any) -> np.ndarray:
        """The learned self-expression matrix Q = H Hᵀ of a (small) set of points, (n, n)."""
        x = self._check_input(X, fitting=False)
        if x.shape[0] > MAX_AFFINITY_POINTS:
            raise ValueError(f"affinity of {x.shape[0]} points would need an {x.shape[0]}² matrix; pass at most "
                             f"{MAX_AFFINITY_POINTS} points (a sample)")
        h = embed_all(self.net_, x, self._device())
        return (h @ h.T).numpy()

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit on X and return the classifier's in-sample clusters (``labels_``)."""
        return self.fit(X, **kwargs).labels_

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write weights, parameters and training record to one checkpoint file (atomic)."""
        self._check_fitted()
        state = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        for name in ("labels_", "pseudo_labels_", "pseudo_label_indices_"):
            value = getattr(self, name, None)
            if value is not None:
                state[f"fitted.{name}"] = torch.from_numpy(np.asarray(value, dtype=np.int64))
        params = self.get_params()
        params["hidden_dims"] = list(params["hidden_dims"])
        params["image_shape"] = None if self.image_shape is None else list(self.image_shape)
        config = {"params": params, "n_features_in": int(self.n_features_in_),
                  "frontend": self.net_.frontend.config(), "autoencoder": self.net_.autoencoder.config()}
        meta = {"sscn_core": __version__, "torch": torch.__version__, "python": platform.python_version(),
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "history": self.history_,
                "phase_times": self.phase_times_, "peak_memory": self.peak_memory_,
                "stopped": bool(self.stopped_)}
        return save_checkpoint(path, Checkpoint(MODEL_KIND, state, config, meta))

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> "SSCN":
        """Read a model written by ``save``; raises CheckpointError on a corrupt or mismatched file."""
        ckpt = load_checkpoint(path, expected_kind=MODEL_KIND)
        try:
            params = dict(ckpt.config["params"])
            params["hidden_dims"] = tuple(params["hidden_dims"])
            if params.get("image_shape") is not None:
                params["image_shape"] = tuple(params["image_shape"])
            params["device"] = device
            model = cls(**params)
            model._validate_params()
            net = SSCNNetwork(build_frontend(ckpt.config["frontend"]), build_autoencoder(ckpt.config["autoencoder"]),
                              model.n_clusters, model.subspace_dim, model.classifier_temperature)
            net.load_state_dict({k[4:]: v for k, v in ckpt.state.items() if k.startswith("net.")})
            model.n_features_in_ = int(ckpt.config["n_features_in"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{Path(path).name!r} does not describe a valid SSCN model: {exc}") from exc
        model.net_ = net.to(resolve_device(device))
        model.device_ = str(resolve_device(device))
        for name in ("labels_", "pseudo_labels_", "pseudo_label_indices_"):
            value = ckpt.state.get(f"fitted.{name}")
            setattr(model, name, None if value is None else value.numpy())
        model.history_ = ckpt.meta.get("history", [])
        model.phase_times_ = ckpt.meta.get("phase_times", {})
        model.peak_memory_ = ckpt.meta.get("peak_memory", {})
        model.stopped_ = bool(ckpt.meta.get("stopped", False))
        return model


def save_autoencoder(net_or_ae: torch.nn.Module, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Write a (pre-trained) auto-encoder checkpoint, loadable through ``SSCN(pretrained=path)``."""
    ae = net_or_ae.autoencoder if isinstance(net_or_ae, SSCNNetwork) else net_or_ae
    meta = {"sscn_core": __version__, "torch": torch.__version__, **(meta or {})}
    return save_checkpoint(path, Checkpoint(AUTOENCODER_KIND, ae.state_dict(), ae.config(), meta))
