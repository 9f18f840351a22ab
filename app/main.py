"""SSCN Explorer: `streamlit run app/main.py` (after `pip install -e .`). Layout only, top to bottom."""
from __future__ import annotations

import streamlit as st

from app import sidebar
from app.runtime import session_state, torch_setup, umap_service
from app.views import affinity, classify, controls, diagnostics, embeddings, learn, metrics, train
from app.views.common import current, data_for_diagnostics

TABS = ["Train", "Affinity", "Embeddings", "Metrics", "Classify", "Learn", "Diagnostics"]

st.set_page_config(page_title="SSCN Explorer", page_icon=":material/hub:", layout="wide")
torch_setup()                      # one core stays free for the page and UMAP; torch warms up
umap_service()                     # starts the UMAP worker process and its warm-up, once per server
state = session_state()            # this session's job, loaded model, uploads; released when the tab closes

st.markdown("<style>[data-testid='stMainBlockContainer']{padding-top:2.2rem}</style>",
            unsafe_allow_html=True)   # less empty space above the title: more of each tab fits a projector
st.title("SSCN Explorer")
st.caption("Siamese Subspace Clustering Networks (Busch et al.): learn an embedding H whose inner products "
           "Q = HHᵀ self-express the data, cluster Q, and classify new points by subspace.")

settings = sidebar.render()
controls.render(state, settings)
cur = current(state, settings)

tabs = dict(zip(TABS, st.tabs(TABS, key="tab", on_change="rerun")))
if tabs["Train"].open:
    with tabs["Train"]:
        train.render(state, cur, settings)
if tabs["Affinity"].open:
    with tabs["Affinity"]:
        affinity.render(state, cur)
if tabs["Embeddings"].open:
    with tabs["Embeddings"]:
        embeddings.render(state, cur)
if tabs["Metrics"].open:
    with tabs["Metrics"]:
        metrics.render(state, cur)
if tabs["Classify"].open:
    with tabs["Classify"]:
        classify.render(state, cur)
if tabs["Learn"].open:
    with tabs["Learn"]:
        learn.render()
if tabs["Diagnostics"].open:
    with tabs["Diagnostics"]:
        with cur.model_access(state) as model:    # None while a training step may run
            diagnostics.render(data_for_diagnostics(cur, settings), model)
