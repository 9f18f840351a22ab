"""The distilled student: its phase, predict_with, the checkpoint and the parameter rows."""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sscn_core import SSCN, load_dataset
from sscn_core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sscn_core.cli import build_parser, main
from sscn_core.params import DEFAULTS, problems
from sscn_core.student import ConvStudent, jitter, multiply_adds, student_parameters
from sscn_core.trainer import LOSS_TERMS, PHASE_LABELS, PHASES
from sscn_core.viz.figures import TERM_LABELS


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", n_samples=400, seed=0)


@pytest.fixture(scope="module")
def fitted(digits):
    """The scattering preset with a student on 8×8 digits, and the training events it reported."""
    events = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN.from_preset("scattering", student="conv", student_epochs=100, image_shape=digits.image_shape,
                                 seed=0, device="cpu").fit(digits.X, callback=events.append)
    return model, events


def test_the_student_phase_distils_the_teacher(fitted, digits) -> None:
    model, events = fitted
    assert PHASES[-1] == "student" and model.planned_phases(64)[-1] == "student" and "student" in PHASE_LABELS
    assert set(LOSS_TERMS) <= set(TERM_LABELS)                               # the Train tab labels every term
    kinds = [e.kind for e in events if e.phase == "student"]
    assert kinds[0] == "phase" and kinds[-1] == "done" and kinds.count("step") == model.student_report_["steps"] > 0
    assert any(row["phase"] == "student" and "distillation" in row for row in model.history_)
    report = model.fit_report()["student"]
    assert report["agreement"] >= 0.9, report
    assert report["steps"] == model.convergence_["student"]["steps"] and report["seconds"] > 0
    assert model.phase_times_["student"] == report["seconds"]
    assert isinstance(model.student_, ConvStudent) and model.student_.image_shape == (8, 8)
    # the in-sample labels stay the teacher's
    teacher = copy.copy(model).set_params(predict_with="teacher")
    assert np.array_equal(teacher.predict(digits.X), model.labels_)


