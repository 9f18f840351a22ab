"""Typed settings of the explorer, their validation, and the translation into sscn_core calls.

Everything here is plain Python (no Streamlit): the sidebar fills a :class:`AppConfig`,
:func:`validate` returns the problems per field, :func:`load_data` and :func:`build_model` turn a
valid configuration into a training set, a held-out set and an unfitted :class:`~sscn_core.SSCN`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, make_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sscn_core import SSCN, Dataset, DataError, load_dataset
from sscn_core.data import RELATIONS, make_subspace_bases
from sscn_core.cluster_count import candidate_counts
from sscn_core.plan import COUNT_MAX, COUNT_MIN_POINTS, COUNT_SAMPLE, Q_MAX
from sscn_core.params import (AUTO, AUTOENCODER_OPTIONS, PARAMETERS, PARAMS, PRETRAINED, Param, join_autoencoder,
                              problems, split_autoencoder)
from sscn_core.pretraining import ASSETS_DIR

# Data sources shown in the sidebar, in order: key -> label.
SOURCES: dict[str, str] = {
    "mnist": "MNIST (bundled, 10k test digits)",
    "mnist-oos": "MNIST out-of-sample (10k training digits)",
    "fashion-mnist": "Fashion-MNIST",
    "digits": "8×8 digits (scikit-learn)",
    "yaleb": "Extended Yale B faces (bundled, 38 people, 32×32)",
    "synthetic": "Synthetic union of subspaces",
    "upload": "Your own file (.npz / .npy / .zip of images)",
}
# Held-out choices: key -> label. "rest" = points of the same source not drawn for training.
HOLDOUTS: dict[str, str] = {
    "none": "None",
    "rest": "The rest of this data set",
    "mnist-oos": "MNIST training digits (mnist-oos)",
    "mnist": "MNIST test digits (bundled)",
}

PRETRAINED_SHAPE = (28, 28)   # the image shape the bundled auto-encoders were trained on
MAX_CLUSTERS = COUNT_MAX    # a K typed in may be as large as one the estimate can find
MAX_SUBSPACE_DIM = 50
MAX_EMBED_DIM = 2000          # d_H = K·q
MAX_EPOCHS = 1000
MAX_BATCH = 100_000
MAX_HOLDOUT = 10_000
MAX_SYNTHETIC_POINTS = 20_000
MAX_AMBIENT_DIM = 2000
# The app's own bounds on SSCN parameters, on top of the library's (sscn_core.params): name ->
# (low, high); None keeps the library's bound. They keep a run within what a page can show.
UI_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "n_clusters": (None, MAX_CLUSTERS), "subspace_dim": (None, MAX_SUBSPACE_DIM), "frontend_dim": (None, 3472),
    "latent_dim": (None, MAX_EMBED_DIM), "lambda1": (None, 1e6), "lambda2": (None, 1e6),
    "lambda_scale": (None, 1e6),
    "batch_size": (None, MAX_BATCH), "epochs": (1, MAX_EPOCHS), "lr": (None, 1.0),
    "pretrain_epochs": (None, MAX_EPOCHS), "pretrain_batch_size": (None, MAX_BATCH), "pretrain_lr": (None, 1.0),
    "alpha": (None, 100.0), "pseudo_sample_size": (None, 100_000), "classifier_epochs": (None, MAX_EPOCHS),
    "classifier_lr": (None, 10.0), "classifier_batch_size": (None, MAX_BATCH), "classifier_iters": (None, 100),
    "classifier_temperature": (None, 1000.0), "triplet_neighbors": (None, 1000), "triplet_margin": (None, 100.0),
    "triplet_balance": (None, 1e6), "self_training_rounds": (None, 20), "self_training_epochs": (1, MAX_EPOCHS),
    "lambda3": (None, 1e9), "student_epochs": (None, MAX_EPOCHS), "seed": (None, 2**31 - 1),
    "paper_start_steps": (None, 3000),
}
# The data fields that have a range, as rows of the library's parameter table type (sscn_core.params.Param), so
# that one rule (Param.in_range, Param.range_text) bounds them as it bounds the model's fields (ui_param).
DATA_FIELDS: dict[str, Param] = {p.name: p for p in (
    Param("syn_n_clusters", "int", 5, "K (subspaces)", "Subspaces of the synthetic set.", low=2, high=MAX_CLUSTERS),
    Param("syn_subspace_dim", "int", 3, "q (dimension)", "Dimension of each synthetic subspace.", low=1,
          high=MAX_SUBSPACE_DIM),
    Param("ambient_dim", "int", 30, "D (ambient dimension)", "Dimension of the synthetic points.", low=1,
          high=MAX_AMBIENT_DIM),
    Param("noise", "float", 0.01, "noise", "Standard deviation of the synthetic points' noise.", low=0.0, high=10.0),
    Param("holdout_size", "int", 1000, "held-out size", "Points of the held-out set.", low=1, high=MAX_HOLDOUT),
    Param("data_seed", "int", 0, "data seed", "Seeds the training subset and the synthetic set.", low=0,
          high=2**31 - 1),
)}
# Where the explorer's default differs from the library's. The paper's start, trained for comparison beside
# Theorem 1's optimum, gives the loss chart a learning curve to watch (h itself starts at the optimum, so the
# run alone draws one point); it costs about 15 ms a step on 2,000 images and leaves the labels as they are.
APP_DEFAULTS: dict[str, Any] = {"paper_start_steps": 300}
# Parameters with a widget of their own: all but "pretrained", which is part of the auto-encoder choice.
WIDGET_PARAMS: tuple[Param, ...] = tuple(p for p in PARAMETERS if p.name != "pretrained")


def ui_param(name: str) -> Param:
    """The library's row for ``name`` with the app's bounds on top (UI_BOUNDS)."""
    p = PARAMS[name]
    low, high = UI_BOUNDS.get(name, (None, None))
    if low is not None and (p.low is None or low > p.low):
        p = replace(p, low=low, low_open=False)
    if high is not None and (p.high is None or high < p.high):
        p = replace(p, high=high, high_open=False)
    return p


def none_widget_value(p: Param) -> Any:
    """How a widget shows None: 0 in a number box (such rows refuse 0), "" in a text box."""
    return {"int": 0, "float": 0.0, "text": ""}.get(p.kind)


def from_widget(p: Param, value: Any) -> Any:
    """A widget's value as the parameter's: None from its widget form (see none_widget_value), a
    tuple of integers from "256,128" (kept as text when it does not parse)."""
    if p.none is not None and p.kind in ("int", "float", "text") and value == none_widget_value(p):
        return None
    if p.kind == "ints" and isinstance(value, str):
        try:
            return p.parse(value)
        except ValueError:
            return value
    if p.kind == "int" and isinstance(value, (int, float, np.number)) and float(value).is_integer():
        return int(value)
    if p.kind == "float" and isinstance(value, (int, float, np.number)):
        return float(value)
    return value


def to_widget(p: Param, value: Any) -> Any:
    """The parameter's value as its widget holds it (None as none_widget_value, tuples as "256,128")."""
    if value is None and p.none is not None:
        return none_widget_value(p)
    if p.kind == "ints":
        return ",".join(str(v) for v in value)
    return value


