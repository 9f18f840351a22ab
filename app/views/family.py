"""The self-expression family side by side: one section the Learn and Diagnostics tabs both draw.

The user picks priors (ℓ2 = EDSC / SSCN's Q*, ℓ1 = SSC, greedy ℓ0 = SSC-OMP, elastic net = EnSC,
low rank = LRR) and sees, on the same labelled points, each coefficient matrix's block structure,
its subspace-preserving error and the connectivity of every true block. The maths lives in
:mod:`sscn_core.family` and :mod:`sscn_core.metrics`; :func:`run_family`, :func:`summary_rows` and
:func:`verdicts` are free of Streamlit, :func:`section` draws.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import streamlit as st

from sscn_core import family
from sscn_core.family import METHODS, FamilyError, FamilyFit
from sscn_core.metrics import format_bytes
from sscn_core.theory import stratified_sample
from sscn_core.viz import family as figs

DEFAULT_METHODS = ("edsc", "ssc", "ensc", "lrr")
TAU_OPTIONS = (math.inf, 1000.0, 100.0, 10.0, 1.0)   # LRR's τ in the widget; ∞ = the clean-data closed form
SP_CLEAN = 0.01                                      # off-subspace share below which C counts as subspace-preserving


@dataclass(frozen=True)
class FamilySettings:
    """The priors to compare and their parameters (one set for all data of a tab)."""

    methods: tuple[str, ...] = DEFAULT_METHODS
    lam: float = 1.0             # EDSC's λ
    alpha_z: float = 20.0        # SSC and EnSC: γ = α_z / μ
    l1_ratio: float = 0.5        # EnSC's weight of ℓ1 against ℓ2
    n_nonzero: int = 2           # SSC-OMP's points per point
    tau: float | None = None     # LRR: None for clean data, else the noise weight τ
    rho: float = 1.0             # the post-processing's share of each column's |C| mass kept

    def params(self) -> dict[str, dict[str, Any]]:
        """Parameters per method, as :func:`sscn_core.family.compare` takes them."""
        every = {"edsc": {"lam": self.lam}, "ssc": {"alpha_z": self.alpha_z}, "ssc_omp": {"n_nonzero": self.n_nonzero},
                 "ensc": {"alpha_z": self.alpha_z, "l1_ratio": self.l1_ratio}, "lrr": {"tau": self.tau}}
        return {m: every[m] for m in self.methods}


@dataclass(frozen=True)
class FamilyRun:
    """One comparison: what it was computed for (``key``), the points' true groups and every method's fit."""

    key: Hashable
    settings: FamilySettings
    labels: np.ndarray
    names: list[str]
    fits: list[FamilyFit]


def run_family(X: Any, y: Any, n_clusters: int, subspace_dim: int, settings: FamilySettings, *,
               names: Mapping[Any, str] | None = None, key: Hashable = None,
               progress: Callable[[int, str], None] | None = None) -> FamilyRun:
    """Every chosen method on the same points (unit-length rows); raises FamilyError (e.g. over the memory budget).

    ``names`` maps a label value to its display name (default: the value).
    """
    if not settings.methods:
        raise FamilyError("choose at least one prior to compare")
    labels = np.asarray(y)
    groups = np.unique(labels)
    fits = family.compare(X, labels, n_clusters, subspace_dim, settings.methods, settings.params(), rho=settings.rho,
                          progress=progress)
    shown = [str((names or {}).get(g.item(), g.item())) for g in groups]
    return FamilyRun(key, settings, labels, shown, fits)


def _parts(components: np.ndarray) -> str:
    return " · ".join(str(int(c)) for c in components)


def summary_rows(run: FamilyRun) -> list[dict[str, Any]]:
    """One table row per method."""
    return [{"method": f.label, "prior": METHODS[f.method].prior, "off-subspace |C|": f"{f.sp_error:.1%}",
             "ACC": f"{f.acc:.0%}", "components per block": _parts(f.components),
             "smallest λ₂": round(float(np.nanmin(f.algebraic_connectivity)), 3)
             if np.isfinite(f.algebraic_connectivity).any() else None,
             "seconds": round(f.seconds, 2), "memory (estimate)": format_bytes(f.memory_bytes)} for f in run.fits]


def verdicts(run: FamilyRun) -> list[str]:
    """What each method's C shows, in one sentence each."""
    out = []
    for f in run.fits:
        split = [run.names[b] for b, c in enumerate(f.components) if c > 1]
        if f.sp_error >= SP_CLEAN:
            text = f"**{f.label}** puts {f.sp_error:.0%} of |C| between different subspaces"
        else:
            text = f"**{f.label}** is subspace-preserving ({f.sp_error:.1%} of |C| off the blocks)"
        if split:
            text += (f", and splits block{'s' if len(split) > 1 else ''} {', '.join(split)} into unconnected parts: "
                     "spectral clustering is free to cut there")
        else:
            text += ", and every block is connected" if f.sp_error < SP_CLEAN else "; every block is connected"
        out.append(f"{text} (ACC {f.acc:.0%}).")
    return out


