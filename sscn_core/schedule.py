"""Settings that follow the data: the rules behind SSCN's "auto" parameters, written down once.

``resolve_settings`` turns the estimator's parameters and the shape of the training data into the
concrete values a fit uses, each with the reason it was chosen; the estimator stores them in
``settings_`` and the CLI report and the app show them. The ``paper`` preset sets every one of these
parameters explicitly, so nothing here changes the authors' method.

The rules (no labels are looked at; the same rule for every data set):

- ``batch_size`` / ``classifier_batch_size`` None: the full batch when N ≤ 4,096 (Q is then at most
  4,096² floats, 64 MiB, and the mini-batch objective is the exact one), else 1,000 (the paper's).
- ``normalize`` "auto": unit rows when the features go straight into h (``autoencoder=None`` on
  pixels): scaling a point keeps it in its subspace, and without it the brightest images dominate
  ‖Z − QZ‖² (Yale B: EDSC 83 → 93 % ACC). No scaling in front of an auto-encoder (it learns its
  own scale; the bundled ones were trained on [0, 1] pixels) or of the scattering front-end (its
  rows are unit already).
- ``h_init`` "auto": Theorem 1's optimum when h reads the features directly (then it *is* the
  optimum and training only confirms it); Xavier's random start in front of an auto-encoder that
  is still to be trained (the closed form of a random encoder is a poor start: measured 40 % ACC
  with the conv auto-encoder on MNIST against 69 % from Xavier).
- ``classifier_init`` "auto": R starts from the pseudo-clusters' spans (``subspace_rotation``), so
  the classifier starts where the theory says a rotation exists, instead of at the identity.
- ``schedule`` "auto": each phase runs until its loss stops improving (relative improvement between two
  windows of steps below ``tol``) within a step budget of 30 epochs (the paper's), at least 300
  and at most 3,000 steps; the classifier counts its ``classifier_iters`` steps per batch.
  ``schedule="epochs"`` runs exactly ``epochs`` / ``classifier_epochs`` (the paper).
"""
from __future__ import annotations

from typing import Any

FULL_BATCH_MAX = 4096
PAPER_BATCH = 1000
MIN_STEPS, MAX_STEPS, BUDGET_EPOCHS = 300, 3000, 30
SCHEDULES = ("auto", "epochs")
NORMALIZATIONS = ("auto", "none", "unit_rows")
CLASSIFIER_INITS = ("auto", "identity", "subspaces")


def _batch(value: int | None, n: int) -> tuple[int, str]:
    if value is not None:
        return min(int(value), n), "set by the caller" + (f" (cut to N = {n})" if value > n else "")
    if n <= FULL_BATCH_MAX:
        return n, f"full batch: N = {n:,} ≤ {FULL_BATCH_MAX:,}, so Q fits and each step sees the exact objective"
    return PAPER_BATCH, f"N = {n:,} > {FULL_BATCH_MAX:,}: mini-batches of {PAPER_BATCH:,} (the paper's)"


def _budget(epochs: int, steps_per_epoch: int, schedule: str, per_batch: int = 1) -> tuple[int, str]:
    if schedule == "epochs":
        return epochs * steps_per_epoch * per_batch, f"{epochs} epochs × {steps_per_epoch} batches" + \
            (f" × {per_batch} steps" if per_batch > 1 else "") + " (fixed schedule)"
    steps = max(MIN_STEPS, min(MAX_STEPS, BUDGET_EPOCHS * steps_per_epoch * per_batch))
    return steps, (f"until the loss settles, at most {steps:,} steps ({BUDGET_EPOCHS} epochs of "
                   f"{steps_per_epoch} batch{'es' if steps_per_epoch > 1 else ''}"
                   + (f" × {per_batch} steps" if per_batch > 1 else "") + f", kept within {MIN_STEPS}–{MAX_STEPS:,})")


def resolve_settings(params: dict[str, Any], n: int) -> dict[str, dict[str, Any]]:
    """The concrete value of every data-dependent setting of a fit on N points, with its reason.

    ``params`` are the estimator's ``get_params()``. Returns {name: {"value": …, "reason": str}}.
    """
    linear = params["autoencoder"] is None
    pixels = params["frontend"] == "pixels"
    out: dict[str, dict[str, Any]] = {}

    def put(name: str, value: Any, reason: str) -> None:
        out[name] = {"value": value, "reason": reason}

    # The classifier trains on the pseudo-label sample when there is one.
    n_classifier = n if params["pseudo_sample_size"] is None else min(n, params["pseudo_sample_size"])
    put("batch_size", *_batch(params["batch_size"], n))
    put("classifier_batch_size", *_batch(params["classifier_batch_size"], n_classifier))
    spe = max(1, n // out["batch_size"]["value"])
    cspe = max(1, n_classifier // out["classifier_batch_size"]["value"])
    put("self_expression_steps", *_budget(params["epochs"], spe, params["schedule"]))
    put("classifier_steps", *_budget(params["classifier_epochs"], cspe, params["schedule"], params["classifier_iters"]))
    put("tol", params["tol"] if params["schedule"] == "auto" else None,
        "relative loss improvement below which a phase ends" if params["schedule"] == "auto" else "fixed schedule: no early stop")

    norm = params["normalize"]
    if norm == "auto":
        unit = linear and pixels
        put("normalize", "unit_rows" if unit else "none",
            "unit rows: h reads the pixels directly, and scaling keeps every point in its subspace" if unit else
            ("none: the auto-encoder learns its own scale" if not linear else "none: scattering rows are unit already"))
    else:
        put("normalize", norm, "set by the caller")

    h_init = params["h_init"]
    if h_init == "auto":
        put("h_init", "closed_form" if linear else "random",
            "Theorem 1's optimum: exact for the linear model" if linear else
            "Xavier: the closed form of an untrained encoder is a poor start")
    else:
        put("h_init", h_init, "set by the caller")

    c_init = params["classifier_init"]
    put("classifier_init", "subspaces" if c_init == "auto" else c_init,
        "R starts from the pseudo-clusters' spans" if c_init == "auto" else "set by the caller")
    return out


def window(steps_per_epoch: int, per_batch: int = 1) -> int:
    """Steps per convergence window: one epoch, at least 10 steps."""
    return max(10, steps_per_epoch * per_batch)
