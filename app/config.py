"""Typed settings of the explorer, their validation, and the translation into sscn_core calls.

Everything here is plain Python (no Streamlit): the sidebar fills a :class:`AppConfig`,
:func:`validate` returns the problems per field, :func:`load_data` and :func:`build_model` turn a
valid configuration into a training set, a held-out set and an unfitted :class:`~sscn_core.SSCN`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sscn_core import SSCN, Dataset, DataError, load_dataset
from sscn_core.data import make_subspace_bases
from sscn_core.estimator import ASSETS_DIR, PRETRAINED

# Data sources shown in the sidebar, in order: key -> label.
SOURCES: dict[str, str] = {
    "mnist": "MNIST (bundled, 10k test digits)",
    "mnist-oos": "MNIST out-of-sample (10k training digits)",
    "fashion-mnist": "Fashion-MNIST",
    "digits": "8×8 digits (scikit-learn)",
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
# Auto-encoder choices: key -> label.
AUTOENCODERS: dict[str, str] = {
    "pretrained-mnist": "Conv, pre-trained on MNIST (bundled)",
    "pretrained-fashion-mnist": "Conv, pre-trained on Fashion-MNIST",
    "conv": "Conv, trained here",
    "mlp": "MLP, trained here",
    "none": "None (linear model: Z = X)",
}
RELATIONS = ("independent", "dependent", "overlapping")
FRONTENDS: dict[str, str] = {"pixels": "Pixels (the data as given)",
                             "scattering": "Wavelet scattering + PCA (28×28 images)"}
# Beyond the paper (see sscn_core.SSCN): key -> label; the first key is the paper's choice.
H_INITS: dict[str, str] = {"random": "Random (Xavier, the paper)",
                           "closed_form": "Theorem 1's optimum (closed form)"}
CLASSIFIER_LOSSES: dict[str, str] = {"cross_entropy": "Cross-entropy on spectral pseudo-labels (the paper)",
                                     "triplet": "Triplet loss from Q's neighbours (no pseudo-labels)"}

MAX_CLUSTERS = 50
MAX_SUBSPACE_DIM = 50
MAX_EMBED_DIM = 2000          # d_H = K·q
MAX_EPOCHS = 1000
MAX_HOLDOUT = 10_000
MAX_SYNTHETIC_POINTS = 20_000
MAX_AMBIENT_DIM = 2000
MAX_TEMPERATURE = 1000.0
MAX_PSEUDO_SAMPLE = 100_000
MAX_SELF_TRAINING_ROUNDS = 20
MAX_LAMBDA3 = 1e9


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of :func:`sscn_core.data.make_subspaces` (points per cluster follow from sizes)."""

    n_clusters: int = 5
    subspace_dim: int = 3
    ambient_dim: int = 30
    noise: float = 0.0
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


@dataclass(frozen=True)
class ModelConfig:
    """The SSCN hyper-parameters a user can set."""

    n_clusters: int = 10
    subspace_dim: int = 9
    autoencoder: str = "pretrained-mnist"
    frontend: str = "pixels"
    lambda1: float = 0.5
    lambda2: float = 1.0
    batch_size: int = 500
    epochs: int = 10
    lr: float = 1e-3
    pretrain_epochs: int = 50
    classifier_epochs: int = 10
    classifier_lr: float = 0.1
    rho: float = 0.1
    alpha: float = 8.0
    seed: int = 0
    device: str = "auto"
    # Beyond the paper; the defaults are the paper's method.
    h_init: str = "random"
    classifier_temperature: float = 0.0     # 0 = the paper's logits (SSCN's None)
    classifier_loss: str = "cross_entropy"
    pseudo_sample_size: int = 0             # 0 = post-process all training points (SSCN's None)
    self_training_rounds: int = 0
    self_training_epochs: int = 5
    lambda3: float = 1.0


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
    """Auto-encoders that fit data of this image shape (conv ones need 28×28 images)."""
    keys: list[str] = []
    if image_shape == (28, 28):
        keys += [f"pretrained-{n}" for n in ("mnist", "fashion-mnist") if pretrained_available(n)]
        keys.append("conv")
    return keys + ["mlp", "none"]


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
    """Starting values for a data source that train in well under a minute on a 2-core CPU.

    Keys are DataConfig/ModelConfig field names (n_samples, holdout, holdout_size, n_clusters,
    subspace_dim, autoencoder, batch_size, epochs, lr, classifier_epochs).
    """
    if source == "synthetic":
        s = synthetic or SyntheticConfig()
        return dict(n_samples=100 * s.n_clusters, holdout="rest", holdout_size=50 * s.n_clusters,
                    n_clusters=s.n_clusters, subspace_dim=s.subspace_dim, autoencoder="none", batch_size=100,
                    epochs=100, lr=1e-2, classifier_epochs=30)
    k = n_classes if n_classes and n_classes >= 2 else 10
    total = n_total or 2000
    n = min(total, 2000) if total > 2500 else max(2 * k, int(total * 0.7))
    choices = autoencoder_choices(image_shape)
    if source == "fashion-mnist" and "pretrained-fashion-mnist" in choices:
        ae = "pretrained-fashion-mnist"
    elif "pretrained-mnist" in choices:
        ae = "pretrained-mnist"
    else:
        ae = "none"   # on small vectors (8×8 digits) the linear model beats a briefly trained MLP
    holdout = {"mnist": "mnist-oos", "mnist-oos": "mnist"}.get(source, "rest" if total > n else "none")
    image = image_shape == (28, 28)
    return dict(n_samples=n, holdout=holdout, holdout_size=min(1000, max(1, total - n)) if holdout == "rest" else 1000,
                n_clusters=k, subspace_dim=9 if image else 5, autoencoder=ae, batch_size=min(500, n),
                epochs=10 if image else 100, lr=1e-3, classifier_epochs=10 if image else 30)


