"""SSCN: a scikit-learn-style estimator over the models and the training phases."""
from __future__ import annotations

import copy
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import scipy.sparse
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import Tags, TransformerTags

from . import distributed
from .checkpoint import CheckpointError
from .data.dataset import check_rows_vary
from .choice import choose_frontend, choose_n_clusters, count_reason
from .device import resolve_device
from .features import FrontEnd, PixelFrontEnd, ScatteringFrontEnd
from .metrics import PeakMemory, format_bytes
from .models import (ConvAutoEncoder, IdentityAutoEncoder, MLPAutoEncoder, SSCNNetwork, describe_autoencoder,
                     estimate_training_bytes, reset_parameters)
from .health import SSCNWarning, fit_warnings
from .params import DEFAULTS, PARAMS, PRESETS, PRETRAINED, docstring, problems, signature
from .persistence import load_model, read_autoencoder, save_model
from .postprocess import estimate_pseudo_label_bytes, max_pseudo_label_points, spectral_pseudo_labels
from .preprocess import STYLES, style_of
from .pretraining import ASSETS_DIR, bundled_weights_for, fit_pretrain
from .family import FamilyError, local_ssc_coefficients, unit_rows
from .plan import (COUNT_MIN_POINTS, SPARSE_ALPHA_Z, SPARSE_NEIGHBOURS, choice_clarity, make_plan, sparse_graph_verdict,
                   window)
from .student import ConvStudent, check_fits, embed_student, fit_student
from .theory import diagnose, half_weight_lambda, independence_report, stratified_sample
from .trainer import (PHASES, Convergence, FitRun, TrainingEvent, TrainingStopped, calibration_scale,
                      closed_form_h_init, embed_all, second_moment_eigenpairs, self_train, subspace_rotation,
                      train_classifier, train_classifier_triplet, train_self_expression)

MAX_AFFINITY_POINTS = 20_000
INDEPENDENCE_SAMPLE = 2000   # points of the pseudo-clusters on which the independence verdict is computed
CALIBRATION_SMOOTHING = 0.01  # predict_proba's scale fits the pseudo-labels smoothed by this much (finite when all agree)


