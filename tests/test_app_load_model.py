"""The app's "Load a saved model" on files that are well formed but wrong inside (issue 33): one message, the
page stays, and a good model loads afterwards."""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from sscn_core import SSCN, load_dataset
from sscn_core.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from sscn_core.student import ConvStudent


@pytest.fixture
def at() -> Iterator[AppTest]:
    from test_app_main import MAIN, SESSION

    clear_session_resource_cache(SESSION)
    app = AppTest.from_file(MAIN, default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    yield app
    clear_session_resource_cache(SESSION)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small fitted model with a conv student on 8×8 digits."""
    digits = load_dataset("digits", n_samples=60, seed=0)
    model = SSCN(n_clusters=3, autoencoder=None, frontend="pixels", student="conv", student_epochs=1,
                 image_shape=(8, 8), epochs=2, classifier_epochs=1, seed=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(digits.X)
    return model.save(tmp_path_factory.mktemp("app-load") / "good.pt")


def _meta_list(ckpt: Checkpoint) -> None:
    ckpt.meta = [ckpt.meta]


def _meta_string(ckpt: Checkpoint) -> None:
    ckpt.meta = "metadata"


def _student_string(ckpt: Checkpoint) -> None:
    ckpt.config["student"] = "conv"


def _student_of_other_shape(ckpt: Checkpoint) -> None:
    other = ConvStudent((4, 16), ckpt.config["student"]["embed_dim"])
    ckpt.state = {k: v for k, v in ckpt.state.items() if not k.startswith("student.")}
    ckpt.state.update({f"student.{k}": v for k, v in other.state_dict().items()})
    ckpt.config["student"] = other.config()


def _history_of_strings(ckpt: Checkpoint) -> None:
    ckpt.meta["history"] = ["step 1"]


@pytest.mark.parametrize("edit, message", [
    (_meta_list, "'odd.pt' has a damaged metadata block: it holds an array of 1, not an object"),
    (_meta_string, "'odd.pt' has a damaged metadata block: it holds the string 'metadata', not an object"),
    (_student_string, "'odd.pt' does not describe a valid SSCN model: its configuration['student'] is the string "
                      "'conv', expected an object"),
    (_student_of_other_shape, "the student reads 4×16 images, but the model's inputs are 8×8 images (64 values per row)"),
    (_history_of_strings, "its metadata['history'][0] is the string 'step 1', expected a loss-history row"),
])
def test_a_model_file_wrong_inside_is_one_message_and_the_page_stays(at: AppTest, saved: Path, tmp_path: Path,
                                                                    edit, message: str) -> None:
    ckpt = load_checkpoint(saved)
    edit(ckpt)
    odd = save_checkpoint(tmp_path / "odd.pt", ckpt).read_bytes()
    at.file_uploader(key="train.load").set_value(("odd.pt", odd, "application/octet-stream")).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Could not load odd.pt: ") and message in errors[0], errors
    assert "\n" not in errors[0] and "Traceback" not in errors[0]
    at.file_uploader(key="train.load").set_value(("good.pt", saved.read_bytes(), "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert any("Loaded good.pt" in s.value for s in at.success), [e.value for e in at.error]
