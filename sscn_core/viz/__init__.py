"""Figures of SSCN for both faces of the explorer: the Streamlit app and Jupyter notebooks.

:mod:`~sscn_core.viz.figures`, :mod:`~sscn_core.viz.subspaces` and :mod:`~sscn_core.viz.family`
(the self-expression family side by side) turn plain arrays into plotly figures; the app lays them out. :mod:`~sscn_core.viz.notebook` draws the same figures from a
fitted model and its data in one line, and :class:`LiveProgress` shows training live:

    from sscn_core import SSCN, load_dataset, viz
    data = load_dataset("mnist", n_samples=2000)
    model = SSCN(n_clusters=10).fit(data.X, callback=viz.LiveProgress())
    viz.affinity(model, data)
"""
from . import family, figures, subspaces
from .live import LiveProgress
from .notebook import (HoverImages, Panel, affinity, analysis_of, block_energy, classify, cluster_count, embedding,
                       image_grid, independence, loss, metrics)

__all__ = ["HoverImages", "LiveProgress", "Panel", "affinity", "analysis_of", "block_energy", "classify",
           "cluster_count", "embedding", "family", "figures", "image_grid", "independence", "loss", "metrics",
           "subspaces"]