def test_predict_with_picks_the_network(fitted, digits) -> None:
    model, _ = fitted
    x = digits.X
    own = model.net_.classifier(model.student_(torch.from_numpy(x))).argmax(dim=1).numpy()
    assert np.array_equal(model.predict(x), own)                             # auto: the student
    student = copy.deepcopy(model).set_params(predict_with="student")
    teacher = copy.copy(model).set_params(predict_with="teacher")
    with torch.no_grad():                                                    # a student that learned nothing useful
        student.student_.head.weight.normal_(generator=torch.Generator().manual_seed(1))
    forward = student.net_.classifier(student.student_(torch.from_numpy(x)))
    assert np.array_equal(student.predict(x), forward.argmax(dim=1).numpy())
    assert (student.predict(x) != teacher.predict(x)).mean() > 0.3
    assert np.allclose(student.transform(x), student.student_(torch.from_numpy(x)).detach().numpy(), atol=1e-6)
    assert np.allclose(student.predict_proba(x).sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(student.transform(x, space="z"), teacher.transform(x, space="z"))   # Z: the teacher's
    assert not np.allclose(student.transform(x), teacher.transform(x), atol=1e-3)


def test_predict_with_student_needs_a_student(digits) -> None:
    assert "needs a student" in problems({**DEFAULTS, "predict_with": "student"})["predict_with"]
    with pytest.raises(ValueError, match="needs a student"):
        SSCN(predict_with="student").fit(digits.X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=10, autoencoder=None, frontend="pixels", epochs=1, classifier_epochs=1,
                     device="cpu").fit(digits.X)
    assert model.student_ is None and model.fit_report()["student"] is None
    before = model.predict(digits.X)
    model.set_params(predict_with="student")
    with pytest.raises(ValueError, match="has no student"):
        model.predict(digits.X)
    model.set_params(predict_with="teacher")
    assert np.array_equal(model.predict(digits.X), before)


def test_parameter_rows_validate() -> None:
    assert problems({**DEFAULTS, "student": "conv", "predict_with": "student", "student_epochs": 3}) == {}
    assert "student must be one of" in problems({**DEFAULTS, "student": "mlp"})["student"]
    assert "student_epochs must be an integer in [1, 100000], got 0" in problems({**DEFAULTS, "student_epochs": 0})[
        "student_epochs"]
    assert "predict_with must be one of" in problems({**DEFAULTS, "predict_with": "fast"})["predict_with"]


def test_the_student_needs_images() -> None:
    x = np.random.default_rng(0).random((60, 30), dtype=np.float32)
    with pytest.raises(ValueError, match="conv student reads images"):
        SSCN(n_clusters=3, student="conv").fit(x)


def test_save_and_load_keep_the_student(fitted, digits, tmp_path: Path) -> None:
    model, _ = fitted
    loaded = SSCN.load(model.save(tmp_path / "m.pt"), device="cpu")
    assert loaded.student_ is not None and loaded.student_.config() == model.student_.config()
    assert np.array_equal(loaded.predict(digits.X), model.predict(digits.X))
    assert np.allclose(loaded.transform(digits.X), model.transform(digits.X))
    assert loaded.fit_report()["student"] == pytest.approx(model.fit_report()["student"])
    assert float(loaded.student_.scale) == pytest.approx(float(model.student_.scale))


def test_a_file_without_a_student_still_loads(fitted, digits, tmp_path: Path) -> None:
    model, _ = fitted
    ckpt = load_checkpoint(model.save(tmp_path / "m.pt"))
    ckpt.state = {k: v for k, v in ckpt.state.items() if not k.startswith("student.")}
    del ckpt.config["student"]
    ckpt.meta.pop("student")
    old = SSCN.load(save_checkpoint(tmp_path / "old.pt", ckpt), device="cpu")
    assert old.student_ is None and old.fit_report()["student"] is None
    assert np.array_equal(old.predict(digits.X), copy.copy(model).set_params(predict_with="teacher").predict(digits.X))


@pytest.mark.parametrize("damage", ["channels", "embed_dim", "weights", "no_config"])
def test_a_student_config_that_does_not_match_its_weights_is_refused(fitted, tmp_path: Path, damage: str) -> None:
    model, _ = fitted
    ckpt = load_checkpoint(model.save(tmp_path / "m.pt"))
    if damage == "channels":
        ckpt.config["student"]["channels"] = [8, 16, 32]
    elif damage == "embed_dim":
        ckpt.config["student"]["embed_dim"] += 1
    elif damage == "weights":
        ckpt.state["student.head.weight"] = ckpt.state["student.head.weight"][:, :-1].contiguous()
    else:
        del ckpt.config["student"]
    path = save_checkpoint(tmp_path / "bad.pt", ckpt)
    with pytest.raises(CheckpointError, match="student"):
        SSCN.load(path, device="cpu")


def test_a_huge_student_config_is_refused_before_it_is_built(fitted, tmp_path: Path) -> None:
    model, _ = fitted
    ckpt = load_checkpoint(model.save(tmp_path / "m.pt"))
    ckpt.config["student"]["channels"] = [4096, 4096, 4096]
    with pytest.raises(CheckpointError, match="describes .* of weights"):
        SSCN.load(save_checkpoint(tmp_path / "huge.pt", ckpt), device="cpu")


def test_the_student_is_small_and_its_size_is_known_by_arithmetic() -> None:
    student = ConvStudent((28, 28), 90)
    assert student_parameters(student.config()) == sum(t.numel() for t in student.state_dict().values())
    assert multiply_adds(student) < 400_000          # the conv auto-encoder's encoder with h: about 266k
    assert student(torch.rand(3, 784)).shape == (3, 90)
    odd = ConvStudent((20, 36), 12)
    assert student_parameters(odd.config()) == sum(t.numel() for t in odd.state_dict().values())
    assert odd(torch.rand(2, 20 * 36)).shape == (2, 12)


def test_jitter_moves_each_image_by_at_most_one_pixel() -> None:
    images = torch.rand(40, 1, 6, 7)
    moved = jitter(images, 1, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    offsets = set()
    for i in range(len(images)):
        match = [(dy, dx) for dy in range(3) for dx in range(3) if torch.equal(moved[i], padded[i, :, dy:dy + 6, dx:dx + 7])]
        assert match, i
        offsets.add(match[0])
    assert len(offsets) > 3 and torch.equal(jitter(images, 0, torch.Generator()), images)


def test_the_cli_reads_the_student_flags() -> None:
    args = build_parser().parse_args(["train", "--student", "conv", "--student-epochs", "5", "--predict-with",
                                      "teacher"])
    assert (args.student, args.student_epochs, args.predict_with) == ("conv", 5, "teacher")
    args = build_parser().parse_args(["train", "--set", "student=conv", "--set", "predict_with=student"])
    assert dict(args.set) == {"student": "conv", "predict_with": "student"}
    assert build_parser().parse_args(["predict", "--model", "m.pt", "a.png", "--predict-with", "teacher"]).predict_with \
        == "teacher"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--student", "mlp"])


def test_cli_train_reports_the_student(capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--dataset", "digits", "--n-samples", "200", "--preset", "scattering", "--student", "conv",
                 "--student-epochs", "2", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "student agreement with the model on the training images" in out and "predicted by the student" in out


# ---------------------------------------------------------------------------------- the student's image shape (issue 33)
def _with_student_of_shape(model: SSCN, shape: tuple[int, int], tmp_path: Path) -> Path:
    """The model's checkpoint with its student replaced by one of ``shape`` (weights that fit its config)."""
    ckpt = load_checkpoint(model.save(tmp_path / "m.pt"))
    other = ConvStudent(shape, model.student_.embed_dim)
    ckpt.state = {k: v for k, v in ckpt.state.items() if not k.startswith("student.")}
    ckpt.state.update({f"student.{k}": v for k, v in other.state_dict().items()})
    ckpt.config["student"] = other.config()
    return save_checkpoint(tmp_path / "other-shape.pt", ckpt)


@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (4, 16), (16, 4), (2, 32)])
def test_a_student_of_another_image_shape_is_refused_at_load(fitted, tmp_path: Path, shape) -> None:
    model, _ = fitted
    path = _with_student_of_shape(model, shape, tmp_path)
    with pytest.raises(CheckpointError) as info:
        SSCN.load(path, device="cpu")
    message = str(info.value)
    assert "\n" not in message and message.startswith("'other-shape.pt': its student configuration")
    assert f"the student reads {shape[0]}×{shape[1]} images, but the model's inputs are 8×8 images (64 values per " \
           f"row)" in message


@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (4, 16)])
def test_a_student_of_another_image_shape_is_refused_at_predict(fitted, digits, shape) -> None:
    model = copy.copy(fitted[0])
    model.student_ = ConvStudent(shape, fitted[0].student_.embed_dim).eval()
    for method in (model.predict, model.predict_proba, model.transform, model.embedding):
        with pytest.raises(ValueError, match=rf"^the student reads {shape[0]}×{shape[1]} images, but the model's inputs "
                                             rf"are 8×8 images \(64 values per row\): this student does not belong"):
            method(digits.X[:2])
    teacher = model.set_params(predict_with="teacher").predict(digits.X[:2])
    assert np.array_equal(teacher, fitted[0].labels_[:2])


def test_the_student_refuses_rows_that_are_not_its_images() -> None:
    for shape in ((3, 3), (1, 1), (4, 16)):
        student = ConvStudent(shape, 6)
        with pytest.raises(ValueError, match=rf"^the student reads {shape[0]}×{shape[1]} images \({shape[0] * shape[1]} "
                                             r"values each\), got input of shape \(2, 63\)"):
            student(torch.rand(2, 63))
    student = ConvStudent((4, 16), 6)
    for x in (torch.rand(2, 64), torch.rand(2, 4, 16), torch.rand(2, 1, 4, 16)):
        assert student(x).shape == (2, 6)