for _p in WIDGET_PARAMS:   # 0 must be free to stand for None
    if _p.none is not None and _p.kind in ("int", "float") and _p.in_range(0):
        raise ValueError(f"{_p.name}: 0 is a valid value, so the app cannot show None as 0")
del _p


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of :func:`sscn_core.data.make_subspaces` (points per cluster follow from sizes)."""

    n_clusters: int = 5
    subspace_dim: int = 3
    ambient_dim: int = 30
    noise: float = 0.01
    relation: str = "independent"


@dataclass(frozen=True)
class DataConfig:
    """Which data to train on, how many points, and which held-out set to score."""

    source: str = "mnist"
    n_samples: int = 2000
    holdout: str = "mnist-oos"
    holdout_size: int = 1000
    seed: int = 0
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    upload_path: str | None = None      # a temp file holding the user's upload
    upload_name: str | None = None      # the name the user gave it


def _model_config_fields() -> list[tuple[str, Any, Any]]:
    out = []
    for p in WIDGET_PARAMS:
        default = join_autoencoder(PARAMS["autoencoder"].default, PARAMS["pretrained"].default) \
            if p.name == "autoencoder" else to_widget(p, APP_DEFAULTS.get(p.name, p.default))
        out.append((p.name, Any, field(default=default)))
    return out


# The SSCN hyper-parameters as the sidebar's widgets hold them, one field per row of
# sscn_core.params (defaults from there, or APP_DEFAULTS) except "pretrained": ``autoencoder`` is a key of
# AUTOENCODER_OPTIONS ("pretrained-mnist" = conv + bundled weights), None shows as 0, and a number row that takes
# "auto" (Param.auto: n_clusters) holds "auto" when its switch is on (the sidebar's AUTO_SUFFIX).
ModelConfig = make_dataclass("ModelConfig", _model_config_fields(), frozen=True)
ModelConfig.__module__ = __name__
ModelConfig.__doc__ = "The SSCN hyper-parameters a user can set, as the widgets hold them (see model_params)."


@dataclass(frozen=True)
class AppConfig:
    """Everything the sidebar decides."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)


