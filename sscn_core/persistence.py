"""What a saved SSCN holds and how it is read back: the model checkpoint behind ``SSCN.save`` / ``SSCN.load``,
and the auto-encoder checkpoint that ``SSCN(pretrained=path)`` reads.

A model file (kind ``MODEL_KIND``) holds the network's weights ("net." keys), the fitted labels ("fitted."
keys), the student's weights when there is one (``STUDENT_PREFIX`` keys), the parameters as given and as
resolved by the plan, the front-end's and auto-encoder's configurations, and the training record. The
sizes a file's configuration describes are checked before anything is built from it
(``models.check_network_size``, :func:`_student_from`), so that an edited file cannot make the loader
allocate a huge network. Files are written and read through :mod:`sscn_core.checkpoint` (atomic,
versioned, hashed).
"""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .device import resolve_device
from .features import build_frontend
from .metrics import format_bytes
from .models import SSCNNetwork, build_autoencoder, check_network_size
from .student import ConvStudent, build_student, student_parameters

AUTOENCODER_KIND = "autoencoder"
MODEL_KIND = "sscn"
STUDENT_PREFIX = "student."   # the key prefix of the student's weights in a checkpoint's state
FITTED_LABELS = ("labels_", "pseudo_labels_", "pseudo_label_indices_")   # integer arrays kept as "fitted." tensors


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
            "pretrain": getattr(model, "pretrain_", None)}
    student = getattr(model, "student_", None)
    if student is not None:
        state.update({f"{STUDENT_PREFIX}{k}": v for k, v in student.state_dict().items()})
        config["student"] = student.config()
        meta["student"] = model.student_report_
    return save_checkpoint(path, Checkpoint(MODEL_KIND, state, config, meta))


def load_model(cls: type, path: str | os.PathLike, device: str = "auto") -> Any:
    """A ``cls`` (SSCN or a subclass) read from a file written by :func:`save_model`, on ``device``; raises
    CheckpointError on a corrupt or mismatched file."""
    ckpt = load_checkpoint(path, expected_kind=MODEL_KIND)
    try:
        params = _params_from_json(ckpt.config["params"], device)
        model = cls(**params)
        model._validate_params()
        # Files before the plan (format 2 without "resolved") hold concrete parameters only.
        model.params_ = _params_from_json(ckpt.config.get("resolved", ckpt.config["params"]), device)
        model.proba_scale_ = float(ckpt.config.get("proba_scale", 1.0))
        check_network_size(ckpt.config["autoencoder"], model.n_clusters, int(model.params_["subspace_dim"]),
                           ckpt.tensor_bytes())
        net = SSCNNetwork(build_frontend(ckpt.config["frontend"]), build_autoencoder(ckpt.config["autoencoder"]),
                          model.n_clusters, int(model.params_["subspace_dim"]), model.classifier_temperature)
        net.load_state_dict({k[4:]: v for k, v in ckpt.state.items() if k.startswith("net.")})
        model.n_features_in_ = int(ckpt.config["n_features_in"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{Path(path).name!r} does not describe a valid SSCN model: {exc}") from exc
    model.net_ = net.to(resolve_device(device))
    model.device_ = str(resolve_device(device))
    for name in FITTED_LABELS:
        value = ckpt.state.get(f"fitted.{name}")
        setattr(model, name, None if value is None else value.numpy())
    model.history_ = ckpt.meta.get("history", [])
    model.phase_times_ = ckpt.meta.get("phase_times", {})
    model.peak_memory_ = ckpt.meta.get("peak_memory", {})
    model.pseudo_label_solver_ = ckpt.meta.get("pseudo_label_solver")
    model.settings_ = ckpt.meta.get("settings", {})
    model.model_choice_ = ckpt.meta.get("model_choice")
    model.stopped_ = bool(ckpt.meta.get("stopped", False))
    model.pretrain_ = ckpt.meta.get("pretrain")
    student = _student_from(ckpt, Path(path).name, net.h.embed_dim)
    model.student_ = None if student is None else student.to(resolve_device(device)).eval()
    model.student_report_ = ckpt.meta.get("student") if student is not None else None
    return model


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
    out = dict(values)
    out["hidden_dims"] = tuple(out["hidden_dims"])
    if out.get("image_shape") is not None:
        out["image_shape"] = tuple(out["image_shape"])
    out["device"] = device
    return out


def _student_from(ckpt: Checkpoint, name: str, embed_dim: int) -> ConvStudent | None:
    """The student a checkpoint holds (None when it holds none); CheckpointError when its configuration and
    weights do not go together. The size its configuration describes is checked before anything is built."""
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
        if int(config["embed_dim"]) != embed_dim:
            raise ValueError(f"it outputs {config['embed_dim']} columns of H but the model's H has {embed_dim}")
        student = build_student(config)
        student.load_state_dict(weights)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{name!r}: its student configuration {config} does not match the student weights it "
                              f"holds ({' '.join(str(exc).split())}); the file was edited or damaged: save the model "
                              f"again") from exc
    return student
