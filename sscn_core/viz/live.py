"""Live training in a notebook: ``model.fit(X, callback=LiveProgress())``.

Shows a progress line (phase, step, time, last loss) and the per-term loss curves of
:func:`sscn_core.viz.figures.loss_figure`, redrawn while the model trains. Both are ordinary
display outputs updated in place through IPython display ids, so no widget library is needed:
they update in JupyterLab, and the last state stays in the saved notebook and in an HTML export
as a static figure. JupyterLab's plotly renderer does not redraw a figure whose output is
updated in place, so each redraw first swaps the output for an empty block of the figure's
height and then for the new figure, which makes JupyterLab draw it afresh. Outside IPython it prints one line per
finished phase.
"""
from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from ..trainer import CACHED, PHASE_LABELS, TrainingEvent
from . import figures

TERMS = ("total", "q_norm", "self_expression", "reconstruction", "classifier")


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def _bundle(fig: go.Figure) -> dict[str, Any]:
    """The figure's display bundle for plotly's current default renderers (what ``fig.show()`` displays)."""
    import plotly.io as pio

    return pio.renderers._build_mime_bundle(fig.to_dict())


class LiveProgress:
    """A ``fit`` callback that draws training progress and the loss curves live in a notebook cell.

    ``every``: seconds between two redraws of the figure (the progress line follows every
    step, at most ten times a second); phase starts and ends always redraw. ``terms``,
    ``smoothing`` and ``log_y`` are passed to :func:`~sscn_core.viz.figures.loss_figure`.
    After ``fit``, ``history`` holds the rows drawn ("i" numbers the steps across phases) and
    :meth:`figure` returns the last figure.
    """

    def __init__(self, *, every: float = 1.0, terms: Sequence[str] = TERMS, smoothing: float = 0.0,
                 log_y: bool = True, height: int = 380) -> None:
        if every < 0:
            raise ValueError(f"every must be ≥ 0 seconds, got {every}")
        self.every, self.terms, self.smoothing, self.log_y, self.height = every, tuple(terms), smoothing, log_y, height
        self.history: list[figures.LossRow] = []
        self._line = self._plot = None
        self._started = self._last_plot = self._last_line = 0.0
        self._phases: tuple[str, ...] = ()

    def figure(self) -> go.Figure:
        """The loss curves drawn so far."""
        return figures.loss_figure(self.history, terms=self.terms, smoothing=self.smoothing, log_y=self.log_y,
                                   height=self.height, empty_text="The first loss point appears after the first step.")

    def _text(self, event: TrainingEvent) -> tuple[str, str]:
        """The progress line as (plain text, HTML)."""
        phase = PHASE_LABELS.get(event.phase, event.phase)
        index = self._phases.index(event.phase) + 1 if event.phase in self._phases else 0
        of = f"phase {index}/{len(self._phases)}: " if index else ""
        done = event.kind == "done" and event.phase == (self._phases[-1] if self._phases else None)
        cached = event.kind == "done" and bool(event.losses.get(CACHED))   # read from the cache: no steps
        if done:
            state = "finished"
        elif cached:
            state = f"{of}{phase}: cached"
        else:
            state = f"{of}{phase}, step {event.step}/{event.total_steps}"
        elapsed = time.perf_counter() - self._started
        last = self.history[-1]["total"] if self.history and "total" in self.history[-1] else None
        text = f"{state} · {elapsed:.1f} s" + (f" · loss {last:.4g}" if last is not None else "")
        share = 1.0 if done or cached else (event.step / event.total_steps if event.total_steps else 0.0)
        bar = (f"<progress value='{share:.3f}' max='1' style='width:240px;vertical-align:middle'></progress> "
               f"<span style='font-family:monospace'>{html.escape(text)}</span>")
        return text, bar

    def __call__(self, event: TrainingEvent) -> None:
        now = time.perf_counter()
        if not self._started:
            self._started = now
            model = event.model
            self._phases = tuple(model.planned_phases()) if model is not None else ()
        if event.kind == "step" and event.losses:
            self.history.append(figures.loss_row(event.phase, event.step, len(self.history) + 1, event.losses))
        boundary = event.kind != "step"
        if not _in_ipython():
            if event.kind == "done":
                print(self._text(event)[0], flush=True)
            return
        from IPython.display import HTML, display

        if self._line is None:
            self._line = display(HTML(self._text(event)[1]), display_id=True)
            self._plot = display(_bundle(self.figure()), raw=True, display_id=True)
            self._last_plot = self._last_line = now
            return
        if boundary or now - self._last_line >= 0.1:
            self._line.update(HTML(self._text(event)[1]))
            self._last_line = now
        if boundary or now - self._last_plot >= self.every:
            self._plot.update({"text/html": f"<div style='height:{self.height}px'></div>", "text/plain": ""}, raw=True)
            self._plot.update(_bundle(self.figure()), raw=True)
            self._last_plot = now
