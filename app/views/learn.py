"""Learn tab: a playground on synthetic subspaces that shows when SSCN's guarantee holds and when it breaks.

The user picks K subspaces of dimension q in R^D and how they relate (independent, dependent,
overlapping); the page says at once whether the union is independent (rank of the union against
Σ dims), then trains *linear* SSCN full batch and compares the learned Q with the closed form Q*
of Theorem 1. The computation lives in :mod:`sscn_core.playground`; :func:`render` draws.
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import streamlit as st

from sscn_core import DataError
from sscn_core.playground import (EXAMPLES, RELATIONS, LearnResult, Playground, draw, run_playground,
                                  subspaces_report)
from sscn_core.theory import IndependenceReport
from sscn_core.viz import subspaces as figs

from . import family as fam

KEY = "learn."               # prefix of this tab's widget keys
RESULT_KEY = "learn.result"  # the last LearnResult of this session

# The self-expression family's lessons: (button label, the data, the priors' settings).
FAMILY_EXAMPLES: dict[str, tuple[str, Playground, fam.FamilySettings]] = {
    "lines": ("Dependent lines: ℓ1 clean, ℓ2 mixed",
              Playground(relation="dependent", n_clusters=4, subspace_dim=1, n_per_cluster=15), fam.FamilySettings()),
    # With 4 points per plane, whether ℓ1 splits a plane depends on the draw; seed 1 shows it.
    "few": ("Few points per plane: ℓ1 split, ℓ2 connected",
            Playground(n_clusters=4, subspace_dim=2, n_per_cluster=4, seed=1), fam.FamilySettings()),
}
FAMILY_KEY = KEY + "family."   # prefix of the family section's widget keys


# ---------------------------------------------------------------------------------- page
def _apply_example(name: str) -> None:
    """Button callback: put an example's settings into the widgets and ask for a run."""
    _apply_example_settings(EXAMPLES[name][1])
    st.session_state[KEY + "pending"] = True


def _apply_example_settings(p: Playground) -> None:
    """Put a playground's settings into its widgets."""
    for field_name, value in asdict(p).items():
        if field_name == "angle_deg":
            st.session_state[KEY + "set_angle"] = value is not None
            st.session_state[KEY + "angle"] = float(value) if value is not None else 30.0
        else:
            st.session_state[KEY + field_name] = value


def _apply_family_example(name: str) -> None:
    """Button callback: set the playground and the priors' settings, and ask for a comparison (no training)."""
    _, p, settings = FAMILY_EXAMPLES[name]
    _apply_example_settings(p)
    fam.apply_settings(FAMILY_KEY, settings)
    st.session_state[FAMILY_KEY + "pending"] = True


def _request_run() -> None:
    st.session_state[KEY + "pending"] = True


def _defaults() -> None:
    """Seed the widgets once per session, so that examples can set them later."""
    if KEY + "relation" not in st.session_state:
        _apply_example("independent")
        st.session_state[KEY + "pending"] = False


def _controls() -> Playground:
    """The playground's widgets; returns the settings they show."""
    c1, c2, c3, c4 = st.columns(4)
    relation = c1.selectbox("Relation between the subspaces", list(RELATIONS), format_func=RELATIONS.get,
                            key=KEY + "relation",
                            help="Independent: the rank of the union is Σ dims; no subspace can be built from the "
                                 "others. Dependent (pairwise disjoint): any two meet only in 0, yet together they "
                                 "span less than Σ dims — e.g. K lines in one plane (q = 1). Overlapping: "
                                 "neighbouring subspaces share one direction.")
    k = c2.slider("K (subspaces)", 2, 8, key=KEY + "n_clusters")
    q = c3.slider("q (dimension of each)", 1, 5, key=KEY + "subspace_dim")
    d = c4.slider("D (ambient dimension)", 2, 60, key=KEY + "ambient_dim")
    c1, c2, c3, c4 = st.columns(4)
    n = c1.slider("n (points per subspace)", 3, 100, key=KEY + "n_per_cluster")
    noise = c2.slider("noise σ", 0.0, 0.3, step=0.01, key=KEY + "noise",
                      help="Gaussian noise added to every coordinate; the points are N(0, I_q) inside each subspace.")
    with c3:
        set_angle = st.toggle("Fix the angle", key=KEY + "set_angle",
                              disabled=relation != "independent",
                              help="Independent subspaces only: every principal angle between every pair is set to "
                                   "this value (otherwise the bases are random).")
        angle = st.slider("smallest principal angle (°)", 1.0, 90.0, step=1.0, key=KEY + "angle",
                          disabled=not (set_angle and relation == "independent"))
    lam = c4.select_slider("λ = λ1 + λ2", options=[0.1, 0.3, 1.0, 3.0, 10.0], key=KEY + "lam",
                           help="Weight of the self-expression term ½‖X − QX‖² against ½‖Q‖².")
    with st.expander("Training settings"):
        c1, c2, c3, c4 = st.columns(4)
        steps = c1.slider("steps (full batch)", 100, 2000, step=100, key=KEY + "steps")
        lr = c2.select_slider("Adam learning rate", options=[0.01, 0.03, 0.1, 0.3], key=KEY + "lr")
        rho = c3.select_slider("ρ (post-processing)", options=[0.1, 0.3, 0.5, 1.0], key=KEY + "rho",
                               help="Share of each column's |Q| mass kept before spectral clustering. The paper's 0.1 "
                                    "is meant for batches of 1000 points; with a few dozen points per subspace it "
                                    "keeps too few entries, so the playground uses 0.5.")
        seed = c4.number_input("seed", 0, 10_000, step=1, key=KEY + "seed")
    return Playground(relation=relation, n_clusters=int(k), subspace_dim=int(q), ambient_dim=int(d),
                      n_per_cluster=int(n), noise=float(noise),
                      angle_deg=float(angle) if set_angle and relation == "independent" else None,
                      lam=float(lam), steps=int(steps), lr=float(lr), rho=float(rho), seed=int(seed))


