"""The explorer page through streamlit.testing.v1.AppTest: controls, training flows, tabs, uploads."""
from __future__ import annotations

import io
import json
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from app.config import ModelConfig, preset_for
from sscn_core import SSCN, load_dataset
from sscn_core.params import DEFAULTS
from sscn_core.preprocess import input_style, open_image_safely, prepare_for
from test_data import npz_declaring

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
SESSION = "test session id"   # every AppTest shares this id, hence this session's cached AppState


@pytest.fixture
def at() -> Iterator[AppTest]:
    clear_session_resource_cache(SESSION)     # a fresh AppState (the previous one is released: its job stops)
    app = AppTest.from_file(MAIN, default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    yield app
    clear_session_resource_cache(SESSION)


def progress(at: AppTest) -> str:
    bars = at.get("progress")
    return bars[0].proto.text if bars else ""


def wait_until(at: AppTest, predicate: Callable[[AppTest], bool], timeout: float = 240.0) -> None:
    """Rerun the page (run_every does not fire in AppTest) until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception
        if predicate(at):
            return
    raise AssertionError(f"timed out; progress: {progress(at)!r}; errors: {[e.value for e in at.error]}")


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def open_tab(at: AppTest, name: str) -> None:
    at.session_state["tab"] = name
    at.run()
    assert not at.exception, at.exception


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error] \
        + [i.value for i in at.info] + [w.value for w in at.warning] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def use_synthetic(at: AppTest, **numbers: float) -> None:
    at.selectbox(key="cfg.source").set_value("synthetic").run()
    for key, value in numbers.items():
        at.number_input(key=f"cfg.{key}").set_value(value)
    at.run()
    assert not at.exception, at.exception


def loss_traces(at: AppTest) -> list[str]:
    charts = [c for c in at.get("plotly_chart") if "loss" in c.proto.spec]
    spec = json.loads(charts[0].proto.spec)
    return [d.get("name") for d in spec["data"] if d.get("name")]


def test_first_page(at: AppTest) -> None:
    assert at.title[0].value == "SSCN Explorer"
    assert [b.label for b in at.button] == ["Start", "Pause", "Stop", "Reset"]
    assert not button(at, "Start").disabled and button(at, "Pause").disabled and button(at, "Stop").disabled
    assert at.selectbox(key="cfg.source").value == "mnist"
    assert at.selectbox(key="cfg.autoencoder").value == "auto"          # the library's plan chooses
    assert at.selectbox(key="cfg.holdout").value == "mnist-oos"
    assert any("\\min" in l.value for l in at.latex)
    assert not at.error and not at.warning


def test_the_sidebar_starts_at_the_librarys_defaults(at: AppTest) -> None:
    """Every SSCN parameter starts at sscn_core.params' default, except the quick start of the data source."""
    quick = preset_for("mnist", n_total=10_000, n_classes=10, image_shape=(28, 28))
    for f in fields(ModelConfig):
        assert at.session_state[f"cfg.{f.name}"] == quick.get(f.name, f.default), f.name
    assert at.number_input(key="cfg.lambda2").value == DEFAULTS["lambda2"] == 1.0
    assert at.number_input(key="cfg.lambda2").help.endswith("Default: 1.0.")
    assert at.selectbox(key="cfg.reduction").value == DEFAULTS["reduction"]      # a parameter the app did not have


def test_out_of_range_inputs_are_refused_next_to_the_widget(at: AppTest) -> None:
    at.number_input(key="cfg.lr").set_value(0.0).run()
    at.number_input(key="cfg.n_clusters").set_value(1).run()
    messages = [e.value for e in at.sidebar.error]
    assert any("Learning rate must be a finite number in (0, 1], got 0.0" in m for m in messages)
    assert any("K clusters must be an integer in [2, 100], got 1" in m for m in messages)
    assert button(at, "Start").disabled
    assert "Fix the settings marked in the sidebar" in texts(at)
    at.number_input(key="cfg.lr").set_value(0.001).run()
    at.number_input(key="cfg.n_clusters").set_value(10).run()
    assert not at.sidebar.error and not button(at, "Start").disabled


@pytest.mark.slow
def test_train_synthetic_see_loss_metrics_affinity_then_reset(at: AppTest) -> None:
    use_synthetic(at, syn_n_clusters=3, syn_subspace_dim=2, ambient_dim=12)
    assert at.number_input(key="cfg.n_clusters").value == 3        # the source's preset followed K
    button(at, "Start").click().run()
    assert button(at, "Start").disabled and not button(at, "Stop").disabled
    wait_until(at, lambda a: progress(a).startswith("Finished"))
    assert {"total", "½‖Q‖²", "½‖Z − QZ‖²", "classifier loss"} <= set(loss_traces(at))
    assert "first loss point" in texts(at)
    assert not at.get("download_button")[0].proto.disabled

    open_tab(at, "Metrics")
    accs = [m for m in at.metric if m.label == "ACC"]
    assert len(accs) == 3                      # in-sample, out-of-sample, pseudo-labels
    assert float(accs[0].value.rstrip("%")) > 60
    open_tab(at, "Affinity")
    assert any(m.label == "raw Q" for m in at.metric)
    at.toggle(key="aff.thr").set_value(True).run()
    assert any(m.label == "thresholded Q" for m in at.metric)
    open_tab(at, "Classify")
    assert "not images, so classifying uploaded images is disabled" in texts(at)
    open_tab(at, "Diagnostics")                 # the colleague's tab gets the run's data and fitted model
    assert not at.error and "No trained model available" not in texts(at)

    open_tab(at, "Train")
    button(at, "Reset").click().run()
    assert progress(at) == "" and not button(at, "Start").disabled
    open_tab(at, "Metrics")
    assert "No model yet" in texts(at)


def test_pause_resume_stop(at: AppTest) -> None:
    at.selectbox(key="cfg.schedule").set_value("epochs")       # a long fixed run (the defaults end at the optimum)
    use_synthetic(at, epochs=1000, batch_size=100)
    button(at, "Start").click().run()
    button(at, "Pause").click().run()
    wait_until(at, lambda a: progress(a).startswith("Paused"))
    assert any(b.label == "Resume" for b in at.button)
    step = progress(at)
    time.sleep(0.5)
    at.run()
    assert progress(at).split("·")[2] == step.split("·")[2]        # no step while paused
    button(at, "Resume").click().run()
    wait_until(at, lambda a: progress(a).startswith("Training"))
    button(at, "Stop").click().run()
    wait_until(at, lambda a: progress(a).startswith("Stopped"), timeout=30)
    assert not button(at, "Start").disabled
    assert not at.get("download_button")[0].proto.disabled      # a stopped model can be kept


def test_an_error_in_training_is_shown_and_the_app_stays_usable(at: AppTest,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import app.views.controls as controls

    monkeypatch.setattr(controls, "build_model", lambda config, shape=None: SSCN(n_clusters=3, subspace_dim=2,
                                                                                  autoencoder=None, lr=-1.0, device="cpu"))
    use_synthetic(at)
    button(at, "Start").click().run()
    wait_until(at, lambda a: progress(a).startswith("Failed"))
    assert any("Training failed: **ValueError**: lr must be" in e.value for e in at.error)
    assert not any(x.label == "Traceback" for x in at.expander)    # showErrorDetails = "none": no server paths
    assert not button(at, "Start").disabled
    monkeypatch.undo()
    button(at, "Start").click().run()
    assert not at.error
    wait_until(at, lambda a: progress(a).startswith(("Training", "Finished")))
    button(at, "Reset").click().run()
    assert progress(at) == ""


def test_a_bad_data_upload_is_refused(at: AppTest) -> None:
    at.selectbox(key="cfg.source").set_value("upload").run()
    assert any("upload a .npz" in e.value for e in at.sidebar.error) and button(at, "Start").disabled
    at.file_uploader(key="cfg.upload").set_value(("broken.npz", b"PK\x03\x04 not really a zip", "application/zip"))
    at.run()
    assert not at.exception
    assert any("broken.npz" in e.value for e in at.sidebar.error)
    assert button(at, "Start").disabled


def test_a_good_data_upload_trains(at: AppTest) -> None:
    data = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=10, n_per_cluster=60, noise=0.01)
    buf = io.BytesIO()
    np.savez(buf, X=data.X, y=data.y)
    at.selectbox(key="cfg.source").set_value("upload").run()
    at.file_uploader(key="cfg.upload").set_value(("mine.npz", buf.getvalue(), "application/octet-stream"))
    at.run()
    assert not at.sidebar.error, [e.value for e in at.sidebar.error]
    assert at.number_input(key="cfg.n_clusters").value == 3
    assert at.selectbox(key="cfg.autoencoder").value == "auto"      # the library's plan chooses (the linear model)
    button(at, "Start").click().run()
    wait_until(at, lambda a: progress(a).startswith("Finished"))


def plotly_array(value) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata" (base64)}."""
    if isinstance(value, dict):
        import base64

        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float)