# ------------------------------------------------------------------------------------------ choices
def pretrained_available(name: str) -> bool:
    """Whether the bundled auto-encoder ``name`` ("mnist" / "fashion-mnist") is on disk."""
    return name in PRETRAINED and (Path(ASSETS_DIR) / PRETRAINED[name]).is_file()


def autoencoder_choices(image_shape: tuple[int, int] | None) -> list[str]:
    """Keys of AUTOENCODER_OPTIONS that fit data of this image shape: the conv auto-encoder needs images,
    bundled weights images of the shape they were trained on (and the file on disk)."""
    keys = []
    for key in AUTOENCODER_OPTIONS:
        parts = split_autoencoder(key)
        if parts["autoencoder"] == "conv" and image_shape is None:
            continue
        if parts["pretrained"] is not None and not (pretrained_available(parts["pretrained"])
                                                    and image_shape == PRETRAINED_SHAPE):
            continue
        keys.append(key)
    return keys


def holdout_choices(source: str, n_total: int | None, n_samples: int) -> list[str]:
    """Held-out sets that make sense for ``source`` (``n_total`` points, ``n_samples`` used)."""
    keys = ["none"]
    if source == "mnist":
        keys.append("mnist-oos")
    elif source == "mnist-oos":
        keys.append("mnist")
    if source == "synthetic" or (n_total is not None and n_total > n_samples):
        keys.append("rest")
    return keys


def preset_for(source: str, *, n_total: int | None, n_classes: int | None, image_shape: tuple[int, int] | None,
               synthetic: SyntheticConfig | None = None) -> dict[str, object]:
    """Starting values of the data fields for a source: how many points to train on, the held-out
    set, and K (the number of classes when the labels are known).

    Keys are DataConfig/ModelConfig field names (n_samples, holdout, holdout_size, n_clusters). Every
    model setting stays at the library's default, which follows the data (:mod:`sscn_core.plan`),
    so the app chooses no setting of its own. At most 2,000 points of a large set train here (a
    quick first run); a set of up to 2,500 trains whole.
    """
    if source == "synthetic":
        s = synthetic or SyntheticConfig()
        return dict(n_samples=100 * s.n_clusters, holdout="rest", holdout_size=50 * s.n_clusters,
                    n_clusters=s.n_clusters)
    k = n_classes if n_classes and n_classes >= 2 else 10
    total = n_total or 2000
    n = min(total, 2000) if total > 2500 else total
    holdout = {"mnist": "mnist-oos", "mnist-oos": "mnist"}.get(source, "rest" if total > n else "none")
    return dict(n_samples=n, holdout=holdout,
                holdout_size=min(1000, max(1, total - n)) if holdout == "rest" else 1000, n_clusters=k)


# ------------------------------------------------------------------------------------------ validation
def _in_range(errors: dict[str, str], name: str, value: float) -> None:
    """Record a problem of the data field ``name`` when ``value`` is outside its row's range (DATA_FIELDS)."""
    p = DATA_FIELDS[name]
    if not (math.isfinite(value) and p.in_range(value)):
        errors[name] = f"{p.label} must be {p.range_text()}; got {value:g}"


def model_params(config: ModelConfig) -> dict[str, Any]:
    """SSCN's keyword arguments for ``config`` (the auto-encoder choice split, 0 back to None)."""
    values = {p.name: from_widget(p, getattr(config, p.name)) for p in WIDGET_PARAMS if p.name != "autoencoder"}
    return {**values, **split_autoencoder(config.autoencoder)}