# ---------------------------------------------------------------------------------- page
def apply_settings(prefix: str, settings: FamilySettings) -> None:
    """Put ``settings`` into the section's widgets (before they are drawn, e.g. from a button callback)."""
    for name, value in asdict(settings).items():
        st.session_state[prefix + name] = list(value) if name == "methods" else \
            math.inf if name == "tau" and value is None else value


def _controls(prefix: str, lam: float | None) -> FamilySettings:
    """The section's widgets; ``lam`` given means EDSC's λ comes from elsewhere on the page."""
    if prefix + "methods" not in st.session_state:
        apply_settings(prefix, FamilySettings(lam=lam if lam is not None else 1.0))
    methods = st.multiselect("Priors to compare", list(METHODS), format_func=lambda m: METHODS[m].label,
                             key=prefix + "methods",
                             help="ℓ2 (EDSC) is what SSCN learns (Theorem 1). ℓ1 (SSC) and its greedy version "
                                  "(SSC-OMP) pick few points per point; the elastic net (EnSC) mixes ℓ1 and ℓ2; "
                                  "low rank (LRR) takes the smallest-nuclear-norm C.")
    with st.expander("Settings of the priors"):
        c = st.columns(5 if lam is None else 4)
        alpha_z = c[0].select_slider("α_z (SSC, EnSC)", options=[5.0, 10.0, 20.0, 50.0, 100.0], key=prefix + "alpha_z",
                                     help="Weight of the fit: γ = α_z/μ, μ = the smallest over points of their largest "
                                          "|⟨x_i, x_j⟩|. Larger: sparser C, closer to exact self-expression.")
        l1_ratio = c[1].select_slider("EnSC ℓ1 share", options=[0.1, 0.3, 0.5, 0.7, 0.9], key=prefix + "l1_ratio",
                                      help="λ in λ‖c‖₁ + (1−λ)/2‖c‖²: 1 is SSC, towards 0 it becomes ℓ2.")
        n_nonzero = c[2].number_input("SSC-OMP points", 1, 20, step=1, key=prefix + "n_nonzero",
                                      help="How many other points orthogonal matching pursuit may use per point; "
                                           "the subspace dimension is the textbook choice.")
        tau = c[3].select_slider("LRR τ", options=list(TAU_OPTIONS), key=prefix + "tau",
                                 format_func=lambda t: "clean (∞)" if math.isinf(t) else f"{t:g}",
                                 help="Clean: the shape-interaction matrix U_r U_rᵀ (r = rank X). With noise X has "
                                      "full rank; τ keeps the singular values above 1/√τ, shrunk by 1 − 1/(τs²).")
        if lam is None:
            lam = c[4].select_slider("EDSC λ", options=[0.1, 0.3, 1.0, 3.0, 10.0, 100.0], key=prefix + "lam",
                                     help="Weight of ½‖X − CX‖² against ½‖C‖².")
        rho = st.select_slider("ρ (post-processing, every prior)", options=[0.1, 0.3, 0.5, 1.0], key=prefix + "rho",
                               help="Share of each column's |C| mass kept before spectral clustering of |C|. 1 keeps "
                                    "everything: the sparse priors are sparse already, and the paper's 0.1 cuts "
                                    "their graphs apart.")
    return FamilySettings(methods=tuple(methods), lam=float(lam), alpha_z=float(alpha_z), l1_ratio=float(l1_ratio),
                          n_nonzero=int(n_nonzero), tau=None if math.isinf(tau) else float(tau), rho=float(rho))


