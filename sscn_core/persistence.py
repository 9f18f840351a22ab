"""What a saved SSCN holds and how it is read back: the model checkpoint behind ``SSCN.save`` / ``SSCN.load``,
and the auto-encoder checkpoint that ``SSCN(pretrained=path)`` reads.

A model file (kind ``MODEL_KIND``) holds the network's weights ("net." keys), the fitted labels ("fitted."
keys), the student's weights when there is one (``STUDENT_PREFIX`` keys), the parameters as given and as
resolved by the plan (K among them: ``n_clusters_``, "auto" resolved to the fit's estimate), the front-end's
and auto-encoder's configurations, and the training record (with the estimate's evidence, ``cluster_count_``). The
sizes a file's configuration describes are checked before anything is built from it
(``models.check_network_size``, :func:`_student_from`), so that an edited file cannot make the loader
allocate a huge network. Files are written and read through :mod:`sscn_core.checkpoint` (atomic,
versioned, hashed).
"""
from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .checkpoint import (Check, Checkpoint, CheckpointError, Entries, Items, Record, Where, _one_line, check_json,
                         json_kind, json_problem, load_checkpoint, save_checkpoint)
from .device import resolve_device
from .features import build_frontend
from .metrics import format_bytes
from .models import SSCNNetwork, build_autoencoder, check_network_size
from .params import PARAMS
from .preprocess import STYLES
from .student import ConvStudent, build_student, shape_problem, student_parameters
from .trainer import embed_all

AUTOENCODER_KIND = "autoencoder"
MODEL_KIND = "sscn"
STUDENT_PREFIX = "student."   # the key prefix of the student's weights in a checkpoint's state
FITTED_LABELS = ("labels_", "pseudo_labels_", "pseudo_label_indices_")   # integer arrays kept as "fitted." tensors

# What a model file's configuration and metadata may hold (:func:`sscn_core.checkpoint.json_problem`): the
# type of every field the loader, the fit report, the CLI and the app read. Other keys are allowed.
COUNT = Where(int, lambda v: v >= 0, "an integer ≥ 0")
POSITIVE = Where(int, lambda v: v >= 1, "an integer ≥ 1")
SHAPE = Items(POSITIVE, 2)
AUTOENCODER_FIELDS = {"conv": (), "mlp": ("input_dim", "hidden_dims", "latent_dim"), "none": ("input_dim",)}
AUTOENCODER_CONFIG = Check(
    Record({"kind": Where(str, AUTOENCODER_FIELDS.__contains__, "one of 'conv', 'mlp', 'none'"), "input_dim": POSITIVE,
            "hidden_dims": Items(POSITIVE), "latent_dim": POSITIVE, "image_shape": SHAPE}, required=("kind",)),
    lambda c: next((f"has no {key!r}, which a {c['kind']!r} auto-encoder needs" for key in AUTOENCODER_FIELDS[c["kind"]]
                    if key not in c), None))
STUDENT_CONFIG = Record({"kind": str, "image_shape": SHAPE, "embed_dim": POSITIVE, "channels": Items(POSITIVE, 3)},
                        required=("kind", "image_shape", "embed_dim", "channels"))