def _model_problems(m: ModelConfig, *, image_shape: tuple[int, int] | None, n_features: int | None) -> dict[str, str]:
    """Problems of the model fields: the library's rules (sscn_core.params) with the app's bounds,
    for the parameters that have an effect, and whether the data fit the auto-encoder and front-end."""
    errors: dict[str, str] = {}
    if m.autoencoder not in AUTOENCODER_OPTIONS:
        errors["autoencoder"] = f"unknown auto-encoder {m.autoencoder!r}"
    elif m.autoencoder not in autoencoder_choices(image_shape) and n_features is not None:
        shape = "plain vectors" if image_shape is None else "{}×{} images".format(*image_shape)
        need = "{}×{} images".format(*PRETRAINED_SHAPE) if m.autoencoder.startswith("pretrained-") else "images"
        errors["autoencoder"] = f"{AUTOENCODER_OPTIONS[m.autoencoder]} needs {need}; this data is {shape}"
    if m.frontend == "scattering" and n_features is not None and image_shape is None:
        errors["frontend"] = "the scattering front-end reads images; this data is plain vectors"
    values = None if "autoencoder" in errors else model_params(m)
    for p in WIDGET_PARAMS:
        if p.name in errors or p.name == "autoencoder" or (values is not None and not p.used(values)):
            continue
        value = from_widget(p, getattr(m, p.name))
        if p.auto is not None and value == AUTO:      # the switch beside the number: nothing to check
            continue
        # The number box holds only numbers ("auto" is its switch), so its message names only the numbers.
        message = replace(ui_param(p.name), auto=None).problem(
            value, who=p.label, none_as=repr(none_widget_value(p)) if p.kind == "text" else "0")
        if message is not None:
            errors[p.name] = message
    for name, message in (problems(values) if values is not None else {}).items():
        errors.setdefault("autoencoder" if name == "pretrained" else name, message)
    return errors


def largest_estimated_k(n_samples: int) -> int:
    """The largest K that ``n_clusters="auto"`` may keep on ``n_samples`` training points (its last candidate on
    the sample it searches, :func:`sscn_core.cluster_count.candidate_counts`)."""
    return candidate_counts(min(max(int(n_samples), 0), COUNT_SAMPLE))[-1]


def validate(config: AppConfig, *, n_available: int | None, n_features: int | None,
             image_shape: tuple[int, int] | None) -> dict[str, str]:
    """Problems with ``config`` as {field name: message}; empty when it can be trained.

    ``n_available``, ``n_features`` and ``image_shape`` describe the chosen source (None when it
    could not be loaded). Field names are those of DataConfig/ModelConfig/SyntheticConfig.
    """
    d, m, errors = config.data, config.model, {}
    if d.source not in SOURCES:
        errors["source"] = f"unknown data source {d.source!r}; choose one of {', '.join(SOURCES)}"
    if d.source == "upload" and d.upload_path is None:
        errors["upload"] = "upload a .npz, .npy or .zip file first"
    if d.source == "synthetic":
        s = d.synthetic
        _in_range(errors, "syn_n_clusters", s.n_clusters)
        _in_range(errors, "syn_subspace_dim", s.subspace_dim)
        _in_range(errors, "ambient_dim", s.ambient_dim)
        _in_range(errors, "noise", s.noise)
        if s.relation not in RELATIONS:
            errors["relation"] = f"relation must be one of {', '.join(RELATIONS)}; got {s.relation!r}"
        elif not errors:
            try:
                make_subspace_bases(s.n_clusters, s.subspace_dim, s.ambient_dim, s.relation, seed=d.seed)
            except DataError as exc:
                errors["relation"] = str(exc)
        if d.n_samples > MAX_SYNTHETIC_POINTS:
            errors["n_samples"] = f"at most {MAX_SYNTHETIC_POINTS:,} synthetic points; got {d.n_samples:,}"
    # An upload that is missing or failed to load (its own error says why) has no sizes to check yet.
    waiting_for_upload = d.source == "upload" and (d.upload_path is None or n_available is None)
    k_from_data = m.n_clusters == AUTO
    if waiting_for_upload:
        pass
    elif k_from_data and d.n_samples < 2 * COUNT_MIN_POINTS:
        errors["n_samples"] = (f"K from the data needs at least {2 * COUNT_MIN_POINTS} training points; "
                               f"got {d.n_samples}")
    elif not k_from_data and d.n_samples < 2 * m.n_clusters:
        errors["n_samples"] = f"need at least 2·K = {2 * m.n_clusters} training points; got {d.n_samples}"
    elif n_available is not None and d.source != "synthetic" and d.n_samples > n_available:
        errors["n_samples"] = f"the data set has {n_available:,} points; got {d.n_samples:,}"
    if d.holdout not in HOLDOUTS:
        errors["holdout"] = f"unknown held-out set {d.holdout!r}"
    elif d.holdout == "rest" and n_available is not None and d.source != "synthetic" and d.n_samples >= n_available:
        errors["holdout"] = "no points are left for a held-out set: lower the training-set size"
    if d.holdout != "none":
        _in_range(errors, "holdout_size", d.holdout_size)

    errors.update(_model_problems(m, image_shape=image_shape, n_features=n_features))
    q = m.subspace_dim or Q_MAX          # 0 = from the data: at most Q_MAX
    # K from the data: the largest K the estimate may keep on this many points (the worst case for H's width).
    k = largest_estimated_k(d.n_samples) if k_from_data else m.n_clusters
    if "n_clusters" not in errors and "subspace_dim" not in errors and k * q > MAX_EMBED_DIM:
        errors["subspace_dim"] = (f"K from the data may reach {k} here, so K·q may reach {k * q}, the width of H; at "
                                  f"most {MAX_EMBED_DIM} here: lower q or give K" if k_from_data else
                                  f"K·q = {k * q} is the width of H; at most {MAX_EMBED_DIM} here")
    if "batch_size" not in errors and "n_samples" not in errors and not waiting_for_upload \
            and m.batch_size > d.n_samples:
        errors["batch_size"] = f"the batch size ({m.batch_size}) is larger than the training set ({d.n_samples})"
    _in_range(errors, "data_seed", d.seed)
    return errors