def _show(run: FamilyRun, prefix: str) -> None:
    fits = run.fits
    st.plotly_chart(figs.coefficient_grid([f.C for f in fits], run.labels, [f.label for f in fits], names=run.names),
                    key=prefix + "grid", config={"displaylogo": False})
    st.caption("|C| of each prior, points sorted by their true subspace, each on its own scale. Colour outside the "
               "diagonal blocks links different subspaces; a block with white gaps inside may fall apart.")
    st.dataframe(summary_rows(run), hide_index=True, width="stretch")
    st.plotly_chart(figs.family_summary([f.label.split(" (")[0] for f in fits], [f.sp_error for f in fits],
                                        [f.algebraic_connectivity for f in fits], [f.components for f in fits],
                                        names=run.names), key=prefix + "summary", config={"displaylogo": False})
    st.caption("Subspace-preserving is half of the story: each true block's graph (|C| + |C|ᵀ inside the block) must "
               "also be connected, or spectral clustering may split it. λ₂ is the second-smallest eigenvalue of the "
               "block's normalised Laplacian: 0 when it falls apart, larger when it is well knit.")
    st.markdown("\n".join(f"- {v}" for v in verdicts(run)))


def section(X: Any, y: Any, n_clusters: int, subspace_dim: int, *, prefix: str, data_key: Hashable,
            names: Mapping[Any, str] | None = None, lam: float | None = None, max_points: int | None = None) -> None:
    """Controls, the run button and the last comparison for these points (``data_key`` says which points).

    With ``max_points``, a seeded sample spread evenly over the groups is compared instead of all points.
    """
    settings = _controls(prefix, lam)
    y = np.asarray(y)
    if max_points is not None and y.shape[0] > max_points:
        rows = stratified_sample(y, max_points, seed=0)
        X, y = np.asarray(X)[rows], y[rows]
        n_clusters = min(n_clusters, np.unique(y).size)
    n = int(y.shape[0])
    st.button(f"Compare the priors on {n:,} points", key=prefix + "run", type="primary",
              on_click=lambda: st.session_state.update({prefix + "pending": True}),
              help="Every chosen prior on the same points, scaled to unit length; the labels come from the same "
                   "post-processing for all.")
    key = (data_key, settings)
    if st.session_state.get(prefix + "pending"):
        st.session_state[prefix + "pending"] = False
        bar = st.progress(0.0, text="Comparing…")
        total = max(1, len(settings.methods))
        try:
            run = run_family(X, y, n_clusters, subspace_dim, settings, names=names, key=key,
                             progress=lambda i, m: bar.progress(i / total, text=f"{METHODS[m].label}…"))
        except FamilyError as exc:
            st.error(f"Cannot compare: {exc}")
            return
        finally:
            bar.empty()
        st.session_state[prefix + "result"] = run
    run = st.session_state.get(prefix + "result")
    if run is None:
        st.caption("Press the button to compute the chosen priors' coefficient matrices.")
        return
    if run.key != key:
        st.info("The comparison below is for earlier settings or other points; press the button to update it.")
    _show(run, prefix)


__all__ = ["FamilyRun", "FamilySettings", "apply_settings", "run_family", "section", "summary_rows", "verdicts"]