def digit_png(index: int) -> tuple[bytes, int]:
    ds = load_dataset("mnist")
    img = Image.fromarray((255 - ds.X[index].reshape(28, 28) * 255).astype(np.uint8), mode="L").resize((84, 84))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue(), int(ds.y[index])


def sixteen_bit_png() -> bytes:
    """A 16-bit grayscale PNG (an odd mode): a dark bar on a light background."""
    pixels = np.full((40, 40), 60000, dtype=np.uint16)
    pixels[8:32, 18:22] = 1000
    img = Image.fromarray(pixels)
    assert img.mode == "I;16"
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def huge_png_header() -> bytes:
    """A PNG whose header claims 50000×50000 pixels (a decompression bomb), without the pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 50000, 50000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_classify_images_with_a_small_mnist_model(at: AppTest) -> None:
    at.slider(key="cfg.n_samples").set_value(300)
    at.number_input(key="cfg.batch_size").set_value(100)
    at.number_input(key="cfg.epochs").set_value(1)
    at.number_input(key="cfg.classifier_epochs").set_value(1)
    at.number_input(key="cfg.holdout_size").set_value(100)
    at.run()
    button(at, "Start").click().run()
    wait_until(at, lambda a: progress(a).startswith("Finished"), timeout=180)
    open_tab(at, "Classify")
    png, _ = digit_png(0)
    at.file_uploader(key="cls.files").set_value([("digit.png", png, "image/png"),
                                                 ("digit16.png", sixteen_bit_png(), "image/png"),
                                                 ("broken.png", b"\x89PNG not an image", "image/png"),
                                                 ("empty.png", b"", "image/png"),
                                                 ("huge.png", huge_png_header(), "image/png")])
    at.run()
    assert not at.exception, at.exception
    verdicts = [m.value for m in at.markdown if m.value.startswith("**Cluster")]
    assert len(verdicts) == 2 and all("most training points of this cluster are" in v for v in verdicts)
    assert not [r for r in at.radio if r.key == "cls.network"]        # no student: no choice of network
    errors = [e.value for e in at.error]
    assert any(e.startswith("**broken.png**") for e in errors)
    assert any(e.startswith("**empty.png**") for e in errors)
    assert any(e.startswith("**huge.png**") and "50000×50000" in e for e in errors)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    proba = [c for c in charts if c["data"][0].get("type") == "bar"]
    assert proba and plotly_array(proba[0]["data"][0]["y"]).sum() == pytest.approx(1.0, abs=1e-3)


def test_load_a_checkpoint_and_refuse_a_corrupt_one(at: AppTest, tmp_path: Path) -> None:
    use_synthetic(at, syn_n_clusters=3, syn_subspace_dim=2, ambient_dim=12)
    data = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=12, n_per_cluster=50, noise=0.01)
    model = SSCN(n_clusters=3, subspace_dim=2, autoencoder=None, batch_size=50, epochs=20, lr=1e-2,
                 classifier_epochs=2, device="cpu").fit(data.X)
    path = model.save(tmp_path / "model.pt")
    at.file_uploader(key="train.load").set_value(("model.pt", path.read_bytes(), "application/octet-stream"))
    at.run()
    assert any("Loaded model.pt" in s.value for s in at.success)
    open_tab(at, "Metrics")
    assert len([m for m in at.metric if m.label == "ACC"]) >= 1
    open_tab(at, "Train")
    at.file_uploader(key="train.load").set_value(("junk.pt", b"not a checkpoint", "application/octet-stream"))
    at.run()
    assert any("Could not load junk.pt" in e.value for e in at.error)


def test_classify_with_the_student_or_the_teacher(at: AppTest, tmp_path: Path) -> None:
    data = load_dataset("mnist", n_samples=300, seed=0)
    model = SSCN.from_preset("scattering", student="conv", student_epochs=2, seed=0, device="cpu").fit(data.X)
    png, _ = digit_png(0)
    style, shape = input_style(model)
    prepared = prepare_for(open_image_safely(png), style, shape).reshape(1, -1)   # as the tab prepares it
    teacher = int(model.set_params(predict_with="teacher").predict(prepared)[0])
    model.set_params(predict_with="auto")
    # A student that always answers block k ≠ the teacher's: H = R's first column of block k, whatever the image.
    k, q = (teacher + 1) % 10, model.params_["subspace_dim"]
    with torch.no_grad():
        model.student_.head.weight.zero_()
        model.student_.head.bias.copy_(model.net_.classifier.R[:, k * q] / model.student_.scale)
    path = model.save(tmp_path / "student.pt")
    at.slider(key="cfg.n_samples").set_value(300)
    at.number_input(key="cfg.holdout_size").set_value(100)
    at.run()
    at.file_uploader(key="train.load").set_value(("student.pt", path.read_bytes(), "application/octet-stream"))
    at.run()
    open_tab(at, "Classify")
    at.file_uploader(key="cls.files").set_value([("digit.png", png, "image/png")])
    at.run()
    assert not at.exception, at.exception
    choice = at.radio(key="cls.network")
    assert choice.value == "student" and "teacher's answer on" in choice.help

    def verdict() -> str:
        return next(m.value for m in at.markdown if m.value.startswith("**Cluster"))
    assert verdict().startswith(f"**Cluster {k}**")
    choice.set_value("teacher").run()
    assert not at.exception, at.exception
    assert verdict().startswith(f"**Cluster {teacher}**")  # the teacher classifies (the student would say k)
    open_tab(at, "Metrics")                                # the other tabs keep the model's own choice
    assert len([m for m in at.metric if m.label == "ACC"]) >= 1


def test_ending_the_session_stops_training(at: AppTest) -> None:
    use_synthetic(at, epochs=1000)
    # The fixed schedule runs all 1,000 epochs: under 'auto' this small linear fit can settle within
    # one poll of the page, and the run would be over before the test sees it training.
    at.selectbox(key="cfg.schedule").set_value("epochs").run()
    button(at, "Start").click().run()
    wait_until(at, lambda a: progress(a).startswith("Training") and "step 0/" not in progress(a))
    readers = [t for t in threading.enumerate() if t.name.startswith("sscn-job-") and t.is_alive()]
    assert len(readers) == 1                   # the thread that follows the job's worker process
    start = time.monotonic()
    clear_session_resource_cache(SESSION)      # what Streamlit does when the browser tab closes
    assert time.monotonic() - start < 1.0      # the release does not wait (it runs on the server's event loop)
    readers[0].join(10)                        # it ends once the worker process has exited
    assert not readers[0].is_alive()


@pytest.mark.slow
def test_train_with_k_from_the_data_and_see_why(at: AppTest) -> None:
    """The sidebar's switch asks the library for n_clusters="auto"; the run's K is the estimate everywhere (the
    parameter stays the string "auto") and the Diagnostics tab shows the evidence."""
    use_synthetic(at, syn_n_clusters=3, syn_subspace_dim=2, ambient_dim=12, paper_start_steps=0, epochs=3,
                  classifier_epochs=3)
    at.toggle(key="cfg.n_clusters_auto").set_value(True).run()
    assert at.number_input(key="cfg.n_clusters").disabled and not at.sidebar.error
    button(at, "Start").click().run()
    wait_until(at, lambda a: progress(a).startswith("Finished"))
    assert not at.error, [e.value for e in at.error]
    open_tab(at, "Metrics")
    assert "How clear was the choice of n_clusters = 3?" in texts(at)
    open_tab(at, "Diagnostics")
    assert not at.error and "How many subspaces?" in [h.value for h in at.subheader]
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]
    assert "How many subspaces? K = 3" in titles


def test_every_tab_renders_before_any_training(at: AppTest) -> None:
    for name in ("Train", "Affinity", "Embeddings", "Metrics", "Classify", "Learn", "Diagnostics"):
        open_tab(at, name)
        assert not at.error, (name, [e.value for e in at.error])


def test_start_uses_a_setting_changed_together_with_the_click(at: AppTest) -> None:
    use_synthetic(at)
    at.selectbox(key="cfg.schedule").set_value("epochs")    # these reach the server with the click, as in a browser
    at.number_input(key="cfg.batch_size").set_value(100)
    at.number_input(key="cfg.epochs").set_value(3)
    button(at, "Start").click().run()
    wait_until(at, lambda a: progress(a).startswith("Finished"))
    assert "settings changed since this run started" not in texts(at)
    steps = [row for row in json.loads([c for c in at.get("plotly_chart") if "loss" in c.proto.spec][0].proto.spec)
             ["data"] if row.get("name") == "½‖Q‖²"]
    q_norm = plotly_array(steps[0]["y"])
    # the app's comparison from the paper's start (300 steps), then 3 epochs × (500 points / batch 100) of the run
    assert np.isfinite(q_norm).sum() == 300 + 3 * 5


def test_train_with_the_triplet_classifier_and_self_training(at: AppTest) -> None:
    use_synthetic(at, syn_n_clusters=3, syn_subspace_dim=2, ambient_dim=12)
    assert at.selectbox(key="cfg.classifier_loss").value == "cross_entropy"      # the paper's by default
    assert at.number_input(key="cfg.self_training_rounds").value == 0
    at.number_input(key="cfg.pseudo_sample_size").set_value(3).run()
    assert any("2·n_clusters = 6" in e.value for e in at.sidebar.error) and button(at, "Start").disabled
    at.number_input(key="cfg.pseudo_sample_size").set_value(0)
    at.selectbox(key="cfg.classifier_loss").set_value("triplet")
    at.number_input(key="cfg.classifier_temperature").set_value(20.0)
    at.number_input(key="cfg.self_training_rounds").set_value(1)
    at.number_input(key="cfg.self_training_epochs").set_value(1)
    at.number_input(key="cfg.epochs").set_value(3)
    at.number_input(key="cfg.classifier_epochs").set_value(2)
    at.run()
    assert not at.sidebar.error, [e.value for e in at.sidebar.error]
    button(at, "Start").click().run()
    wait_until(at, lambda a: progress(a).startswith("Finished"))
    assert not at.error, [e.value for e in at.error]
    spec = json.loads([c for c in at.get("plotly_chart") if "loss" in c.proto.spec][0].proto.spec)
    bands = [n["text"] for n in spec["layout"]["annotations"]]
    assert bands == ["the paper's start (comparison)", "self-expression", "classifier", "self-training"]   # self-training ran
    assert any("Theorem 1's optimum" in (trace.get("name") or "") for trace in spec["data"])
    open_tab(at, "Metrics")
    assert len([m for m in at.metric if m.label == "ACC"]) == 2                # in- and out-of-sample only
    assert "No pseudo-labels: the triplet classifier needs none" in texts(at)
    assert not at.error and not at.warning


def test_the_page_stays_usable_after_bad_uploads(at: AppTest) -> None:
    at.selectbox(key="cfg.source").set_value("upload").run()
    at.file_uploader(key="cfg.upload").set_value(("broken.npz", b"PK\x03\x04 not really a zip", "application/zip"))
    at.run()
    at.run()                                  # the rerun after a failed upload drew no size slider
    assert not at.exception, at.exception
    at.file_uploader(key="cfg.upload").set_value(("junk.npy", b"\x93NUMPY junk", "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert any("junk.npy" in e.value for e in at.sidebar.error) and button(at, "Start").disabled
    data = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=10, n_per_cluster=60, noise=0.01)
    buf = io.BytesIO()
    np.savez(buf, X=data.X, y=data.y)
    at.file_uploader(key="cfg.upload").set_value(("good.npz", buf.getvalue(), "application/octet-stream"))
    at.run()
    assert not at.exception and not at.sidebar.error, [e.value for e in at.sidebar.error]
    assert not button(at, "Start").disabled


def test_an_npz_declaring_a_huge_array_is_refused_in_the_sidebar(at: AppTest) -> None:
    at.selectbox(key="cfg.source").set_value("upload").run()
    at.file_uploader(key="cfg.upload").set_value(("huge.npz", npz_declaring((30_000, 30_000, 4)), "application/zip"))
    at.run()
    assert not at.exception, at.exception
    assert any("huge.npz" in e.value and "memory" in e.value for e in at.sidebar.error)
    assert button(at, "Start").disabled


def test_random_bytes_and_a_flipped_bit_as_checkpoint_are_refused(at: AppTest, tmp_path: Path) -> None:
    data = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=12, n_per_cluster=50, noise=0.01)
    model = SSCN(n_clusters=3, subspace_dim=2, autoencoder=None, batch_size=50, epochs=5, lr=1e-2,
                 classifier_epochs=1, device="cpu").fit(data.X)
    raw = bytearray(model.save(tmp_path / "model.pt").read_bytes())
    weight = model.net_.h.linear.weight.detach().numpy().tobytes()
    raw[bytes(raw).find(weight) + 3] ^= 0x01
    open_tab(at, "Train")
    for name, content in (("noise.pt", b's[M\x92y\x1a\xe2q\xb1\xdf' + bytes(range(256)) * 4),
                          ("flipped.pt", bytes(raw))):
        at.file_uploader(key="train.load").set_value((name, content, "application/octet-stream"))
        at.run()
        assert not at.exception, at.exception
        assert any(f"Could not load {name}" in e.value for e in at.error), [e.value for e in at.error]
    assert not button(at, "Start").disabled


def test_data_too_large_for_a_loaded_model_is_one_message_and_the_tabs_stay(at: AppTest, tmp_path: Path) -> None:
    data = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=12, n_per_cluster=50, noise=0.01)
    model = SSCN(n_clusters=3, subspace_dim=2, autoencoder="mlp", hidden_dims=(16,), latent_dim=6, batch_size=50,
                 epochs=5, pretrain_epochs=1, classifier_epochs=1, device="cpu").fit(data.X)
    at.file_uploader(key="train.load").set_value(("model.pt", model.save(tmp_path / "m.pt").read_bytes(),
                                                  "application/octet-stream"))
    at.run()
    buf = io.BytesIO()
    np.savez(buf, X=np.full((150, 12), 3e37, np.float32))
    at.selectbox(key="cfg.source").set_value("upload").run()
    at.file_uploader(key="cfg.upload").set_value(("huge-values.npz", buf.getvalue(), "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert len(at.tabs) == 7 and not at.error
    open_tab(at, "Metrics")
    assert len(at.tabs) == 7 and not at.error
    assert len(at.info) == 1 and re.fullmatch(
        r"The loaded model cannot be applied to the chosen data: the values are too large for this model: its outputs "
        r"overflow to NaN or infinity \(the largest \|value\| in X is \d(\.\d+)?e\+3[67]\); give data on the scale of "
        r"the training data \(pixels in \[0, 1\]\)", at.info[0].value), [i.value for i in at.info]
    for tab in ("Affinity", "Embeddings", "Classify", "Diagnostics"):
        open_tab(at, tab)
        assert len(at.tabs) == 7 and len(at.error) <= 1, (tab, [e.value for e in at.error])


def test_a_rejected_upload_gives_one_error_naming_the_users_file(at: AppTest) -> None:
    at.selectbox(key="cfg.source").set_value("upload").run()
    at.file_uploader(key="cfg.upload").set_value(("my digits.zip", b"PK\x03\x04 not really a zip", "application/zip"))
    at.run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("Could not load the data: my digits.zip: not a valid zip"), errors
    assert button(at, "Start").disabled
    at.file_uploader(key="train.load").set_value(("my model.pt", b"PK\x03\x04 not a model", "application/octet-stream"))
    at.run()
    shown = [e.value for e in at.error]
    assert any(e.startswith("Could not load my model.pt: 'my model.pt' is not a readable") for e in shown), shown


def test_error_details_stay_on_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    from streamlit import config

    root = Path(MAIN).parents[1]
    assert tomllib.loads((root / ".streamlit" / "config.toml").read_text())["client"]["showErrorDetails"] == "none"
    monkeypatch.chdir(root)                      # `streamlit run app/main.py` from the repository root
    config.get_config_options(force_reparse=True)
    assert config.get_option("client.showErrorDetails") == "none"
