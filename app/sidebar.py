"""The settings form in the sidebar: data, model, training. Returns a typed, validated config.

Widget values live in ``st.session_state`` under keys "cfg.<field>". Choosing a data source
(or uploading a file, or changing the synthetic K and q) fills in starting values that suit it
(:func:`app.config.preset_for`). Problems are shown right under the widget concerned.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st
import torch

from sscn_core import DataError

from .config import (AUTOENCODERS, CLASSIFIER_LOSSES, FRONTENDS, H_INITS, HOLDOUTS, MAX_SYNTHETIC_POINTS, RELATIONS,
                     SOURCES, AppConfig, DataConfig, ModelConfig, SyntheticConfig, autoencoder_choices, holdout_choices,
                     preset_for, validate)
from .runtime import fashion_mnist_available, session_state, source_dataset

P = "cfg."   # widget key prefix


@dataclass(frozen=True)
class SourceInfo:
    """What the chosen data source holds (all None when it could not be loaded)."""

    n_total: int | None = None
    n_features: int | None = None
    image_shape: tuple[int, int] | None = None
    class_names: tuple[str, ...] | None = None
    n_classes: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class SidebarResult:
    """The sidebar's outcome: the config, its problems per field, and facts about the data."""

    config: AppConfig
    errors: dict[str, str]
    info: SourceInfo

    @property
    def ok(self) -> bool:
        """Whether training can start with this config."""
        return not self.errors and self.info.error is None


def _get(name: str, default: Any = None) -> Any:
    return st.session_state.get(P + name, default)


def _set(name: str, value: Any) -> None:
    st.session_state[P + name] = value


def available_sources() -> list[str]:
    """Data sources to offer (Fashion-MNIST only when it is on this machine)."""
    return [s for s in SOURCES if s != "fashion-mnist" or fashion_mnist_available()]


def devices() -> list[str]:
    """"auto", "cpu", and "cuda" when a CUDA GPU is present."""
    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _data_config_from_state() -> DataConfig:
    synthetic = SyntheticConfig(int(_get("syn_n_clusters", 5)), int(_get("syn_subspace_dim", 3)),
                                int(_get("ambient_dim", 30)), float(_get("noise", 0.01)),
                                str(_get("relation", "independent")))
    return DataConfig(source=_get("source", "mnist"), n_samples=int(_get("n_samples", 2000)),
                      holdout=_get("holdout", "none"), holdout_size=int(_get("holdout_size", 1000)),
                      seed=int(_get("data_seed", 0)), synthetic=synthetic, upload_path=_get("upload_path"),
                      upload_name=_get("upload_name"))


def source_info(config: DataConfig) -> SourceInfo:
    """Load (cached) the chosen source and describe it; a DataError becomes ``info.error``."""
    if config.source == "upload" and config.upload_path is None:
        return SourceInfo()
    try:
        ds = source_dataset(config)
    except DataError as exc:
        return SourceInfo(error=str(exc))
    n_classes = len(set(ds.y.tolist())) if ds.y is not None else None
    return SourceInfo(len(ds), ds.n_features, ds.image_shape, ds.class_names, n_classes)


def apply_preset() -> None:
    """Fill the model and size fields with the chosen source's starting values (a widget callback)."""
    config = _data_config_from_state()
    info = source_info(config)
    if info.error is not None and config.source != "synthetic":
        return
    preset = preset_for(config.source, n_total=info.n_total, n_classes=info.n_classes, image_shape=info.image_shape,
                        synthetic=config.synthetic)
    for name, value in preset.items():
        _set(name, value)


def _on_upload() -> None:
    upload = _get("upload")
    if upload is None:
        _set("upload_path", None)
        _set("upload_name", None)
        return
    path = session_state().save_upload(upload.name, upload.getvalue())
    _set("upload_path", str(path))
    _set("upload_name", upload.name)
    apply_preset()


