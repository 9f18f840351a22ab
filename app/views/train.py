"""Train tab: what is minimised, live loss curves, errors, and saving/loading models."""
from __future__ import annotations

import streamlit as st

from sscn_core import SSCN
from sscn_core.checkpoint import CheckpointError
from sscn_core.metrics import format_bytes
from sscn_core.trainer import LOSS_TERMS
from sscn_core.viz import figures
from sscn_core.viz.notebook import fitted_k

from ..job import PHASE_LABELS, Snapshot
from ..runtime import session_state
from ..sidebar import SidebarResult
from ..state import AppState, LoadedModel, Notice
from .common import Current, follow_job_state, live_fragment, refresh_interval

LOSS_LATEX = (r"\min_{\mathrm{enc},\,\mathrm{dec},\,h}\;\tfrac12\|Q\|_F^2"
              r"+\tfrac{\lambda_1}{2}\|Z-QZ\|_F^2+\tfrac{\lambda_2}{2}\|X-\mathrm{dec}(QZ)\|_F^2,"
              r"\qquad Q=HH^\top,\; H=h(Z),\; Z=\mathrm{enc}(X)")
CLASSIFIER_LATEX = (r"\min_{R^\top R=I}\;\mathcal{L}_{\mathrm{clf}}(R)=-\frac1N\sum_i\log\operatorname{softmax}_{y_i}"
                    r"\big(-\|(HR)_i-\Pi_{k}(HR)_i\|^2\big)_{k=1..K}")


PAPER_START_NOTE = (
    "**The paper's start (comparison)**: a copy of h trained from the paper's random start on the same objective, "
    "the curve you watch learn. The dashed lines are Theorem 1's optimum, computed in closed form: this run's h "
    "starts there, so its own self-expression phase is a single point. The copy is then discarded; it does not "
    "change the result (sidebar → More settings → Beyond the paper → \"Paper's random h, for comparison\"; 0 turns it off).")


def render(state: AppState, cur: Current, sidebar: SidebarResult) -> None:
    """Draw the Train tab."""
    st.markdown("SSCN learns an embedding **H** whose inner products **Q = HHᵀ** express every point "
                "as a combination of points of its own subspace (rows are samples):")
    st.latex(LOSS_LATEX)
    chart = st.container()
    c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="center")
    terms = c1.multiselect("Loss terms", list(LOSS_TERMS), default=list(LOSS_TERMS),
                           format_func=figures.TERM_LABELS.get, key="train.terms", label_visibility="collapsed")
    smoothing = c2.slider("Smoothing (EMA)", 0.0, 0.95, 0.6, 0.05, key="train.ema",
                          help="Exponential moving average of the plotted curves; raw values stay faint behind.")
    log_y = c3.toggle("Log scale", value=True, key="train.log")

    def body() -> None:
        follow_job_state(state)
        snap = state.snapshot()
        history = snap.history if snap is not None else (cur.model.history_ if cur.kind == "loaded" else [])
        if cur.kind == "loaded" and history:
            history = figures.with_global_steps(history)
        st.plotly_chart(figures.loss_figure(history, terms=terms, smoothing=smoothing, log_y=log_y, height=360),
                        key="train.loss", config={"displaylogo": False})
        if figures.optimum_value(history) is not None:
            st.caption(PAPER_START_NOTE)
        if snap is not None:
            _run_facts(snap)

    with chart:
        live_fragment(refresh_interval(cur, 1.0), body)
    with st.expander("Then: pseudo-labels and the classifier"):
        st.markdown("Spectral clustering of the thresholded |Q| gives **pseudo-labels** (by default a sparse SSC "
                    "graph of the same points is tried first, and taken instead where it splits cleanly into K "
                    "clusters: Metrics says which); a rotation **R** "
                    "(kept orthogonal by Cayley-Adam) is trained so that each cluster's points put their energy "
                    "into one block of q coordinates of **HR**. A new point goes to the block holding most "
                    "of its energy:")
        st.latex(CLASSIFIER_LATEX)
        st.caption("Beyond the paper (sidebar → More settings): the triplet classifier loss needs no pseudo-labels "
                   "(it pulls each point towards its largest-|Q| neighbours), and self-training rounds then train "
                   "encoder, h and R together on the classifier's confident labels.")
    st.divider()
    _keep_work(state, cur, sidebar)