def _independence_panel(p: Playground, report: IndependenceReport) -> None:
    left, right = st.columns([2, 3])
    with left:
        c1, c2 = st.columns(2)
        c1.metric("Σ dim S_k", report.sum_dims)
        c2.metric("rank of the union", report.union_rank)
        if report.independent:
            st.success(f"**Verdict: {report.verdict}.** No subspace can be written with the others' directions, "
                       "so EDSC's (and linear SSCN's) optimal Q only links points of the same subspace.",
                       icon=":material/check_circle:")
        else:
            st.error(f"**Verdict: {report.verdict}.** The subspaces together span fewer dimensions than their sum: "
                     "a point of one subspace can be written with points of the others, and Q* will use them.",
                     icon=":material/warning:")
        angle = "—" if not np.isfinite(report.min_angle_deg) else f"{report.min_angle_deg:.1f}°"
        st.caption(f"Smallest principal angle between two subspaces: **{angle}** "
                   + ("(pairwise disjoint, yet dependent: angles alone do not tell)" if p.relation == "dependent" else ""))
    with right:
        st.plotly_chart(figs.dims_vs_rank(report.dims, report.union_rank,
                                          title="Dimensions of the subspaces vs rank of their union"),
                        key=KEY + "dims_chart", config={"displaylogo": False})
        st.caption("The coloured bar stacks the dimensions of the K subspaces; the grey bar is the dimension of "
                   "everything they span together. Equal lengths: independent; the gap is the number of dependent "
                   "dimensions.")


def _theory() -> None:
    with st.expander("The maths in four lines", expanded=False):
        st.markdown("Linear SSCN (no auto-encoder, Z = X, rows are points) minimises")
        st.latex(r"L(W) = \tfrac12\|Q\|_F^2 + \tfrac{\lambda}{2}\|X - QX\|_F^2,\qquad Q = XW^\top W X^\top,"
                 r"\quad W\in\mathbb{R}^{d_H\times D}")
        st.markdown("which is EDSC's objective restricted to Q = X M Xᵀ with M ⪰ 0. EDSC's minimiser over *all* "
                    "N×N matrices is, for the SVD X = U S Vᵀ,")
        st.latex(r"C^* = \lambda(I+\lambda XX^\top)^{-1}XX^\top = U\,\mathrm{diag}\!\Big(\frac{\lambda s_i^2}"
                 r"{1+\lambda s_i^2}\Big)U^\top")
        st.markdown("**Theorem 1**: if d_H ≥ rank(X), the choice below reaches it, so SSCN learns EDSC's solution "
                    "without storing an N×N matrix:")
        st.latex(r"W^* = \mathrm{diag}\!\Big(\sqrt{\tfrac{\lambda}{1+\lambda s_i^2}}\Big)V^\top\ \Rightarrow\ "
                 r"Q^* = XW^{*\top}W^*X^\top = C^*")
        st.markdown("For **independent** subspaces, dim(S₁ + … + S_K) = Σ dim S_k, C* links points of different "
                    "subspaces only through terms of order 1/(λs²) (none at all when the subspaces are orthogonal): "
                    "Q* is block-diagonal up to that, and clustering it recovers the subspaces. When the subspaces "
                    "are dependent the optimum itself mixes them — training cannot fix what the objective prefers.")


