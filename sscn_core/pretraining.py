"""The auto-encoder's pre-training (the fit's "pretrain" phase), its cache, and the bundled weights.

A fit that pre-trains its auto-encoder on the data it clusters writes the weights to the cache
(:mod:`sscn_core.cache`), keyed by a fingerprint of the features and the pre-training settings; a later
fit whose fingerprint matches reads them instead of training again, and ends alike: the pre-training
draws its batch order from a random stream of its own, so the phases after it see the same random numbers
either way. A cache file is untrusted input: it is used only when it carries this installation's signature
(see :mod:`sscn_core.cache`) and its record holds what a fit writes. One that is missing, unsigned, corrupt,
refused or of other data only means pre-training again and writing it anew (``pretrain_["cache"]`` says why
it was ignored); a cache that cannot be written (no permission, a full disk) only means the weights are not
kept, which ``pretrain_["cache"]`` says too.

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

from .cache import SIGNATURE, autoencoder_file, cache_key, fingerprint, signature, verify
from .checkpoint import CheckpointError, Record, Where, _one_line, json_problem
from .data import DataError, assets_dir, load_dataset
from .models import AutoEncoder, build_autoencoder
from .params import PRETRAINED
from .persistence import COUNT, read_autoencoder, save_autoencoder
from .plan import window
from .trainer import CACHED, Convergence, FitRun, TrainingEvent, pretrain_autoencoder, steps_per_epoch

ASSETS_DIR = assets_dir()
# What ``pretrain_`` and a cached auto-encoder's metadata record of the pre-training that made the weights.
PRETRAIN_RECORD = ("fingerprint", "seconds", "steps", "epochs", "final_loss")
CACHE_FIELDS = (*PRETRAIN_RECORD, "convergence")     # what a cache file records, signed, beside its weights
STOPPED_BY = ("tolerance", "schedule", "budget", "stationary start", "predictions settled")
NON_NEGATIVE = Where(float, lambda v: v >= 0, "a number ≥ 0")
# ``Convergence.summary`` as read back: the fit report, the CLI, the app and ``health`` format its fields.
CONVERGENCE = Where(
    Record({"steps": COUNT, "budget": COUNT, "tol": (Where(float, lambda v: v > 0, "a number > 0"), None),
            "relative_change": float, "converged": bool, "stopped_by": Where(str, STOPPED_BY.__contains__,
                                                                            f"one of {', '.join(STOPPED_BY)}")},
           required=("steps", "budget", "tol", "relative_change", "converged", "stopped_by")),
    lambda c: c["stopped_by"] != "budget" or c["tol"] is not None, "a convergence record (a budget stop has a tol)")
CACHE_RECORD = Record({"fingerprint": str, "seconds": NON_NEGATIVE, "steps": COUNT, "epochs": NON_NEGATIVE,
                       "final_loss": (float, None), "convergence": CONVERGENCE}, required=CACHE_FIELDS)


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
    ignored = None
    if model.pretrain_cache:
        start = time.perf_counter()
        record, ignored = _read_cached(ae, path, fp)
        if record is not None:
            _report_cached(model, run, path, record, start)
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
    if not model.pretrain_cache:
        model.pretrain_["cache"] = "off (pretrain_cache=False)"
        return
    model.pretrain_["cache"] = _cache_pretrained(ae, path, model.pretrain_, model.convergence_["pretrain"])
    if ignored is not None:
        model.pretrain_["cache"] += f" (the file there was ignored: {ignored})"


def _report_cached(model: Any, run: FitRun, path: Path, record: dict[str, Any], start: float) -> None:
    """Report the pre-training phase as read from the cache file ``path`` (its checked ``record``)."""
    run.report(TrainingEvent("phase", "pretrain", 0, 0))
    model.convergence_["pretrain"] = record["convergence"]
    model.pretrain_ = {**{key: record[key] for key in PRETRAIN_RECORD}, "cached": True, "cache": f"read from {path}"}
    model.settings_["pretrained"] = {"value": None, "reason": f"cached: pre-trained on these images by an "
                                                              f"earlier fit ({path.name})"}
    model.phase_times_["pretrain"] = time.perf_counter() - start
    run.report(TrainingEvent("done", "pretrain", 0, 0, {CACHED: 1.0}, model.phase_times_["pretrain"]))


def _read_cached(ae: AutoEncoder, path: Path, fp: str) -> tuple[dict[str, Any] | None, str | None]:
    """Read the cache file ``path`` for fingerprint ``fp`` into the auto-encoder ``ae``.

    Returns
    -------
    (record, None)
        Once the weights are in ``ae``: the file's pre-training record (``PRETRAIN_RECORD`` and "convergence").
    (None, reason)
        When the file cannot be used, with why in words (None when there is no file); ``ae`` is left as it
        was. A file is used only when it is signed with this installation's key (:mod:`sscn_core.cache`),
        is of this fingerprint and auto-encoder, and its record holds what a fit writes.
    """
    if not path.exists() and not path.is_symlink():
        return None, None
    try:
        secret = cache_key()
        ckpt = read_autoencoder(path)
    except OSError as exc:
        return None, f"the cache key cannot be read or made ({exc.strerror or _one_line(exc)})"
    except CheckpointError as exc:
        return None, str(exc)
    record = {field: ckpt.meta[field] for field in CACHE_FIELDS if field in ckpt.meta}
    if not verify(secret, fp, ckpt.config, record, ckpt.state, ckpt.meta.get(SIGNATURE)):
        return None, "it does not carry this installation's signature (it was not written by a fit here, or was changed)"
    problem = json_problem(record, CACHE_RECORD, "its record")
    if problem is not None:
        return None, problem
    if record["fingerprint"] != fp or ckpt.config != ae.config():
        return None, "it holds another pre-training (other data, settings or auto-encoder)"
    try:
        spare = build_autoencoder(ckpt.config)
        spare.load_state_dict(ckpt.state)          # a file whose weights do not fit leaves ``ae`` untouched
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        return None, f"its weights do not fit the auto-encoder ({_one_line(exc)})"
    ae.load_state_dict(spare.state_dict())
    return record, None


def _cache_pretrained(ae: AutoEncoder, path: Path, record: dict[str, Any], convergence: dict[str, Any]) -> str:
    """Write the pre-trained auto-encoder ``ae`` to the cache (atomic) with its ``record`` (``pretrain_``) and
    ``convergence``, signed with this installation's key; what happened, in words. A cache that cannot be
    written (no permission, a full disk, ...) only means that the weights are not kept."""
    meta = {**{key: record[key] for key in PRETRAIN_RECORD}, "convergence": convergence}
    try:
        meta[SIGNATURE] = signature(cache_key(), record["fingerprint"], ae.config(), meta, ae.state_dict())
        save_autoencoder(ae, path, meta)
    except (OSError, RuntimeError, CheckpointError) as exc:   # torch.save raises RuntimeError on a full disk
        cause = exc.__cause__ if isinstance(exc, CheckpointError) and isinstance(exc.__cause__, OSError) else exc
        why = cause.strerror if isinstance(cause, OSError) and cause.strerror else _one_line(exc)
        return f"not kept: the weights could not be written to {path.parent} ({why})"
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
