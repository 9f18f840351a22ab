"""The command line: train, predict and pretrain on small inputs, and plain errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sscn_core import load_dataset
from sscn_core.checkpoint import check_output_path, load_checkpoint, save_checkpoint
from sscn_core.cli import main


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def mnist_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "model.pt"
    code = main(["train", "--dataset", "mnist", "--n-samples", "500", "--epochs", "2", "--batch-size", "250",
                 "--classifier-epochs", "1", "--seed", "0", "--out", str(path), "--quiet", "--json"])
    assert code == 0
    return path


def test_train_reports_in_and_out_of_sample_metrics(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    code, out, err = run(capsys, "train", "--preset", "paper", "--dataset", "mnist", "--n-samples", "400", "--epochs",
                         "1", "--batch-size", "200", "--classifier-epochs", "1", "--json", "--quiet")
    assert code == 0, err
    report = json.loads(out)
    assert set(report["in_sample"]) == {"acc", "ari", "nmi"}
    assert report["out_of_sample"]["dataset"] == "mnist-oos" and report["out_of_sample"]["n"] == 10_000
    assert 0 <= report["out_of_sample"]["acc"] <= 1
    assert set(report["phase_seconds"]) == {"self_expression", "pseudo_labels", "classifier"}
    assert report["pseudo_label_solver"]["status"] in ("converged", "stalled", "not converged")
    assert report["n_parameters"] == 66_291


def test_train_text_report(capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "train", "--dataset", "digits", "--n-samples", "200", "--epochs", "1",
                         "--batch-size", "100", "--classifier-epochs", "1", "--n-clusters", "10",
                         "--subspace-dim", "3")
    assert code == 0, err
    assert "in-sample (classifier)" in out and "ACC" in out and "self-expression" in err


def test_predict_images(capsys: pytest.CaptureFixture, mnist_model: Path, tmp_path: Path) -> None:
    digit = (load_dataset("mnist", n_samples=1).X[0].reshape(28, 28) * 255).astype(np.uint8)
    good = tmp_path / "digit.png"
    Image.fromarray(255 - digit).resize((90, 90)).save(good)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    code, out, err = run(capsys, "predict", "--model", str(mnist_model), str(good), "--json")
    assert code == 0 and err == "", err
    rows = json.loads(out)
    assert 0 <= rows[0]["cluster"] < 10 and len(rows[0]["probabilities"]) == 10
    # A bad image among good ones: the good ones are still classified, the bad one is one error line, status 2.
    code, out, err = run(capsys, "predict", "--model", str(mnist_model), str(good), str(bad), "--json")
    assert code == 2
    rows = json.loads(out)
    assert "cluster" in rows[0] and "error" in rows[1]
    assert err.startswith(f"error: {bad}:") and err.count("\n") == 1
    code, out, err = run(capsys, "predict", "--model", str(mnist_model), str(good), str(bad), str(tmp_path / "none.png"))
    assert code == 2 and out.startswith(f"{good}: cluster ")
    assert [line.split(":")[0] for line in err.splitlines()] == ["error", "error"]


def test_predict_with_a_corrupt_model(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"junk")
    code, _, err = run(capsys, "predict", "--model", str(bad), "x.png")
    assert code == 2 and "not a readable SSCN checkpoint" in err


def test_predict_with_a_text_file_or_random_bytes_as_model(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    for name, content in (("notes.pt", b"hello world\nthis is text\n"), ("noise.pt", bytes(range(256)) * 20)):
        path = tmp_path / name
        path.write_bytes(content)
        code, out, err = run(capsys, "predict", "--model", str(path), "x.png")
        assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, err


def test_pretrain_refuses_to_replace_the_bundled_autoencoder_silently(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "pretrain", "--dataset", "mnist", "--epochs", "1", "--quiet")
    assert code == 2 and "give --out another file, or --force to replace it" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_out_never_replaces_a_bundled_file_without_force(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    import sscn_core.cli as cli

    assets = tmp_path / "assets"
    (assets / "sub").mkdir(parents=True)
    bundled = assets / "mnist_conv_ae.pt"
    bundled.write_bytes(b"the bundled weights")
    (tmp_path / "link").symlink_to(assets)
    monkeypatch.setattr(cli, "ASSETS_DIR", assets)
    monkeypatch.setattr(cli, "load_dataset", lambda *a, **k: pytest.fail("work started before checking --out"))
    for out in (bundled, tmp_path / "link" / bundled.name, assets / "sub" / ".." / bundled.name):
        code, stdout, err = run(capsys, command, "--out", str(out), "--quiet")
        assert code == 2 and stdout == "" and err.count("\n") == 1, err
        assert err.startswith("error: mnist_conv_ae.pt is a file bundled with sscn_core (in its assets/ folder)"), err
    assert bundled.read_bytes() == b"the bundled weights"
    assert check_output_path(bundled, force=True, protected=assets) == bundled
    assert check_output_path(assets / "new.pt", protected=assets) == assets / "new.pt"   # a new file replaces nothing


def test_pretrain_that_diverges_writes_nothing(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    good.write_bytes(b"good weights")
    code, out, err = run(capsys, "pretrain", "--lr", "1000", "--epochs", "1", "--batch-size", "1000", "--out",
                         str(good), "--quiet")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("error: pre-training diverged: ") and "lower the learning rate (pretrain_lr=1000)" in err
    assert good.read_bytes() == b"good weights" and [p.name for p in tmp_path.iterdir()] == ["good.pt"]


def test_train_checks_out_before_training(capsys: pytest.CaptureFixture, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import sscn_core.cli as cli

    monkeypatch.setattr(cli, "load_dataset", lambda *a, **k: pytest.fail("trained before checking --out"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for out, needle in ((tmp_path, "is a folder"), (blocker / "model.pt", "is a file, not a folder")):
        code, _, err = run(capsys, "train", "--dataset", "digits", "--out", str(out), "--quiet")
        assert code == 2 and needle in err and err.count("\n") == 1, err
    code, _, err = run(capsys, "pretrain", "--out", str(tmp_path), "--quiet")
    assert code == 2 and "is a folder" in err


@pytest.mark.parametrize("flags", [["--subspace-dim", "1000000"],
                                   ["--autoencoder", "mlp", "--set", "hidden_dims=(1000000,1000000)"]])
def test_sizes_that_cannot_fit_are_refused_with_one_line(capsys: pytest.CaptureFixture, flags: list[str]) -> None:
    code, _, err = run(capsys, "train", "--dataset", "digits", "--quiet", *flags)
    assert code == 2 and err.startswith("error: this network would need about") and err.count("\n") == 1, err


def test_argument_errors_are_one_line(capsys: pytest.CaptureFixture) -> None:
    for argv in (["train", "--set", "no_such_parameter=1"], ["train", "--epochs", "many"], [], ["frobnicate"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err


def test_pretrain_writes_a_loadable_autoencoder(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    out_path = tmp_path / "ae.pt"
    code, out, err = run(capsys, "pretrain", "--dataset", "mnist", "--epochs", "1", "--batch-size", "5000",
                         "--out", str(out_path), "--quiet")
    assert code == 0, err
    ck = load_checkpoint(out_path, expected_kind="autoencoder")
    assert ck.config == {"kind": "conv"} and ck.meta["epochs"] == 1


def test_bad_arguments_give_one_line_errors(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "train", "--dataset", "nope")
    assert code == 2 and err.startswith("error:") and "nope" in err
    with pytest.raises(SystemExit) as info:       # refused by its row while the flags are read
        main(["train", "--dataset", "digits", "--lr", "-1", "--quiet"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "lr must be a finite number > 0, got -1.0" in err and err.count("\n") == 1


def test_set_passes_any_estimator_parameter(capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "train", "--dataset", "digits", "--n-samples", "200", "--epochs", "1",
                         "--batch-size", "100", "--classifier-epochs", "2", "--n-clusters", "10", "--subspace-dim", "3",
                         "--set", "classifier_loss=triplet", "--set", "classifier_temperature=20", "--set",
                         "h_init=closed_form", "--json", "--quiet")
    assert code == 0, err
    report = json.loads(out)
    assert report["params"]["classifier_loss"] == "triplet" and report["params"]["classifier_temperature"] == 20
    assert "pseudo_labels" not in report and "pseudo_labels" not in report["phase_seconds"]
    with pytest.raises(SystemExit):
        main(["train", "--set", "no_such_parameter=1"])
    assert "unknown SSCN parameter 'no_such_parameter'" in capsys.readouterr().err
    for bad in (["--set", "classifier_loss=hinge"], ["--classifier-loss", "hinge"], ["--lr", "fast"]):
        with pytest.raises(SystemExit) as exit_:
            main(["train", "--dataset", "digits", "--quiet", *bad])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.startswith("error:") and err.count("\n") == 1, err
        assert ("classifier_loss" if "hinge" in bad[1] else "lr") in err


def test_train_on_a_folder_with_a_zero_byte_image(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    digit = (load_dataset("mnist", n_samples=1).X[0].reshape(28, 28) * 255).astype(np.uint8)
    for i in range(3):
        Image.fromarray(digit).save(tmp_path / f"{i}.png")
    (tmp_path / "empty.png").write_bytes(b"")
    code, out, err = run(capsys, "train", "--data", str(tmp_path), "--n-clusters", "2", "--quiet")
    assert code == 2 and out == ""
    assert err.startswith("error: empty.png: the file is empty") and err.count("\n") == 1, err


def test_predict_with_nan_weights_exits_2(capsys: pytest.CaptureFixture, mnist_model: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(mnist_model)
    ckpt.state["net.classifier.R"][0, 0] = float("nan")
    bad = save_checkpoint(tmp_path / "nan.pt", ckpt)
    image = tmp_path / "digit.png"
    Image.new("L", (28, 28)).save(image)
    code, out, err = run(capsys, "predict", "--model", str(bad), str(image))
    assert code == 2 and out == "" and "the weights contain NaN or infinite values" in err and err.count("\n") == 1


# ------------------------------------------------------------------ every flag read by its parameter row (issue 33)
def _refused(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """The one error line of a command refused while its arguments are read (status 2)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(("argv", "needles"), [
    (["train", "--image-shape", "256"], ["--image-shape", "image_shape must be (height, width), got (256,)"]),
    (["train", "--set", "image_shape=256"], ["--set", "image_shape must be (height, width)"]),
    (["train", "--image-shape", "0,28"], ["--image-shape", "got (0, 28); each must be in [1, 1000000]"]),
    (["pretrain", "--batch-size", "0"], ["--batch-size", "pretrain_batch_size", "in [1, 100000000], got 0"]),
    (["pretrain", "--batch-size", "-3"], ["--batch-size", "got -3"]),
    (["pretrain", "--epochs", "-1"], ["--epochs", "pretrain_epochs", "in [1, 100000], got -1"]),
    (["pretrain", "--epochs", "0"], ["--epochs", "in [1, 100000], got 0"]),
    (["pretrain", "--lr", "0"], ["--lr", "pretrain_lr must be a finite number > 0"]),
    (["pretrain", "--lr", "nan"], ["--lr", "pretrain_lr"]),
    (["train", "--pretrain-lr", "0"], ["--pretrain-lr", "pretrain_lr must be a finite number > 0"]),
    (["train", "--epochs", "99999999999999999999"], ["--epochs", "in [0, 100000], got 99999999999999999999"]),
    (["train", "--classifier-epochs", "10000000"], ["--classifier-epochs", "in [0, 100000]"]),
    (["train", "--set", "student_epochs=1000000"], ["--set", "student_epochs", "in [1, 100000]"]),
    (["pretrain", "--epochs", "99999999999999999999"], ["--epochs", "in [1, 100000]"]),
    (["train", "--seed", "99999999999999999999"], ["--seed", "seed must be an integer in [0, 4294967295]"]),
    (["train", "--seed", "-1"], ["--seed", "in [0, 4294967295], got -1"]),
    (["pretrain", "--seed", str(2**64)], ["--seed", "in [0, 4294967295]"]),
    (["train", "--n-samples", "0"], ["--n-samples", "in [1, 100000000], got 0"]),
    (["train", "--n-samples", "1" + "0" * 30], ["--n-samples", "in [1, 100000000]"]),
    (["train", "--epochs", "9" * 5000], ["--epochs", "…"]),            # quoted by its start, not 5,000 digits
    (["train", "--data", ""], ["--data", "an empty path was given"]),
    (["train", "--out", ""], ["--out", "an empty path was given"]),
    (["pretrain", "--data", ""], ["--data", "an empty path was given"]),
    (["pretrain", "--out", ""], ["--out", "an empty path was given"]),
    (["predict", "--model", "m.pt", ""], ["IMAGE", "an empty path was given"]),
    (["predict", "--model", "", "x.png"], ["--model", "an empty path was given"]),
    (["train", "--set", "pretrained="], ["pretrained", "an empty path"]),
])
def test_bad_values_are_refused_by_the_parameter_table_before_any_work(
        capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, argv: list[str], needles: list[str]) -> None:
    import sscn_core.cli as cli

    monkeypatch.setattr(cli, "load_dataset", lambda *a, **k: pytest.fail("work started before checking the flags"))
    err = _refused(capsys, argv)
    assert all(needle in err for needle in needles), err
    assert len(err) < 400, err