class SSCN(ClusterMixin, TransformerMixin, BaseEstimator):
    """Siamese Subspace Clustering Network (Busch et al.): learn h so that Q = H Hᵀ self-expresses Z.

    Training minimises, on uniformly sampled mini-batches (Definition 3),
    ``½‖Q‖² + λ1/2‖Z − QZ‖² + λ2/2‖X − dec(QZ)‖²`` with Q = H Hᵀ, H = h(Z), Z = enc(X); then
    pseudo-labels come from spectral post-processing of Q and a classifier R on the Stiefel manifold
    learns to put each cluster into its own block of ``subspace_dim`` coordinates, so that any new
    point can be classified (inductive).

    The defaults follow the data (:mod:`sscn_core.plan`: full batch when it fits, phases trained
    until their loss settles, unit rows and Theorem 1's start for the linear model, R started from
    the pseudo-clusters' spans, the subspace post-processing); ``SSCN.from_preset("paper")`` is the
    paper's reference configuration exactly. ``settings_`` records what a fit chose and why, and
    ``fit_report()`` adds convergence, agreement, independence and warnings. The parameters, all
    keyword-only, and the fitted attributes are declared in :mod:`sscn_core.params` (listed below).
    """

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"SSCN got unknown parameter(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
        for name, default in DEFAULTS.items():
            setattr(self, name, params.get(name, default))
        self._stop_event = threading.Event()   # created here, before any thread can see the estimator

    __init__.__signature__ = signature()  # what get_params, clone and help() see

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])   # transform gives float32 H
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())    # a copy: object.__getstate__ may return __dict__ itself
        state.pop("_stop_event", None)          # an Event cannot be pickled or deep-copied; copies get their own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._stop_event = threading.Event()

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
            if self.n_clusters == "auto" and X.shape[0] < 2 * COUNT_MIN_POINTS:
                raise ValueError(f"n_clusters='auto' needs at least {2 * COUNT_MIN_POINTS} points ({COUNT_MIN_POINTS} a "
                                 f"cluster for K = 2), got {X.shape[0]}")
            if self.n_clusters != "auto" and X.shape[0] < 2 * self.n_clusters:
                raise ValueError(f"need at least 2·n_clusters = {2 * self.n_clusters} points, got {X.shape[0]}")
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but SSCN is expecting {self.n_features_in_} features "
                             f"as input (the number it was fitted with)")
        return torch.from_numpy(np.ascontiguousarray(X))

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("this SSCN is not fitted yet: call fit(X) first, or SSCN.load(path)")

    def _image_shape(self, n_features: int) -> tuple[int, int]:
        """(height, width) of the images the conv auto-encoder and the scattering front-end read (the plan's)."""
        shape = self.params_["image_shape"]
        if shape is not None and shape[0] * shape[1] != n_features:
            raise ValueError(f"image_shape {tuple(shape)} holds {shape[0] * shape[1]} pixels, but X has {n_features} "
                             f"features per row")
        if shape is None:
            what = "scattering front-end" if self.params_["frontend"] == "scattering" else "conv auto-encoder"
            raise ValueError(f"the {what} reads images: X has {n_features} features per row, which is not a square; "
                             f"pass image_shape=(height, width) or a stack of images (N, H, W), or use "
                             f"frontend='pixels' with autoencoder='mlp' or None")
        return int(shape[0]), int(shape[1])

    def _build_frontend(self, input_dim: int, frontend: str, normalize: str) -> FrontEnd:
        if frontend == "pixels":
            return PixelFrontEnd(input_dim, unit_rows=normalize == "unit_rows")
        return ScatteringFrontEnd(dim=self.frontend_dim, image_shape=self._image_shape(input_dim))

    def _build_network(self, frontend: FrontEnd, generator: torch.Generator,
                       autoencoder: str | None) -> SSCNNetwork:
        """A freshly initialised network on top of a (fitted) front-end."""
        dim = frontend.output_dim
        if autoencoder == "conv":
            ae = ConvAutoEncoder(self._image_shape(dim))
        elif autoencoder == "mlp":
            ae = MLPAutoEncoder(dim, tuple(self.hidden_dims), self.latent_dim)
        else:
            ae = IdentityAutoEncoder(dim)
        p = self.params_
        net = SSCNNetwork(frontend, ae, p["n_clusters"], p["subspace_dim"], self.classifier_temperature)
        reset_parameters(net.autoencoder, generator)
        net.h.reset(generator)
        return net

    def _load_pretrained(self, net: SSCNNetwork) -> None:
        pretrained = self.params_["pretrained"]
        path = Path(ASSETS_DIR / PRETRAINED[pretrained]) if pretrained in PRETRAINED else Path(pretrained)
        ckpt = read_autoencoder(path)
        if ckpt.config != net.autoencoder.config():
            hint = "; pre-train one on these images (sscn pretrain --data ...), or leave pretrained unset" \
                if ckpt.config.get("kind") == net.autoencoder.config()["kind"] == "conv" else ""
            raise CheckpointError(f"pre-trained auto-encoder {path.name!r} is {describe_autoencoder(ckpt.config)}, "
                                  f"but this SSCN needs {describe_autoencoder(net.autoencoder.config())}{hint}")
        try:
            net.autoencoder.load_state_dict(ckpt.state)
        except RuntimeError as exc:
            raise CheckpointError(f"pre-trained auto-encoder {path.name!r} does not fit: {exc}") from exc

    # ------------------------------------------------------------------ training
    def stop(self) -> None:
        """Ask the running ``fit`` (in another thread) to end after its current step.

        A stop requested while no fit runs is kept for the next ``fit``, which then returns at once
        with ``stopped_ = True`` (a stop that races a starting fit is never lost); every ``fit``
        clears the request when it returns.
        """
        self._stop_event.set()

    def fit(self, X: Any, y: Any = None, *, callback: Callable[[TrainingEvent], None] | None = None) -> "SSCN":
        """Train all phases on X (N, D) or (N, 28, 28); ``y`` is ignored.

        ``callback(event)`` is called on the training thread at every phase start, step and phase
        end; it may block (to pause) and may call ``transform``/``affinity``. After ``stop()``
        the fit returns early with ``stopped_ = True`` and whatever phases had finished.
        A fit that raises (bad input, a pre-trained file that does not fit, a non-finite loss, out
        of memory) leaves the estimator as it was before the call: a previously fitted model keeps
        its weights and results, so it still predicts, and ``save`` cannot overwrite a good file
        with a broken fit. With ``n_clusters="auto"`` the first phase estimates K (``n_clusters_``, its
        evidence in ``cluster_count_``) and everything after it follows that K; ``n_clusters`` stays "auto".
        """
        previous = {k: v for k, v in self.__dict__.items() if _is_fitted_attribute(k)}
        try:
            x = self._planned(X)
            check_rows_vary(x.numpy())          # the plan may describe any rows; a fit needs some that vary
            if self.n_clusters != "auto":       # else once the fit's first phase has estimated K
                self._check_sizes(x.shape)
            self._fit(x, callback)
        except BaseException:
            for name in [k for k in self.__dict__ if _is_fitted_attribute(k)]:
                del self.__dict__[name]
            self.__dict__.update(previous)
            raise
        finally:
            self._stop_event.clear()
        return self

    def plan(self, X: Any) -> dict[str, dict[str, Any]]:
        """What ``fit(X)`` will use and why, before any training: {setting: {"value", "reason"}}.

        The rules are those of :mod:`sscn_core.plan`; the label-free choice of the front-end among
        candidates (a tuple under "frontend") is made by ``fit`` and recorded in ``settings_``, as is K
        with ``n_clusters="auto"`` (shown as "auto" here, and q, which follows K, as None: the estimate
        is not run). Nothing is fitted and no fitted attribute changes.
        """
        previous = {k: v for k, v in self.__dict__.items() if k in ("params_", "settings_")}
        try:
            self._planned(X)
            return self.settings_
        finally:
            for name in ("params_", "settings_"):
                self.__dict__.pop(name, None)
            self.__dict__.update(previous)

    def _planned(self, X: Any) -> torch.Tensor:
        """Check the parameters and X, and set ``settings_`` (the plan) and ``params_`` (every
        parameter with its concrete value); returns X as a float32 tensor."""
        self._validate_params()
        stack = _stack_shape(X)
        x = self._check_input(X, fitting=True)
        params = self.get_params()
        if params["image_shape"] is None and stack is not None:
            params["image_shape"] = stack
        self._plan(x, params)
        if stack is not None and self.image_shape is None:
            self.settings_["image_shape"]["reason"] = "from the shape of the image stack X (N, H, W)"
        return x

    def _plan(self, x: torch.Tensor, params: dict[str, Any]) -> None:
        """Set ``settings_`` and ``params_`` from the plan of a fit with these parameter values on the rows ``x``,
        and check that the rows go with it (image shape, student)."""
        look_up = params["autoencoder"] == "conv" and params["pretrained"] is None
        self.settings_ = make_plan(params, x.shape[0], x.shape[1],
                                   bundled=bundled_weights_for(x.numpy()) if look_up else None)
        shape = self.settings_["image_shape"]["value"]
        if shape is not None and shape[0] * shape[1] != x.shape[1]:
            raise ValueError(f"image_shape {tuple(shape)} holds {shape[0] * shape[1]} pixels, but X has {x.shape[1]} "
                             f"features per row")
        if shape is not None:
            style = style_of(x.numpy().reshape(-1, *shape))
            self.settings_["input_style"] = {"value": style, "reason": f"how new images are prepared for predict: "
                                             f"{STYLES[style]} (the style most training images have)"}
        self.params_ = {name: self.settings_[name]["value"] if name in self.settings_ else value
                        for name, value in params.items()}
        if (self.params_["frontend"] == "scattering" or self.params_["autoencoder"] == "conv"):
            self._image_shape(x.shape[1])
        if self.params_["student"] != "none" and self.params_["image_shape"] is None:
            raise ValueError(f"the conv student reads images: X has {x.shape[1]} features per row, which is not a "
                             f"square; pass image_shape=(height, width) or a stack of images (N, H, W), or use "
                             f"student='none'")

    def _plan_count(self, x: torch.Tensor, count: dict[str, Any]) -> None:
        """n_clusters="auto": plan the fit again with the K that ``count`` (``count_for_frontends``'s result)
        estimated, so that q, the rank, λ and the front-end choice follow it, and keep the evidence:
        ``n_clusters_``, ``cluster_count_``, ``settings_["n_clusters"]`` (first, with the [K, score] pairs
        compared and whether the data showed cluster structure) and ``params_["n_clusters"]``. ValueError when
        a parameter does not go with that K (a pseudo_sample_size below 2K)."""
        k = int(count["value"])
        params = {**self.get_params(), "n_clusters": k, "image_shape": self.params_["image_shape"]}
        found = problems(params)
        if found:
            raise ValueError(f"{next(iter(found.values()))} (n_clusters='auto' estimated K = {k})")
        kept = {name: self.settings_[name] for name in ("image_shape", "input_style") if name in self.settings_}
        self._plan(x, params)
        entry = {"value": k, "reason": count_reason(count), "structure": bool(count["structure"]),
                 "compared": [[c, float(s)] for c, s in zip(count["candidates"], count["scores"])]}
        self.settings_ = {"n_clusters": entry, **self.settings_, **kept}
        self.n_clusters_, self.cluster_count_ = k, count

    def _check_sizes(self, shape: tuple[int, int]) -> None:
        """Refuse, before any training, a network or a pseudo-label phase too large for the memory there is."""
        self._check_memory(shape)
        self._check_pseudo_label_memory(shape[0])

    def _check_memory(self, shape: tuple[int, int]) -> None:
        """Refuse, before allocating anything, a network too large for the memory of the device."""
        n, n_features = shape
        p = self.params_
        input_dim = n_features if "pixels" in p["frontend"] else self.frontend_dim
        batch_size = p["batch_size"]
        need = estimate_training_bytes(p["autoencoder"], input_dim, tuple(self.hidden_dims), self.latent_dim,
                                       p["n_clusters"], p["subspace_dim"], batch_size, n)
        device = resolve_device(self.device)
        available = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else psutil.virtual_memory().available
        if need > available:
            raise ValueError(f"this network would need about {format_bytes(need)} to train (subspace_dim="
                             f"{p['subspace_dim']}, n_clusters={p['n_clusters']}, hidden_dims={tuple(self.hidden_dims)}, "
                             f"latent_dim={self.latent_dim}, batch_size={batch_size}) but only "
                             f"{format_bytes(available)} is available on {device}; choose smaller sizes")

    def _check_pseudo_label_memory(self, n: int) -> None:
        """Refuse, before training, a pseudo-label phase whose dense matrices (two of n × n float32,
        on the CPU) cannot fit in the memory available now; suggest a ``pseudo_sample_size`` that fits."""
        if "pseudo_labels" not in _phases(self.params_):
            return
        points = n if self.pseudo_sample_size is None else min(n, int(self.pseudo_sample_size))
        need, available = estimate_pseudo_label_bytes(points), psutil.virtual_memory().available
        if need > available:
            raise ValueError(f"the pseudo-labels of {points:,} points need two dense {points:,} × {points:,} matrices, "
                             f"about {format_bytes(need)}, but only {format_bytes(available)} of memory is available; "
                             f"set pseudo_sample_size to at most {max_pseudo_label_points(available):,} (the "
                             f"clustering and the classifier then use a uniform sample of that size)")

    def _fit(self, x: torch.Tensor, callback: Callable[[TrainingEvent], None] | None) -> None:
        """The phases of ``fit`` on checked input; sets the fitted attributes as it goes."""
        stop_flag = self._stop_event
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
        self.pseudo_label_solver_: dict[str, Any] | None = None
        self.stopped_ = False
        self.cluster_count_: dict[str, Any] | None = None
        if self.n_clusters != "auto":
            self.n_clusters_ = int(self.n_clusters)
        self.model_choice_: dict[str, Any] | None = None
        self.proba_scale_ = 1.0
        self.convergence_: dict[str, dict[str, Any]] = {}
        self.agreement_: float | None = None
        self.independence_: dict[str, Any] | None = None
        self.warnings_: list[str] = []
        self.pretrain_: dict[str, Any] | None = None
        self.paper_start_: dict[str, Any] | None = None
        self.student_: ConvStudent | None = None
        self.student_report_: dict[str, Any] | None = None

        def report(event: TrainingEvent) -> None:
            event.model = self
            if callback is not None:
                callback(event)

        phases = _phases(self.params_)
        if "n_clusters" in phases:
            try:
                choose_n_clusters(self, x, report, device)
            except TrainingStopped:
                self.stopped_ = True
                self._record_unchosen()
                return
            self._check_sizes(x.shape)
        chosen = None
        if "model_choice" in phases:
            try:
                chosen = choose_frontend(self, x, device, report)
            except TrainingStopped:
                self.stopped_ = True
                self._record_unchosen()
                return
        start = time.perf_counter()
        if "features" in phases:
            report(TrainingEvent("phase", "features", 0, 1))
        # The auto-encoder trains on front-end features, computed once (pixels: X itself); the model choice
        # already fitted the chosen front-end when it looked at every training point.
        if chosen is not None:
            frontend, features = chosen
        else:
            frontend = self._build_frontend(x.shape[1], self.params_["frontend"], self.params_["normalize"]).to(device)
            features = frontend.fit_transform(x)
        if "features" in phases:
            self.phase_times_["features"] = time.perf_counter() - start
            report(TrainingEvent("done", "features", 1, 1, {}, self.phase_times_["features"]))
        self.net_ = self._build_network(frontend, generator, self.params_["autoencoder"]).to(device)

        common = dict(device=device, generator=generator, report=report, stop_flag=stop_flag, history=self.history_)
        run = FitRun(features, device, generator, report, common, {k: v["value"] for k, v in self.settings_.items()},
                   pixels=x)
        try:
            if stop_flag.is_set():            # requested before this fit began: nothing is trained
                raise TrainingStopped("start")
            if self.params_["pretrained"] is not None:
                self._load_pretrained(self.net_)
                self.net_.to(device)
            for phase in phases:
                if phase not in ("n_clusters", "model_choice", "features"):
                    with PeakMemory(device) as mem:
                        getattr(self, f"_fit_{phase}")(run)
                    self.peak_memory_[phase] = mem.peak_bytes
            # In-sample labels from the features computed once (a front-end may be costly).
            self.labels_ = embed_all(self.net_, features, device, space="logits", raw=False).argmax(dim=1).numpy()
            h_check = run.h_train if run.h_train is not None else embed_all(self.net_, features[:2000], device, raw=False)
            self.warnings_ = fit_warnings(labels=self.labels_, pseudo_labels=self.pseudo_labels_,
                                          h=h_check[:2000].numpy(), n_clusters=self.n_clusters_, history=self.history_,
                                          convergence=self.convergence_, agreement=self.agreement_,
                                          cluster_count=self.cluster_count_)
            for message in self.warnings_:
                warnings.warn(message, SSCNWarning, stacklevel=3)   # the caller of fit
        except TrainingStopped:
            self.stopped_ = True
        self._record_unchosen()

    def _record_unchosen(self) -> None:
        """Choices still open after the fit (it stopped first, or needed no choice) are recorded as such."""
        if self.params_["n_clusters"] == "auto":        # stopped before K was estimated
            self.settings_["n_clusters"] = {"value": "auto", "reason": "not estimated: the fit stopped first"}
        if isinstance(self.params_["alpha"], tuple):    # no pseudo-labels were made (triplet classifier, or stopped)
            self.params_["alpha"] = None
            self.settings_["alpha"] = {"value": None, "reason": "not chosen: this fit made no spectral pseudo-labels "
                                                                "(the triplet classifier needs none, or it stopped first)"}
        if self.params_["lambda_scale"] is None:
            self.settings_["lambda_scale"] = {"value": None, "reason": "not set: the fit stopped before the "
                                                                       "self-expression phase"}

    def planned_phases(self, n_features: int | None = None) -> tuple[str, ...]:
        """The phases ``fit`` goes through with the current parameters, in order (``trainer.PHASES``).

        ``n_features``, when known, settles what the plan decides from the shape of the rows (whether
        a front-end is chosen among candidates); a conv auto-encoder counts as pre-trained here unless
        ``pretrained`` names weights (the fit may still find the data's bundled weights).
        """
        values = self.get_params()
        if n_features is not None:
            k = COUNT_MIN_POINTS if values["n_clusters"] == "auto" else values["n_clusters"]
            plan = make_plan(values, 2 * k, n_features)
            values = {name: plan[name]["value"] if name in plan else value for name, value in values.items()}
        else:
            linear = values["autoencoder"] in (None, "auto")
            values["autoencoder"] = None if linear else values["autoencoder"]
            if values["frontend"] == "auto":
                values["frontend"] = ("pixels", "scattering") if linear else "pixels"
        return _phases(values)

    def _lambdas(self) -> tuple[float, float]:
        """λ1 and λ2 as this fit weighs them: the parameters times the (set) ``lambda_scale``."""
        scale = float(self.params_["lambda_scale"])
        return self.lambda1 * scale, self.lambda2 * scale

    def _self_expression_lam(self) -> float | None:
        """λ = λ1 + λ2 of the closed form, or None for the rule (``theory.half_weight_lambda``)."""
        return None if self.params_["lambda_scale"] is None else sum(self._lambdas())

    def _record_lambda(self, values: np.ndarray) -> None:
        """lambda_scale=None: the scale that makes λ1 + λ2 the half-weight λ of the features' second-moment
        eigenvalues ``values`` (1 where h has room for every direction), with its reason."""
        d_h = self.net_.h.embed_dim
        lam = half_weight_lambda(values, d_h)
        if lam is None:
            rank = int((values > values.max() * 1e-8).sum())
            self.params_["lambda_scale"] = 1.0
            self.settings_["lambda_scale"] = {"value": 1.0, "reason": (
                f"1, the paper's weights: h has room for every direction of the features (rank {rank} ≤ d_H = K·q = "
                f"{d_h}), so there is no boundary to set λ by")}
            return
        scale = lam / (self.lambda1 + self.lambda2)
        self.params_["lambda_scale"] = scale
        self.settings_["lambda_scale"] = {"value": scale, "reason": (
            f"{scale:.3g}: λ1 + λ2 = {lam:.3g} = 1/s², s² = {1 / lam:.3g} the features' second moment's eigenvalue number "
            f"{d_h} (largest first; d_H = K·q = {d_h}), so that Theorem 1's Q keeps the directions h has room for "
            f"at half weight or more (no labels)")}

    # One method per phase (after "features"), called by fit in the order of planned_phases.
    def _fit_pretrain(self, run: FitRun) -> None:
        fit_pretrain(self, run)    # sscn_core.pretraining: trained here, or read from the cache

    def _set_lambda(self, run: FitRun) -> None:
        """lambda_scale=None: set it by the linear model's rule (sscn_core.plan), once per fit."""
        if self.params_["lambda_scale"] is None:
            run.eigenpairs = second_moment_eigenpairs(self.net_, run.features, batch_size=run.settings["batch_size"],
                                                      device=run.device)
            self._record_lambda(run.eigenpairs[0].cpu().numpy())

    def _fit_paper_start(self, run: FitRun) -> None:
        """For comparison only: a copy of the network, h at the paper's random start (the Xavier weights the
        network was built with), trained on the same objective for ``paper_start_steps`` Adam steps on a
        random stream of its own. Its losses are recorded as the phase "paper_start"; the copy is discarded,
        so the fit's result is the same with or without it. Sets ``paper_start_``."""
        self._set_lambda(run)
        twin = copy.deepcopy(self.net_)
        steps = int(self.paper_start_steps)
        common = {**run.common, "generator": torch.Generator().manual_seed(int(self.seed))}
        lambda1, lambda2 = self._lambdas()
        seconds = train_self_expression(twin, run.features, steps=steps, batch_size=run.settings["batch_size"],
                                        lr=self.lr, lambda1=lambda1, lambda2=lambda2, reduction=self.reduction,
                                        phase_name="paper_start", **common)
        final = next(row["total"] for row in reversed(self.history_) if row["phase"] == "paper_start")
        self.phase_times_["paper_start"] = seconds
        self.paper_start_ = {"steps": steps, "final_loss": float(final), "seconds": seconds}

    def _fit_self_expression(self, run: FitRun) -> None:
        batch, steps = run.settings["batch_size"], run.settings["self_expression_steps"]
        self._set_lambda(run)
        if run.settings["h_init"] == "closed_form":
            closed_form_h_init(self.net_, run.features, lam=sum(self._lambdas()), batch_size=batch, device=run.device,
                               eigenpairs=run.eigenpairs)
        converge = Convergence(run.settings["tol"], window(run.features.shape[0] // batch))
        # Under torch.distributed each process computes a row block of every batch (see distributed.py).
        self.phase_times_["self_expression"] = train_self_expression(
            self.net_, run.features, steps=steps, batch_size=batch, lr=self.lr, lambda1=self._lambdas()[0],
            lambda2=self._lambdas()[1], reduction=self.reduction,
            sharded=distributed.sharded_self_expression(self.net_, self.reduction), convergence=converge, **run.common)
        self.convergence_["self_expression"] = converge.summary(steps)

    def _fit_pseudo_labels(self, run: FitRun) -> None:
        run.h_train, run.labels = self._pseudo_labels(run.features, run.device, run.generator, run.report)

    def _fit_classifier(self, run: FitRun) -> None:
        batch = run.settings["classifier_batch_size"]
        classifier = dict(batch_size=batch, iters_per_batch=self.classifier_iters, lr=self.classifier_lr, **run.common)
        if self.classifier_loss != "cross_entropy":
            run.h_train = embed_all(self.net_, self._classifier_sample(run.features, run.generator), run.device,
                                    raw=False)
            self.phase_times_["classifier"] = train_classifier_triplet(
                self.net_, run.h_train, epochs=self.classifier_epochs, neighbors=self.triplet_neighbors,
                margin=self.triplet_margin, balance=self.triplet_balance, **classifier)
            return
        targets = torch.from_numpy(run.labels).long()
        if run.settings["classifier_init"] == "subspaces":
            with torch.no_grad():
                self.net_.classifier.R.copy_(subspace_rotation(run.h_train, targets, self.n_clusters_,
                                                               self.params_["subspace_dim"]).to(run.device))
        steps = run.settings["classifier_steps"]
        converge = Convergence(run.settings["tol"], window(run.h_train.shape[0] // batch, self.classifier_iters))
        self.phase_times_["classifier"] = train_classifier(self.net_, run.h_train, targets, steps=steps,
                                                           convergence=converge, **classifier)
        self.convergence_["classifier"] = converge.summary(steps)
        with torch.no_grad():
            logits = self.net_.classifier(run.h_train.to(run.device)).cpu()
        self.agreement_ = float((logits.argmax(dim=1) == targets).double().mean())
        self.proba_scale_ = calibration_scale(logits, targets, CALIBRATION_SMOOTHING)
        self.independence_ = self._independence(run.features, run.device)

    def _independence(self, features: torch.Tensor, device: torch.device) -> dict[str, Any]:
        """Theorem 1's premise checked on Z of (a sample of) the pseudo-clusters: independent or not."""
        keep = stratified_sample(self.pseudo_labels_, INDEPENDENCE_SAMPLE, seed=int(self.seed))
        index = self.pseudo_label_indices_
        rows = torch.from_numpy(keep if index is None else index[keep])
        z = embed_all(self.net_, features[rows], device, space="z", raw=False).double().numpy()
        labels = self.pseudo_labels_[keep]
        exact = independence_report(X=z, labels=labels)
        counts = [int((labels == c).sum()) for c in np.unique(labels)]
        if all(dim < count for dim, count in zip(exact.dims, counts)):
            # Every pseudo-cluster lies in a subspace of fewer dimensions than it has points: the noise-free
            # case of Theorem 1, judged exactly (numerical rank).
            report = {"verdict": exact.verdict, "independent": exact.independent, "measure": "exact",
                      "sum_dims": exact.sum_dims, "union_rank": exact.union_rank, "deficit": exact.deficit}
            report["note"] = (
                "exact recovery is promised (independent, noise-free subspaces)" if exact.independent else
                f"the pseudo-clusters' spans are not independent (Σ dims {exact.sum_dims} > rank {exact.union_rank}), "
                f"so Theorem 1 promises no exact recovery")
            return report
        # Noisy clusters span as many dimensions as they have points, so their exact spans say nothing:
        # the Diagnostics tab's measure (effective dimensions), so that the report and the tab agree.
        d = diagnose(z, labels, n_clusters=self.n_clusters_, space="Z", label_kind="pseudo-labels", seed=int(self.seed))
        return {"verdict": d.verdict, "independent": False, "measure": "effective", "sum_dims": int(d.sum_dims),
                "union_rank": int(d.union_rank), "deficit": int(d.sum_dims - d.union_rank),
                "note": f"the pseudo-clusters are not noise-free subspaces (their points span as many dimensions as "
                        f"there are points); in effective dimensions (as in the Diagnostics tab) they are "
                        f"{d.verdict}, and Theorem 1 promises no exact recovery"}

    def fit_report(self) -> dict[str, Any]:
        """What a fit chose and how it went: K ("n_clusters") and, when the fit estimated it, the evidence
        ("cluster_count", ``cluster_count_``), settings with reasons, how clear each label-free choice was
        ("choices", :func:`~sscn_core.plan.choice_clarity`), convergence per phase, the pre-training
        (``pretrain_``), the classifier's agreement with its pseudo-labels, the independence verdict and
        the warnings."""
        self._check_fitted()
        scale = getattr(self, "proba_scale_", 1.0)
        probabilities = {"scale": scale, "note": (
            "calibrated by temperature scaling to the classifier's pseudo-labels (smoothed by 1 %): a probability "
            "says how surely a point falls into its block, not whether its cluster is the true class")
            if self.pseudo_labels_ is not None else
            "not calibrated: the triplet classifier has no pseudo-labels to calibrate against"}
        settings, choice = getattr(self, "settings_", {}), getattr(self, "model_choice_", None)
        return {"n_clusters": self.n_clusters_, "cluster_count": getattr(self, "cluster_count_", None),
                "settings": settings, "model_choice": choice, "choices": choice_clarity(settings, choice),
                "convergence": getattr(self, "convergence_", {}), "pretrain": getattr(self, "pretrain_", None),
                "agreement": getattr(self, "agreement_", None),
                "independence": getattr(self, "independence_", None), "probabilities": probabilities,
                "warnings": list(getattr(self, "warnings_", [])), "student": getattr(self, "student_report_", None)}

    def _fit_student(self, run: FitRun) -> None:
        """Distil the fitted model (the teacher) into a conv student on the training images
        (:func:`sscn_core.student.fit_student`, no labels); sets ``student_`` and ``student_report_``."""
        self.student_, self.phase_times_["student"], self.convergence_["student"], self.student_report_ = fit_student(
            self.net_, run.features, run.pixels, self._image_shape(run.pixels.shape[1]), self.proba_scale_,
            epochs=int(self.student_epochs), tol=run.settings["tol"], **run.common)

    def _fit_self_training(self, run: FitRun) -> None:
        self.phase_times_["self_training"] = self_train(
            self.net_, run.features, rounds=self.self_training_rounds, epochs=self.self_training_epochs,
            batch_size=run.settings["batch_size"], lr=self.lr, classifier_lr=self.classifier_lr, lambda1=self._lambdas()[0],
            lambda2=self._lambdas()[1], lambda3=self.lambda3, confidence=self.self_training_confidence,
            reduction=self.reduction, **run.common)

    def _classifier_sample(self, features: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Features of the points the classifier trains on: all N, or a uniform sample of ``pseudo_sample_size``."""
        n = features.shape[0]
        if self.pseudo_sample_size is not None and n > self.pseudo_sample_size:
            idx = torch.randperm(n, generator=generator)[: self.pseudo_sample_size].sort().values
            self.pseudo_label_indices_ = idx.numpy()
            features = features[idx]
        return features

    def _pseudo_labels(self, features: torch.Tensor, device: torch.device, generator: torch.Generator,
                       report: Callable[[TrainingEvent], None]) -> tuple[torch.Tensor, np.ndarray]:
        """Embed all points (or a uniform sample), cut the planned graph (Q's, or Z's sparse one where
        ``plan.sparse_graph_verdict`` trusts it) into pseudo-labels."""
        start = time.perf_counter()
        report(TrainingEvent("phase", "pseudo_labels", 0, 1))
        sample = self._classifier_sample(features, generator)
        h = embed_all(self.net_, sample, device, raw=False)
        if self._stop_event.is_set():
            raise TrainingStopped("pseudo_labels")
        common = dict(alpha=self.params_["alpha"], seed=int(self.seed), restarts=self.n_restarts,
                      variant=self.postprocess)
        k, q_dim = self.n_clusters_, self.params_["subspace_dim"]
        solver: dict[str, Any] = {}
        choice: dict[str, Any] = {}
        labels = None
        if self.params_["pseudo_graph"] in ("auto", "ssc"):
            z = embed_all(self.net_, sample, device, space="z", raw=False)
            labels, self.settings_["pseudo_graph"] = self._sparse_pseudo_labels(z, solver, choice, common)
            self.params_["pseudo_graph"] = self.settings_["pseudo_graph"]["value"]
        if labels is None:
            solver.clear()
            choice.clear()
            q = (h @ h.T).numpy()
            labels = spectral_pseudo_labels(q, k, q_dim, rho=self.rho, solver=solver, choice=choice, **common)
            del q
        self.pseudo_label_solver_ = solver
        self._record_alpha(choice)
        self.pseudo_labels_ = np.asarray(labels, dtype=np.int64)
        elapsed = time.perf_counter() - start
        self.phase_times_["pseudo_labels"] = elapsed
        report(TrainingEvent("done", "pseudo_labels", 1, 1, {}, elapsed))
        return h, self.pseudo_labels_

    def _sparse_pseudo_labels(self, z: torch.Tensor, solver: dict[str, Any], choice: dict[str, Any],
                              common: dict[str, Any]) -> tuple[np.ndarray | None, dict[str, Any]]:
        """The partition of the sparse (SSC) graph of the pseudo-label points' Z, when ``pseudo_graph`` is "ssc"
        or ``plan.sparse_graph_verdict`` trusts it (else None), with the setting that says why; the graph's
        well-clustered ratio is kept as "ratio" (None when its connected components were the clusters)."""
        k, given = self.n_clusters_, self.params_["pseudo_graph"] == "ssc"
        try:
            sparse = np.abs(local_ssc_coefficients(unit_rows(z.double().numpy()), neighbours=SPARSE_NEIGHBOURS,
                                                   alpha_z=SPARSE_ALPHA_Z))
        except FamilyError as err:
            problem = f"the sparse (SSC) graph of Z could not be built ({err})"
            if given:
                warnings.warn(f"pseudo_graph='ssc': {problem}; the pseudo-labels come from Q", SSCNWarning, stacklevel=4)
            return None, {"value": "q", "reason": f"Q's graph: {problem}"}
        if self._stop_event.is_set():
            raise TrainingStopped("pseudo_labels")
        clarity: dict[str, Any] = {}
        labels = spectral_pseudo_labels(sparse, k, self.params_["subspace_dim"], rho=1.0, solver=solver,
                                        choice=choice, clarity=clarity, **common)
        ratio = float(clarity["ratio"])
        if given:
            trusted, reason = True, "given ('ssc'): the sparse (SSC) graph of Z; the data-following default is 'auto'"
        elif math.isnan(ratio):
            trusted, reason = False, (f"Q's graph: with K = {k} for {len(labels):,} points the sparse graph's ratio "
                                      f"is undefined")
        else:
            trusted, reason = sparse_graph_verdict(ratio, k)
        setting: dict[str, Any] = {"value": "ssc" if trusted else "q", "reason": reason}
        if not math.isnan(ratio):
            setting["ratio"] = None if math.isinf(ratio) else ratio
        return (labels if trusted else None), setting

    def _record_alpha(self, choice: dict[str, Any]) -> None:
        """alpha=None: keep the power the post-processing chose, with the ratios it compared."""
        if not isinstance(self.params_["alpha"], tuple):
            return
        self.params_["alpha"] = choice["alpha"]
        if choice["ratios"]:
            listed = ", ".join(f"α = {a:g}: {r:.3g}" for a, r in choice["ratios"].items())
            reason = (f"{choice['alpha']:g}: of the candidates, its affinity falls most clearly into K clusters "
                      f"(μ_(K+1)/μ_K of the normalised Laplacian, higher is better: {listed}; no labels)")
        else:
            reason = (f"{choice['alpha']:g}: the affinity's connected components are the K clusters, "
                      f"so every power gives the same partition")
        self.settings_["alpha"] = {"value": choice["alpha"], "reason": reason,
                                   "compared": [[float(a), float(r)] for a, r in choice["ratios"].items()]}

    # ------------------------------------------------------------------ inference
    def _device(self) -> torch.device:
        return next(self.net_.parameters()).device

    def _embed(self, x: torch.Tensor, space: str = "h") -> torch.Tensor:
        """``embed_all`` of checked input (the student's H, H R or logits when ``predict_with`` says so; Z is
        always the teacher's), refusing outputs that overflowed."""
        if space != "z" and self._uses_student():
            return _finite(embed_student(self.student_, self.net_.classifier, x, self._device(), space=space), x)
        return _finite(embed_all(self.net_, x, self._device(), space=space), x)

    def _uses_student(self) -> bool:
        """Whether new points go through the distilled student: ``predict_with`` "student", or "auto" on a
        model that has one. ValueError when "student" is asked of a model without one."""
        problem = PARAMS["predict_with"].problem(self.predict_with)
        if problem is not None:
            raise ValueError(problem)
        student = getattr(self, "student_", None)
        if self.predict_with == "student" and student is None:
            raise ValueError("predict_with='student', but this model has no student: fit it with student='conv' (a "
                             "fit stopped before its student phase has none), or set predict_with='teacher'")
        if student is not None and self.predict_with != "teacher":
            check_fits(student, self.params_.get("image_shape"), self.n_features_in_)
        return student is not None and self.predict_with != "teacher"

    def _predict_tensor(self, x: torch.Tensor) -> np.ndarray:
        return self._embed(x, space="logits").argmax(dim=1).numpy()

    def transform(self, X: Any, space: str = "h") -> np.ndarray:
        """Embed new points: ``space="h"`` → H (N, d_H), ``"rotated"`` → H R, ``"z"`` → Z = enc(X).

        H and H R come from the distilled student when ``predict_with`` says so (see ``predict``); Z is
        always the teacher's (the student has none)."""
        x = self._check_input(X, fitting=False)
        return self._embed(x, space=space).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of each new point: the block of R holding most of its energy (argmax of the logits).

        With ``predict_with`` "student" (or "auto" on a model fitted with ``student="conv"``) H comes
        from the distilled student (:mod:`sscn_core.student`), which reads the pixels directly; R is the
        model's own. ``predict_proba``, ``transform``, ``block_energy`` and ``affinity`` follow the same
        choice; the in-sample ``labels_`` are the teacher's."""
        return self._predict_tensor(self._check_input(X, fitting=False))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax over clusters of minus the energy outside each block, (N, K), scaled by ``proba_scale_``.

        The scale is fitted after training (temperature scaling) so that the probabilities match how
        often the classifier reproduces its pseudo-labels on the training points, smoothed by 1 %
        (no labels: a probability says how surely a point falls into its block, not whether the
        cluster is the true class). It does not change ``predict``.
        """
        x = self._check_input(X, fitting=False)
        return self._proba(self._embed(x, space="logits"))

    def block_energy(self, X: Any) -> np.ndarray:
        """Share of each point's energy ‖H R‖² inside each of the K blocks, (N, K); rows sum to 1."""
        return self._energy(self._embed(self._check_input(X, fitting=False), space="rotated"))

    def embedding(self, X: Any) -> dict[str, np.ndarray]:
        """Everything the model says about new points, from one forward pass of each point.

        Returns {"h": H, "rotated": H R, "logits", "labels", "proba", "energy"}: what ``transform``
        (both spaces), ``predict``, ``predict_proba`` and ``block_energy`` give one by one, each of
        which runs the front-end and the network again. For views that show several of them (the
        app's analyses, the notebooks).
        """
        x = self._check_input(X, fitting=False)
        h = self._embed(x, space="h")
        with torch.no_grad():
            classifier = self.net_.classifier
            rotated = _finite(classifier.rotate(h.to(self._device())).float().cpu(), x)
            logits = _finite(classifier(h.to(self._device())).float().cpu(), x)
        return {"h": h.numpy(), "rotated": rotated.numpy(), "logits": logits.numpy(),
                "labels": logits.argmax(dim=1).numpy(), "proba": self._proba(logits), "energy": self._energy(rotated)}

    def _proba(self, logits: torch.Tensor) -> np.ndarray:
        return torch.softmax(logits.double() * getattr(self, "proba_scale_", 1.0), dim=1).float().numpy()

    def _energy(self, rotated: torch.Tensor) -> np.ndarray:
        rotated = rotated.double()   # squares of large H overflow float32
        inside = (rotated ** 2).reshape(rotated.shape[0], self.n_clusters_, -1).sum(dim=2)
        return (inside / inside.sum(dim=1, keepdim=True).clamp_min(1e-30)).float().numpy()

    def affinity(self, X: Any) -> np.ndarray:
        """The learned self-expression matrix Q = H Hᵀ of a (small) set of points, (n, n)."""
        x = self._check_input(X, fitting=False)
        _check_affinity_size(x.shape[0])
        h = self._embed(x)
        return _finite(h @ h.T, x).numpy()

    def affinity_of(self, h: np.ndarray) -> np.ndarray:
        """Q = H Hᵀ of points whose H (``transform`` or ``embedding``) is already known, (n, n)."""
        h = torch.as_tensor(h)
        _check_affinity_size(h.shape[0])
        return _finite(h @ h.T, h).numpy()

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit on X and return the classifier's in-sample clusters (``labels_``)."""
        return self.fit(X, **kwargs).labels_

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write weights, parameters and training record to one checkpoint file (atomic)."""
        self._check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> "SSCN":
        """Read a model written by ``save``; raises CheckpointError on a corrupt or mismatched file."""
        return load_model(cls, path, device)


def _phases(values: dict[str, Any]) -> tuple[str, ...]:
    """The phases a fit with these (planned) parameter values goes through, in order."""
    frontend, autoencoder = values["frontend"], values["autoencoder"]
    runs = {"n_clusters": values["n_clusters"] == "auto",
            "model_choice": isinstance(frontend, tuple),
            "features": frontend != "pixels",
            "pretrain": autoencoder is not None and values["pretrained"] is None and values["pretrain_epochs"] > 0,
            "paper_start": values["paper_start_steps"] > 0 and (values["h_init"] == "closed_form" or
                                                                (values["h_init"] == "auto" and autoencoder is None)),
            "self_expression": True,
            "pseudo_labels": values["classifier_loss"] == "cross_entropy",
            "classifier": True,
            "self_training": values["self_training_rounds"] > 0,
            "student": values["student"] != "none"}
    return tuple(phase for phase in PHASES if runs[phase])


def _stack_shape(X: Any) -> tuple[int, int] | None:
    """(H, W) when X is a stack of grey images, (N, H, W) or (N, 1, H, W); else None."""
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) not in (3, 4) or (len(shape) == 4 and shape[1] != 1):
        return None
    return int(shape[-2]), int(shape[-1])


def _check_affinity_size(n: int) -> None:
    """ValueError when an affinity of ``n`` points would be too large to hold."""
    if n > MAX_AFFINITY_POINTS:
        raise ValueError(f"affinity of {n} points would need an {n}² matrix; pass at most {MAX_AFFINITY_POINTS} "
                         f"points (a sample)")


def _finite(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``out`` computed from inputs ``x``; ValueError when it overflowed to NaN or infinity."""
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"the values are too large for this model: its outputs overflow to NaN or infinity (the "
                         f"largest |value| in X is {float(x.abs().max()):.3g}); give data on the scale of the "
                         f"training data (pixels in [0, 1])")
    return out


def _is_fitted_attribute(name: str) -> bool:
    """Attributes that ``fit`` sets (scikit-learn's convention: a trailing underscore)."""
    return name.endswith("_") and not name.startswith("_")


SSCN.__doc__ = f"{SSCN.__doc__}\n{docstring()}\n"
