"""What every tab needs: the model on display, its data, its latest analysis; live-refresh helpers."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from sscn_core import SSCN, Dataset, DataError
from sscn_core.analysis import Analysis, analyse, make_probe

from ..job import PHASE_LABELS, Snapshot
from ..runtime import training_data
from ..sidebar import SidebarResult
from ..state import AppState


@dataclass(frozen=True)
class Current:
    """The model the tabs show, with its data: from the training job, a loaded checkpoint, or nothing.

    ``slot`` names the run ("run-3", "loaded-…") so caches can tell runs apart; ``version``
    counts its analyses. ``problem`` says why there is nothing to show.
    """

    kind: str                        # "none" | "job" | "loaded"
    slot: str
    model: SSCN | None
    train: Dataset | None
    holdout: Dataset | None
    analysis: Analysis | None
    version: int
    snapshot: Snapshot | None
    problem: str | None = None

    @property
    def live(self) -> bool:
        """True while a training thread is working on this model."""
        return self.snapshot is not None and self.snapshot.active

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """Names of the true classes of the training data, when known."""
        return self.train.class_names if self.train is not None else None

    @contextmanager
    def model_access(self, state: AppState) -> Iterator[SSCN | None]:
        """The model when it may be used from the page (not in the middle of a training step)."""
        if self.kind == "job" and state.job is not None:
            with state.job.model_access() as model:
                yield model
        else:
            yield self.model


def current(state: AppState, sidebar: SidebarResult) -> Current:
    """Resolve what the tabs show now (the job wins over a loaded checkpoint)."""
    if state.job is not None:
        snap = state.job.snapshot()
        probe = state.job.probe
        return Current("job", f"run-{state.job.id}", state.job.model, probe.train, probe.holdout, snap.analysis,
                       snap.analysis_version, snap)
    loaded = state.loaded
    if loaded is None:
        return Current("none", "none", None, None, None, None, 0, None,
                       problem="No model yet: choose data and settings in the sidebar and press **Start**, "
                               "or load a saved model in the Train tab.")
    slot = f"loaded-{id(loaded.model)}"
    try:
        train, holdout = training_data(sidebar.config.data)
    except DataError as exc:
        return Current("loaded", slot, loaded.model, None, None, None, 0, None,
                       problem=f"Could not load the data: {exc}")
    n_in = int(loaded.model.n_features_in_)
    if train.n_features != n_in:
        return Current("loaded", slot, loaded.model, None, None, None, 0, None,
                       problem=f"The loaded model reads {n_in} features per point; the data chosen in the "
                               f"sidebar has {train.n_features}. Choose matching data.")
    key = repr(sidebar.config.data)
    if loaded.analysis_key != key:
        try:
            with st.spinner("Looking at the loaded model on the chosen data…"):
                loaded.analysis = analyse(loaded.model, make_probe(train, holdout, seed=sidebar.config.data.seed),
                                          phase="loaded", classifier_trained=True)
        except ValueError as exc:   # e.g. values so large that the network's outputs overflow
            return Current("loaded", slot, loaded.model, None, None, None, 0, None,
                           problem=f"The loaded model cannot be applied to the chosen data: {exc}")
        loaded.analysis_key, loaded.train = key, train
    version = abs(hash(key)) % 1_000_000
    return Current("loaded", f"{slot}-{version}", loaded.model, train, holdout, loaded.analysis, version, None)


def data_for_diagnostics(cur: Current, sidebar: SidebarResult) -> Dataset | None:
    """The run's training set, or before any run the one the sidebar would train on (None if it cannot load)."""
    if cur.train is not None:
        return cur.train
    if not sidebar.ok:
        return None
    try:
        return training_data(sidebar.config.data)[0]
    except DataError:
        return None


def refreshed(state: AppState, cur: Current) -> Current:
    """``cur`` with the job's newest snapshot and analysis (for fragment reruns)."""
    if cur.kind != "job" or state.job is None or f"run-{state.job.id}" != cur.slot:
        return cur
    snap = state.job.snapshot()
    return replace(cur, analysis=snap.analysis, version=snap.analysis_version, snapshot=snap)


def refresh_interval(cur: Current, seconds: float) -> float | None:
    """``seconds`` while training runs, else None (no polling)."""
    return seconds if cur.live else None


def live_fragment(run_every: float | None, body: Callable[[], None]) -> None:
    """Run ``body`` as a fragment that reruns every ``run_every`` seconds (None: only on interaction)."""
    st.fragment(run_every=run_every)(body)()


def follow_job_state(state: AppState) -> None:
    """From inside a fragment: rerun the whole page when the job's state changed since the last full run."""
    snap = state.snapshot()
    now = snap.state if snap is not None else None
    if now != state.seen_job_state:
        st.rerun()


def snapshot_label(a: Analysis) -> str:
    """When an analysis was taken: "after training", or the phase and step."""
    if a.phase in ("analysis", "loaded", ""):
        return "after training" if a.phase else "at the start"
    return f"during {PHASE_LABELS.get(a.phase, a.phase)}, step {a.step}"


def sample_images(train: Dataset, rows: np.ndarray) -> list[np.ndarray]:
    """The rows of an image data set as 2-D arrays in [0, 1] for st.image."""
    if train.image_shape is None:
        return []
    return [np.clip(train.X[int(r)].reshape(train.image_shape), 0.0, 1.0) for r in rows]


def label_name(value: int, names: tuple[str, ...] | None) -> str:
    """A class's display name."""
    return names[int(value)] if names is not None and 0 <= int(value) < len(names) else str(int(value))


def show_nothing(cur: Current) -> bool:
    """Show why there is nothing to draw; True when the caller should stop."""
    if cur.problem is not None:
        st.info(cur.problem)
        return True
    if cur.analysis is None:
        if cur.snapshot is not None and cur.snapshot.state == "failed":
            st.warning("Training failed before anything could be shown; see the Train tab.")
        else:
            st.info("Waiting for the first snapshot of the model (a few steps into training)…")
        return True
    return False
