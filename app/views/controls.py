"""The control bar above the tabs: Start, Pause/Resume, Stop, Reset, and the live progress line."""
from __future__ import annotations

import streamlit as st

from sscn_core import DataError
from sscn_core.analysis import make_probe

from ..config import build_model
from ..job import PHASE_LABELS, Job, Snapshot
from ..runtime import training_data
from ..sidebar import SidebarResult
from ..sidebar import read as read_sidebar
from ..state import AppState, Notice
from .common import follow_job_state, live_fragment

STATE_TEXT = {"queued": "Waiting for a free slot", "running": "Training", "pausing": "Pausing at the next step…", "paused": "Paused",
              "stopping": "Stopping…", "finished": "Finished", "stopped": "Stopped (the model keeps what it learnt)",
              "failed": "Failed"}


def start_training(state: AppState) -> None:
    """Button callback: read the settings, load the data, build the model, start a job (replacing any previous one)."""
    sidebar = read_sidebar()
    if not sidebar.ok:
        state.notice = Notice("error", "Fix the settings marked in the sidebar first.")
        return
    config = sidebar.config
    try:
        train, holdout = training_data(config.data)
    except DataError as exc:
        state.notice = Notice("error", f"Could not load the data: {exc}")
        return
    job = Job(build_model(config.model, train.image_shape), make_probe(train, holdout, seed=config.data.seed))
    state.notice = None
    state.start(job, config)


def _reset(state: AppState) -> None:
    if not state.reset():
        state.notice = Notice("warning", "The training thread did not end within 10 s; it was told to stop and "
                                         "will end at its next step.")


def format_seconds(seconds: float | None) -> str:
    """"42 s", "3 min 05 s"."""
    if seconds is None:
        return "…"
    s = int(round(seconds))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def queue_text(snap: Snapshot) -> str:
    """"Waiting: 2 runs ahead of you, about 1 min 05 s" for a queued job."""
    ahead = snap.queue_ahead or 0
    where = "You are next" if ahead == 0 else f"{ahead} run{'s' if ahead > 1 else ''} ahead of you"
    when = "" if snap.queue_wait is None else f", about {format_seconds(snap.queue_wait)}"
    return f"Waiting: {where}{when} (the server trains a few runs at once)"


def server_text(state: AppState) -> str:
    """How busy the server is: runs training and waiting, the limit."""
    running, waiting = state.scheduler.counts()
    return (f"On this server: {running} run{'s' if running != 1 else ''} training (at most "
            f"{state.scheduler.limit} at once), {waiting} waiting.")


def progress_text(snap: Snapshot) -> str:
    """One line: state, phase i/n, step, time left."""
    parts = [STATE_TEXT.get(snap.state, snap.state)]
    if snap.state == "queued":
        return queue_text(snap)
    if not snap.active:
        return " · ".join(parts + [f"{format_seconds(snap.elapsed)} in all"])
    if snap.phase is None and snap.state == "running":
        parts.append("starting the training process")
    if snap.phase:
        label = PHASE_LABELS.get(snap.phase, snap.phase) + (": cached" if snap.phase in snap.cached_phases else "")
        of = f"phase {snap.phases.index(snap.phase) + 1}/{len(snap.phases)}: " if snap.phase in snap.phases else ""
        parts.append(of + label)
    if snap.total_steps > 1 and snap.phase != "analysis":
        parts.append(f"step {snap.step:,}/{snap.total_steps:,}")
    if snap.eta_seconds is not None and snap.phase not in ("pseudo_labels", "analysis"):
        parts.append(f"about {format_seconds(snap.eta_seconds)} left in this phase")
    parts.append(f"{format_seconds(snap.elapsed)} elapsed")
    return " · ".join(parts)


def render(state: AppState, sidebar: SidebarResult) -> None:
    """Draw the buttons (full-page) and the progress line (a live fragment)."""
    snap = state.snapshot()
    state.seen_job_state = snap.state if snap is not None else None
    active = snap is not None and snap.active
    if sidebar.ok and not active:
        try:
            training_data(sidebar.config.data)   # cached now, so that Start starts at once
        except DataError as exc:
            st.error(f"Could not prepare the training data: {exc}")
    paused = snap is not None and snap.state in ("pausing", "paused")
    cols = st.columns([1.1, 1.1, 1, 1, 4], vertical_alignment="center")
    cols[0].button("Start", type="primary", icon=":material/play_arrow:", disabled=active or not sidebar.ok,
                   on_click=start_training, args=(state,), width="stretch",
                   help="Train with the sidebar's settings (a new run replaces the current one).")
    if paused:
        cols[1].button("Resume", icon=":material/play_circle:", on_click=lambda: state.job and state.job.resume(),
                       width="stretch")
    else:
        cols[1].button("Pause", icon=":material/pause:", disabled=not active or snap.state == "stopping",
                       on_click=lambda: state.job and state.job.pause(), width="stretch")
    cols[2].button("Stop", icon=":material/stop:", disabled=not active,
                   on_click=lambda: state.job and state.job.stop(), width="stretch",
                   help="End training at the next step; the model keeps what it has learnt.")
    cols[3].button("Reset", icon=":material/restart_alt:", on_click=_reset, args=(state,), width="stretch",
                   help="Stop training and forget the run and any loaded model.")
    with cols[4]:
        if not sidebar.ok and not active:
            st.caption("Fix the settings marked in the sidebar to start.")
        elif state.run_config is not None and state.run_config != sidebar.config:
            st.caption("The sidebar settings changed since this run started: press Start to train with them.")
        elif state.loaded is not None and state.job is None:
            st.caption(f"Showing the loaded model **{state.loaded.name}**.")

    def progress() -> None:
        follow_job_state(state)
        current = state.snapshot()
        if current is None:
            return
        st.progress(current.progress if current.phase != "pseudo_labels" else (1.0 if current.step else 0.0),
                    text=progress_text(current))
        if current.active:
            st.caption(server_text(state))

    live_fragment(1.0 if active else None, progress)

    notice = state.notice
    if notice is not None:
        getattr(st, notice.kind)(notice.text)
        if notice.detail:
            with st.expander("Details"):
                st.code(notice.detail, language=None)
