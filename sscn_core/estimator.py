"""SSCN: a scikit-learn-style estimator over the models and the training phases."""
from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import Tags, TransformerTags

from . import __version__, distributed
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .data import assets_dir
from .device import resolve_device
from .features import PixelFrontEnd, ScatteringFrontEnd, build_frontend, infer_image_shape
from .metrics import PeakMemory
from .models import (ConvAutoEncoder, IdentityAutoEncoder, MLPAutoEncoder, SSCNNetwork, build_autoencoder,
                     reset_parameters)
from .params import DEFAULTS, PRESETS, PRETRAINED, docstring, problems, signature
from .postprocess import spectral_pseudo_labels
from .trainer import (PHASES, TrainingEvent, TrainingStopped, closed_form_h_init, embed_all, pretrain_autoencoder,
                      self_train, train_classifier, train_classifier_triplet, train_self_expression)

ASSETS_DIR = assets_dir()
AUTOENCODER_KIND = "autoencoder"
MODEL_KIND = "sscn"
MAX_AFFINITY_POINTS = 20_000


@dataclass
class _Run:
    """What the phases of one ``fit`` share."""

    features: torch.Tensor
    device: torch.device
    generator: torch.Generator
    report: Callable[[TrainingEvent], None]
    common: dict[str, Any]
    h_train: torch.Tensor | None = None
    labels: np.ndarray | None = None