# The "Beyond the paper" fields start at ModelConfig's defaults (the paper's method).
BEYOND_DEFAULTS: dict[str, Any] = {
    name: getattr(ModelConfig(), name)
    for name in ("h_init", "classifier_temperature", "classifier_loss", "pseudo_sample_size", "self_training_rounds",
                 "self_training_epochs", "lambda3")}


def init_defaults() -> None:
    """First run of a session: MNIST with its preset."""
    if _get("source") is not None:
        return
    defaults = dict(source="mnist", data_seed=0, syn_n_clusters=5, syn_subspace_dim=3, ambient_dim=30, noise=0.01,
                    relation="independent", frontend="pixels", lambda1=0.5, lambda2=1.0, seed=0, device="auto",
                    pretrain_epochs=50,
                    classifier_lr=0.1, rho=0.1, alpha=8.0, upload_path=None, upload_name=None,
                    **BEYOND_DEFAULTS)
    for name, value in defaults.items():
        _set(name, value)
    apply_preset()


class _Slots:
    """Placeholders under widgets, filled with error messages once the whole form is known."""

    def __init__(self) -> None:
        self.slots: dict[str, Any] = {}

    def add(self, *names: str) -> None:
        holder = st.empty()
        for name in names:
            self.slots[name] = holder

    def show(self, errors: dict[str, str]) -> list[str]:
        """Write each error under its widget; return the messages that have no widget."""
        grouped: dict[int, list[str]] = {}
        holders: dict[int, Any] = {}
        loose = []
        for name, message in errors.items():
            holder = self.slots.get(name)
            if holder is None:
                loose.append(message)
                continue
            grouped.setdefault(id(holder), []).append(message)
            holders[id(holder)] = holder
        for key, messages in grouped.items():
            holders[key].error("  \n".join(messages), icon="⚠️")
        return loose


def _number(label: str, name: str, slots: _Slots, *, integer: bool = False, step: float | None = None,
            fmt: str | None = None, help: str | None = None, on_change: Callable[[], None] | None = None) -> Any:
    value = st.number_input(label, key=P + name, step=step if step is not None else (1 if integer else None),
                            format=fmt if fmt else ("%d" if integer else None), help=help, on_change=on_change)
    slots.add(name)
    return int(value) if integer and value is not None else value


