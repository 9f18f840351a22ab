"""Image preparation at its edges (issue 33): digit-style models of images smaller than MNIST's 20-pixel
box predict through every door; pictures that would carry nothing once prepared, and data whose rows
are all constant, are refused with one line in the library and the command line."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sscn_core import SSCN, load_dataset, viz
from sscn_core.cli import main
from sscn_core.metrics import evaluate
from sscn_core.preprocess import ImageError, digit_box, input_style, prepare_for_model

CLASSES = (0, 1)
PER_CLASS = 30
# A short fixed fit: the linear model on pixels at a given α, so that no choice among candidates runs.
QUICK = {"frontend": "pixels", "alpha": 5.0, "schedule": "epochs", "epochs": 2, "classifier_epochs": 1, "seed": 0,
         "device": "cpu"}


def cluster_of(panel: viz.Panel) -> int:
    """The cluster viz.classify names in its chart's title ("Cluster 2 (97%)")."""
    return int(re.match(r"Cluster (\d+) ", panel.figures[0].layout.title.text).group(1))


def small_digits(side: int) -> np.ndarray:
    """PER_CLASS MNIST digits of each of CLASSES, shrunk to side×side (as a small digit set is made), in [0, 1]."""
    mnist = load_dataset("mnist")
    rows = np.concatenate([np.flatnonzero(mnist.y == c)[:PER_CLASS] for c in CLASSES])
    return np.stack([np.asarray(Image.fromarray(np.round(mnist.X[i].reshape(28, 28) * 255).astype(np.uint8))
                                .resize((side, side), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
                     for i in rows])


def picture_files(folder: Path, stack: np.ndarray) -> list[Path]:
    """Ten pictures to classify: eight training images as PNG files at their own size, and two of them as
    dark ink on light paper, larger and not square (another size, polarity and aspect than the training)."""
    folder.mkdir()
    paths = []
    for j, i in enumerate(np.linspace(0, len(stack) - 1, 8).astype(int)):
        paths.append(folder / f"train{j}.png")
        Image.fromarray(np.round(stack[i] * 255).astype(np.uint8)).save(paths[-1])
    for j, i in enumerate((0, len(stack) - 1)):
        paths.append(folder / f"paper{j}.jpg")
        paper = Image.fromarray(np.round(235 - 200 * stack[i]).astype(np.uint8)).resize((84, 60))
        paper.save(paths[-1], quality=95)
    return paths


# ------------------------------------------------------------------ digit-style smaller than MNIST's box
@pytest.mark.parametrize("side", [8, 12, 16, 19])
def test_a_small_digit_model_predicts_through_every_door(side: int, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    """A model of 16×16 digits could never predict: every picture failed with "expected integers 1 <= box
    <= size". Now the library, ``sscn predict`` and ``viz.classify`` give one answer for each picture, and
    the pictures are prepared at the model's size with MNIST's proportion of ink."""
    stack = small_digits(side)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=len(CLASSES), **QUICK).fit(stack)
    assert input_style(model) == ("digit", (side, side))
    assert "28×28 (as MNIST)" not in model.settings_["input_style"]["reason"]      # no claim of MNIST's field
    files = picture_files(tmp_path / "pictures", stack)
    prepared = [prepare_for_model(path, model) for path in files]
    for image in prepared:
        ink = np.argwhere(image > 0)
        assert image.shape == (side, side) and np.ptp(ink, axis=0).max() + 1 <= digit_box((side, side)) + 2
    library = model.predict(np.stack([p.ravel() for p in prepared])).tolist()
    assert [cluster_of(viz.classify(model, path)) for path in files] == library
    saved = model.save(tmp_path / "model.pt")
    assert main(["predict", "--model", str(saved), "--json", *map(str, files)]) == 0
    out, err = capsys.readouterr()
    assert [row["cluster"] for row in json.loads(out)] == library and err == ""
    # Training and prediction agree: the training pictures, read back from their files and prepared by
    # MNIST's recipe at this size, land where their rows did (7 of 8 at least: the rows were shrunk from
    # MNIST, not prepared), and so do the two drawn on paper.
    rows = np.linspace(0, len(stack) - 1, 8).astype(int)
    assert evaluate(np.repeat(np.arange(len(CLASSES)), PER_CLASS), model.labels_)["acc"] >= 0.95
    assert np.mean(np.array(library[:8]) == model.labels_[rows]) >= 7 / 8
    assert library[8:] == model.labels_[[0, len(stack) - 1]].tolist()


# ------------------------------------------------------------------ nothing to cluster
def test_fit_refuses_rows_that_are_all_constant() -> None:
    """Every image of the set blank (or made blank by its preparation): refused, not trained on."""
    levels = np.linspace(0.0, 1.0, 12, dtype=np.float32)
    blank = np.broadcast_to(levels[:, None, None], (12, 16, 16))
    with pytest.raises(ValueError, match=r"^all 12 rows are constant \(one value in all 256 features: 0, 0\.0909, "
                                         r"0\.182, \.\.\.\): there is nothing to cluster"):
        SSCN(n_clusters=3, **QUICK).fit(blank)
    assert not hasattr(SSCN(n_clusters=3, **QUICK), "labels_")


def test_cli_train_refuses_blank_images_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    levels = np.linspace(0, 255, 8).astype(np.uint8)
    np.savez(tmp_path / "blank.npz", X=np.broadcast_to(levels[:, None, None], (8, 20, 20)).copy())
    assert main(["train", "--data", str(tmp_path / "blank.npz"), "--n-clusters", "2", "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith("error: all 8 rows are constant (one value in all 400 features: 0, 0.141, 0.282, ...): "
                          "there is nothing to cluster"), err


def test_cli_train_refuses_a_folder_of_strips_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    folder = tmp_path / "strips"
    for person in ("a", "b"):
        (folder / person).mkdir(parents=True)
        for k in range(4):
            Image.fromarray((rng.random((1, 1000)) * 255).astype(np.uint8)).save(folder / person / f"{k}.png")
    assert main(["train", "--data", str(folder), "--n-clusters", "2", "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {folder}: a/0.png: the image is 1000 pixels wide and 1 high: cropping it to the "
                          f"proportions of photo-style inputs of 32×32 (height×width) would keep 1 of its 1000 "
                          f"columns; an image more than 4 times wider or taller than the inputs is refused"), err


def test_predict_refuses_a_strip_for_a_photo_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    faces = load_dataset("yaleb")
    keep = np.isin(faces.y, [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=2, **QUICK).fit(faces.X[keep][:40].reshape(-1, 32, 32))
    assert input_style(model) == ("photo", (32, 32))
    strip = tmp_path / "strip.png"
    Image.fromarray((np.random.default_rng(0).random((2, 900)) * 255).astype(np.uint8)).save(strip)
    with pytest.raises(ImageError, match="900 pixels wide and 2 high"):
        viz.classify(model, strip)
    face = tmp_path / "face.png"
    Image.fromarray(np.round(faces.X[0].reshape(32, 32) * 255).astype(np.uint8)).save(face)
    assert main(["predict", "--model", str(model.save(tmp_path / "m.pt")), str(strip), str(face)]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f"{face}: cluster ") and err.count("\n") == 1
    assert err.startswith(f"error: {strip}: the image is 900 pixels wide and 2 high: cropping it"), err