def _results(res: LearnResult, current: Playground) -> None:
    p = res.params
    if res.params != current:
        st.info("The results below are for the previous settings; press **Train linear SSCN** to run the new ones.")
    c = st.columns(5)
    c[0].metric("‖Q − Q*‖ / ‖Q*‖", format_error(res.final_error), help="Relative distance between the learned Q and "
                "the closed form Q* at the end of training (Frobenius norms).")
    c[1].metric("ACC", f"{res.acc:.0%}", help="Accuracy of the trained classifier on these points (best matching "
                "of clusters to subspaces).")
    c[2].metric("pseudo-label ACC", f"{res.pseudo_acc:.0%}",
                help="Spectral clustering of the learned Q, before the classifier is trained.")
    c[3].metric("off-block mass of Q", f"{res.sp_error:.1%}",
                help="Subspace-preserving error: the share of the off-diagonal |Q| that links points of different "
                     "subspaces.")
    c[4].metric("off-block mass of Q*", f"{res.sp_error_star:.1%}", help="The same for the closed form.")
    if res.agreement is not None:
        text = (f"The classifier reproduces {res.agreement:.1%} of the pseudo-labels it was trained on.")
        (st.caption if res.agreement >= 0.99 else st.warning)(text)
    st.caption("This playground trains h from a random start for the chosen number of full-batch steps on X as "
               "given, so you can watch Q reach Q*; every other setting is the library's default. With the "
               "defaults, SSCN starts at Q* (Theorem 1) directly.")
    if res.truncated:
        st.warning(f"With noise, X has full rank (more than d_H = {p.d_h}), so Theorem 1's condition d_H ≥ rank(X) "
                   f"fails. Q* here is the best Q of rank ≤ d_H (the {p.d_h} strongest singular directions of X), "
                   "which "
                   "is what linear SSCN can reach.")
    st.caption(f"{p.n_points} points, d_H = {p.d_h}, {p.steps} full-batch Adam steps (lr {p.lr}), "
               f"{res.seconds:.1f} s including pseudo-labels and classifier.")

    zmax = float(np.percentile(np.abs(res.q_star), 99)) or None
    left, right = st.columns(2)
    with left:
        st.plotly_chart(figs.block_heatmap(res.q_star, res.labels, zmax=zmax, title="Closed form Q* (Theorem 1)"),
                        key=KEY + "qstar_chart", config={"displaylogo": False})
    with right:
        st.plotly_chart(figs.block_heatmap(res.q, res.labels, zmax=zmax, title="Learned Q = HHᵀ"),
                        key=KEY + "q_chart", config={"displaylogo": False})
    st.caption("Both matrices, points sorted by their true subspace, on the same colour scale. A subspace-preserving "
               "Q is dark only inside the diagonal blocks; colour outside them is leakage between subspaces.")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(figs.error_curve(res.steps, res.errors, title="Distance to the closed form while training"),
                        key=KEY + "error_chart", config={"displaylogo": False})
        st.caption("‖Q − Q*‖/‖Q*‖ every few steps. Theorem 1 says the minimum is Q* whatever the subspaces; "
                   "full-batch Adam gets there (the dotted line marks 5 %).")
    with right:
        st.plotly_chart(figs.leakage_heatmap(res.leakage, title="Leakage of the learned Q"),
                        key=KEY + "leak_chart", config={"displaylogo": False})
        st.caption("Row a: where the off-diagonal |Q| mass of subspace a's points goes. All on the diagonal: "
                   "each subspace expresses itself only; off-diagonal cells: the clustering can be fooled.")
    for kind, text in verdict_messages(res):
        getattr(st, kind)(text)


def format_error(value: float) -> str:
    """A relative error as a percentage, or in scientific notation once it is below 0.1 %."""
    if not np.isfinite(value):
        return "—"
    return f"{value:.1%}" if value >= 1e-3 else f"{value:.1e}"


