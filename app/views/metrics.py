"""Metrics tab: ACC/ARI/NMI in- and out-of-sample and of the pseudo-labels; cluster sizes; confusion."""
from __future__ import annotations

import streamlit as st

from sscn_core.plan import describe_clarity
from sscn_core.viz import figures

from ..state import AppState
from .common import (Current, follow_job_state, live_fragment, refresh_interval, refreshed, show_nothing,
                     snapshot_label)

ROWS = (("metrics_in", "In-sample"), ("metrics_out", "Out-of-sample"), ("metrics_pseudo", "Pseudo-labels"))
_SETS = "**In-sample**: the classifier on the training points. **Out-of-sample**: the held-out points, never trained on. "
_SCORES = "ARI = adjusted Rand index (0 = chance), NMI = normalised mutual information."
EXPLAIN = (_SETS + "**Pseudo-labels**: spectral clustering of Q (or of a sparse SSC graph of the same points, where it "
           "split cleanly into K clusters: see the choice of pseudo_graph below), which the classifier learnt from. "
           + _SCORES)
EXPLAIN_TRIPLET = (_SETS + "This model's classifier was trained with the triplet loss on Q's neighbours, so there are "
                   "no pseudo-labels to score. " + _SCORES)
HELP = {"acc": "Accuracy under the best one-to-one matching of clusters to classes (Hungarian).",
        "ari": "Adjusted Rand index: agreement of the two partitions, 0 for chance, 1 for identical.",
        "nmi": "Normalised mutual information between clusters and classes."}


def render_fit_report(report: dict) -> None:
    """What the fit chose and how it went: warnings, agreement, convergence, settings with reasons."""
    for message in report["warnings"]:
        st.warning(message, icon="⚠️")
    agreement = report.get("agreement")
    cols = st.columns(3)
    if agreement is not None:
        cols[0].metric("Classifier agreement", f"{agreement:.1%}",
                       help="Share of the training points on which the classifier reproduces the pseudo-label it "
                            "was trained on (below 99 % is a warning).")
    for col, (phase, c) in zip(cols[1:], report.get("convergence", {}).items()):
        col.metric(f"{phase.replace('_', '-')} steps", f"{c['steps']:,} / {c['budget']:,}",
                   help=f"Stopped by {c['stopped_by']}; last relative improvement of the loss {c['relative_change']:.2g}.")
    independence = report.get("independence")
    if independence:
        st.caption(f"Independence of the pseudo-clusters' spans (in Z): **{independence['verdict']}** — "
                   f"{independence['note']}.")
    for choice in report.get("choices", []):
        line = f"**How clear was the choice of {choice['setting']} = {choice['value']}?** {describe_clarity(choice)}"
        if choice["clear"] is False:
            st.warning(line, icon="⚖️")
        else:
            st.caption(line)
    with st.expander("Settings this fit chose, and why"):
        st.table([{"setting": name, "value": f"{entry['value']:.4g}" if isinstance(entry["value"], float)
                   else str(entry["value"]), "why": entry["reason"]}
                  for name, entry in report.get("settings", {}).items()])


def render(state: AppState, cur: Current) -> None:
    """Draw the Metrics tab."""

    def body() -> None:
        follow_job_state(state)
        now = refreshed(state, cur)
        if show_nothing(now):
            return
        a = now.analysis
        if not a.classifier_trained:
            st.info("The classifier R is not trained yet: the in- and out-of-sample numbers below assign each "
                    "point to the block of raw H coordinates holding most of its energy (provisional).")
        if now.train.y is None:
            st.caption("This data has no labels: ACC, ARI and NMI need them.")
        rows = [(title, getattr(a, attr)) for attr, title in ROWS if getattr(a, attr) is not None]
        note = getattr(a, "pseudo_note", None)
        if rows:
            cols = st.columns(len(rows) + (1 if note else 0))
            for col, (title, values) in zip(cols, rows):
                with col.container(border=True):
                    st.markdown(f"**{title}**")
                    st.metric("ACC", f"{values['acc']:.1%}", help=HELP["acc"])
                    st.caption(f"ARI {values['ari']:.3f} · NMI {values['nmi']:.3f}")
            if note:
                with cols[-1].container(border=True):
                    st.markdown("**Pseudo-labels**")
                    st.caption(note)
        elif note:
            st.caption(note)
        st.caption(EXPLAIN_TRIPLET if note else EXPLAIN)
        if a.metrics_out is None and now.holdout is None:
            st.caption("Choose a held-out set in the sidebar to measure out-of-sample performance.")
        left, right = st.columns(2)
        with left:
            st.plotly_chart(figures.bar_figure(a.cluster_sizes, [f"c{k}" for k in range(len(a.cluster_sizes))],
                                               title="Cluster sizes (training points)", y_title="points"),
                            key="met.sizes")
        with right:
            if a.confusion is not None:
                c = a.confusion
                st.plotly_chart(figures.confusion_figure(c.table, c.classes, c.clusters, class_names=now.class_names,
                                                         title="True class × predicted cluster"), key="met.confusion")
        if a.fit_report is not None:
            render_fit_report(a.fit_report)
        st.caption(f"Snapshot taken {snapshot_label(a)}; computed in {a.seconds:.2f} s.")

    live_fragment(refresh_interval(cur, 2.0), body)