# ------------------------------------------------------------------------------------------ validation
def _in_range(errors: dict[str, str], name: str, value: float, low: float, high: float, what: str,
              *, low_open: bool = False) -> None:
    ok = (value > low if low_open else value >= low) and value <= high and math.isfinite(value)
    if not ok:
        left = "(" if low_open else "["
        errors[name] = f"{what} must be in {left}{low:g}, {high:g}]; got {value:g}"


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
        _in_range(errors, "syn_n_clusters", s.n_clusters, 2, MAX_CLUSTERS, "K (subspaces)")
        _in_range(errors, "syn_subspace_dim", s.subspace_dim, 1, MAX_SUBSPACE_DIM, "q (dimension)")
        _in_range(errors, "ambient_dim", s.ambient_dim, 1, MAX_AMBIENT_DIM, "D (ambient dimension)")
        _in_range(errors, "noise", s.noise, 0.0, 10.0, "noise")
        if s.relation not in RELATIONS:
            errors["relation"] = f"relation must be one of {', '.join(RELATIONS)}; got {s.relation!r}"
        elif not errors:
            try:
                make_subspace_bases(s.n_clusters, s.subspace_dim, s.ambient_dim, s.relation, seed=d.seed)
            except DataError as exc:
                errors["relation"] = str(exc)
        if d.n_samples > MAX_SYNTHETIC_POINTS:
            errors["n_samples"] = f"at most {MAX_SYNTHETIC_POINTS:,} synthetic points; got {d.n_samples:,}"
    waiting_for_upload = d.source == "upload" and d.upload_path is None
    if waiting_for_upload:
        pass   # sizes are checked once the file is there
    elif d.n_samples < 2 * m.n_clusters:
        errors["n_samples"] = f"need at least 2·K = {2 * m.n_clusters} training points; got {d.n_samples}"
    elif n_available is not None and d.source != "synthetic" and d.n_samples > n_available:
        errors["n_samples"] = f"the data set has {n_available:,} points; got {d.n_samples:,}"
    if d.holdout not in HOLDOUTS:
        errors["holdout"] = f"unknown held-out set {d.holdout!r}"
    elif d.holdout == "rest" and n_available is not None and d.source != "synthetic" and d.n_samples >= n_available:
        errors["holdout"] = "no points are left for a held-out set: lower the training-set size"
    if d.holdout != "none":
        _in_range(errors, "holdout_size", d.holdout_size, 1, MAX_HOLDOUT, "held-out size")

    _in_range(errors, "n_clusters", m.n_clusters, 2, MAX_CLUSTERS, "K (clusters)")
    _in_range(errors, "subspace_dim", m.subspace_dim, 1, MAX_SUBSPACE_DIM, "q (subspace dimension)")
    if "n_clusters" not in errors and "subspace_dim" not in errors and m.n_clusters * m.subspace_dim > MAX_EMBED_DIM:
        errors["subspace_dim"] = (f"K·q = {m.n_clusters * m.subspace_dim} is the width of H; at most "
                                  f"{MAX_EMBED_DIM} here")
    if m.autoencoder not in AUTOENCODERS:
        errors["autoencoder"] = f"unknown auto-encoder {m.autoencoder!r}"
    elif m.autoencoder not in autoencoder_choices(image_shape) and n_features is not None:
        errors["autoencoder"] = (f"{AUTOENCODERS[m.autoencoder]} needs 28×28 images; this data has "
                                 f"{n_features} features per point")
    if m.frontend not in FRONTENDS:
        errors["frontend"] = f"unknown front-end {m.frontend!r}; choose one of {', '.join(FRONTENDS)}"
    elif m.frontend == "scattering":
        if image_shape is not None and image_shape != (28, 28):
            h, w = image_shape
            errors["frontend"] = f"the scattering front-end reads 28×28 images; this data is {h}×{w}"
        elif image_shape is None and n_features is not None:
            errors["frontend"] = "the scattering front-end reads 28×28 images; this data is plain vectors"
        elif m.autoencoder not in ("mlp", "none"):
            errors["frontend"] = ("with the scattering front-end choose the MLP auto-encoder or none "
                                  "(the conv one reads pixels)")
    _in_range(errors, "lambda1", m.lambda1, 0.0, 1e6, "λ1")
    _in_range(errors, "lambda2", m.lambda2, 0.0, 1e6, "λ2")
    _in_range(errors, "batch_size", m.batch_size, 2, 100_000, "batch size")
    if "batch_size" not in errors and "n_samples" not in errors and not waiting_for_upload \
            and m.batch_size > d.n_samples:
        errors["batch_size"] = f"the batch size ({m.batch_size}) is larger than the training set ({d.n_samples})"
    _in_range(errors, "epochs", m.epochs, 1, MAX_EPOCHS, "epochs")
    _in_range(errors, "lr", m.lr, 0.0, 1.0, "learning rate", low_open=True)
    if m.autoencoder in ("conv", "mlp"):
        _in_range(errors, "pretrain_epochs", m.pretrain_epochs, 0, MAX_EPOCHS, "pre-training epochs")
    _in_range(errors, "classifier_epochs", m.classifier_epochs, 0, MAX_EPOCHS, "classifier epochs")
    _in_range(errors, "classifier_lr", m.classifier_lr, 0.0, 10.0, "classifier learning rate", low_open=True)
    _in_range(errors, "rho", m.rho, 0.0, 1.0, "ρ", low_open=True)
    _in_range(errors, "alpha", m.alpha, 0.0, 100.0, "α", low_open=True)
    if m.h_init not in H_INITS:
        errors["h_init"] = f"unknown start for h {m.h_init!r}; choose one of {', '.join(H_INITS)}"
    _in_range(errors, "classifier_temperature", m.classifier_temperature, 0.0, MAX_TEMPERATURE,
              "classifier temperature τ (0 = the paper's logits)")
    if m.classifier_loss not in CLASSIFIER_LOSSES:
        errors["classifier_loss"] = (f"unknown classifier loss {m.classifier_loss!r}; choose one of "
                                     f"{', '.join(CLASSIFIER_LOSSES)}")
    if m.pseudo_sample_size != 0 and "n_clusters" not in errors:
        low = 2 * m.n_clusters
        if not (low <= m.pseudo_sample_size <= MAX_PSEUDO_SAMPLE and math.isfinite(m.pseudo_sample_size)):
            errors["pseudo_sample_size"] = (f"pseudo-label sample must be 0 (all points) or in [2·K = {low}, "
                                            f"{MAX_PSEUDO_SAMPLE:,}]; got {m.pseudo_sample_size:g}")
    _in_range(errors, "self_training_rounds", m.self_training_rounds, 0, MAX_SELF_TRAINING_ROUNDS,
              "self-training rounds")
    _in_range(errors, "self_training_epochs", m.self_training_epochs, 1, MAX_EPOCHS, "self-training epochs")
    _in_range(errors, "lambda3", m.lambda3, 0.0, MAX_LAMBDA3, "λ3")
    _in_range(errors, "seed", m.seed, 0, 2**31 - 1, "seed")
    _in_range(errors, "data_seed", d.seed, 0, 2**31 - 1, "data seed")
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
    if source in ("mnist", "mnist-oos", "digits"):
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


