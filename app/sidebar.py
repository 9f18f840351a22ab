"""The settings form in the sidebar: data, model, training. Returns a typed, validated config.

Widget values live in ``st.session_state`` under keys "cfg.<field>". Choosing a data source
(or uploading a file, or changing the synthetic K and q) fills in starting values that suit it
(:func:`app.config.preset_for`). Problems are shown right under the widget concerned.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import streamlit as st
import torch

from sscn_core import DataError
from sscn_core.data import RELATIONS
from sscn_core.params import AUTO, AUTOENCODER_OPTIONS, PARAMS, Param

from .config import (HOLDOUTS, MAX_SYNTHETIC_POINTS, SOURCES, WIDGET_PARAMS, AppConfig, DataConfig, ModelConfig,
                     SyntheticConfig, autoencoder_choices, holdout_choices, model_params, preset_for, to_widget,
                     validate)
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
    preprocessing: str | None = None


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
    d, s = DataConfig(), SyntheticConfig()
    synthetic = SyntheticConfig(int(_get("syn_n_clusters", s.n_clusters)), int(_get("syn_subspace_dim", s.subspace_dim)),
                                int(_get("ambient_dim", s.ambient_dim)), float(_get("noise", s.noise)),
                                str(_get("relation", s.relation)))
    return DataConfig(source=_get("source", d.source), n_samples=int(_get("n_samples", d.n_samples)),
                      holdout=_get("holdout", d.holdout), holdout_size=int(_get("holdout_size", d.holdout_size)),
                      seed=int(_get("data_seed", d.seed)), synthetic=synthetic, upload_path=_get("upload_path"),
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
    return SourceInfo(len(ds), ds.n_features, ds.image_shape, ds.class_names, n_classes,
                      preprocessing=ds.preprocessing)


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


def _model_defaults() -> dict[str, Any]:
    """ModelConfig's defaults: the library's (sscn_core.params), as the widgets hold them."""
    return asdict(ModelConfig())


def init_defaults() -> None:
    """First run of a session: MNIST with its preset, everything else at the defaults."""
    if _get("source") is not None:
        return
    d, s = DataConfig(), SyntheticConfig()
    defaults = dict(source=d.source, data_seed=d.seed, n_samples=d.n_samples, holdout=d.holdout,
                    holdout_size=d.holdout_size, syn_n_clusters=s.n_clusters, syn_subspace_dim=s.subspace_dim,
                    ambient_dim=s.ambient_dim, noise=s.noise, relation=s.relation, upload_path=None, upload_name=None,
                    **_model_defaults())
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
            fmt: str | None = None, help: str | None = None, on_change: Callable[[], None] | None = None,
            disabled: bool = False) -> Any:
    value = st.number_input(label, key=P + name, step=step if step is not None else (1 if integer else None),
                            format=fmt if fmt else ("%d" if integer else None), help=help, on_change=on_change,
                            disabled=disabled)
    slots.add(name)
    return int(value) if integer and value is not None else value


# Step and format of the parameters' number boxes (display only; the rest comes from sscn_core.params).
NUMBER_STYLE: dict[str, dict[str, Any]] = {
    "lambda1": dict(step=0.1, fmt="%.3g"), "lambda2": dict(step=0.1, fmt="%.3g"),
    "lambda_scale": dict(step=0.5, fmt="%.3g"), "lambda3": dict(step=0.1, fmt="%.3g"),
    "lr": dict(step=1e-4, fmt="%.1e"), "pretrain_lr": dict(step=1e-4, fmt="%.1e"),
    "classifier_lr": dict(step=0.01, fmt="%.3g"), "rho": dict(step=0.05, fmt="%.2f"), "alpha": dict(step=1.0, fmt="%.1f"),
    "classifier_temperature": dict(step=1.0, fmt="%.3g"), "self_training_confidence": dict(step=0.05, fmt="%.2f"),
    "batch_size": dict(step=50), "classifier_batch_size": dict(step=50), "pretrain_batch_size": dict(step=50),
    "pseudo_sample_size": dict(step=500),
}
# Parameters in the "Model" section, in two columns (left, right, left, ...); the others are under
# "More settings" (the paper's) or "Beyond the paper", in the table's order.
MAIN_PARAMS = ("lambda1", "lambda2", "batch_size", "epochs", "lr", "seed")
OWN_WIDGETS = {"n_clusters", "subspace_dim", "autoencoder", "device", "frontend"}   # drawn by render itself
# A number row that also takes "auto" (Param.auto) gets a switch under its box, its state under "cfg.<name>_auto";
# when on, the model config holds "auto" and the box keeps its number for when it is switched off.
AUTO_SUFFIX = "_auto"
AUTO_LABELS = {"n_clusters": "auto K"}   # short: the switch sits in a narrow column beside the number


def _help(p: Param) -> str:
    shown = {"int": "0", "float": "0", "text": "Empty"}.get(p.kind)
    none = f" {shown} = {p.none}." if p.none is not None and shown else ""
    return f"{p.help}{none} Default: {to_widget(p, p.default)}."


def _param_widget(p: Param, slots: _Slots) -> None:
    """The widget of one SSCN parameter, made from its row in sscn_core.params."""
    if p.kind == "choice":
        st.selectbox(p.label, list(p.choices), format_func=p.choices.get, key=P + p.name, help=_help(p))
        slots.add(p.name)
    elif p.kind in ("ints", "text"):
        extra = " Integers separated by commas." if p.kind == "ints" else ""
        st.text_input(p.label, key=P + p.name, help=_help(p) + extra)
        slots.add(p.name)
    else:
        style = NUMBER_STYLE.get(p.name, {})
        from_data = p.auto is not None and bool(_get(p.name + AUTO_SUFFIX, False))
        _number(p.label, p.name, slots, integer=p.kind == "int", step=style.get("step"),
                fmt=style.get("fmt", None if p.kind == "int" else "%.3g"), help=_help(p), disabled=from_data)
        if p.auto is not None:     # the row also takes "auto": a switch beside the number (which it then overrides)
            st.toggle(AUTO_LABELS.get(p.name, "auto"), key=P + p.name + AUTO_SUFFIX,
                      help=f"'{AUTO}': {p.auto}. Off: the number above.")


def _param_widgets(params: Sequence[Param], slots: _Slots, values: dict[str, Any]) -> None:
    """Widgets of the parameters that have an effect with the current values (Param.used)."""
    for p in params:
        if p.name not in OWN_WIDGETS and p.name not in MAIN_PARAMS and p.used(values):
            _param_widget(p, slots)


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
            st.selectbox("Relation", list(RELATIONS), format_func=RELATIONS.get, key=P + "relation",
                         help="independent: dim(union) = K·q; dependent: pairwise trivial intersections but "
                              "dim(union) < K·q; overlapping: neighbours share a direction.")
            slots.add("relation", "syn_n_clusters", "syn_subspace_dim")

        data_config = _data_config_from_state()
        info = source_info(data_config)
        if info.preprocessing:
            st.caption(f"Images prepared {info.preprocessing}.")
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
        for name, value in _model_defaults().items():   # a session started before a parameter existed
            if _get(name) is None:
                _set(name, value)
        c1, c2 = st.columns(2)
        with c1:
            _param_widget(PARAMS["n_clusters"], slots)
        with c2:
            _param_widget(PARAMS["subspace_dim"], slots)
        aes = autoencoder_choices(info.image_shape)
        if _get("autoencoder") not in aes:
            _set("autoencoder", aes[0])
        st.selectbox("Auto-encoder", aes, format_func=AUTOENCODER_OPTIONS.get, key=P + "autoencoder",
                     help=f"{PARAMS['autoencoder'].help} Pre-trained: {PARAMS['pretrained'].help}")
        slots.add("autoencoder")
        columns = st.columns(2)
        for i, name in enumerate(MAIN_PARAMS):
            with columns[i % 2]:
                _param_widget(PARAMS[name], slots)
        device_options = devices()
        if _get("device") not in device_options:
            _set("device", "auto")
        st.selectbox("Device", device_options, key=P + "device", help=PARAMS["device"].help)
        if info.image_shape is None and _get("frontend") == "scattering":
            _set("frontend", "auto")         # the scattering front-end reads images; auto keeps pixels for vectors
        values = model_params(_model_config_from_state())
        with st.expander("More settings"):
            _param_widgets([p for p in WIDGET_PARAMS if p.paper], slots, values)
            st.caption("**Beyond the paper** ('auto' values follow the data; the paper preset sets the reference's)")
            if info.image_shape is not None:
                _param_widget(PARAMS["frontend"], slots)
            _param_widgets([p for p in WIDGET_PARAMS if not p.paper], slots, values)

        result = read()
        for message in slots.show(result.errors):
            st.error(message, icon="⚠️")
    return result


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
    defaults = _model_defaults()
    values = {f.name: _get(f.name, defaults[f.name]) for f in fields(ModelConfig)}
    for p in WIDGET_PARAMS:
        if p.auto is not None and _get(p.name + AUTO_SUFFIX, False):
            values[p.name] = AUTO
    return ModelConfig(**values)
