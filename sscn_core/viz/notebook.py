"""One-line views of a fitted SSCN for notebooks: every view of the explorer from a model and its data.

    from sscn_core import viz
    viz.loss(model)
    viz.affinity(model, data)
    viz.embedding(model, data, space="rotated")
    viz.block_energy(model, data)
    viz.metrics(model, data, holdout)
    viz.independence(model, data)
    viz.cluster_count(model)          # why n_clusters="auto" kept its K
    viz.classify(model, "my-picture.png")

They compute with the same library code as the app (:func:`sscn_core.analysis.analyse`,
:mod:`sscn_core.spaces`, :func:`sscn_core.umap_layout.run_umap`) and draw with the same figure
functions (:mod:`sscn_core.viz.figures`, :mod:`sscn_core.viz.subspaces`); each returns a plotly
figure, or :class:`Panel` when a view has several parts.
"""
from __future__ import annotations

import base64
import html
import io
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from sklearn.exceptions import NotFittedError

from ..analysis import Analysis, analyse, make_probe
from ..data import Dataset
from ..estimator import SSCN
from ..preprocess import prepare_for_model
from ..spaces import compute, sample_spaces, summary_rows
from ..theory import DEFAULT_ENERGY, DEFAULT_RANK_TOL
from ..trainer import LOSS_TERMS
from ..umap_layout import run_umap
from . import figures, subspaces

POINTS = 2000            # points of the affinity and embedding samples (the app: 2000 and 5000)
SPACE_NAMES = {"h": "H, the self-expression embedding", "rotated": "HR, H rotated into K blocks"}
THUMBNAIL_PX = 56


class Panel:
    """Several figures and HTML snippets shown one after another in a notebook cell.

    ``figures`` lists the plotly figures; indexing returns any part.
    """

    def __init__(self, parts: Iterable[go.Figure | str]) -> None:
        self.parts = list(parts)

    @property
    def figures(self) -> list[go.Figure]:
        """The plotly figures among the parts."""
        return [p for p in self.parts if isinstance(p, go.Figure)]

    def __getitem__(self, i: int) -> go.Figure | str:
        return self.parts[i]

    def __len__(self) -> int:
        return len(self.parts)

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        for part in self.parts:
            display(HTML(part) if isinstance(part, str) else part)

    def __repr__(self) -> str:
        titles = [p.layout.title.text or "figure" if isinstance(p, go.Figure) else "html" for p in self.parts]
        return f"Panel({', '.join(titles)})"


# ---------------------------------------------------------------------------------- shared inputs
_cache: dict[str, tuple[tuple, Analysis]] = {}


def analysis_of(model: SSCN, data: Dataset, holdout: Dataset | None = None, *, points: int = POINTS,
                seed: int = 0) -> Analysis:
    """:func:`sscn_core.analysis.analyse` of ``model`` on ``points`` sampled points of ``data``.

    The last result is kept, so that views of the same model and data in a row compute it once
    (a model that trains further, or other data, makes a new one).
    """
    key = (id(model), id(getattr(model, "net_", None)), len(getattr(model, "history_", ()) or ()), id(data),
           id(holdout), int(points), int(seed))
    hit = _cache.get("last")
    if hit is not None and hit[0] == key:
        return hit[1]
    a = analyse(model, make_probe(data, holdout, affinity_points=points, embed_points=points, seed=seed),
                phase="analysis")
    _cache["last"] = (key, a)
    return a


