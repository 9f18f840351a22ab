"""Every parameter of :class:`~sscn_core.SSCN`, declared once, and the presets.

Each :class:`Param` row holds a parameter's type and range, default, whether it belongs to the
paper's method or goes beyond it, a label, a help text, what None means and its choices. From
this one table come ``SSCN.__init__``'s signature and docstring, its validation
(:func:`problems`), the command line's flags (``sscn train --lambda1 …``, ``--set``) and the
app's sidebar widgets; the app adds only its own UI bounds.

Adding a parameter is one row in :data:`PARAMETERS` plus its use (in ``SSCN.fit``). The defaults
follow the data (preset "auto", rules in :mod:`sscn_core.plan`); a row with ``paper=False``
whose default changes the paper's method gets the reference's value in the "paper" preset.
"""
from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from .device import resolve_device
from .plan import ALPHA_CANDIDATES, ALPHA_FEW, FEW_ALPHA, SPARSE_CLEAR, SPARSE_MAX_POINTS, VERDICT_ALPHA

KINDS = ("int", "float", "choice", "ints", "text")
AUTO = "auto"                   # the one word a number row with ``auto`` takes besides its numbers
# Upper bounds of the counts, so that a typo (``--epochs 99999999999999999999``) is refused at once instead of
# running until killed or overflowing a 64-bit integer. Each is far beyond any use on one machine.
MAX_EPOCHS = 100_000            # epochs of any phase
MAX_STEPS = 100_000             # steps of a comparison run, iterations per batch, restarts
MAX_POINTS = 100_000_000        # batch sizes, samples, subsets
MAX_WIDTH = 1_000_000           # dimensions and layer widths (the memory check refuses what does not fit)
MAX_CLUSTERS = 100_000
MAX_SEED = 2**32 - 1            # numpy's and scikit-learn's seeds are 32-bit
SHOWN_CHARS = 60                # characters of a refused value quoted in a message
# Bundled pre-trained auto-encoders (``pretrained="mnist"``): name -> file in the assets folder.
# Each was made by ``sscn pretrain --dataset NAME`` on that data set's 10k test images (load_dataset(NAME)).
PRETRAINED = {"mnist": "mnist_conv_ae.pt", "fashion-mnist": "fashion_mnist_conv_ae.pt"}