def build_model(config: ModelConfig) -> SSCN:
    """An unfitted SSCN with these settings (validation of values happens in ``fit``).

    A classifier temperature of 0 and a pseudo-label sample of 0 become SSCN's None (the paper).
    """
    ae = config.autoencoder
    pretrained = ae.removeprefix("pretrained-") if ae.startswith("pretrained-") else None
    autoencoder = "conv" if ae.startswith("pretrained-") or ae == "conv" else (None if ae == "none" else ae)
    return SSCN(n_clusters=int(config.n_clusters), subspace_dim=int(config.subspace_dim), autoencoder=autoencoder,
                frontend=config.frontend, pretrained=pretrained, lambda1=float(config.lambda1),
                lambda2=float(config.lambda2),
                batch_size=int(config.batch_size), epochs=int(config.epochs), lr=float(config.lr),
                pretrain_epochs=int(config.pretrain_epochs), classifier_epochs=int(config.classifier_epochs),
                classifier_lr=float(config.classifier_lr), classifier_batch_size=int(config.batch_size),
                rho=float(config.rho), alpha=float(config.alpha), device=config.device, seed=int(config.seed),
                h_init=config.h_init,
                classifier_temperature=float(config.classifier_temperature) if config.classifier_temperature else None,
                classifier_loss=config.classifier_loss,
                pseudo_sample_size=int(config.pseudo_sample_size) if config.pseudo_sample_size else None,
                self_training_rounds=int(config.self_training_rounds),
                self_training_epochs=int(config.self_training_epochs), lambda3=float(config.lambda3))


def with_model(config: AppConfig, **changes: object) -> AppConfig:
    """A copy of ``config`` with some ModelConfig fields changed."""
    return replace(config, model=replace(config.model, **changes))
