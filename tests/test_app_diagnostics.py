"""The Diagnostics tab: sampling and diagnostics per space (pure functions) and the page through AppTest."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from sscn_core import SSCN, Dataset
from sscn_core.data import make_subspaces
from sscn_core.spaces import (PREDICTED, TRUE, compute, export_json, export_zip, sample_key, sample_spaces,
                              summary_rows)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_subspaces(3, 2, 12, 40, relation="independent", seed=0)


@pytest.fixture(scope="module")
def linear_model(data: Dataset) -> SSCN:
    return SSCN(n_clusters=3, subspace_dim=2, autoencoder=None, batch_size=len(data), epochs=300, lr=0.1, rho=0.5,
                classifier_batch_size=len(data), classifier_epochs=5, device="cpu").fit(data.X)


@pytest.fixture(scope="module")
def mlp_model(data: Dataset) -> SSCN:
    return SSCN(n_clusters=3, subspace_dim=2, autoencoder="mlp", latent_dim=8, hidden_dims=(16,), pretrain_epochs=20,
                batch_size=len(data), epochs=20, rho=0.5, classifier_batch_size=len(data), classifier_epochs=2,
                device="cpu").fit(data.X)


def test_sample_spaces_and_compute_with_a_linear_model(data: Dataset, linear_model: SSCN) -> None:
    sample = sample_spaces(data, linear_model, max_points=90, max_q_points=60)
    assert sample.label_kind == TRUE and sample.clusters == [0, 1, 2]
    assert set(sample.spaces) == {"X", "H"} and any("Z = X" in n for n in sample.notes)
    assert sample.spaces["X"].shape == (90, 12) and sample.spaces["H"].shape == (90, 6)
    assert sample.q.shape == (60, 60) and np.bincount(sample.labels[sample.q_rows]).tolist() == [20, 20, 20]
    diags = compute(sample, energy=0.95, rank_tol=0.1)
    assert diags["X"].verdict == "independent" and diags["X"].effective_dims == [2, 2, 2]
    h = diags["H"]
    assert h.leakage.shape == (3, 3) and 0.0 <= h.sp_error < 0.2       # a trained linear SSCN barely leaks here
    assert diags["X"].leakage is None
    rows = summary_rows(diags)
    assert [r["space"] for r in rows] == ["X (data)", "H (SSCN embedding)"] and rows[0]["independence ratio"] == 1.0
    payload = json.loads(export_json(sample, diags))
    assert set(payload["spaces"]) == {"X", "H"} and payload["labels"] == TRUE
    names = zipfile.ZipFile(io.BytesIO(export_zip(diags))).namelist()
    assert "H_leakage.csv" in names and "X_spectra.csv" in names and "X_leakage.csv" not in names


def test_sample_spaces_with_an_autoencoder_and_predicted_clusters(data: Dataset, mlp_model: SSCN) -> None:
    sample = sample_spaces(data, mlp_model, use_true_labels=False, max_points=60)
    assert sample.label_kind == PREDICTED and sample.clusters == [0, 1, 2] and sample.names == ["c0", "c1", "c2"]
    assert sample.spaces["Z"].shape == (len(sample.labels), 8)
    np.testing.assert_array_equal(sample.labels, mlp_model.predict(sample.spaces["X"]))
    diags = compute(sample, energy=0.9, rank_tol=0.1)
    assert set(diags) == {"X", "Z", "H"} and all(d.label_kind == PREDICTED for d in diags.values())
    unlabelled = Dataset(data.X, None, "unlabelled", None)
    assert sample_spaces(unlabelled, mlp_model).label_kind == PREDICTED
    with pytest.raises(ValueError, match="nothing to group"):
        sample_spaces(unlabelled, None)


def diagnostics_page(dataset, model) -> None:
    from app.views import diagnostics

    diagnostics.render(dataset, model)


def page(dataset, model) -> AppTest:
    at = AppTest.from_function(diagnostics_page, args=(dataset, model), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_with_a_model(data: Dataset, mlp_model: SSCN) -> None:
    at = page(data, mlp_model)
    table = at.dataframe[0].value
    assert list(table["space"]) == ["X (data)", "Z (auto-encoder latent)", "H (SSCN embedding)"]
    assert table["verdict"][0] == "independent"
    labels = {m.label for m in at.metric}
    assert {"Σ effective dims", "rank of the union", "independence ratio", "subspace-preserving error"} <= labels
    assert any(":red-badge[dependent by" in m.value or ":green-badge[independent]" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 3                  # spectra, angles (of H), leakage
    downloads = [b.proto.label for b in at.get("download_button")]
    assert downloads.count("Figure as HTML") == 3 and {"JSON (all spaces)", "CSV tables (ZIP)", "CSV"} <= set(downloads)
    assert "true labels" in at.caption[0].value
    at.segmented_control(key="diag.space").set_value("X").run()
    assert not at.exception and any(m.value == ":green-badge[independent]" for m in at.markdown)
    assert {m.label: m.value for m in at.metric}["independence ratio"] == "1.00"
    at.radio(key="diag.labels").set_value(PREDICTED).run()
    assert not at.exception and "predicted clusters" in at.caption[0].value


def test_page_without_a_model_or_labels(data: Dataset) -> None:
    at = page(data, None)
    assert list(at.dataframe[0].value["space"]) == ["X (data)"]
    assert any("only the data X" in c.value for c in at.caption)
    at = page(Dataset(data.X, None, "unlabelled", None), None)
    assert any("nothing to group" in i.value for i in at.info) and not at.dataframe
    at = page(None, None)
    assert any("No data yet" in i.value for i in at.info)


def test_page_refuses_a_model_for_other_data(data: Dataset, mlp_model: SSCN) -> None:
    other = make_subspaces(3, 2, 10, 20)
    at = page(other, mlp_model)
    assert any("12 features" in w.value and "10" in w.value for w in at.warning)
    assert list(at.dataframe[0].value["space"]) == ["X (data)"]


def test_sample_key_follows_training(data: Dataset, linear_model: SSCN) -> None:
    before = sample_key(data, linear_model, TRUE)
    assert before == sample_key(data, linear_model, TRUE) != sample_key(data, linear_model, PREDICTED)
    linear_model.history_.append({"phase": "self_expression", "step": 10_000})   # as if training went on
    try:
        assert sample_key(data, linear_model, TRUE) != before
    finally:
        linear_model.history_.pop()
    assert sample_key(data, None, TRUE) != before


# ---------------------------------------------------------------------------------- how many subspaces (issue 34)
QUICK = dict(epochs=5, classifier_epochs=2, device="cpu", seed=0)


@pytest.fixture(scope="module")
def auto_model(data: Dataset) -> SSCN:
    return SSCN(n_clusters="auto", **QUICK).fit(data.X)


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_the_page_shows_why_k_was_estimated(data: Dataset, auto_model: SSCN) -> None:
    from sscn_core import viz
    from sscn_core.viz import figures

    assert auto_model.n_clusters == "auto" and auto_model.n_clusters_ == 3 and auto_model.cluster_count_["structure"]
    at = page(data, auto_model)
    assert any(h.value == "How many subspaces?" for h in at.subheader)
    specs = [s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("How many subspaces?")]
    assert len(specs) == 1 and specs[0]["layout"]["title"]["text"] == "How many subspaces? K = 3"
    texts = [a.get("text") for a in specs[0]["layout"]["annotations"]]
    assert "gap → K = 3" in texts and any(t.startswith("K−1 = 2") for t in texts if t)
    names = [d.get("name") for d in specs[0]["data"]]
    assert "this data's graph" in names and any(n and n.startswith("structureless reference") for n in names)
    caption = figures.cluster_count_caption(auto_model.cluster_count_)
    assert caption.startswith("K = 3") and any(m.value == caption for m in at.markdown)
    assert any("Faint: the same graph built from structureless data" in c.value for c in at.caption)
    assert not at.warning
    notebook = viz.cluster_count(auto_model)                 # the notebook draws the same figure
    assert notebook.figures[0].layout.title.text == specs[0]["layout"]["title"]["text"] and caption in notebook[1]


def test_the_page_warns_when_the_data_show_no_clusters() -> None:
    blob = Dataset(np.random.default_rng(0).standard_normal((120, 12)).astype(np.float32), None, "blob", None)
    with pytest.warns(UserWarning, match="no cluster structure"):
        model = SSCN(n_clusters="auto", **QUICK).fit(blob.X)
    at = page(blob, model)
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("No cluster structure found") and f"K = {model.n_clusters_}" in w for w in warnings)
    titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
    assert any("No cluster structure found" in t for t in titles), titles


def test_the_page_says_when_k_was_given(data: Dataset, mlp_model: SSCN) -> None:
    at = page(data, mlp_model)
    assert any(h.value == "How many subspaces?" for h in at.subheader)
    assert any(c.value.startswith("K = 3 was given") and "auto K" in c.value for c in at.caption)
    assert not any(s["layout"]["title"]["text"].startswith("How many") for s in chart_specs(at))
