"""The notebook face (sscn_core.viz): one-line views, live training, and the same figure functions as the app."""
from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from sscn_core import SSCN, Dataset, load_dataset, viz
from sscn_core.data import make_subspaces
from sscn_core.viz import figures, subspaces

APP_VIEWS = Path(__file__).resolve().parents[1] / "app"
# Every figure function the app's tabs draw with, by module.
DRAWN = {figures: ("affinity_figure", "embedding_figure", "energy_heatmap", "energy_scatter", "bar_figure",
                   "confusion_figure"),
         subspaces: ("spectra_figure", "angle_heatmap", "leakage_heatmap")}


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_subspaces(3, 2, 12, 40, relation="independent", seed=0)


@pytest.fixture(scope="module")
def model(data: Dataset) -> SSCN:
    # Xavier's start (not the default Theorem-1 start, already stationary): self-expression has a loss curve to show.
    return SSCN(n_clusters=3, subspace_dim=2, autoencoder=None, h_init="random", batch_size=len(data), epochs=150,
                lr=0.1, rho=0.5, classifier_batch_size=len(data), classifier_epochs=5, device="cpu").fit(data.X)


class Spy:
    """Records which face ("app" / "notebook") called each figure function, then calls it."""

    def __init__(self) -> None:
        self.face = ""
        self.calls: dict[str, set[str]] = defaultdict(set)
        self.lock = threading.Lock()

    def wrap(self, name: str, fn):
        def spied(*args, **kwargs):
            with self.lock:
                self.calls[name].add(self.face)
            return fn(*args, **kwargs)
        return spied


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    s = Spy()
    for module, names in DRAWN.items():
        for name in names:
            monkeypatch.setattr(module, name, s.wrap(name, getattr(module, name)))
    yield s