@dataclass(frozen=True)
class Param:
    """One SSCN parameter.

    kind: "int", "float", "choice" (one of ``choices``), "ints" (a tuple of positive integers)
    or "text" (a string, e.g. a file name). ``low``/``high`` bound numbers, and each integer of
    an "ints" tuple (open when ``low_open``/``high_open``). ``none``: None is allowed and means
    this. ``auto``: the string "auto" is allowed (a number row only) and means this. ``choices``: the
    allowed values with their labels, the paper's first. ``paper``: part
    of the paper's method (False: beyond it). ``needs``: the parameter only has an effect when
    these other parameters take one of the values listed. ``check``: a further test of the value, returning a message or None.
    """

    name: str
    kind: str
    default: Any
    label: str
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    none: str | None = None
    auto: str | None = None
    choices: Mapping[Any, str] | None = None
    paper: bool = True
    needs: Mapping[str, tuple[Any, ...]] | None = None
    check: Callable[[Any], str | None] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "choice") != (self.choices is not None):
            raise ValueError(f"parameter {self.name}: choices go with kind 'choice' and only with it")
        if self.auto is not None and self.kind not in ("int", "float"):
            raise ValueError(f"parameter {self.name}: 'auto' goes with kind 'int' or 'float' only")
        if self.problem(self.default) is not None:
            raise ValueError(f"parameter {self.name}: its default is invalid: {self.problem(self.default)}")

    def range_text(self) -> str:
        """The allowed range in words: "≥ 2", "> 0", "in (0, 1]", "in [0, 100000]"..."""
        exact = self.kind in ("int", "ints")
        low, high = _number_text(self.low, exact), _number_text(self.high, exact)
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '≥'} {low}"
        if self.high is not None:
            return f"{'<' if self.high_open else '≤'} {high}"
        return ""

    def in_range(self, value: float) -> bool:
        """Whether a number lies within ``low``/``high``."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def used(self, values: Mapping[str, Any]) -> bool:
        """Whether the parameter has an effect with these values of the others (see ``needs``)."""
        return all(values[name] in allowed for name, allowed in (self.needs or {}).items())

    def problem(self, value: Any, *, who: str | None = None, none_as: str = "None") -> str | None:
        """What is wrong with ``value`` for this parameter, or None.

        The message names ``who`` (default: the parameter's name) and spells None as ``none_as``.
        """
        if value is None and self.none is not None:
            return None
        if self.auto is not None and isinstance(value, str) and value == AUTO:
            return None
        what = {"int": "an integer", "float": "a finite number", "text": "a string"}.get(self.kind, "")
        if self.kind == "int":
            ok = _is_int(value) and self.in_range(value)
        elif self.kind == "float":
            ok = _is_number(value) and self.in_range(value)
        elif self.kind == "choice":
            ok = any(value == c and type(value) is type(c) for c in self.choices)
            what = f"one of {tuple(self.choices)}"
        elif self.kind == "ints":
            ok = isinstance(value, (tuple, list)) and all(_is_int(v) and v >= 1 and self.in_range(v) for v in value)
            what = "a tuple of positive integers"
        else:
            ok = isinstance(value, (str, os.PathLike))
        if not ok:
            rng = f" {self.range_text()}" if self.kind in ("int", "float") and self.range_text() else ""
            each = f"; each must be {self.range_text()}" if self.kind == "ints" and self.range_text() else ""
            prefix = f"{none_as} ({self.none}) or " if self.none is not None else ""
            prefix += f"{AUTO!r} or " if self.auto is not None else ""      # what it means: describe()
            return f"{who or self.name} must be {prefix}{what}{rng}, got {shown(value)}{each}"
        return self.check(value) if self.check is not None else None

    def parse(self, text: str) -> Any:
        """The value that command-line ``text`` stands for ("none" → None, "auto" → "auto" where the row
        allows it, "256,128" → (256, 128)).

        Raises ValueError with a plain message when ``text`` is not of this parameter's kind;
        ranges are left to :func:`problems`.
        """
        text = text.strip()
        if self.none is not None and text.lower() == "none":
            return None
        if self.auto is not None and text.lower() == AUTO:
            return AUTO
        try:
            if self.kind == "int":
                return int(text)
            if self.kind == "float":
                return float(text)
            if self.kind == "ints":
                return tuple(int(part) for part in text.replace(" ", "").strip("()[]").split(",") if part)
        except ValueError:
            raise ValueError(f"{self.name} takes {self.kind_text()}, got {shown(text)}") from None
        if self.kind == "choice":
            for choice in self.choices:
                if str(choice).lower() == text.lower():
                    return choice
            raise ValueError(f"{self.name} must be one of {', '.join(str(c).lower() for c in self.choices)}; "
                             f"got {shown(text)}")
        return text

    def read(self, text: str) -> Any:
        """The value of command-line ``text``, checked against this row (:meth:`parse`, then
        :meth:`problem`): the one rule by which the command line and the API take a value.

        Raises ValueError with a one-line message naming the parameter and its allowed range.
        """
        value = self.parse(text)
        message = self.problem(value)
        if message is not None:
            raise ValueError(message)
        return value

    def kind_text(self) -> str:
        """What the command line expects, for messages and --help."""
        what = {"int": "an integer", "float": "a number", "ints": "integers separated by commas",
                "text": "a string", "choice": " | ".join(str(c).lower() for c in self.choices or ())}[self.kind]
        return what + (f" or {AUTO}" if self.auto is not None else "")

    def describe(self) -> str:
        """Help text with range, the meaning of None and the default, as shown by --help and tooltips."""
        parts = [self.help]
        if self.kind in ("int", "float") and self.range_text():
            parts.append(f"Range: {self.range_text()}.")
        elif self.kind == "ints" and self.range_text():
            parts.append(f"Each {self.range_text()}.")
        if self.none is not None:
            parts.append(f"None: {self.none}.")
        if self.auto is not None:
            parts.append(f"{AUTO}: {self.auto}.")
        if self.needs:
            parts.append("Used when " + " and ".join(f"{k} is {' or '.join(_text(v) for v in allowed)}"
                                                     for k, allowed in self.needs.items()) + ".")
        if not self.paper:
            parts.append("Beyond the paper (the 'paper' preset keeps the reference's method).")
        parts.append(f"Default: {_text(self.default)}.")
        return " ".join(parts)


def _is_int(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def _text(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def _number_text(value: float | None, exact: bool) -> str:
    """A bound in words: ``exact`` (an integer parameter's) in full (4294967295, not 4.29497e+09), else ``:g``."""
    if value is None:
        return ""
    return str(int(value)) if exact and float(value).is_integer() else f"{value:g}"


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` for a message: one line, cut to about ``limit`` characters (a 5,000-digit
    number is quoted by its start)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _pretrained_problem(value: Any) -> str | None:
    if isinstance(value, (str, os.PathLike)) and not os.fspath(value).strip():
        return (f"pretrained must name bundled weights ({', '.join(PRETRAINED)}) or an auto-encoder file, "
                f"got an empty path {shown(value)}")
    return None


def _image_shape_problem(value: Any) -> str | None:
    if value is not None and len(value) != 2:
        return f"image_shape must be (height, width), got {shown(value)}"
    return None


def _device_problem(value: Any) -> str | None:
    try:
        resolve_device(value)
    except ValueError as exc:
        return str(exc)
    return None


P = Param
_TRAINED_HERE = {"autoencoder": ("conv", "mlp"), "pretrained": (None,)}   # an auto-encoder pre-trained in fit
_TRIPLET = {"classifier_loss": ("triplet",)}
# The table. Order: the order of SSCN's signature and of the app's and the CLI's listings.
PARAMETERS: tuple[Param, ...] = (
    P("n_clusters", "int", 10, "K clusters", "K, the number of clusters (subspaces).", low=2, high=MAX_CLUSTERS,
      auto="fit estimates K from the data before any other setting: the K whose graph beats a structureless "
           "reference most clearly, with a warning when none does (rule in sscn_core.plan)"),
    P("subspace_dim", "int", None, "q subspace dim.", "q, the dimension of each cluster's block; H has d_H = K·q columns.",
      low=1, high=MAX_WIDTH, none="from the data: min(9, max(⌊N / 3K⌋, min(5, ⌊N / 2K⌋))), see sscn_core.plan"),
    P("autoencoder", "choice", "auto", "Auto-encoder",
      "The auto-encoder Z = enc(X): the paper's conv net (for grey images of any shape, see image_shape), an MLP "
      "for vectors, or none (Z = X, the linear model); auto follows the data (sscn_core.plan).",
      choices={"conv": "Conv (images)", "mlp": "MLP (vectors)", None: "None (linear model: Z = X)",
               "auto": "Auto: the linear model (see sscn_core.plan)"}),
    P("image_shape", "ints", None, "Image shape (height, width)",
      "The shape of the flattened grey images the conv auto-encoder and the scattering front-end read (any "
      "size; the scattering front-end zero-pads each side to a multiple of 8).",
      none="a square, inferred from the number of features (784 → 28×28)", check=_image_shape_problem, paper=False,
      low=1, high=MAX_WIDTH),
    P("normalize", "choice", "auto", "Input rows",
      "Scale each input row to unit length before the network (a scaled point stays in its subspace).",
      choices={"none": "As given (the paper)", "unit_rows": "Unit rows",
               "auto": "Auto: unit rows for the linear model on pixels"}, paper=False),
    P("frontend", "choice", "auto", "Front-end",
      "Features before the auto-encoder: the data as given, or images → wavelet scattering → PCA to "
      "frontend_dim → unit rows (then use the MLP auto-encoder or none); auto tries both on images and keeps the "
      "one whose affinity is more subspace-preserving on its own clusters (no labels).",
      choices={"pixels": "Pixels (the data as given)", "scattering": "Wavelet scattering + PCA (images)",
               "auto": "Auto: the more subspace-preserving of the two (no labels)"},
      paper=False),
    P("frontend_dim", "int", 500, "Scattering PCA dim.", "Components the scattering front-end's PCA keeps.", low=1,
      high=MAX_WIDTH, paper=False, needs={"frontend": ("scattering",)}),
    P("latent_dim", "int", 32, "MLP latent dim.", "Width of Z for the MLP auto-encoder.", low=1, high=MAX_WIDTH,
      needs={"autoencoder": ("mlp",)}),
    P("hidden_dims", "ints", (256,), "MLP hidden widths", "Hidden layer widths of the MLP auto-encoder's encoder "
      "(the decoder mirrors them).", low=1, high=MAX_WIDTH, needs={"autoencoder": ("mlp",)}),
    P("pretrained", "text", None, "Pre-trained auto-encoder",
      f"Bundled weights ({', '.join(PRETRAINED)}) or an auto-encoder checkpoint file (sscn pretrain); skips "
      "pre-training.", none="train the auto-encoder here", check=_pretrained_problem),
    P("lambda1", "float", 0.5, "λ1 self-expr.", "Weight λ1 of the self-expression term ½‖Z − QZ‖².", low=0),
    P("lambda2", "float", 1.0, "λ2 reconstr.", "Weight λ2 of the reconstruction term ½‖X − dec(QZ)‖².", low=0),
    P("lambda_scale", "float", None, "λ scale", "Factor on λ1 and λ2 together: the weight of the self-expression "
      "against ½‖Q‖² (the linear model's λ = scale · (λ1 + λ2)).", low=0, low_open=True,
      none="for the linear model, the scale that makes λ1 + λ2 = 1/s², s² the K·q-th largest eigenvalue of the "
           "features' second moment (Theorem 1's Q keeps the K·q directions h has room for at half weight or more; "
           "no labels; see sscn_core.plan); 1 where h has room for every direction, or with an auto-encoder", paper=False),
    P("reduction", "choice", "sum", "Loss reduction", "Sum the squared entries (the paper) or average them.",
      choices={"sum": "Sum (the paper)", "mean": "Mean"}),
    P("batch_size", "int", None, "Batch size", "Mini-batch size of self-expression training (and self-training).",
      low=2, high=MAX_POINTS, none="the full batch up to 4,096 points, else 1,000 (the paper's)"),
    P("epochs", "int", 30, "Epochs", "Epochs of self-expression training (Adam) with schedule 'epochs'.", low=0,
      high=MAX_EPOCHS),
    P("schedule", "choice", "auto", "Schedule",
      "Fixed epochs (the paper), or each phase until its loss stops improving (relative improvement between two windows of "
      "steps below tol) within a budget of 30 epochs kept in 300–3,000 steps.",
      choices={"epochs": "Fixed epochs (the paper)", "auto": "Until converged, within a step budget"},
      paper=False),
    P("tol", "float", 1e-4, "Convergence tolerance", "Relative loss change that ends a phase.", low=0,
      low_open=True, paper=False, needs={"schedule": ("auto",)}),
    P("lr", "float", 1e-3, "Learning rate", "Adam's learning rate for encoder, decoder and h.", low=0, low_open=True),
    P("pretrain_epochs", "int", 100, "Pre-training epochs",
      "At most this many epochs of auto-encoder pre-training (reconstruction only) before self-expression: with "
      "schedule 'auto' it ends once its loss settles (tol), with 'epochs' it runs them all.", low=0, high=MAX_EPOCHS,
      needs=_TRAINED_HERE),
    P("pretrain_batch_size", "int", None, "Pre-training batch size", "Mini-batch size of auto-encoder pre-training.",
      low=1, high=MAX_POINTS,
      none="mini-batches of 128 points (N if smaller) with schedule 'auto', the full batch (the paper's) with "
           "'epochs'; see sscn_core.plan", needs=_TRAINED_HERE),
    P("pretrain_lr", "float", 1e-3, "Pre-training learning rate", "Adam's learning rate in pre-training.", low=0,
      low_open=True, needs=_TRAINED_HERE),
    P("pretrain_cache", "choice", True, "Pre-training cache",
      "Keep the auto-encoder pre-trained here in the cache folder ($SSCN_CACHE_DIR, else ~/.cache/sscn-explorer), "
      "found again by a fingerprint of the training data and the pre-training settings: a later fit on the same "
      "data loads it instead of pre-training again.",
      choices={True: "Cache by data fingerprint", False: "Always pre-train"}, paper=False, needs=_TRAINED_HERE),
    P("rho", "float", 0.1, "ρ (kept mass per column)",
      "Post-processing keeps, per column of |Q|, the largest entries up to this share of its mass.", low=0, high=1,
      low_open=True),
    P("alpha", "float", None, "α (affinity power)", "Power α of the post-processed affinity |UUᵀ|^α.", low=0,
      low_open=True, none=f"from the data: after a choice between pixels and scattering, {VERDICT_ALPHA['pixels']:g} "
                          f"if pixels win (linear subspaces) and {VERDICT_ALPHA['scattering']:g} if scattering wins "
                          f"(manifold-like classes), {FEW_ALPHA['pixels']:g} and {FEW_ALPHA['scattering']:g} below {ALPHA_FEW} "
                          f"points a cluster; otherwise "
                          f"each fit tries {', '.join(f'{a:g}' for a in ALPHA_CANDIDATES[:-1])} and "
                          f"{ALPHA_CANDIDATES[-1]:g} (the first is the paper's) and keeps the power whose affinity falls "
                          f"most clearly into K clusters (the spectral ratio μ_{{K+1}}/μ_K); no labels; see sscn_core.plan"),
    P("pseudo_sample_size", "int", None, "Pseudo-label sample",
      "Post-process Q of a uniform sample of this many points (at least 2·K; memory flat in N) and train the "
      "classifier on that sample.", low=2, high=MAX_POINTS, none="post-process all N points", paper=False),
    P("classifier_epochs", "int", 30, "Classifier epochs", "Epochs of the classifier R (Cayley-Adam, H frozen).",
      low=0, high=MAX_EPOCHS),
    P("classifier_lr", "float", 0.1, "Classifier learning rate", "Cayley-Adam's learning rate for R.", low=0,
      low_open=True),
    P("classifier_batch_size", "int", None, "Classifier batch size", "Mini-batch size of classifier training.",
      low=2, high=MAX_POINTS, none="the full batch up to 4,096 points, else 1,000 (the paper's)"),
    P("classifier_iters", "int", 10, "Classifier iterations per batch", "Cayley-Adam steps on each batch.", low=1,
      high=MAX_STEPS),
    P("h_init", "choice", "auto", "Initial h",
      "Start h at random (Xavier) or at Theorem 1's optimum for the starting encoder (from the d_Z × d_Z second "
      "moment of Z); the latter suits the linear model.",
      choices={"random": "Random (Xavier, the paper)", "closed_form": "Theorem 1's optimum (closed form)",
               "auto": "Auto: the closed form for the linear model, else random"}, paper=False),
    P("paper_start_steps", "int", 0, "Paper's random h, for comparison (steps)",
      "Where h starts at Theorem 1's optimum: first train a copy of it from the paper's random (Xavier) start for this "
      "many Adam steps on the same objective and record its losses as the phase 'paper_start', so that the loss chart "
      "shows the objective being learned beside the optimum the fit starts from. The copy is then discarded: the "
      "fit's result is the same with or without it. 0: no comparison.", low=0, high=MAX_STEPS, paper=False,
      needs={"h_init": ("auto", "closed_form")}),
    P("classifier_init", "choice", "auto", "Initial R",
      "Start R at the identity, or at the rotation that puts each pseudo-cluster's span (top q directions of its "
      "rows of H) into its own block.",
      choices={"identity": "Identity (the paper)", "subspaces": "The pseudo-clusters' spans",
               "auto": "Auto: the pseudo-clusters' spans"}, paper=False),
    P("postprocess", "choice", "subspace", "Post-processing",
      "The paper's post-processing, or its subspace variant: Q's diagonal left out of the thresholding, at least 2q "
      "entries kept per column, rank d·K, |UUᵀ| — exact on independent subspaces whatever the number of points "
      "per subspace.", choices={"paper": "The paper's", "subspace": "Subspace variant"}, paper=False),
    P("pseudo_graph", "choice", "auto", "Pseudo-label graph",
      "The graph the pseudo-labels are cut from: the learned Q (the paper), a sparse self-expressive (SSC, ℓ1) graph "
      f"of Z, or auto: the sparse graph when it falls clearly into K clusters (μ_(K+1)/μ_K ≥ {SPARSE_CLEAR:g}, up to "
      f"{SPARSE_MAX_POINTS:,} points), else Q (sscn_core.plan).",
      choices={"q": "Q = HᵀH (the paper)", "ssc": "Sparse (SSC) graph of Z",
               "auto": "Auto: the sparse graph when it splits clearly into K clusters"}, paper=False),
    P("n_restarts", "int", 10, "Spectral discretisations",
      "Discretisations of the spectral step from different random rotations; the partition of smallest "
      "normalised cut is kept (no labels needed).", low=1, high=MAX_STEPS,
      paper=False),
    P("classifier_temperature", "float", 20.0, "Classifier temperature τ",
      "The classifier reads unit rows of H and multiplies its logits by τ: at 20 a point inside its block is "
      "classified with probability ≈ 1 whatever K (sscn_core.plan); None: the paper's logits.", low=0,
      low_open=True, none="the paper's logits", paper=False),
    P("classifier_loss", "choice", "cross_entropy", "Classifier loss",
      "Cross-entropy on spectral pseudo-labels (the paper), or a triplet loss from each point's largest |Q| "
      "neighbours in its batch, with a balance term: no spectral clustering and no pseudo-labels.",
      choices={"cross_entropy": "Cross-entropy on spectral pseudo-labels (the paper)",
               "triplet": "Triplet loss from Q's neighbours (no pseudo-labels)"}, paper=False),
    P("triplet_neighbors", "int", 10, "Triplet neighbours", "The triplet loss's positives per point (k).", low=1,
      high=MAX_POINTS, paper=False, needs=_TRIPLET),
    P("triplet_margin", "float", 0.5, "Triplet margin", "The triplet loss's margin.", low=0, paper=False,
      needs=_TRIPLET),
    P("triplet_balance", "float", 1.0, "Triplet balance weight",
      "Weight of the balance term (minus the entropy of the batch's mean assignment).", low=0, paper=False,
      needs=_TRIPLET),
    P("self_training_rounds", "int", 0, "Self-training rounds",
      "Rounds of end-to-end self-training after the classifier (0 = none): its confident assignments train "
      "encoder, h and R jointly on Definition 3 + λ3 · cross-entropy.", low=0, high=MAX_EPOCHS,
      paper=False),
    P("self_training_epochs", "int", 5, "Epochs per round", "Epochs of each self-training round.", low=0,
      high=MAX_EPOCHS, paper=False),
    P("self_training_confidence", "float", 0.9, "Self-training confidence",
      "Self-training keeps the assignments with at least this probability.", low=0, high=1, high_open=True,
      paper=False),
    P("lambda3", "float", 1.0, "λ3 self-training", "Weight of the classifier's cross-entropy in self-training.", low=0,
      paper=False),
    P("student", "choice", "none", "Student",
      "After the fit, distil the model into a small conv net on the pixels (sscn_core.student): it learns to "
      "reproduce the model's H on the training images (no labels) and predicts at the conv auto-encoder's speed, "
      "the model's classifier R turning its H into clusters. Needs images.",
      choices={"none": "None", "conv": "Conv student (fast predict)"}, paper=False),
    P("student_epochs", "int", 30, "Student epochs",
      "At most this many epochs of distillation (mini-batches of 128, images moved by up to 1 pixel); with "
      "schedule 'auto' it ends once its loss settles (tol).", low=1, high=MAX_EPOCHS, paper=False,
      needs={"student": ("conv",)}),
    P("predict_with", "choice", "auto", "Predict with",
      "Which network predict, predict_proba and transform use for new points: the model itself (the teacher) or "
      "its distilled student; the in-sample labels_ are always the teacher's.",
      choices={"teacher": "The model (teacher)", "student": "The distilled student",
               "auto": "Auto: the student when one was trained"}, paper=False, needs={"student": ("conv",)}),
    P("device", "text", "auto", "Device", "auto (a CUDA GPU when present, else the CPU), cpu or cuda[:i].",
      check=_device_problem),
    P("seed", "int", 0, "Seed", "Seeds initialisation, batch order, sampling and spectral clustering.", low=0,
      high=MAX_SEED),
)
del P, _TRAINED_HERE, _TRIPLET
PARAMS: dict[str, Param] = {p.name: p for p in PARAMETERS}
for _p in PARAMETERS:
    if not set(_p.needs or {}) <= set(PARAMS):
        raise ValueError(f"parameter {_p.name}: needs unknown parameters {set(_p.needs) - set(PARAMS)}")
del _p
DEFAULTS: dict[str, Any] = {p.name: p.default for p in PARAMETERS}

# Presets: changes to the defaults. The defaults are not the paper's setup: they follow the data (preset
# "auto"), each setting left at "auto" or None chosen from the training data by the rules in
# sscn_core.plan (batch sizes, schedule, normalisation, front-end, auto-encoder, subspace dimension, λ's
# scale, h's and R's start, α), with the subspace post-processing and 10 k-means restarts. The "paper"
# preset is the paper's reference setup: it sets every one of those back to the reference's choice
# (batch 1000, 30 epochs, q = 9, the conv auto-encoder on pixels, Xavier's random start, the paper's
# post-processing of Q with α 8 and one restart, the classifier's plain logits); with the defaults that are the reference's already (Adam
# 1e-3, sum reductions, Q's diagonal kept, the decoder fed QZ, Cayley-Adam lr 0.1 for 30 epochs of 10
# iterations per batch, ρ 0.1). The reference code weighs its terms as
# ‖Q‖² + ½‖Z−QZ‖² + ‖X−dec(QZ)‖², twice Definition 3's ½‖Q‖² + λ1/2‖·‖² + λ2/2‖·‖² with
# λ1 = 0.5, λ2 = 1 (a factor Adam does not see).
_CHANGES: dict[str, dict[str, Any]] = {
    "auto": {},
    "paper": dict(subspace_dim=9, autoencoder="conv", frontend="pixels", batch_size=1000, classifier_batch_size=1000,
                  schedule="epochs", normalize="none", h_init="random", classifier_init="identity",
                  postprocess="paper", n_restarts=1, alpha=8.0, pseudo_graph="q",
                  lambda_scale=1.0, classifier_temperature=None),
}
# Beyond the paper (README "Beyond the paper"): the pseudo-labels come from a uniform sample of
# 4,000 points (memory flat in N) and the classifier reads unit rows of H with temperature 20 (the default's).
_CHANGES["conv-plus"] = dict(_CHANGES["paper"], classifier_temperature=20.0, pseudo_sample_size=4000)
# The same on wavelet scattering features (PCA-500, unit rows) with the linear model (Z = features),
# where h starts at Theorem 1's optimum (EDSC's self-expression, best rank d_H) and training refines it.
_CHANGES["scattering"] = dict(_CHANGES["conv-plus"], h_init="closed_form", autoencoder=None, frontend="scattering",
                              frontend_dim=500)
# No spectral clustering at all: the classifier learns from Q's neighbours (triplet loss).
_CHANGES["scattering-triplet"] = dict(_CHANGES["scattering"], classifier_loss="triplet", pseudo_sample_size=None)
PRESETS: dict[str, dict[str, Any]] = {name: {**DEFAULTS, **changes} for name, changes in _CHANGES.items()}
del _CHANGES


def problems(values: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with a full set of SSCN parameters: {name: message}; empty when all is well.

    Each value is checked against its row, then the rules that tie parameters together.
    """
    found = {name: msg for name, p in PARAMS.items() if (msg := p.problem(values[name])) is not None}
    ok = set(PARAMS) - set(found)
    if {"frontend", "autoencoder"} <= ok and values["frontend"] == "scattering" and values["autoencoder"] == "conv":
        found["frontend"] = ("the conv auto-encoder reads pixels; with frontend='scattering' use "
                             "autoencoder='mlp' or None")
    if {"pretrained", "autoencoder"} <= ok and values["pretrained"] is not None and values["autoencoder"] in (None, "auto"):
        found["pretrained"] = "pretrained weights need an auto-encoder; set autoencoder='conv' or 'mlp'"
    if {"predict_with", "student"} <= ok and values["predict_with"] == "student" and values["student"] == "none":
        found["predict_with"] = "predict_with='student' needs a student; set student='conv'"
    size = values["pseudo_sample_size"]
    if {"pseudo_sample_size", "n_clusters"} <= ok and size is not None:
        # n_clusters="auto": at least the smallest K here; fit checks again with the K it estimates
        k = int(PARAMS["n_clusters"].low) if values["n_clusters"] == AUTO else values["n_clusters"]
        if size < 2 * k:
            found["pseudo_sample_size"] = (f"pseudo_sample_size must hold at least 2·n_clusters = {2 * k} points, "
                                           f"got {size!r}")
    return found


def signature() -> inspect.Signature:
    """``SSCN.__init__``'s signature: every parameter keyword-only, with its default."""
    self = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature([self] + [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default)
                                       for p in PARAMETERS])


# What ``fit`` sets on an SSCN (scikit-learn's convention: the name ends in "_"; ``SSCN.load`` restores the
# weights, labels and records): name -> (type, one line). The "Attributes" section of SSCN's docstring;
# tests/test_params.py checks that a fit sets exactly these.
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "labels_": ("ndarray of shape (n_samples,)", "Cluster of each training point (the classifier's, in-sample)."),
    "n_features_in_": ("int", "Number of features of the rows fit was given."),
    "n_clusters_": ("int", "K, the number of clusters of the fitted model: n_clusters, or the estimate when "
                           "n_clusters='auto'."),
    "cluster_count_": ("dict or None", "n_clusters='auto': the estimate's evidence (sscn_core.cluster_count): value, "
                                       "candidates, scores, ratios, eigenvalues, structure, factor, frontend, sample; "
                                       "None when K was given."),
    "params_": ("dict", "Every parameter with the value the fit used (the plan's choice for 'auto' and None)."),
    "settings_": ("dict", 'What the plan chose and why: {setting: {"value", "reason"}} (sscn_core.plan).'),
    "net_": ("SSCNNetwork", "The fitted network: front-end, auto-encoder, h and the classifier R."),
    "device_": ("str", "The device the network was fitted on."),
    "history_": ("list of dict", "The loss terms of each training step, with its phase and step."),
    "convergence_": ("dict", "Per phase: steps taken of the budget, the last relative change and why it ended."),
    "phase_times_": ("dict", "Seconds each phase took."),
    "peak_memory_": ("dict", "Peak memory of each phase, in bytes."),
    "pseudo_labels_": ("ndarray or None", "The spectral pseudo-labels the classifier learnt (None: triplet loss)."),
    "pseudo_label_indices_": ("ndarray or None", "Rows the pseudo-labels belong to when pseudo_sample_size drew a "
                                                 "sample, else None (every row)."),
    "pseudo_label_solver_": ("dict or None", 'How the spectral eigenvectors were found: status ("converged", '
                                             '"stalled" or "not converged"), residual, rounds.'),
    "agreement_": ("float or None", "Share of the pseudo-labelled points that the classifier puts in their "
                                    "pseudo-cluster."),
    "proba_scale_": ("float", "predict_proba's temperature, fitted to the pseudo-labels (1 without them)."),
    "independence_": ("dict or None", "Theorem 1's premise checked on the pseudo-clusters: verdict, dimensions, note."),
    "model_choice_": ("dict or None", "frontend='auto' among candidates: each one's share, the margin and its noise "
                                      "(None when there was no choice)."),
    "pretrain_": ("dict or None", "The auto-encoder's pre-training in this fit: fingerprint, seconds, steps, epochs, "
                                  "final loss, whether read from the cache (None: none here)."),
    "paper_start_": ("dict or None", "The discarded comparison run from the paper's start (paper_start_steps): steps, "
                                     "final loss, seconds."),
    "student_": ("ConvStudent or None", "The distilled student (student='conv'), else None."),
    "student_report_": ("dict or None", "The student's agreement with the model, its steps, size and cost."),
    "warnings_": ("list of str", "What makes the result suspect, in sentences (each also issued as an SSCNWarning)."),
    "stopped_": ("bool", "Whether the fit ended early through stop()."),
}

# The "Examples" section of SSCN's docstring, a doctest (tests/test_params.py runs it): noise-free independent
# subspaces, which Theorem 1 recovers exactly.
EXAMPLES = """\
>>> from sscn_core import SSCN, load_dataset
>>> from sscn_core.metrics import evaluate
>>> data = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=10, n_per_cluster=30)
>>> model = SSCN(n_clusters=3).fit(data.X)     # every other setting follows the data
>>> model.labels_.shape
(90,)
>>> evaluate(data.y, model.labels_)["acc"]
1.0
>>> model.predict(data.X[:4]).shape           # new points: the classifier's blocks
(4,)
>>> sorted(model.settings_["subspace_dim"])   # what the plan chose, and why
['reason', 'value']"""


def docstring() -> str:
    """The "Parameters", "Attributes" and "Examples" sections of SSCN's docstring (numpydoc), from PARAMETERS,
    ATTRIBUTES and EXAMPLES."""
    lines = ["Parameters", "----------"]
    for p in PARAMETERS:
        kind = {"ints": "tuple of int", "text": "str", "choice": " | ".join(repr(c) for c in p.choices or ())}
        lines.append(f"{p.name}: {kind.get(p.kind, p.kind)}{' or None' if p.none else ''}"
                     f"{f' or {AUTO!r}' if p.auto else ''}")
        lines.append(f"    {p.describe()}")
    lines += ["", "Attributes", "----------"]
    for name, (kind, text) in ATTRIBUTES.items():
        lines += [f"{name}: {kind}", f"    {text}"]
    lines += ["", "Examples", "--------", EXAMPLES]
    return "\n".join(lines)


# ------------------------------------------------------------------------ auto-encoder choices
# The app (and anyone who wants one list) offers auto-encoder and weights as one choice:
# "pretrained-<name>" is the conv auto-encoder with bundled weights <name>.
AUTOENCODER_OPTIONS: dict[str, str] = {
    "auto": "Auto: follows the data (sscn_core.plan)",
    "pretrained-mnist": "Conv, pre-trained on MNIST (bundled)",
    "pretrained-fashion-mnist": "Conv, pre-trained on Fashion-MNIST",
    "conv": "Conv, trained here",
    "mlp": "MLP, trained here",
    "none": "None (linear model: Z = X)",
}


def split_autoencoder(option: str) -> dict[str, Any]:
    """An AUTOENCODER_OPTIONS key as SSCN's ``autoencoder`` and ``pretrained`` parameters."""
    if option not in AUTOENCODER_OPTIONS:
        raise ValueError(f"unknown auto-encoder {option!r}; choose one of {', '.join(AUTOENCODER_OPTIONS)}")
    if option.startswith("pretrained-"):
        return {"autoencoder": "conv", "pretrained": option.removeprefix("pretrained-")}
    return {"autoencoder": None if option == "none" else option, "pretrained": None}


def join_autoencoder(autoencoder: str | None, pretrained: str | None) -> str:
    """The AUTOENCODER_OPTIONS key for SSCN's ``autoencoder`` and ``pretrained`` (bundled weights only)."""
    option = f"pretrained-{pretrained}" if pretrained is not None else ("none" if autoencoder is None else autoencoder)
    if option not in AUTOENCODER_OPTIONS or (pretrained is not None and autoencoder != "conv"):
        raise ValueError(f"no auto-encoder option for autoencoder={autoencoder!r}, pretrained={pretrained!r}")
    return option