class SSCN(ClusterMixin, TransformerMixin, BaseEstimator):
    """Siamese Subspace Clustering Network (Busch et al.): learn h so that Q = H Hᵀ self-expresses Z.

    Training minimises, on uniformly sampled mini-batches (Definition 3),
    ``½‖Q‖² + λ1/2‖Z − QZ‖² + λ2/2‖X − dec(QZ)‖²`` with Q = H Hᵀ, H = h(Z), Z = enc(X); then
    pseudo-labels come from spectral post-processing of Q and a classifier R on the Stiefel manifold
    learns to put each cluster into its own block of ``subspace_dim`` coordinates, so that any new
    point can be classified (inductive).

    The defaults are the paper's reference configuration (``SSCN.from_preset("paper")``); the
    parameters, all keyword-only, are declared in :mod:`sscn_core.params` (listed below).
    """

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"SSCN got unknown parameter(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
        for name, default in DEFAULTS.items():
            setattr(self, name, params.get(name, default))

    __init__.__signature__ = signature()  # what get_params, clone and help() see

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])   # transform gives float32 H
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_stop_event", None)   # a lock; pickles and copies get their own
        return state

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "SSCN":
        """An estimator with a named configuration (see ``params.PRESETS``), with ``overrides`` on top."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def _validate_params(self) -> None:
        """Raise ValueError with the first problem of the parameters (see ``params.problems``)."""
        found = problems(self.get_params())
        if found:
            raise ValueError(next(iter(found.values())))

    def _check_input(self, X: Any, *, fitting: bool) -> torch.Tensor:
        """Turn X into a float32 (N, D) CPU tensor, with plain errors for bad shapes and values."""
        if not fitting:
            self._check_fitted()
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        if scipy.sparse.issparse(X):
            raise TypeError("sparse input is not supported: pass a dense array (X.toarray())")
        X = np.asarray(X)
        if np.iscomplexobj(X):
            raise ValueError("Complex data not supported: X must be real")
        if X.dtype == object:
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"X must be a numeric array: {exc}") from None
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"X must be a numeric array, got dtype {X.dtype}")
        if X.ndim == 4 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim == 3:
            X = X.reshape(X.shape[0], -1)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features) or a stack of images, got shape {X.shape}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            what = "sample" if X.shape[0] == 0 else "feature"
            raise ValueError(f"X is empty: 0 {what}(s) (shape={X.shape}) while a minimum of 1 is required.")
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
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but SSCN is expecting {self.n_features_in_} features "
                             f"as input (the number it was fitted with)")
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

        phases = self.planned_phases()
        start = time.perf_counter()
        frontend = self._build_frontend(x.shape[1]).to(device)
        if "features" in phases:
            report(TrainingEvent("phase", "features", 0, 1))
        # The auto-encoder trains on front-end features, computed once (pixels: X itself).
        features = frontend.fit_transform(x)
        if "features" in phases:
            self.phase_times_["features"] = time.perf_counter() - start
            report(TrainingEvent("done", "features", 1, 1, {}, self.phase_times_["features"]))
        self.net_ = self._build_network(frontend, generator).to(device)

        common = dict(device=device, generator=generator, report=report, stop_flag=stop_flag, history=self.history_)
        run = _Run(features, device, generator, report, common)
        try:
            if self.pretrained is not None:
                self._load_pretrained(self.net_)
                self.net_.to(device)
            for phase in phases:
                if phase != "features":
                    with PeakMemory(device) as mem:
                        getattr(self, f"_fit_{phase}")(run)
                    self.peak_memory_[phase] = mem.peak_bytes
            # In-sample labels from the features computed once (a front-end may be costly).
            self.labels_ = embed_all(self.net_, features, device, space="logits", raw=False).argmax(dim=1).numpy()
        except TrainingStopped:
            self.stopped_ = True
        return self

    def planned_phases(self) -> tuple[str, ...]:
        """The phases ``fit`` goes through with the current parameters, in order (``trainer.PHASES``)."""
        runs = {"features": self.frontend != "pixels",
                "pretrain": self.autoencoder is not None and self.pretrained is None and self.pretrain_epochs > 0,
                "self_expression": True,
                "pseudo_labels": self.classifier_loss == "cross_entropy",
                "classifier": True,
                "self_training": self.self_training_rounds > 0}
        return tuple(phase for phase in PHASES if runs[phase])

    # One method per phase (after "features"), called by fit in the order of planned_phases.
    def _fit_pretrain(self, run: _Run) -> None:
        self.phase_times_["pretrain"] = pretrain_autoencoder(
            self.net_.autoencoder, run.features, epochs=self.pretrain_epochs, batch_size=self.pretrain_batch_size,
            lr=self.pretrain_lr, **run.common)

    def _fit_self_expression(self, run: _Run) -> None:
        if self.h_init == "closed_form":
            closed_form_h_init(self.net_, run.features, lam=self.lambda1 + self.lambda2, batch_size=self.batch_size,
                               device=run.device)
        # Under torch.distributed each process computes a row block of every batch (see distributed.py).
        self.phase_times_["self_expression"] = train_self_expression(
            self.net_, run.features, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, lambda1=self.lambda1,
            lambda2=self.lambda2, reduction=self.reduction,
            sharded=distributed.sharded_self_expression(self.net_, self.reduction), **run.common)

    def _fit_pseudo_labels(self, run: _Run) -> None:
        run.h_train, run.labels = self._pseudo_labels(run.features, run.device, run.generator, run.report)

    def _fit_classifier(self, run: _Run) -> None:
        classifier = dict(epochs=self.classifier_epochs, batch_size=self.classifier_batch_size,
                          iters_per_batch=self.classifier_iters, lr=self.classifier_lr, **run.common)
        if self.classifier_loss == "cross_entropy":
            self.phase_times_["classifier"] = train_classifier(self.net_, run.h_train,
                                                               torch.from_numpy(run.labels).long(), **classifier)
        else:
            self.phase_times_["classifier"] = train_classifier_triplet(
                self.net_, self._classifier_sample(run.features, run.device, run.generator),
                neighbors=self.triplet_neighbors, margin=self.triplet_margin, balance=self.triplet_balance, **classifier)

    def _fit_self_training(self, run: _Run) -> None:
        self.phase_times_["self_training"] = self_train(
            self.net_, run.features, rounds=self.self_training_rounds, epochs=self.self_training_epochs,
            batch_size=self.batch_size, lr=self.lr, classifier_lr=self.classifier_lr, lambda1=self.lambda1,
            lambda2=self.lambda2, lambda3=self.lambda3, confidence=self.self_training_confidence,
            reduction=self.reduction, **run.common)

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
        x = self._check_input(X, fitting=False)
        logits = embed_all(self.net_, x, self._device(), space="logits")
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


SSCN.__doc__ = f"{SSCN.__doc__}\n{docstring()}\n"