def render() -> SidebarResult:
    """Draw the settings and return the config with its problems."""
    init_defaults()
    slots = _Slots()
    sources = available_sources()
    if _get("source") not in sources:
        _set("source", sources[0])
    with st.sidebar:
        st.header("Data")
        source = st.selectbox("Data set", sources, format_func=SOURCES.get, key=P + "source", on_change=apply_preset,
                              help="Fashion-MNIST is listed when it is found on this machine "
                                   "(FASHION_MNIST_DIR, Debian's dataset package or the cache).")
        slots.add("source")
        if source == "upload":
            st.file_uploader("Data file", type=["npz", "npy", "zip"], key=P + "upload", on_change=_on_upload,
                             help="An .npz/.npy array (rows = samples; optional labels y), or a .zip of images "
                                  "whose sub-folder names are the labels.")
            slots.add("upload")
        if source == "synthetic":
            c1, c2 = st.columns(2)
            with c1:
                _number("K subspaces", "syn_n_clusters", slots, integer=True, on_change=apply_preset)
                _number("D ambient dim.", "ambient_dim", slots, integer=True)
            with c2:
                _number("q dimension", "syn_subspace_dim", slots, integer=True, on_change=apply_preset)
                _number("noise σ", "noise", slots, step=0.01, fmt="%.3f")
            st.selectbox("Relation", RELATIONS, key=P + "relation",
                         help="independent: dim(union) = K·q; dependent: pairwise trivial intersections but "
                              "dim(union) < K·q; overlapping: neighbours share a direction.")
            slots.add("relation", "syn_n_clusters", "syn_subspace_dim")

        data_config = _data_config_from_state()
        info = source_info(data_config)
        slots.add("data")
        n_max = MAX_SYNTHETIC_POINTS if source == "synthetic" else (info.n_total or 10)
        n_min = min(10, n_max)
        # Set it even when no slider is drawn (a source that failed to load): Streamlit drops the state
        # of a widget that a run does not draw, and the next run would find no size at all.
        _set("n_samples", max(n_min, min(int(_get("n_samples", n_min)), n_max)))
        if n_max > n_min:
            st.slider("Training-set size", n_min, n_max, key=P + "n_samples", step=10 if n_max >= 100 else 1,
                      help="A random subset; about 2,000 MNIST digits train in well under a minute on 2 CPU cores.")
        slots.add("n_samples")
        holdouts = holdout_choices(source, info.n_total, int(_get("n_samples")))
        if _get("holdout") not in holdouts:
            _set("holdout", holdouts[-1] if "rest" in holdouts and source != "mnist" else holdouts[0])
        c1, c2 = st.columns([3, 2])
        with c1:
            holdout = st.selectbox("Held-out set", holdouts, format_func=HOLDOUTS.get, key=P + "holdout",
                                   help="Points never used in training, scored with predict() (inductive).")
            slots.add("holdout")
        with c2:
            if holdout != "none":
                _number("size", "holdout_size", slots, integer=True, step=100)
        _number("Data seed", "data_seed", slots, integer=True)

        st.header("Model")
        c1, c2 = st.columns(2)
        with c1:
            _number("K clusters", "n_clusters", slots, integer=True)
        with c2:
            _number("q subspace dim.", "subspace_dim", slots, integer=True, help="H has K·q columns.")
        aes = autoencoder_choices(info.image_shape)
        if _get("autoencoder") not in aes:
            _set("autoencoder", aes[0])
        ae = st.selectbox("Auto-encoder", aes, format_func=AUTOENCODERS.get, key=P + "autoencoder")
        slots.add("autoencoder")
        c1, c2 = st.columns(2)
        with c1:
            _number("λ1 self-expr.", "lambda1", slots, step=0.1, fmt="%.3g")
            _number("Batch size", "batch_size", slots, integer=True, step=50)
            _number("Learning rate", "lr", slots, step=1e-4, fmt="%.1e")
        with c2:
            _number("λ2 reconstr.", "lambda2", slots, step=0.1, fmt="%.3g")
            _number("Epochs", "epochs", slots, integer=True)
            _number("Seed", "seed", slots, integer=True)
        device_options = devices()
        if _get("device") not in device_options:
            _set("device", "auto")
        st.selectbox("Device", device_options, key=P + "device",
                     help="auto = a CUDA GPU when present, else the CPU.")
        with st.expander("More settings"):
            if info.image_shape == (28, 28):
                st.selectbox("Front-end", list(FRONTENDS), format_func=FRONTENDS.get, key=P + "frontend",
                             help="Scattering: fixed wavelet features of the images, reduced by PCA; use it with "
                                  "the MLP auto-encoder or none.")
                slots.add("frontend")
            elif _get("frontend") != "pixels":
                _set("frontend", "pixels")
            if ae in ("conv", "mlp"):
                _number("Pre-training epochs", "pretrain_epochs", slots, integer=True,
                        help="Auto-encoder reconstruction only, before self-expression.")
            _number("Classifier epochs", "classifier_epochs", slots, integer=True)
            _number("Classifier learning rate", "classifier_lr", slots, step=0.01, fmt="%.3g")
            _number("ρ (kept mass per column)", "rho", slots, step=0.05, fmt="%.2f",
                    help="Post-processing keeps, per column of |Q|, the largest entries up to this share of its mass.")
            _number("α (affinity power)", "alpha", slots, step=1.0, fmt="%.1f")
            _beyond_the_paper(slots)

        result = read()
        for message in slots.show(result.errors):
            st.error(message, icon="⚠️")
    return result