def test_pretrain_and_train_read_their_flags_by_the_same_rows() -> None:
    import sscn_core.cli as cli
    from sscn_core.params import PARAMS

    assert cli.PRETRAIN_FLAGS["--batch-size"] is PARAMS["pretrain_batch_size"]
    assert cli.PRETRAIN_FLAGS["--lr"] is PARAMS["pretrain_lr"]
    assert cli.PRETRAIN_FLAGS["--seed"] is PARAMS["seed"] and cli.PRETRAIN_FLAGS["--device"] is PARAMS["device"]
    epochs, row = cli.PRETRAIN_FLAGS["--epochs"], PARAMS["pretrain_epochs"]
    # The same row but for its lower end: the command's only product is a pre-trained auto-encoder.
    assert (epochs.name, epochs.kind, epochs.high, epochs.low) == (row.name, row.kind, row.high, 1)
    for value in (-1, 0, 1, 100, 100_000, 100_001, 10**20):
        assert (epochs.problem(value) is None) == (row.problem(value) is None and value >= 1)


def test_the_api_refuses_what_the_command_line_refuses() -> None:
    from sscn_core import SSCN

    X = np.random.default_rng(0).normal(size=(20, 16)).astype(np.float32)
    for params in (dict(image_shape=(256,)), dict(epochs=10**20), dict(seed=2**64), dict(pretrained=""),
                   dict(hidden_dims=(10**9,), autoencoder="mlp")):
        with pytest.raises(ValueError, match=next(iter(params))):
            SSCN(n_clusters=2, **params).fit(X)
