"""One picture, one answer (issue 33): ``viz.classify`` prepared every picture digit-style, so on a 28×28
model of faces (photo-style) it agreed with ``sscn predict`` and the app's Classify tab on 5 of 10
pictures. All three now go through ``preprocess.prepare_for_model``; here each of them classifies ten
pictures for a 28×28 photo-style model and a 28×28 digit-style model, and all give the library's labels."""
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
from sscn_core.preprocess import input_style, prepare_for, prepare_for_model

SHAPE = (28, 28)
QUICK = {"frontend": "pixels", "alpha": 5.0, "schedule": "epochs", "epochs": 2, "classifier_epochs": 1, "seed": 0,
         "device": "cpu"}


def _grey_png(path: Path, pixels: np.ndarray, size: tuple[int, int] | None = None, colour: bool = False) -> Path:
    img = Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8))
    if size is not None:
        img = img.resize(size, Image.Resampling.BICUBIC)
    if colour:
        img = Image.merge("RGB", (img.point(lambda v: min(255, v * 1.1)), img, img.point(lambda v: v * 0.8)))
    img.save(path)
    return path


def _face_model(folder: Path) -> tuple[SSCN, list[Path]]:
    """A photo-style model of 28×28 faces (three people of Extended Yale B, read from a folder of PNG
    files), and ten pictures: eight of its training files, a larger colour copy and a 40×36 copy."""
    faces = load_dataset("yaleb")
    for person in range(3):
        (folder / f"p{person}").mkdir(parents=True)
        for i in np.flatnonzero(faces.y == person)[:20]:
            _grey_png(folder / f"p{person}" / f"{i}.png", faces.X[i].reshape(32, 32), size=SHAPE[::-1])
    data = load_dataset("file", path=folder)
    assert data.image_shape == SHAPE and data.preprocessing.startswith("photo-style")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=3, **QUICK).fit(data.X.reshape(-1, *SHAPE))
    files = sorted(folder.rglob("*.png"))
    pictures = [files[i] for i in np.linspace(0, len(files) - 1, 8).astype(int)]
    extra = folder.parent / "extra"
    extra.mkdir()
    first = np.asarray(Image.open(pictures[0]), dtype=np.float64) / 255
    pictures.append(_grey_png(extra / "big_colour.png", first, size=(84, 84), colour=True))
    pictures.append(_grey_png(extra / "other_shape.png", first, size=(36, 40)))
    return model, pictures


def _digit_model(folder: Path) -> tuple[SSCN, list[Path]]:
    """A digit-style model of 28×28 MNIST digits (0, 1 and 7), and ten pictures: eight digits drawn dark on
    light paper at other sizes, and two training digits as they are."""
    mnist = load_dataset("mnist")
    rows = np.concatenate([np.flatnonzero(mnist.y == c)[:20] for c in (0, 1, 7)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=3, **QUICK).fit(mnist.X[rows].reshape(-1, *SHAPE))
    folder.mkdir(parents=True)
    others = np.concatenate([np.flatnonzero(mnist.y == c)[20:23] for c in (0, 1, 7)])[:8]
    pictures = [_grey_png(folder / f"paper{j}.png", 0.92 - 0.8 * mnist.X[i].reshape(SHAPE), size=(60 + 8 * j, 84))
                for j, i in enumerate(others)]
    pictures += [_grey_png(folder / f"train{j}.png", mnist.X[rows[i]].reshape(SHAPE)) for j, i in enumerate((0, 30))]
    return model, pictures


def _app_clusters(model: SSCN, pictures: list[Path], tmp_path: Path) -> list[int]:
    """The clusters the app's Classify tab names for the pictures, with ``model`` loaded from a file."""
    from streamlit.runtime.caching import clear_session_resource_cache
    from streamlit.testing.v1 import AppTest

    from test_app_main import MAIN, SESSION, open_tab

    clear_session_resource_cache(SESSION)
    try:
        at = AppTest.from_file(MAIN, default_timeout=120)
        at.run()
        at.slider(key="cfg.n_samples").set_value(300)
        at.number_input(key="cfg.holdout_size").set_value(100)
        at.run()
        saved = model.save(tmp_path / "model.pt")
        at.file_uploader(key="train.load").set_value(("model.pt", saved.read_bytes(), "application/octet-stream")).run()
        assert any("Loaded model.pt" in s.value for s in at.success), [e.value for e in at.error]
        open_tab(at, "Classify")
        at.file_uploader(key="cls.files").set_value([(p.name, p.read_bytes(), "image/png") for p in pictures]).run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        verdicts = [m.value for m in at.markdown if m.value.startswith("**Cluster")]
        return [int(re.match(r"\*\*Cluster (\d+)\*\*", v).group(1)) for v in verdicts]
    finally:
        clear_session_resource_cache(SESSION)


@pytest.mark.parametrize("style", ["photo", "digit"])
def test_every_door_gives_the_library_answer_on_a_28x28_model(style: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    model, pictures = (_face_model if style == "photo" else _digit_model)(tmp_path / "pictures")
    assert input_style(model) == (style, SHAPE) and len(pictures) == 10
    library = model.predict(np.stack([prepare_for_model(p, model).ravel() for p in pictures])).tolist()
    # The pictures tell the styles apart: prepared the other way, some would land elsewhere.
    other = "digit" if style == "photo" else "photo"
    assert model.predict(np.stack([prepare_for(p, other, SHAPE).ravel() for p in pictures])).tolist() != library

    panels = [viz.classify(model, p) for p in pictures]
    assert [int(re.match(r"Cluster (\d+) ", panel.figures[0].layout.title.text).group(1))
            for panel in panels] == library
    assert main(["predict", "--model", str(model.save(tmp_path / "cli.pt")), "--json", *map(str, pictures)]) == 0
    assert [row["cluster"] for row in json.loads(capsys.readouterr().out)] == library
    assert _app_clusters(model, pictures, tmp_path) == library