def verdict_messages(res: LearnResult) -> list[tuple[str, str]]:
    """What the run shows, in words: (streamlit element name, text) pairs."""
    out: list[tuple[str, str]] = []
    converged = res.final_error < 0.05
    if not converged:
        out.append(("info", f"Q is still {res.final_error:.0%} away from Q*. Directions of X with small singular "
                            "values (subspaces at small angles, weak signal) learn slowly: Adam's step is scaled by "
                            "the large early gradients of the strong directions. More steps bring it closer."))
    if res.report.independent and res.acc == 1.0 and res.sp_error_star < 0.1:
        out.append(("success", f"Independent subspaces: {'Q matches Q*, ' if converged else ''}the mass stays in the "
                               "diagonal blocks and every point is clustered correctly."))
    elif res.report.independent:
        angle = res.report.min_angle_deg
        out.append(("warning", f"Independent, but barely: the smallest angle is {angle:.0f}°. C*'s links across "
                               "subspaces shrink like 1/(λs²), and close subspaces make some singular values s small, "
                               f"so Q* already puts {res.sp_error_star:.0%} of its mass across subspaces (ACC "
                               f"{res.acc:.0%}). A larger λ or more points per subspace reduce it."))
    else:
        but = "Q still converges to Q*, but " if converged else ""
        outcome = ("the post-processing, which keeps each point's strongest links, still separates them here (ACC "
                   "100%), though nothing guarantees it" if res.acc == 1.0 else
                   f"and the clustering suffers (ACC {res.acc:.0%})")
        out.append(("warning", f"Dependent subspaces ({res.report.verdict}): {but}"
                               f"Q* itself puts {res.sp_error_star:.0%} of its mass across subspaces — points of one "
                               f"subspace are expressed with points of others — {outcome}."))
    return out


def render() -> None:
    """Draw the Learn tab."""
    _defaults()
    st.markdown("SSCN's guarantee — Theorem 1 plus EDSC's subspace-preserving property — rests on one assumption: "
                "the subspaces are **independent**, i.e. the rank of their union is the sum of their dimensions. "
                "Build subspaces here, see whether the assumption holds, and watch linear SSCN learn the "
                "closed-form solution.")
    _theory()
    cols = st.columns([1] + [2] * len(EXAMPLES))
    cols[0].markdown("**Examples**", help="Each sets the controls below and trains at once.")
    for col, (name, (label, _)) in zip(cols[1:], EXAMPLES.items()):
        col.button(label, key=KEY + "example." + name, on_click=_apply_example, args=(name,), width="stretch")
    p = _controls()
    try:
        report = subspaces_report(p)
    except DataError as exc:
        st.warning(f"These settings do not describe valid subspaces: {exc}")
        st.session_state[KEY + "pending"] = False
        return
    _independence_panel(p, report)

    st.subheader("Theorem 1 live")
    st.button("Train linear SSCN", type="primary", key=KEY + "train", on_click=_request_run,
              help=f"Full batch (all {p.n_points} points in every step), so the mini-batch loss is the full one.")
    if st.session_state.get(KEY + "pending"):
        st.session_state[KEY + "pending"] = False
        bar = st.progress(0.0, text="Drawing the data…")
        try:
            with st.spinner("Training linear SSCN…"):
                result = run_playground(p, progress=lambda f, text: bar.progress(min(1.0, f), text=text))
        except (DataError, FloatingPointError) as exc:
            bar.empty()
            st.error(f"Training failed: {exc}")
            return
        bar.empty()
        st.session_state[RESULT_KEY] = result
    result = st.session_state.get(RESULT_KEY)
    if result is None:
        st.caption("Press **Train linear SSCN** (a few seconds) or pick an example above.")
    else:
        _results(result, p)
    _family_section(p)


def _family_section(p: Playground) -> None:
    st.subheader("The self-expression family side by side")
    st.markdown("SSCN learns EDSC's **ℓ2** self-expression, which needs independent subspaces. Sparse priors ask "
                "less: **ℓ1** (SSC) stays inside the subspaces when they are merely disjoint, under angle and "
                "sampling conditions — but few links per point can leave a subspace's graph in pieces. The **elastic "
                "net** trades one against the other; **low rank** (LRR) behaves like ℓ2. Compare them on the "
                "points above.")
    cols = st.columns([1] + [2] * len(FAMILY_EXAMPLES))
    cols[0].markdown("**Lessons**", help="Each sets the subspaces above and the priors below, and compares at once.")
    for col, (name, (label, _, _)) in zip(cols[1:], FAMILY_EXAMPLES.items()):
        col.button(label, key=FAMILY_KEY + "example." + name, on_click=_apply_family_example, args=(name,),
                   width="stretch")
    ds = draw(p)
    st.caption(f"EDSC uses λ = {p.lam:g} from the playground; the same {p.n_points} points for every prior.")
    data = (p.relation, p.n_clusters, p.subspace_dim, p.ambient_dim, p.n_per_cluster, p.noise, p.angle_deg, p.seed)
    fam.section(ds.X, ds.y, p.n_clusters, p.subspace_dim, prefix=FAMILY_KEY, data_key=data, lam=p.lam)


__all__ = ["FAMILY_EXAMPLES", "format_error", "render", "verdict_messages"]