def _beyond_the_paper(slots: _Slots) -> None:
    """Options of sscn_core.SSCN that the paper does not have; their defaults keep the paper's method."""
    for name, value in BEYOND_DEFAULTS.items():   # a session started before these widgets existed
        if _get(name) is None:
            _set(name, value)
    st.caption("**Beyond the paper** (the defaults are the paper's method)")
    st.selectbox("Initial h", list(H_INITS), format_func=H_INITS.get, key=P + "h_init",
                 help="Start h at Theorem 1's optimum for the starting encoder instead of at random; it suits the "
                      "linear model (no auto-encoder), less an encoder that is still trained.")
    slots.add("h_init")
    st.selectbox("Classifier loss", list(CLASSIFIER_LOSSES), format_func=CLASSIFIER_LOSSES.get,
                 key=P + "classifier_loss",
                 help="Triplet: the classifier learns from each point's largest |Q| neighbours; no spectral "
                      "clustering and no pseudo-labels.")
    slots.add("classifier_loss")
    _number("Classifier temperature τ", "classifier_temperature", slots, step=1.0, fmt="%.3g",
            help="0 = the paper's logits; τ > 0: the classifier reads unit rows of H and multiplies its logits by τ "
                 "(e.g. 20).")
    _number("Pseudo-label sample", "pseudo_sample_size", slots, integer=True, step=500,
            help="0 = all training points; m = post-process (and train the classifier on) a uniform sample of m "
                 "points, so memory stays flat as N grows.")
    c1, c2 = st.columns(2)
    with c1:
        _number("Self-training rounds", "self_training_rounds", slots, integer=True,
                help="0 = none. Each round trains encoder, h and R jointly on the classifier's confident labels.")
        _number("λ3 self-training", "lambda3", slots, step=0.1, fmt="%.3g",
                help="Weight of the classifier's cross-entropy in self-training.")
    with c2:
        _number("Epochs per round", "self_training_epochs", slots, integer=True)


def read() -> SidebarResult:
    """The config as the widgets hold it now, validated (no drawing).

    Button callbacks call this rather than keep the result of the run that drew the button: a
    widget edited just before the click reaches the server together with the click.
    """
    config = AppConfig(data=_data_config_from_state(), model=_model_config_from_state())
    info = source_info(config.data)
    errors = validate(config, n_available=info.n_total, n_features=info.n_features, image_shape=info.image_shape)
    if info.error is not None and not (config.data.source == "synthetic" and errors):   # else the fields say it
        errors["data"] = f"Could not load the data: {info.error}"
    return SidebarResult(config, errors, info)


def _model_config_from_state() -> ModelConfig:
    return ModelConfig(
        n_clusters=int(_get("n_clusters")), subspace_dim=int(_get("subspace_dim")), autoencoder=_get("autoencoder"),
        frontend=_get("frontend", "pixels"),
        lambda1=float(_get("lambda1")), lambda2=float(_get("lambda2")), batch_size=int(_get("batch_size")),
        epochs=int(_get("epochs")), lr=float(_get("lr")), pretrain_epochs=int(_get("pretrain_epochs")),
        classifier_epochs=int(_get("classifier_epochs")), classifier_lr=float(_get("classifier_lr")),
        rho=float(_get("rho")), alpha=float(_get("alpha")), seed=int(_get("seed")), device=_get("device"),
        h_init=_get("h_init", BEYOND_DEFAULTS["h_init"]),
        classifier_temperature=float(_get("classifier_temperature", BEYOND_DEFAULTS["classifier_temperature"])),
        classifier_loss=_get("classifier_loss", BEYOND_DEFAULTS["classifier_loss"]),
        pseudo_sample_size=int(_get("pseudo_sample_size", BEYOND_DEFAULTS["pseudo_sample_size"])),
        self_training_rounds=int(_get("self_training_rounds", BEYOND_DEFAULTS["self_training_rounds"])),
        self_training_epochs=int(_get("self_training_epochs", BEYOND_DEFAULTS["self_training_epochs"])),
        lambda3=float(_get("lambda3", BEYOND_DEFAULTS["lambda3"])))
