"""Every front door follows the library's plan: the same images and seed give the same labels through
the library, the command line, the app, the notebook and the benchmark (issue 20)."""
from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sscn_core import SSCN, load_dataset
from sscn_core.cli import main

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = 4


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of PNG faces, one sub-folder per person (Extended Yale B, bundled)."""
    ds = load_dataset("yaleb")
    folder = tmp_path_factory.mktemp("faces")
    for person in range(PEOPLE):
        (folder / f"person{person:02d}").mkdir()
        for i in np.flatnonzero(ds.y == person)[:40]:
            Image.fromarray(np.round(ds.X[i].reshape(32, 32) * 255).astype(np.uint8)).save(
                folder / f"person{person:02d}" / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def library_labels(faces: Path) -> np.ndarray:
    """The library door: the images read by the library, the defaults, seed 0."""
    data = load_dataset("file", path=faces)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SSCN(n_clusters=PEOPLE, seed=0).fit(data.X.reshape(-1, *data.image_shape)).labels_


def test_the_folder_is_read_as_photos(faces: Path, library_labels: np.ndarray) -> None:
    data = load_dataset("file", path=faces)
    assert data.preprocessing.startswith("photo-style") and data.image_shape == (32, 32)
    from sscn_core.metrics import evaluate
    assert evaluate(data.y, library_labels)["acc"] > 0.9


def test_cli_door(faces: Path, library_labels: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "model.pt"
    assert main(["train", "--data", str(faces), "--n-clusters", str(PEOPLE), "--quiet", "--json",
                 "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["preset"] == "auto" and set(report["params"]) <= {"n_clusters", "seed", "device", "image_shape"}
    assert np.array_equal(SSCN.load(out).labels_, library_labels)
    assert not any(s["reason"].startswith("given") for name, s in report["settings"].items()
                   if name != "image_shape"), report["settings"]


def test_app_door(faces: Path, library_labels: np.ndarray, tmp_path: Path) -> None:
    from app.config import AppConfig, DataConfig, ModelConfig, build_model, load_data, preset_for, validate

    upload = tmp_path / "faces.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for path in sorted(faces.rglob("*.png")):
            zf.write(path, path.relative_to(faces))
    full = load_dataset("file", path=upload)
    start = preset_for("upload", n_total=len(full), n_classes=PEOPLE, image_shape=full.image_shape)
    data = DataConfig(source="upload", upload_path=str(upload), upload_name="faces.zip",
                      **{k: v for k, v in start.items() if k != "n_clusters"})
    config = AppConfig(data, ModelConfig(n_clusters=start["n_clusters"]))
    assert validate(config, n_available=len(full), n_features=full.n_features, image_shape=full.image_shape) == {}
    train, _ = load_data(config.data)
    assert len(train) == len(full)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(config.model, train.image_shape).fit(train.X)
    assert np.array_equal(model.labels_, library_labels)


def test_notebook_door(faces: Path, library_labels: np.ndarray) -> None:
    """The fitting cell of examples/bring_your_own_images.ipynb, run as written."""
    notebook = json.loads((ROOT / "examples" / "bring_your_own_images.ipynb").read_text())
    cell = next("".join(c["source"]) for c in notebook["cells"]
                if c["cell_type"] == "code" and "SSCN(" in "".join(c["source"]))
    assert "pretrained" not in cell

    class Quiet:
        @staticmethod
        def LiveProgress() -> None:
            return None

    space = {"SSCN": SSCN, "data": load_dataset("file", path=faces), "k": PEOPLE, "viz": Quiet}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(cell, space)  # noqa: S102 - the notebook's own cell
    assert np.array_equal(space["model"].labels_, library_labels)


def test_bench_door(faces: Path, library_labels: np.ndarray) -> None:
    from bench.standard import sscn_model

    data = load_dataset("file", path=faces)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = sscn_model(data, PEOPLE, seed=0).fit(data.X).labels_
    assert np.array_equal(labels, library_labels)


def test_cli_prints_each_warning_once(capsys: pytest.CaptureFixture) -> None:
    """The report lists the fit's warnings; Python's warning machinery no longer prints them again."""
    assert main(["train", "--dataset", "digits", "--n-clusters", "10", "--classifier-temperature", "none",
                 "--quiet"]) == 0
    out, err = capsys.readouterr()
    warned = [line for line in (out + err).splitlines() if "WARNING" in line or "SSCNWarning" in line]
    assert warned, "the paper's logits on the 8×8 digits warn (the classifier reproduces < 99 % of its pseudo-labels)"
    assert not any("SSCNWarning" in line for line in warned)
    messages = [line.split("WARNING: ", 1)[1] for line in warned]
    assert len(messages) == len(set(messages))


def test_a_preset_front_end_is_kept_on_any_image_size(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`--preset scattering` on 32×32 faces was silently turned into pixels by the CLI."""
    ds = load_dataset("yaleb")
    keep = np.isin(ds.y, [0, 1, 2])
    np.savez(tmp_path / "faces.npz", X=ds.X[keep].reshape(-1, 32, 32), y=ds.y[keep])
    assert main(["train", "--data", str(tmp_path / "faces.npz"), "--n-clusters", "3", "--preset", "scattering",
                 "--quiet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["frontend"]["value"] == "scattering"
