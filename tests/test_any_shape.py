"""Every front door on images that are neither 28×28 nor square (issue 31): a folder of 48×42 faces, grey
and colour files mixed, through the library (fit, predict, viz.classify), the command line (train,
predict, pretrain), the app's Classify tab and the bring-your-own-images notebook. One picture gets
one answer whichever door it goes through."""
from __future__ import annotations

import io
import json
import os
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sscn_core import SSCN, Dataset, load_dataset, viz
from sscn_core.checkpoint import load_checkpoint
from sscn_core.cli import main
from sscn_core.metrics import evaluate
from sscn_core.preprocess import input_style, prepare_for_model

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (48, 42)          # (height, width): the cropped Extended Yale B faces of the DSC-Net papers
PEOPLE = 3
PER_PERSON = 30


def _face_folder(folder: Path, shape: tuple[int, int]) -> Path:
    """PEOPLE sub-folders of PER_PERSON Extended Yale B faces (bundled at 32×32) resized to ``shape``;
    every other file is saved in colour (a warm tint of about the same luminance), the rest grey."""
    ds = load_dataset("yaleb")
    height, width = shape
    for person in range(PEOPLE):
        (folder / f"person{person}").mkdir(parents=True)
        for j, i in enumerate(np.flatnonzero(ds.y == person)[:PER_PERSON]):
            grey = Image.fromarray(np.round(ds.X[i].reshape(32, 32) * 255).astype(np.uint8))
            grey = grey.resize((width, height), Image.Resampling.BICUBIC)
            img = Image.merge("RGB", (grey.point(lambda v: min(255, v * 1.1)), grey, grey.point(lambda v: v * 0.8))) \
                if j % 2 else grey
            img.save(folder / f"person{person}" / f"{i:04d}.png")
    return folder


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _face_folder(tmp_path_factory.mktemp("faces") / "faces", SHAPE)


@pytest.fixture(scope="module")
def files(faces: Path) -> list[Path]:
    """The image files in the order the loader reads them (row i of the data set is files[i])."""
    return sorted(faces.rglob("*.png"))


@pytest.fixture(scope="module")
def data(faces: Path) -> Dataset:
    return load_dataset("file", path=faces)


@pytest.fixture(scope="module")
def model(data: Dataset) -> SSCN:
    """The library door: the defaults, seed 0, on the stack of images."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SSCN(n_clusters=PEOPLE, seed=0).fit(data.X.reshape(-1, *data.image_shape))


def cluster_of(panel: viz.Panel) -> int:
    """The cluster viz.classify names in its chart's title ("Cluster 2 (97%)")."""
    return int(re.match(r"Cluster (\d+) ", panel.figures[0].layout.title.text).group(1))


def big_colour_copy(path: Path) -> bytes:
    """The picture twice as large, in colour, as a JPEG: another size, mode and format than the training files."""
    img = Image.open(path).convert("RGB")
    buf = io.BytesIO()
    img.resize((img.width * 2, img.height * 2), Image.Resampling.BICUBIC).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


# ---------------------------------------------------------------------------------- the library
def test_the_folder_is_read_at_its_own_shape(data: Dataset, files: list[Path]) -> None:
    assert data.image_shape == SHAPE and data.X.shape == (PEOPLE * PER_PERSON, SHAPE[0] * SHAPE[1])
    assert data.preprocessing.startswith("photo-style") and data.preprocessing.endswith("48×42 inputs")
    assert {Image.open(p).mode for p in files} == {"L", "RGB"}          # grey and colour files, both read


def test_library_fit_predict_and_viz_classify(model: SSCN, data: Dataset, files: list[Path]) -> None:
    assert model.params_["image_shape"] == SHAPE and input_style(model) == ("photo", SHAPE)
    assert evaluate(data.y, model.labels_)["acc"] >= 0.9
    rows = list(range(0, len(files), 7))
    predicted = model.predict(data.X[rows])
    for row, k in zip(rows, predicted):
        prepared = prepare_for_model(files[row], model)
        assert prepared.shape == SHAPE
        np.testing.assert_array_equal(prepared.ravel(), data.X[row])    # a training file comes back as its row
        panel = viz.classify(model, files[row], data)
        assert cluster_of(panel) == k
        assert "width='98' height='112'" in panel[0]                    # shown 42 wide and 48 high, not square
        assert panel[2].count("<img") == 8 and "width='49' height='56'" in panel[2]
    bigger = viz.classify(model, big_colour_copy(files[rows[0]]), data)  # any size, colour, JPEG
    assert cluster_of(bigger) == predicted[0]