class _InstantUmap:
    """A stand-in for the UMAP worker process: the first two coordinates as the layout (no umap import)."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.ready.set()
        self.error = None

    def layout(self, data: np.ndarray, metric: str = "cosine") -> np.ndarray:
        return np.asarray(data, dtype=np.float32)[:, :2]


def tabs_page(model, train, umap) -> None:
    """The Affinity, Embeddings, Metrics and Diagnostics tabs on a fitted model, as one Streamlit script."""
    import streamlit as st

    from app.embedding import UmapRunner
    from app.scheduler import Scheduler
    from app.state import AppState
    from app.views import affinity, diagnostics, embeddings, metrics
    from app.views.common import Current
    from sscn_core.analysis import analyse, make_probe

    if "state" not in st.session_state:
        st.session_state["state"] = AppState(umap=UmapRunner(umap), scheduler=Scheduler(spare=False))
        st.session_state["analysis"] = analyse(model, make_probe(train), phase="loaded")
    state = st.session_state["state"]
    cur = Current("loaded", "loaded-test", model, train, None, st.session_state["analysis"], 1, None)
    affinity.render(state, cur)
    embeddings.render(state, cur)
    metrics.render(state, cur)
    diagnostics.render(train, model)


def chart_titles(at: AppTest) -> list[str]:
    out = []
    for chart in at.get("plotly_chart"):
        title = json.loads(chart.proto.spec).get("layout", {}).get("title", {})
        out.append(title.get("text", "") if isinstance(title, dict) else "")
    return out


def test_the_app_and_the_notebook_draw_with_the_same_functions(spy: Spy, data: Dataset, model: SSCN,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    spy.face = "app"
    at = AppTest.from_function(tabs_page, args=(model, data, _InstantUmap()), default_timeout=120)
    at.run()
    for _ in range(50):                      # the UMAP layout arrives from the runner's thread
        assert not at.exception, at.exception
        if any(t.startswith("UMAP of") for t in chart_titles(at)):
            break
        threading.Event().wait(0.2)
        at.run()
    assert any(t.startswith("UMAP of") for t in chart_titles(at)), chart_titles(at)

    spy.face = "notebook"
    monkeypatch.setattr("sscn_core.viz.notebook.run_umap", lambda x, **kw: np.asarray(x, dtype=np.float32)[:, :2])
    viz.affinity(model, data)
    viz.embedding(model, data)
    viz.block_energy(model, data)
    viz.metrics(model, data)
    viz.independence(model, data)
    expected = {name for names in DRAWN.values() for name in names}
    assert {name for name, faces in spy.calls.items() if faces == {"app", "notebook"}} == expected, dict(spy.calls)


def test_the_app_holds_no_figure_code_of_its_own() -> None:
    from app.views import affinity, classify, diagnostics, embeddings, family, learn, metrics, train

    for view in (affinity, classify, embeddings, metrics, train):
        assert view.figures is figures
    for view in (diagnostics, learn):
        assert view.figs is subspaces
    assert family.figs is viz.family
    for path in APP_VIEWS.rglob("*.py"):
        text = path.read_text()
        assert not any(f"go.{trace}" in text for trace in ("Figure(", "Scatter", "Heatmap", "Bar(")), path
        assert "make_subplots" not in text, path


def test_views_of_a_fitted_model(data: Dataset, model: SSCN, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sscn_core.viz.notebook.run_umap", lambda x, **kw: np.asarray(x, dtype=np.float32)[:, :2])
    fig = viz.affinity(model, data, points=60)
    assert isinstance(fig, go.Figure) and "subspace-preserving error" in fig.layout.title.text
    assert viz.analysis_of(model, data, points=60) is viz.analysis_of(model, data, points=60)   # computed once
    loss = viz.loss(model)
    assert {t.name for t in loss.data if t.name} >= {"total", "½‖Q‖²"}
    emb = viz.embedding(model, data, space="rotated", colour_by="confidence")
    assert isinstance(emb, go.Figure) and emb.layout.title.text.startswith("UMAP of HR")   # no images: a plain figure
    with pytest.raises(ValueError, match="space must be"):
        viz.embedding(model, data, space="z")
    report = viz.independence(model, data, spaces=["X", "H"])
    assert len(report.figures) == 5 and "independence ratio" in report[1]
    with pytest.raises(ValueError, match="not available"):
        viz.independence(model, data, spaces=["Z"])
    met = viz.metrics(model, data)
    assert "ACC" in met[0] and [f.layout.title.text for f in met.figures][-1] == "True class × predicted cluster"


def test_embedding_of_images_shows_them_on_hover(model: SSCN, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sscn_core.viz.notebook.run_umap", lambda x, **kw: np.asarray(x, dtype=np.float32)[:, :2])
    digits = load_dataset("mnist", n_samples=200)
    mnist_model = SSCN(autoencoder="conv", pretrained="mnist", epochs=1, batch_size=100, classifier_epochs=1,
                       classifier_batch_size=100, seed=0).fit(digits.X)
    view = viz.embedding(mnist_model, digits, points=100)
    assert isinstance(view, viz.HoverImages) and len(view.images) == 100
    page = view._repr_html_()
    assert "plotly_hover" in page and all(uri in page for uri in view.images.values())
    result = viz.classify(mnist_model, digits.X[0].reshape(28, 28), digits)
    assert result.figures[0].layout.title.text.startswith("Cluster") and "Training points of cluster" in result[2]
    with pytest.raises(ValueError, match="not images"):
        viz.classify(model, digits.X[0].reshape(28, 28))       # a model of 12 features


def test_live_progress_records_every_step_and_prints_outside_ipython(data: Dataset,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    live = viz.LiveProgress(every=0.0)
    SSCN(n_clusters=3, subspace_dim=2, autoencoder=None, h_init="random", batch_size=len(data), epochs=5, rho=0.5,
         classifier_batch_size=len(data), classifier_epochs=2, device="cpu").fit(data.X, callback=live)
    assert [row["i"] for row in live.history] == list(range(1, len(live.history) + 1))
    assert {row["phase"] for row in live.history} == {"self_expression", "classifier"}
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("finished")     # self-expression, pseudo-labels, classifier
    assert len(live.figure().data) >= 2


@pytest.fixture(scope="module")
def auto_model(data: Dataset) -> SSCN:
    return SSCN(n_clusters="auto", epochs=5, classifier_epochs=2, device="cpu", seed=0).fit(data.X)


def test_cluster_count_shows_why_k_was_estimated_and_says_when_it_was_given(auto_model: SSCN, model: SSCN,
                                                                            tmp_path: Path) -> None:
    from sklearn.exceptions import NotFittedError

    auto = auto_model
    view = viz.cluster_count(auto)
    assert isinstance(view, viz.Panel) and len(view.figures) == 1
    assert view.figures[0].layout.title.text == f"How many subspaces? K = {auto.n_clusters_}"
    assert figures.cluster_count_caption(auto.cluster_count_) in view[1]
    path = tmp_path / "auto.pt"
    auto.save(path)
    loaded = SSCN.load(path, device="cpu")                # the count comes back as lists
    again = viz.cluster_count(loaded)
    assert again.figures[0].to_plotly_json()["layout"]["title"] == view.figures[0].to_plotly_json()["layout"]["title"]
    assert [a.text for a in again.figures[0].layout.annotations] == [a.text for a in view.figures[0].layout.annotations]
    given = viz.cluster_count(model)
    assert not given.figures and "K = 3 was given" in given[0] and 'SSCN(n_clusters="auto")' in given[0]
    with pytest.raises(NotFittedError):
        viz.cluster_count(SSCN(n_clusters="auto"))


def test_every_tab_shows_a_model_whose_k_was_estimated(spy: Spy, data: Dataset, auto_model: SSCN,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """n_clusters="auto": the tabs read K from n_clusters_ (the parameter is the string "auto"); Metrics lists how
    clear the choice of K was, Diagnostics draws the evidence with the function the notebook uses."""
    assert auto_model.n_clusters == "auto" and auto_model.n_clusters_ == 3
    monkeypatch.setattr(figures, "cluster_count_figure", spy.wrap("cluster_count_figure", figures.cluster_count_figure))
    spy.face = "app"
    at = AppTest.from_function(tabs_page, args=(auto_model, data, _InstantUmap()), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert any("How clear was the choice of n_clusters = 3?" in m.value for m in [*at.markdown, *at.caption])
    assert "How many subspaces? K = 3" in chart_titles(at)
    assert {t for t in chart_titles(at) if t.startswith("Cluster sizes")}
    spy.face = "notebook"
    viz.cluster_count(auto_model)
    assert spy.calls["cluster_count_figure"] == {"app", "notebook"}