# ------------------------------------------------------------------------------------------ loading
def load_source(source: str, *, seed: int = 0, synthetic: SyntheticConfig | None = None, n_synthetic: int = 0,
                upload_path: str | None = None) -> Dataset:
    """The whole data set behind ``source`` (synthetic: ``n_synthetic`` points). Raises DataError."""
    if source == "synthetic":
        s = synthetic or SyntheticConfig()
        per_cluster = max(1, math.ceil(n_synthetic / s.n_clusters))
        return load_dataset("synthetic", seed=seed, n_clusters=s.n_clusters, subspace_dim=s.subspace_dim,
                            ambient_dim=s.ambient_dim, n_per_cluster=per_cluster, noise=float(s.noise),
                            relation=s.relation)
    if source == "upload":
        if upload_path is None:
            raise DataError("no file uploaded yet")
        return load_dataset("file", path=upload_path)
    if source == "fashion-mnist":
        return load_dataset("fashion-mnist", download=False)
    if source in ("mnist", "mnist-oos", "digits", "yaleb"):
        return load_dataset(source)
    raise DataError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")


def split(full: Dataset, n_train: int, n_holdout: int, seed: int) -> tuple[Dataset, Dataset | None]:
    """A seeded random training subset of ``n_train`` points and, from the rest, ``n_holdout`` more.

    Both keep the data set's order. ``n_holdout`` is cut to what is left; 0 gives no held-out set.
    """
    if not 1 <= n_train <= len(full):
        raise DataError(f"the training-set size must be in [1, {len(full):,}]; got {n_train:,}")
    order = np.random.default_rng(seed).permutation(len(full))
    train = full.subset(np.sort(order[:n_train]))
    rest = order[n_train:n_train + max(0, n_holdout)]
    return train, (full.subset(np.sort(rest)) if rest.size else None)


def load_data(config: DataConfig) -> tuple[Dataset, Dataset | None]:
    """The training set and the held-out set (or None) that ``config`` asks for. Raises DataError."""
    extra = config.holdout_size if config.holdout == "rest" else 0
    full = load_source(config.source, seed=config.seed, synthetic=config.synthetic,
                       n_synthetic=config.n_samples + extra, upload_path=config.upload_path)
    if config.source == "synthetic" and len(full) < config.n_samples + extra:
        raise DataError(f"the synthetic set has {len(full)} points, fewer than asked")
    train, rest = split(full, min(config.n_samples, len(full)), extra, config.seed)
    if config.holdout in ("mnist", "mnist-oos"):
        other = load_dataset(config.holdout)
        n = min(config.holdout_size, len(other))
        return train, split(other, n, 0, config.seed)[0]
    return train, rest if config.holdout == "rest" else None


def build_model(config: ModelConfig, image_shape: tuple[int, int] | None = None) -> SSCN:
    """An unfitted SSCN with these settings (validation of values happens in ``fit``).

    ``image_shape``: the training images' (height, width), a fact of the data (not a setting),
    used unless the user gave one; every setting left at its default follows the data in ``fit``.
    """
    params = model_params(config)
    if params["image_shape"] is None:
        params["image_shape"] = image_shape
    return SSCN(**params)


def with_model(config: AppConfig, **changes: object) -> AppConfig:
    """A copy of ``config`` with some ModelConfig fields changed."""
    return replace(config, model=replace(config.model, **changes))