def test_viz_classify_refuses_a_model_of_vectors() -> None:
    vectors = load_dataset("synthetic", n_clusters=3, subspace_dim=2, ambient_dim=12, n_per_cluster=30, noise=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = SSCN(n_clusters=3, subspace_dim=2, seed=0).fit(vectors.X)
    with pytest.raises(ValueError, match="12-dimensional vectors, not images"):
        viz.classify(small, np.zeros((28, 28)))


def test_the_notebook_views_show_images_at_their_shape(model: SSCN, data: Dataset,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sscn_core.viz.notebook.run_umap", lambda x, **kw: np.asarray(x, dtype=np.float32)[:, :2])
    view = viz.embedding(model, data, points=len(data))
    assert isinstance(view, viz.HoverImages) and len(view.images) == len(data)
    assert 'width="49" height="56"' in view._repr_html_()
    grid = viz.image_grid([data.X[0].reshape(SHAPE), np.zeros((16, 64))])
    assert "width='49' height='56'" in grid and "width='56' height='14'" in grid


# ---------------------------------------------------------------------------------- the command line
def test_cli_train_and_predict(faces: Path, files: list[Path], model: SSCN, tmp_path: Path,
                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "model.pt"
    assert main(["train", "--data", str(faces), "--n-clusters", str(PEOPLE), "--quiet", "--json",
                 "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["image_shape"]["value"] == list(SHAPE)
    saved = SSCN.load(out)
    np.testing.assert_array_equal(saved.labels_, model.labels_)          # the same fit as the library's
    picked = [files[i] for i in range(0, len(files), 7)]
    assert main(["predict", "--model", str(out), "--json", *map(str, picked)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["cluster"] for r in rows] == [cluster_of(viz.classify(saved, p)) for p in picked]
    assert [r["cluster"] for r in rows] == list(model.predict(np.stack([prepare_for_model(p, model).ravel()
                                                                        for p in picked])))


def test_cli_pretrain_on_a_folder_then_train_with_it(faces: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    ae = tmp_path / "ae.pt"
    assert main(["pretrain", "--data", str(faces), "--out", str(ae), "--epochs", "2", "--quiet"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["image_shape"] == list(SHAPE) and written["n"] == PEOPLE * PER_PERSON
    assert load_checkpoint(ae, expected_kind="autoencoder").config == {"kind": "conv", "image_shape": list(SHAPE)}
    out = tmp_path / "model.pt"
    assert main(["train", "--data", str(faces), "--n-clusters", str(PEOPLE), "--autoencoder", "conv",
                 "--pretrained", str(ae), "--schedule", "epochs", "--epochs", "2", "--classifier-epochs", "1",
                 "--quiet", "--json", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["pretrained"]["value"] == str(ae) and "pretrain" not in report["phase_seconds"]
    assert SSCN.load(out).net_.autoencoder.image_shape == SHAPE


def test_cli_pretrain_refusals_are_one_line(faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    square = _face_folder(tmp_path / "square", (32, 32))
    ae = tmp_path / "ae32.pt"
    assert main(["pretrain", "--data", str(square), "--out", str(ae), "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    code = main(["train", "--data", str(faces), "--n-clusters", str(PEOPLE), "--autoencoder", "conv",
                 "--pretrained", str(ae), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "the conv auto-encoder of 32×32 images" in err and "the conv auto-encoder of 48×42 images" in err
    assert main(["pretrain", "--data", str(faces), "--quiet"]) == 2                 # where to write it?
    assert "give --out FILE" in capsys.readouterr().err
    np.savez(tmp_path / "vectors.npz", X=np.random.default_rng(0).random((20, 10)))
    assert main(["pretrain", "--data", str(tmp_path / "vectors.npz"), "--out", str(tmp_path / "v.pt"), "--quiet"]) == 2
    assert "the conv auto-encoder reads images" in capsys.readouterr().err and not (tmp_path / "v.pt").exists()


# ---------------------------------------------------------------------------------- the app
def test_app_classify_tab(faces: Path, files: list[Path], model: SSCN, tmp_path: Path) -> None:
    from streamlit.runtime.caching import clear_session_resource_cache
    from streamlit.testing.v1 import AppTest

    from app.views.common import sample_images
    from test_app_main import MAIN, SESSION, open_tab

    upload = io.BytesIO()
    with zipfile.ZipFile(upload, "w") as zf:
        for path in files:
            zf.write(path, path.relative_to(faces))
    pictures = {"grey.png": files[0].read_bytes(), "colour.png": files[1].read_bytes(),
                "big.jpg": big_colour_copy(files[len(files) // 2])}
    expected = {name: cluster_of(viz.classify(model, raw)) for name, raw in pictures.items()}
    clear_session_resource_cache(SESSION)
    try:
        at = AppTest.from_file(MAIN, default_timeout=120)
        at.run()
        at.selectbox(key="cfg.source").set_value("upload").run()
        at.file_uploader(key="cfg.upload").set_value(("faces.zip", upload.getvalue(), "application/zip")).run()
        assert not at.sidebar.error, [e.value for e in at.sidebar.error]
        at.file_uploader(key="train.load").set_value(("faces.pt", model.save(tmp_path / "faces.pt").read_bytes(),
                                                      "application/octet-stream")).run()
        assert any("Loaded faces.pt" in s.value for s in at.success), [e.value for e in at.error]
        open_tab(at, "Classify")
        assert any("48×42 inputs" in c.value and c.value.startswith("Preprocessing: photo-style") for c in at.caption)
        at.file_uploader(key="cls.files").set_value([(name, raw, "image/png" if name.endswith("png") else "image/jpeg")
                                                     for name, raw in pictures.items()]).run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        verdicts = [m.value for m in at.markdown if m.value.startswith("**Cluster")]
        assert [int(re.match(r"\*\*Cluster (\d+)\*\*", v).group(1)) for v in verdicts] == list(expected.values())
        for name in ("Affinity", "Metrics"):
            open_tab(at, name)
            assert not at.exception and not at.error, (name, at.exception, [e.value for e in at.error])
    finally:
        clear_session_resource_cache(SESSION)
    train = load_dataset("file", path=faces)
    assert {img.shape for img in sample_images(train, np.arange(5))} == {SHAPE}   # Embeddings' selected images


# ---------------------------------------------------------------------------------- the notebook
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_bring_your_own_images_notebook_runs_on_the_folder(faces: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SSCN_IMAGES", str(faces))
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    nb = nbformat.read(ROOT / "examples" / "bring_your_own_images.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    printed = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert f"{PEOPLE * PER_PERSON} images of (48, 42)" in printed and "48×42 inputs" in printed
    classified = next(cell for cell in nb.cells if cell.cell_type == "code" and "viz.classify(" in cell.source)
    shown = "".join(str(out.get("data", {}).get("text/html", "")) for out in classified.outputs)
    assert "as the model sees it" in shown and "width='98' height='112'" in shown


# ---------------------------------------------------------------------------------- digit-style, not square
def test_a_digit_model_of_another_shape_classifies_drawings_at_that_shape() -> None:
    """Digits on a 32×28 field (MNIST padded above and below): digit-style new pictures come out
    32×28, the ink fitted into 20×20 (MNIST's 20 of 28 of the shorter side), centred by mass."""
    digits = load_dataset("mnist", n_samples=600, seed=0)
    keep = np.flatnonzero(np.isin(digits.y, [0, 1, 7]))[:120]
    stack = np.pad(digits.X[keep].reshape(-1, 28, 28), ((0, 0), (2, 2), (0, 0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tall = SSCN(n_clusters=3, seed=0).fit(stack)
    assert input_style(tall) == ("digit", (32, 28))
    paper = Image.fromarray((235 - 200 * digits.X[keep[0]].reshape(28, 28)).astype(np.uint8)).resize((84, 60))
    prepared = prepare_for_model(paper, tall)
    assert prepared.shape == (32, 28)
    ink = prepared > 0.1
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20
    centre = np.array([(prepared.sum(axis=1) * np.arange(32)).sum(), (prepared.sum(axis=0) * np.arange(28)).sum()])
    np.testing.assert_allclose(centre / prepared.sum(), (16, 14), atol=0.75)
    panel = viz.classify(tall, paper)
    assert cluster_of(panel) == int(tall.predict(prepared.reshape(1, -1))[0])
    assert "width='98' height='112'" in panel[0]                        # 28 wide, 32 high
