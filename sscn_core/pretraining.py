"""The auto-encoder's pre-training (the fit's "pretrain" phase), its cache, and the bundled weights.

A fit that pre-trains its auto-encoder on the data it clusters writes the weights to the cache
(:mod:`sscn_core.cache`), keyed by a fingerprint of the features and the pre-training settings; a later
fit whose fingerprint matches reads them instead of training again, and ends alike: the pre-training
draws its batch order from a random stream of its own, so the phases after it see the same random numbers
either way. A cache file that is missing, corrupt, refused or of other data only means pre-training
again; a cache folder that cannot be written only means the weights are not kept.

The bundled pre-trained conv auto-encoders (``params.PRETRAINED``) live in the assets folder; the plan uses
one when its training images include every training point (:func:`bundled_weights_for`).
"""
from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import autoencoder_file, fingerprint
from .checkpoint import load_checkpoint
from .data import DataError, assets_dir, load_dataset
from .models import AutoEncoder, build_autoencoder
from .params import PRETRAINED
from .persistence import AUTOENCODER_KIND, save_autoencoder
from .plan import window
from .trainer import CACHED, Convergence, FitRun, TrainingEvent, pretrain_autoencoder, steps_per_epoch

ASSETS_DIR = assets_dir()
# What ``pretrain_`` and a cached auto-encoder's metadata record of the pre-training that made the weights.
PRETRAIN_RECORD = ("fingerprint", "seconds", "steps", "epochs", "final_loss")


def fit_pretrain(model: Any, run: FitRun) -> None:
    """Pre-train the auto-encoder of ``model`` (the SSCN being fitted) on the run's features, or
    (``pretrain_cache``) read an earlier fit's pre-training of the same features and settings from the cache;
    sets the model's ``pretrain_``, ``convergence_["pretrain"]`` and ``phase_times_["pretrain"]`` (and, when
    cached, ``settings_["pretrained"]``) before the phase's "done" event."""
    ae, n = model.net_.autoencoder, run.features.shape[0]
    epochs, batch, tol = int(model.pretrain_epochs), run.settings["pretrain_batch_size"], run.settings["tol"]
    fp = fingerprint(run.features, ae.config(), {"epochs": epochs, "batch_size": batch, "lr": model.pretrain_lr,
                                                 "tol": tol, "schedule": model.schedule, "seed": int(model.seed)})
    path = autoencoder_file(fp)
    if model.pretrain_cache and _pretrain_from_cache(model, run, path, fp):
        return
    per_epoch = steps_per_epoch(n, batch)
    converge = Convergence(tol, window(per_epoch))
    # A random stream (batch order) of its own: the phases after it draw the same numbers whether the
    # weights are trained here or read from the cache, so both fits end alike.
    common = {**run.common, "generator": torch.Generator().manual_seed(int(model.seed))}
    seconds = pretrain_autoencoder(ae, run.features, epochs=epochs, batch_size=batch, lr=model.pretrain_lr,
                                   convergence=converge, **common)
    model.phase_times_["pretrain"] = seconds
    model.convergence_["pretrain"] = converge.summary(epochs * per_epoch)
    steps = len(converge.losses)
    model.pretrain_ = {"fingerprint": fp, "seconds": seconds, "steps": steps, "epochs": round(steps / per_epoch, 2),
                       "final_loss": converge.losses[-1] if steps else None, "cached": False}
    model.pretrain_["cache"] = _cache_pretrained(ae, path, model.pretrain_, model.convergence_["pretrain"]) \
        if model.pretrain_cache else "off (pretrain_cache=False)"


def _pretrain_from_cache(model: Any, run: FitRun, path: Path, fp: str) -> bool:
    """Load the cached pre-training of fingerprint ``fp`` and report the phase as cached; False when
    there is none that can be used (the auto-encoder is then untouched and is pre-trained again)."""
    start = time.perf_counter()
    meta = _read_cached(model.net_.autoencoder, path, fp)
    if meta is None:
        return False
    run.report(TrainingEvent("phase", "pretrain", 0, 0))
    model.convergence_["pretrain"] = meta["convergence"]
    model.pretrain_ = {**{key: meta[key] for key in PRETRAIN_RECORD}, "cached": True, "cache": f"read from {path}"}
    model.settings_["pretrained"] = {"value": None, "reason": f"cached: pre-trained on these images by an "
                                                              f"earlier fit ({path.name})"}
    model.phase_times_["pretrain"] = time.perf_counter() - start
    run.report(TrainingEvent("done", "pretrain", 0, 0, {CACHED: 1.0}, model.phase_times_["pretrain"]))
    return True


def _read_cached(ae: AutoEncoder, path: Path, fp: str) -> dict[str, Any] | None:
    """The metadata of the cache file ``path`` once its weights are in the auto-encoder ``ae``; None when the
    file is missing, corrupt, refused or of other data or settings (``ae`` is left as it was)."""
    try:
        ckpt = load_checkpoint(path, expected_kind=AUTOENCODER_KIND)
        if ckpt.meta.get("fingerprint") != fp or ckpt.config != ae.config() or \
                not {*PRETRAIN_RECORD, "convergence"} <= set(ckpt.meta):
            return None
        spare = build_autoencoder(ckpt.config)
        spare.load_state_dict(ckpt.state)          # a file whose weights do not fit leaves ``ae`` untouched
    except (OSError, ValueError, RuntimeError):    # CheckpointError is a ValueError: pre-train again
        return None
    ae.load_state_dict(spare.state_dict())
    return ckpt.meta


def _cache_pretrained(ae: AutoEncoder, path: Path, record: dict[str, Any], convergence: dict[str, Any]) -> str:
    """Write the pre-trained auto-encoder ``ae`` to the cache (atomic) with its ``record`` (``pretrain_``) and
    ``convergence``; what happened, in words. A cache folder that cannot be written only means that the
    weights are not kept."""
    meta = {**{key: record[key] for key in PRETRAIN_RECORD}, "convergence": convergence}
    try:
        save_autoencoder(ae, path, meta)
    except OSError as exc:
        return f"not kept: {path.parent} cannot be written ({exc.strerror or exc})"
    return f"written to {path}"


@functools.lru_cache(maxsize=None)
def _bundled_rows(name: str) -> frozenset[bytes] | None:
    """Digests of the rows a bundled auto-encoder was pre-trained on (its data set's 10k test images),
    or None when that data set is not on this machine."""
    try:
        X = load_dataset(name, **({"download": False} if name != "mnist" else {})).X
    except DataError:
        return None
    return frozenset(hashlib.sha256(row.tobytes()).digest() for row in np.ascontiguousarray(X, dtype=np.float32))


def bundled_weights_for(X: np.ndarray) -> str | None:
    """The bundled pre-trained conv auto-encoder ("mnist", "fashion-mnist") whose training images
    include every row of X (float32 bytes compared), or None."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.shape[1] != 28 * 28:
        return None
    digests = {hashlib.sha256(row.tobytes()).digest() for row in X}
    for name in PRETRAINED:
        rows = _bundled_rows(name) if (ASSETS_DIR / PRETRAINED[name]).is_file() else None
        if rows is not None and digests <= rows:
            return name
    return None
