"""Classify tab: upload images, see them prepared as the model's data was, their cluster and class probabilities."""
from __future__ import annotations

import copy

import numpy as np
import streamlit as st
from PIL import Image

from sscn_core import SSCN
from sscn_core.analysis import Analysis, majority_labels
from sscn_core.preprocess import STYLES, ImageError, input_style, open_image_safely, prepare_for_model
from sscn_core.viz import figures

from ..state import AppState
from .common import Current, label_name, refreshed, sample_images, show_nothing

IMAGE_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp", "pgm", "ppm"]
MAX_FILES = 24
EXAMPLES = 6
# Which network classifies, when the model has a distilled student (SSCN's predict_with): key -> label.
NETWORKS = {"student": "Student (fast copy)", "teacher": "Teacher (the trained model)"}


def render(state: AppState, cur: Current) -> None:
    """Draw the Classify tab."""
    st.markdown("Upload pictures like the training data (digits or clothes for an MNIST / Fashion-MNIST model, "
                "faces for Yale B, your own kind for your own images). Each is prepared the way the training "
                "data was, then assigned to the cluster whose block of HR holds most of its energy.")
    now = refreshed(state, cur)
    if show_nothing(now):
        return
    if not hasattr(now.model, "n_features_in_"):   # a job's model comes back from its worker when paused or ended
        st.info("Classification is available when training is paused, stopped or finished.")
        return
    try:
        style, shape = input_style(now.model)
    except ImageError:
        st.info(f"This model reads {now.model.n_features_in_} features per point, not images, so classifying "
                "uploaded images is disabled here.")
        return
    st.caption(f"Preprocessing: {STYLES[style]}; {shape[0]}×{shape[1]} inputs.")
    network = _network_choice(now.model)
    files = st.file_uploader("Images", type=IMAGE_TYPES, accept_multiple_files=True, key="cls.files")
    if not files:
        st.caption("PNG, JPEG, BMP, GIF, TIFF, WebP…; dark ink on light paper or light on dark both work.")
        return
    if len(files) > MAX_FILES:
        st.warning(f"{len(files)} files: the first {MAX_FILES} are classified.")
    with now.model_access(state) as model:
        if model is None:
            st.info("Classification is available when training is paused, stopped or finished.")
            return
        if network is not None:
            # A shallow copy shares the weights; the choice stays on this tab (the other tabs keep the model's own).
            model = copy.copy(model).set_params(predict_with=network)
        for i, upload in enumerate(files[:MAX_FILES]):
            with st.container(border=True):
                _classify_one(i, upload.name, upload.getvalue(), model, now, now.analysis)


def _network_choice(model: SSCN) -> str | None:
    """The network the user picks to classify with ("student" or "teacher") when the model has a
    distilled student; None when it has none (the model classifies)."""
    if getattr(model, "student_", None) is None:
        return None
    report = getattr(model, "student_report_", None) or {}
    agreement = f" It gives the teacher's answer on {report['agreement']:.0%} of the training images." \
        if "agreement" in report else ""
    default = "teacher" if model.predict_with == "teacher" else "student"
    return st.radio("Classify with", list(NETWORKS), index=list(NETWORKS).index(default), format_func=NETWORKS.get,
                    horizontal=True, key="cls.network",
                    help="The student is a small, fast network trained after the model to give the same answers "
                         f"as the model (the teacher), without labels.{agreement}")


def _thumbnail(raw: bytes) -> Image.Image | None:
    """A small RGB copy of the upload for display, or None when it cannot be shown as is."""
    try:
        img = open_image_safely(raw)
        img = img.convert("RGB") if img.mode not in ("RGB", "L") else img.copy()
    except (ImageError, ValueError, OSError):
        return None
    img.thumbnail((160, 160))
    return img


def _classify_one(i: int, name: str, raw: bytes, model: SSCN, cur: Current, a: Analysis) -> None:
    try:
        prepared = prepare_for_model(raw, model)
    except ImageError as exc:
        st.error(f"**{name}**: {exc}")
        return
    x = prepared.reshape(1, -1)
    proba = model.predict_proba(x)[0]
    k = int(model.predict(x)[0])
    original, ready, chart, examples = st.columns([1, 1, 3, 2])
    thumb = _thumbnail(raw)
    with original:
        if thumb is not None:
            st.image(thumb, caption=name, width=110)
        else:
            st.caption(name)
    with ready:
        st.image(prepared, caption="as the model sees it", width=110, clamp=True)
    verdict = f"**Cluster {k}** ({proba[k]:.0%})"
    if cur.train.y is not None:
        major = majority_labels(cur.train.y, a.train_pred, len(proba))[k]
        if major is not None:
            verdict += (f" · most training points of this cluster are **{label_name(major[0], cur.class_names)}** "
                        f"({major[1]:.0%})")
    with chart:
        st.markdown(verdict)
        st.plotly_chart(figures.bar_figure(proba, [f"c{j}" for j in range(len(proba))], percent=True, highlight=k,
                                           y_title="probability", height=240),
                        key=f"cls.proba.{i}", config={"displaylogo": False})
    with examples:
        members = np.flatnonzero(a.pred == k)
        members = members[np.argsort(-a.confidence[members], kind="stable")][:EXAMPLES]
        if members.size:
            st.caption(f"Training points of cluster {k}")
            st.image(sample_images(cur.train, a.embed_rows[members]), width=52, clamp=True)
        else:
            st.caption(f"No sampled training point fell into cluster {k}.")