def png_uri(image: np.ndarray) -> str:
    """A PNG data URI of a 2-D image with values in [0, 1]."""
    levels = (np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(levels, mode="L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _image(data: Dataset, row: int) -> np.ndarray:
    return data.X[int(row)].reshape(data.image_shape)


def display_size(shape: Sequence[int], size: int = THUMBNAIL_PX) -> tuple[int, int]:
    """(width, height) in screen pixels of an image of ``shape`` (height, width) shown with its longer
    side ``size`` pixels long: every image keeps its own aspect ratio."""
    height, width = (int(v) for v in shape[:2])
    scale = size / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def image_grid(images: Sequence[np.ndarray], captions: Sequence[str] | None = None, *, size: int = THUMBNAIL_PX) -> str:
    """HTML: 2-D images in [0, 1] side by side, each at its own aspect ratio with its longer side
    ``size`` pixels long, and an optional caption below."""
    cells = []
    for i, img in enumerate(images):
        cap = f"<div style='font-size:11px'>{html.escape(captions[i])}</div>" if captions is not None else ""
        width, height = display_size(np.shape(img), size)
        cells.append(f"<figure style='margin:2px;text-align:center'><img src='{png_uri(img)}' width='{width}' "
                     f"height='{height}' style='image-rendering:pixelated'/>{cap}</figure>")
    return "<div style='display:flex;flex-wrap:wrap'>" + "".join(cells) + "</div>"


# ---------------------------------------------------------------------------------- the views
def loss(model: SSCN, *, terms: Sequence[str] | None = None, smoothing: float = 0.0, log_y: bool = True,
         height: int = 420) -> go.Figure:
    """The loss of every step of ``model.history_``, one line per term (all recorded terms by default)."""
    history = figures.with_global_steps(getattr(model, "history_", None) or [])
    if terms is None:
        terms = [t for t in LOSS_TERMS if any(t in row for row in history)]
    return figures.loss_figure(history, terms=terms, smoothing=smoothing, log_y=log_y, height=height)


def affinity(model: SSCN, data: Dataset, *, thresholded: bool = False, points: int = POINTS, max_side: int = 500,
             seed: int = 0) -> go.Figure:
    """|Q| of ``points`` sampled points sorted by true label (else by cluster): K dark diagonal blocks when
    Q is subspace-preserving. ``thresholded`` keeps in each column only a share ρ of its mass, as the
    post-processing does."""
    a = analysis_of(model, data, points=points, seed=seed)
    matrix = a.affinity_thr if thresholded else a.affinity_abs
    error = a.sp_error_thr if thresholded else a.sp_error
    title = f"|Q|{' after thresholding (ρ)' if thresholded else ''}, {matrix.shape[0]:,} points"
    if error is not None:
        title += f" · subspace-preserving error {error:.1%}"
    names = data.class_names if a.affinity_sorted_by == "label" else None
    return figures.affinity_figure(matrix, a.affinity_groups, group_names=names, max_side=max_side, title=title)


class HoverImages:
    """A plotly figure whose points show their image on hover: self-contained HTML (plotly.js inline).

    ``images`` maps a point id (``customdata[0]`` of the figure's traces) to a PNG data URI;
    ``image_shape`` (height, width) is their shape, shown at its own aspect ratio.
    """

    def __init__(self, figure: go.Figure, images: dict[int, str], image_shape: Sequence[int] = (1, 1)) -> None:
        self.figure = figure
        self.images = images
        self.image_shape = tuple(int(v) for v in image_shape)

    def _repr_html_(self) -> str:
        div = f"sscn-{uuid.uuid4().hex[:12]}"
        plot = self.figure.to_html(full_html=False, include_plotlyjs=True, div_id=div,
                                   config={"displaylogo": False})
        uris = json.dumps({str(k): v for k, v in self.images.items()})
        width, height = display_size(self.image_shape)
        return f"""<div style="display:flex;align-items:center;gap:10px;height:{THUMBNAIL_PX + 8}px;font-size:12px">
<img id="{div}-img" width="{width}" height="{height}"
 style="display:none;image-rendering:pixelated;border:1px solid #ccc"/>
<span id="{div}-cap">Hover over a point to see its image.</span></div>
{plot}
<script>(function() {{
  var uris = {uris};
  function bind() {{
    var plot = document.getElementById("{div}");
    if (!plot || !plot.on) {{ setTimeout(bind, 200); return; }}
    plot.on("plotly_hover", function(ev) {{
      var p = ev.points[0], id = String(p.customdata[0]), img = document.getElementById("{div}-img");
      if (uris[id]) {{ img.src = uris[id]; img.style.display = "inline"; }}
      document.getElementById("{div}-cap").textContent = "point " + id + " (" + p.data.name + ")";
    }});
  }}
  bind();
}})();</script>"""

    def __repr__(self) -> str:
        return f"HoverImages({self.figure.layout.title.text!r}, {len(self.images)} images)"


def embedding(model: SSCN, data: Dataset, *, space: str = "h", colour_by: str | None = None,
              metric: str = "cosine", points: int = POINTS, seed: int = 0,
              hover_images: bool = True) -> go.Figure | HoverImages:
    """A UMAP layout of H (``space="h"``) or HR (``"rotated"``) for ``points`` sampled points.

    Coloured by true label when known (else by cluster; or ``colour_by="confidence"``). For image
    data the result shows each point's image on hover (:class:`HoverImages`, with the plotly
    figure as ``.figure``); ``hover_images=False`` returns the plain figure.
    """
    if space not in SPACE_NAMES:
        raise ValueError(f"space must be one of {list(SPACE_NAMES)}, got {space!r}")
    a = analysis_of(model, data, points=points, seed=seed)
    coords = run_umap(a.h if space == "h" else a.rotated, metric=metric, seed=seed)
    labels = data.y[a.embed_rows] if data.y is not None else None
    fig = figures.embedding_figure(coords, pred=a.pred, confidence=a.confidence, ids=a.embed_rows, labels=labels,
                                   class_names=data.class_names,
                                   colour_by=colour_by or ("label" if labels is not None else "cluster"),
                                   title=f"UMAP of {SPACE_NAMES[space]}")
    if not hover_images or data.image_shape is None:
        return fig
    return HoverImages(fig, {int(r): png_uri(_image(data, r)) for r in a.embed_rows}, data.image_shape)


def block_energy(model: SSCN, data: Dataset, *, points: int = POINTS, seed: int = 0) -> Panel:
    """Each point's share of ‖HR‖² in each of the K blocks, and its strongest against its second block."""
    a = analysis_of(model, data, points=points, seed=seed)
    return Panel([figures.energy_heatmap(a.energy, a.pred, title="Energy per block (rows: points)"),
                    figures.energy_scatter(a.energy, a.pred, ids=a.embed_rows, title="Strongest vs second block")])


def _metrics_table(a: Analysis) -> str:
    rows = [("in-sample", a.metrics_in), ("out-of-sample", a.metrics_out), ("pseudo-labels", a.metrics_pseudo)]
    body = "".join(f"<tr><td>{name}</td><td>{m['acc']:.1%}</td><td>{m['ari']:.3f}</td><td>{m['nmi']:.3f}</td></tr>"
                   for name, m in rows if m is not None)
    if not body:
        return "<p>No true labels: ACC, ARI and NMI need them.</p>"
    note = f"<p>{html.escape(a.pseudo_note)}</p>" if a.pseudo_note else ""
    return f"<table><tr><th></th><th>ACC</th><th>ARI</th><th>NMI</th></tr>{body}</table>{note}"


def metrics(model: SSCN, data: Dataset, holdout: Dataset | None = None, *, points: int = POINTS,
            seed: int = 0) -> Panel:
    """ACC / ARI / NMI in sample (``data``), out of sample (``holdout``) and of the pseudo-labels; cluster
    sizes; the confusion matrix of true classes against clusters."""
    a = analysis_of(model, data, holdout, points=points, seed=seed)
    parts: list[go.Figure | str] = [_metrics_table(a),
                                    figures.bar_figure(a.cluster_sizes, [f"c{k}" for k in range(len(a.cluster_sizes))],
                                                       title="Cluster sizes (training points)", y_title="points")]
    if a.confusion is not None:
        c = a.confusion
        parts.append(figures.confusion_figure(c.table, c.classes, c.clusters, class_names=data.class_names,
                                              title="True class × predicted cluster"))
    return Panel(parts)


def _summary_table(rows: list[dict[str, object]]) -> str:
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def independence(model: SSCN | None, data: Dataset, *, use_true_labels: bool = True, energy: float = DEFAULT_ENERGY,
                 rank_tol: float = DEFAULT_RANK_TOL, max_points: int = 2000, spaces: Sequence[str] | None = None,
                 seed: int = 0) -> Panel:
    """The Diagnostics tab's report: do the groups lie on independent subspaces in X, Z and H?

    A table per space (effective dimensions, rank of the union, independence ratio, verdict), then
    for each space in ``spaces`` (default: the last, H with a model) its spectra and smallest
    principal angles, and the leakage of the learned Q. ``model=None`` diagnoses the data alone.
    """
    sample = sample_spaces(data, model, use_true_labels=use_true_labels, max_points=max_points, seed=seed)
    diags = compute(sample, energy=energy, rank_tol=rank_tol)
    shown = list(spaces) if spaces is not None else [list(diags)[-1]]
    unknown = [s for s in shown if s not in diags]
    if unknown:
        raise ValueError(f"spaces {unknown} are not available here; choose from {list(diags)}")
    parts: list[go.Figure | str] = [f"<p>Points grouped by <b>{sample.label_kind}</b>. {' '.join(sample.notes)}</p>",
                                    _summary_table(summary_rows(diags))]
    for name in shown:
        d = diags[name]
        parts.append(subspaces.spectra_figure(d.spectra, d.effective_dims, names=sample.names, energy=d.energy,
                                              max_index=200, title=f"Singular values per cluster in {name}"))
        parts.append(subspaces.angle_heatmap(d.smallest_angles, names=sample.names,
                                             title=f"Smallest principal angle between clusters in {name}"))
    h = diags.get("H")
    if "H" in shown and h is not None and h.leakage is not None:
        parts.append(subspaces.leakage_heatmap(h.leakage, names=sample.names,
                                               title=f"Where each group's |Q| mass goes (error {h.sp_error:.1%})"))
    return Panel(parts)


def fitted_k(model: SSCN) -> int:
    """K of a fitted model: ``n_clusters_`` (the estimate with ``n_clusters="auto"``), or ``n_clusters`` for a model
    saved before ``n_clusters_`` existed."""
    value = getattr(model, "n_clusters_", None)
    return int(value if value is not None else model.n_clusters)


def cluster_count(model: SSCN) -> Panel:
    """Why a fit with ``n_clusters="auto"`` kept its K: the eigenvalue gap of its graph against a structureless
    reference, and every candidate K's score (:func:`sscn_core.viz.figures.cluster_count_figure`).

    Parameters
    ----------
    model : SSCN
        A fitted model (or one read back by ``SSCN.load``).

    Returns
    -------
    Panel
        The figure and one or two sentences on what it shows (with the no-structure warning when no K beat the
        reference); for a model fitted with a given K, only a note that there is no estimate to show.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        The model is not fitted.

    Examples
    --------
    >>> model = SSCN(n_clusters="auto").fit(data.X)        # doctest: +SKIP
    >>> viz.cluster_count(model)                           # doctest: +SKIP
    """
    if not hasattr(model, "net_"):
        raise NotFittedError("this SSCN is not fitted yet: call fit(X) first, or SSCN.load(path)")
    count = getattr(model, "cluster_count_", None)
    if count is None:
        k = fitted_k(model)
        return Panel([f"<p>K = {k} was given (<code>n_clusters={k}</code>), so this fit did not estimate K and has no "
                      "evidence to show. Fit with <code>SSCN(n_clusters=\"auto\")</code> to see how many subspaces "
                      "the data suggest.</p>"])
    caption = figures.cluster_count_caption(count)
    colour = "#D55E00" if not count.get("structure", True) else "inherit"
    return Panel([figures.cluster_count_figure(count), f"<p style='color:{colour}'>{html.escape(caption)}</p>"])


def classify(model: SSCN, image: Any, data: Dataset | None = None, *, examples: int = 8) -> Panel:
    """Classify one new image the way ``sscn predict`` and the app's Classify tab do.

    Parameters
    ----------
    model : SSCN
        A model fitted on images of any shape (height × width).
    image : path, bytes, PIL image or array
        The picture, grey or colour, any size: prepared as the model's training images were
        (digit-style or photo-style, at their shape: :func:`sscn_core.preprocess.prepare_for_model`).
    data : Dataset, optional
        The training set: the most confident training points of the image's cluster are shown
        next to it.
    examples : int
        How many of those training points.

    Returns
    -------
    Panel
        The image as the model sees it, the bar chart of its cluster probabilities (titled with the
        cluster, the block of HR holding most of its energy) and, with ``data``, the examples.

    Raises
    ------
    sscn_core.preprocess.ImageError
        The picture cannot be read or is blank, or the model was fitted on vectors, not images.
    """
    prepared = prepare_for_model(image, model)
    x = prepared.reshape(1, -1)
    proba = model.predict_proba(x)[0]
    k = int(model.predict(x)[0])
    parts: list[go.Figure | str] = [image_grid([prepared], ["as the model sees it"], size=112),
                                    figures.bar_figure(proba, [f"c{j}" for j in range(len(proba))], percent=True,
                                                       highlight=k, y_title="probability", height=260,
                                                       title=f"Cluster {k} ({proba[k]:.0%})")]
    if data is not None and data.image_shape is not None:
        a = analysis_of(model, data)
        members = np.flatnonzero(a.pred == k)
        members = members[np.argsort(-a.confidence[members], kind="stable")][:examples]
        rows = a.embed_rows[members]
        captions = ([figures.display_name(data.y[r], data.class_names) for r in rows] if data.y is not None
                    else None)
        parts.append(f"<p>Training points of cluster {k}:</p>" + image_grid([_image(data, r) for r in rows], captions))
    return Panel(parts)


__all__ = ["HoverImages", "Panel", "affinity", "analysis_of", "block_energy", "classify", "cluster_count",
           "embedding", "fitted_k", "image_grid", "independence", "loss", "metrics"]