def _run_facts(snap: Snapshot) -> None:
    if snap.error is not None:
        st.error(f"Training failed: **{snap.error.type}**: {snap.error.message}")
        if st.get_option("client.showErrorDetails") == "full":   # a developer's server: tracebacks name its paths
            with st.expander("Traceback"):
                st.code(snap.error.traceback, language=None)
    if snap.analysis_error is not None:
        st.warning(f"The live views could not be updated: {snap.analysis_error.type}: {snap.analysis_error.message}")
    facts = [f"{PHASE_LABELS.get(phase, phase)}: cached (an earlier fit's, on these images)"
             for phase in snap.cached_phases]
    if snap.first_loss_after is not None:
        facts.append(f"first loss point {snap.first_loss_after:.1f} s after Start")
    if snap.history:
        last = snap.history[-1]
        facts.append(f"last loss {last['total']:.4g} ({PHASE_LABELS.get(last['phase'], last['phase'])}, "
                     f"step {last['step']})")
    if facts:
        st.caption(" · ".join(facts))


def _checkpoint_bytes(state: AppState, cur: Current) -> bytes | None:
    """The model's checkpoint file (cached per run and analysis version), or None while a step runs."""
    key = (cur.slot, cur.version, cur.snapshot.state if cur.snapshot else "")
    cache = st.session_state.get("train.ckpt")
    if cache is not None and cache[0] == key:
        return cache[1]
    with cur.model_access(state) as model:
        if model is None:
            return None
        path = state.tempdir / "download.pt"
        model.save(path)
        data = path.read_bytes()
    st.session_state["train.ckpt"] = (key, data)
    return data


def _load_checkpoint() -> None:
    """Uploader callback: read an uploaded checkpoint into the session."""
    state = session_state()
    upload = st.session_state.get("train.load")
    if upload is None:
        return
    path = state.save_upload(upload.name, upload.getvalue())
    try:
        model = SSCN.load(path, device=st.session_state.get("cfg.device", "auto"))
    except CheckpointError as exc:
        state.notice = Notice("error", f"Could not load {upload.name}: {exc}")
        return
    state.discard_job()
    state.loaded = LoadedModel(model, upload.name)
    state.notice = Notice("success", f"Loaded {upload.name}: K = {fitted_k(model)}, q = {model.params_['subspace_dim']}, "
                                     f"{model.n_features_in_} features per point.")


def _keep_work(state: AppState, cur: Current, sidebar: SidebarResult) -> None:
    st.subheader("Keep your work")
    c1, c2 = st.columns(2)
    with c1:
        data = None
        if cur.model is not None and hasattr(cur.model, "net_") and not (cur.live and cur.snapshot.state != "paused"):
            data = _checkpoint_bytes(state, cur)
        # K of a fitted model is n_clusters_ (the estimate with n_clusters="auto"); before the fit, the parameter
        k = None if cur.model is None else (getattr(cur.model, "n_clusters_", None) or cur.model.n_clusters)
        name = f"sscn-{sidebar.config.data.source}-K{k}.pt" if cur.model is not None else "sscn.pt"
        st.download_button("Download model", data=data or b"", file_name=name, mime="application/octet-stream",
                           icon=":material/download:", disabled=data is None, key="train.download")
        if data is None:
            st.caption("Available once training is paused, stopped or finished.")
        else:
            st.caption(f"A single checkpoint file ({format_bytes(len(data))}): weights, settings and the loss history.")
        if cur.model is not None and not cur.live and getattr(cur.model, "phase_times_", None):
            times = ", ".join(f"{PHASE_LABELS.get(k, k)} {v:.1f} s" for k, v in cur.model.phase_times_.items())
            st.caption(f"Phase times: {times}")
    with c2:
        st.file_uploader("Load a saved model", type=["pt"], key="train.load", on_change=_load_checkpoint,
                         help="A file written by Download model or by `python -m sscn_core train --out FILE`.")