CONFIG = Record({
    "params": dict, "resolved": dict, "n_features_in": POSITIVE,
    "proba_scale": Where(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0"),
    "frontend": Record({"kind": str, "input_dim": POSITIVE, "unit_rows": bool, "J": POSITIVE, "L": POSITIVE,
                        "dim": POSITIVE, "image_shape": SHAPE}, required=("kind",)),
    "autoencoder": AUTOENCODER_CONFIG,
    "student": STUDENT_CONFIG}, required=("params", "n_features_in", "frontend", "autoencoder"))


def _is_history_row(row: dict[str, Any]) -> bool:
    """A loss-history row: a phase name, a step number ≥ 0, the total loss and other numbers (one test per row:
    a long history is read in a blink)."""
    return (isinstance(row.get("phase"), str) and type(row.get("step")) is int and row["step"] >= 0
            and "total" in row and all(type(v) in (int, float) for key, v in row.items() if key != "phase"))


HISTORY_ROW = Where(dict, _is_history_row, "a loss-history row (a phase name, a step number ≥ 0, the total loss and "
                                           "other numbers)")
SETTING = Record({"value": object, "reason": str, "compared": Items(Items(float, 2)), "structure": bool,
                  "ratio": (float, None)},
                 required=("value", "reason"))
NUMBERS = Items(float)
# n_clusters="auto": the estimate's evidence (sscn_core.cluster_count.count_for_frontends's result)
CLUSTER_COUNT = Record({
    "value": POSITIVE, "candidates": Items(POSITIVE), "scores": NUMBERS, "ratios": NUMBERS, "null_ratios": NUMBERS,
    "eigenvalues": NUMBERS, "null_eigenvalues": NUMBERS, "graph_k": Items(POSITIVE),
    "fixed_points": Items(POSITIVE), "structure": bool,
    "factor": float, "frontend": str, "alpha": float, "sample": POSITIVE,
    "by_frontend": Entries(Record({"value": POSITIVE, "factor": float, "confirmed": bool},
                                   required=("value", "factor")))},
    required=("value", "candidates", "scores", "ratios", "null_ratios", "eigenvalues", "null_eigenvalues", "graph_k",
              "structure", "factor", "frontend", "alpha", "sample", "by_frontend"))
META = Record({
    "history": Items(HISTORY_ROW),
    "settings": Where(Entries(SETTING), lambda s: s.get("input_style", {}).get("value") in (None, *STYLES),
                      f"settings whose input_style is one of {', '.join(STYLES)}"),
    "model_choice": (Record({"value": str, "runner_up": str, "margin": float, "noise": float, "clear": bool},
                            required=("value", "runner_up", "margin", "noise", "clear")), None),
    "phase_times": Entries(float), "peak_memory": Entries(COUNT),
    "pseudo_label_solver": (Record({"method": str, "status": str, "residual": float, "tolerance": float,
                                    "rounds": COUNT}), None),
    "stopped": bool,
    "cluster_count": (CLUSTER_COUNT, None),
    "pretrain": (Record({"fingerprint": str, "seconds": float, "steps": COUNT, "epochs": float,
                         "final_loss": (float, None), "cached": bool, "cache": str},
                        required=("fingerprint", "seconds", "steps", "epochs", "final_loss", "cached", "cache")), None),
    "student": (Record({"agreement": float, "seconds": float, "steps": COUNT, "multiply_adds_per_image": COUNT,
                        "n_parameters": COUNT, "note": str}, required=("agreement", "seconds", "steps")), None)})


def save_model(model: Any, path: str | os.PathLike) -> Path:
    """Write a fitted SSCN's weights, parameters and training record to one checkpoint file (atomic)."""
    state = {f"net.{k}": v for k, v in model.net_.state_dict().items()}
    for name in FITTED_LABELS:
        value = getattr(model, name, None)
        if value is not None:
            state[f"fitted.{name}"] = torch.from_numpy(np.asarray(value, dtype=np.int64))
    config = {"params": _json_params(model.get_params()), "n_features_in": int(model.n_features_in_),
              "resolved": _json_params(model.params_), "proba_scale": float(model.proba_scale_),
              "frontend": model.net_.frontend.config(), "autoencoder": model.net_.autoencoder.config()}
    meta = {"sscn_core": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "history": model.history_,
            "settings": getattr(model, "settings_", {}), "model_choice": getattr(model, "model_choice_", None),
            "phase_times": model.phase_times_, "peak_memory": model.peak_memory_,
            "pseudo_label_solver": model.pseudo_label_solver_, "stopped": bool(model.stopped_),
            "pretrain": getattr(model, "pretrain_", None), "cluster_count": getattr(model, "cluster_count_", None)}
    student = getattr(model, "student_", None)
    if student is not None:
        state.update({f"{STUDENT_PREFIX}{k}": v for k, v in student.state_dict().items()})
        config["student"] = student.config()
        meta["student"] = model.student_report_
    return save_checkpoint(path, Checkpoint(MODEL_KIND, state, config, meta))


def load_model(cls: type, path: str | os.PathLike, device: str = "auto") -> Any:
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    cls : type
        SSCN or a subclass.
    path : str or os.PathLike
        The checkpoint file.
    device : str
        Where the model goes ("auto", "cpu", "cuda", …).

    Returns
    -------
    SSCN
        The fitted model, its records restored.

    Raises
    ------
    CheckpointError
        With one line, when the file is corrupt or not a model, or when a field it holds is not of the type
        and size this version writes, or when its parts (front-end, auto-encoder, student, weights) do not fit
        together: the file is untrusted input, checked before anything is built from it.
    """
    name = Path(path).name
    ckpt = load_checkpoint(path, expected_kind=MODEL_KIND)
    try:
        check_json(ckpt.config, CONFIG, "its configuration")
        check_json(ckpt.meta, META, "its metadata")
        params = _params_from_json(ckpt.config["params"], device)
        model = cls(**params)
        model._validate_params()
        # Files before the plan (format 2 without "resolved") hold concrete parameters only.
        model.params_ = _resolved_params(ckpt.config.get("resolved", ckpt.config["params"]), device)
        model.n_clusters_ = _resolved_count(model.n_clusters, model.params_, ckpt.meta.get("cluster_count"))
        model.params_["n_clusters"] = model.n_clusters_
        model.proba_scale_ = float(ckpt.config.get("proba_scale", 1.0))
        model.n_features_in_ = ckpt.config["n_features_in"]
        _check_inputs(ckpt.config, model.params_)
        check_network_size(ckpt.config["autoencoder"], model.n_clusters_, model.params_["subspace_dim"],
                           ckpt.tensor_bytes())
        net = SSCNNetwork(build_frontend(ckpt.config["frontend"]), build_autoencoder(ckpt.config["autoencoder"]),
                          model.n_clusters_, model.params_["subspace_dim"], model.classifier_temperature)
        net.load_state_dict({k[4:]: v for k, v in ckpt.state.items() if k.startswith("net.")})
        with torch.no_grad():       # the parts must fit together: one row goes through the whole network
            logits = embed_all(net, torch.zeros(1, model.n_features_in_), torch.device("cpu"), space="logits")
        if tuple(logits.shape) != (1, model.n_clusters_):
            raise ValueError(f"its network gives {tuple(logits.shape)[1:]} outputs per row, not n_clusters = "
                             f"{model.n_clusters_}")
        labels = {label: _fitted_labels(ckpt.state, label, model.n_clusters_) for label in FITTED_LABELS}
    except CheckpointError as exc:
        raise CheckpointError(f"{name!r} does not describe a valid SSCN model: {exc}") from exc
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError, OverflowError) as exc:
        # what the builders say of a configuration that passed the checks but describes no working network
        raise CheckpointError(f"{name!r} does not describe a valid SSCN model: {_one_line(exc)}") from exc
    model.net_ = net.to(resolve_device(device))
    model.device_ = str(resolve_device(device))
    for label, value in labels.items():
        setattr(model, label, value)
    model.history_ = ckpt.meta.get("history", [])
    model.phase_times_ = ckpt.meta.get("phase_times", {})
    model.peak_memory_ = ckpt.meta.get("peak_memory", {})
    model.pseudo_label_solver_ = ckpt.meta.get("pseudo_label_solver")
    model.settings_ = ckpt.meta.get("settings", {})
    model.model_choice_ = ckpt.meta.get("model_choice")
    model.stopped_ = ckpt.meta.get("stopped", False)
    model.pretrain_ = ckpt.meta.get("pretrain")
    model.cluster_count_ = ckpt.meta.get("cluster_count")
    student = _student_from(ckpt, name, net.h.embed_dim, model.params_.get("image_shape"), model.n_features_in_)
    model.student_ = None if student is None else student.to(resolve_device(device)).eval()
    model.student_report_ = ckpt.meta.get("student") if student is not None else None
    return model


def read_autoencoder(path: str | os.PathLike) -> Checkpoint:
    """Read an auto-encoder checkpoint (``save_autoencoder``'s, the bundled weights, a cache file).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    Checkpoint
        Its parts; its configuration is one that ``models.build_autoencoder`` reads (fields of the right
        types for its kind).

    Raises
    ------
    CheckpointError
        With one line, when the file is unusable or not an auto-encoder's (see ``load_checkpoint``), or its
        configuration is not.
    """
    ckpt = load_checkpoint(path, expected_kind=AUTOENCODER_KIND)
    problem = json_problem(ckpt.config, AUTOENCODER_CONFIG, "its configuration")
    if problem is not None:
        raise CheckpointError(f"{Path(path).name!r} does not describe an auto-encoder: {problem}")
    return ckpt


def save_autoencoder(net_or_ae: torch.nn.Module, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Write a (pre-trained) auto-encoder checkpoint, loadable through ``SSCN(pretrained=path)``."""
    ae = net_or_ae.autoencoder if isinstance(net_or_ae, SSCNNetwork) else net_or_ae
    meta = {"sscn_core": __version__, "torch": torch.__version__, **(meta or {})}
    return save_checkpoint(path, Checkpoint(AUTOENCODER_KIND, ae.state_dict(), ae.config(), meta))


def _json_params(values: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as JSON holds them (tuples as lists)."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in values.items()}


def _params_from_json(values: dict[str, Any], device: str) -> dict[str, Any]:
    """Parameter values read back from a checkpoint (lists as tuples), on ``device``."""
    out = {name: tuple(value) if isinstance(value, list) else value for name, value in values.items()}
    out["device"] = device
    return out


LEFT_TO_THE_FIT = ("alpha", "frontend")   # resolved parameters that hold the plan's candidates until the fit chooses


def _resolved_params(values: dict[str, Any], device: str) -> dict[str, Any]:
    """The resolved parameters (``params_``) read back from a checkpoint; CheckpointError when a value is not
    one that parameter takes (None stands for "not used" there) or the subspace dimension is missing."""
    out = _params_from_json(values, device)
    for name, value in out.items():
        if name not in PARAMS:
            continue
        # A model saved before its fit chose α or the front-end holds the plan's candidates (a tuple).
        candidates = value if name in LEFT_TO_THE_FIT and isinstance(value, tuple) and value else (value,)
        for candidate in candidates:
            problem = None if candidate is None else PARAMS[name].problem(candidate)
            if problem is not None:
                raise CheckpointError(f"its resolved parameters are wrong: {problem}")
    if out.get("subspace_dim") is None:
        raise CheckpointError("its resolved parameters have no subspace_dim")
    return out


def _resolved_count(given: Any, resolved: dict[str, Any], cluster_count: dict[str, Any] | None) -> int:
    """K of a checkpoint's network (``n_clusters_``): its resolved n_clusters (files without one: the parameter).

    Parameters
    ----------
    given : int or "auto"
        The file's n_clusters parameter (already checked against its row).
    resolved : dict
        The file's resolved parameters (``params_``).
    cluster_count : dict or None
        The file's ``cluster_count_`` (its types already checked), the evidence of an estimated K.

    Returns
    -------
    int
        K.

    Raises
    ------
    CheckpointError
        When the resolved value is not an integer K (still "auto", say), differs from a K that was given, or
        differs from the K that its cluster count estimated.
    """
    k = resolved.get("n_clusters", given)
    if isinstance(k, bool) or not isinstance(k, int):
        raise CheckpointError(f"its resolved n_clusters is {json_kind(k)}, not the number of clusters of its network")
    if given != "auto" and k != given:
        raise CheckpointError(f"its resolved n_clusters = {k} differs from its n_clusters parameter {given}")
    if cluster_count is not None and cluster_count["value"] != k:
        raise CheckpointError(f"its cluster count estimated K = {cluster_count['value']}, but its network has "
                              f"n_clusters = {k}")
    return k


def _check_inputs(config: dict[str, Any], params: dict[str, Any]) -> None:
    """CheckpointError when the front-end, the recorded image shape and ``n_features_in`` disagree on what a row
    of input is."""
    n, frontend, shape = config["n_features_in"], config["frontend"], params.get("image_shape")
    if frontend["kind"] == "scattering":
        reads = int(np.prod(frontend.get("image_shape", (28, 28))))
    else:
        reads = frontend.get("input_dim", n)
    if reads != n:
        raise CheckpointError(f"its front-end reads rows of {reads:,} values but n_features_in is {n:,}")
    if shape is not None and shape[0] * shape[1] != n:
        raise CheckpointError(f"its image shape {shape[0]}×{shape[1]} does not hold n_features_in = {n:,} values")


def _fitted_labels(state: dict[str, torch.Tensor], label: str, n_clusters: int) -> np.ndarray | None:
    """The fitted integer array ``label`` ("labels_", …) of a checkpoint's state, or None when it holds none;
    CheckpointError when it is not a 1-D array of integers in range (cluster numbers below ``n_clusters``)."""
    value = state.get(f"fitted.{label}")
    if value is None:
        return None
    if value.dim() != 1 or value.dtype.is_floating_point or value.dtype == torch.bool:
        raise CheckpointError(f"its fitted {label} is a {value.dtype} tensor of shape {tuple(value.shape)}, not a "
                              f"1-D array of integers")
    array = value.numpy().astype(np.int64)
    high = None if label == "pseudo_label_indices_" else n_clusters
    if array.size and (array.min() < 0 or (high is not None and array.max() >= high)):
        raise CheckpointError(f"its fitted {label} hold values outside "
                              f"{'[0, ' + str(high) + ')' if high is not None else 'the non-negative integers'}")
    return array


def _student_from(ckpt: Checkpoint, name: str, embed_dim: int, image_shape: Any, n_features: int) -> ConvStudent | None:
    """The student a checkpoint holds (None when it holds none); CheckpointError when its configuration, its
    weights and the model (H of ``embed_dim`` columns, inputs of ``n_features`` values, images of
    ``image_shape``) do not go together. The size its configuration describes is checked before anything is
    built; the built student then reads one image."""
    config = ckpt.config.get("student")
    weights = {k[len(STUDENT_PREFIX):]: v for k, v in ckpt.state.items() if k.startswith(STUDENT_PREFIX)}
    if config is None:
        if weights:
            raise CheckpointError(f"{name!r} holds student weights but no student configuration; the file was edited "
                                  f"or damaged: save the model again")
        return None
    try:
        need = 4 * student_parameters(config)
        if need > ckpt.tensor_bytes():
            raise ValueError(f"it describes {format_bytes(need)} of weights but the file holds "
                             f"{format_bytes(ckpt.tensor_bytes())} of tensors")
        if config["embed_dim"] != embed_dim:
            raise ValueError(f"it outputs {config['embed_dim']} columns of H but the model's H has {embed_dim}")
        problem = shape_problem(config["image_shape"], image_shape, n_features)
        if problem is not None:
            raise ValueError(problem)
        student = build_student(config)
        student.load_state_dict(weights)
        with torch.no_grad():
            student.eval()(torch.zeros(1, n_features))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{name!r}: its student configuration does not match the model or the student weights "
                              f"it holds ({_one_line(exc)}); the file was edited or damaged: save the model again") from exc
    return student
