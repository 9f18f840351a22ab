"""Property-based tests of the command line's arguments (issue 33).

Whatever values a user types for ``sscn train``, ``pretrain`` and ``predict`` flags (huge, negative,
non-finite, empty, not numbers at all, odd paths), the command either gets past its checks or ends
with status 2 and one ``error: ...`` line on stderr: never a traceback, never status 1. To stay fast
the work itself is replaced: a fit validates its parameters (as ``SSCN.fit`` does first) and stops,
pre-training and loading a model stop at once. Everything before them runs for real: the flags read
by their parameter rows, the parameters checked together, ``--out`` checked, the data read, the plan.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import sscn_core.cli as cli
from sscn_core import SSCN
from sscn_core.cli import main
from sscn_core.params import PARAMETERS, PRESETS, Param

FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class Reached(Exception):
    """The command got past its checks to the work itself."""


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a tiny data set, an empty folder, a text file, a named pipe and links."""
    root = tmp_path_factory.mktemp("cli-fuzz")
    rng = np.random.default_rng(0)
    np.savez(root / "x.npz", X=rng.normal(size=(40, 64)).astype(np.float32), y=np.repeat([0, 1], 20))
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not data\n")
    (root / "special").mkdir()
    os.mkfifo(root / "special" / "pipe")
    (root / "special" / "null").symlink_to("/dev/null")
    (root / "old.pt").write_bytes(b"a previous model")
    return root


@pytest.fixture
def stop_before_work(monkeypatch: pytest.MonkeyPatch, place: Path) -> None:
    def fit(self: SSCN, X: Any, **kwargs: Any) -> SSCN:
        self._validate_params()
        raise Reached

    def stop(*args: Any, **kwargs: Any) -> Any:
        raise Reached

    monkeypatch.setattr(SSCN, "fit", fit)
    monkeypatch.setattr(SSCN, "load", classmethod(stop))
    monkeypatch.setattr(cli, "pretrain_autoencoder", stop)
    monkeypatch.chdir(place)      # relative paths land in the test's folder


ODD = ["", " ", "none", "None", "nan", "-nan", "inf", "-inf", "1e999", "-1e999", "0", "-0", "1", "2", "-1", "0.5",
       "0x10", "1_000", "٣", "1e3", "256", "28,28", "(28, 28)", "0,0", "1,2,3", ",", "true", "False", "auto", "cpu",
       "cuda", "cuda:99", "cuda:-1", "mps", "meta", "\t", "é", "--", "-", "9" * 400, "1" + "0" * 25, str(2**63),
       str(2**64), str(-2**63 - 1), "mnist", "conv", "mlp", "paper", "student", "teacher", "triplet"]
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=16),
)
PATHS = st.one_of(
    st.sampled_from(["", ".", "x.npz", "empty", "notes.txt", "special", "special/pipe", "special/null", "old.pt",
                     "new/dir/model.pt", "missing.npz", "/proc/version", "/dev/null", "x.npz/inside",
                     "empty/../x.npz", "~"]),
    st.text(alphabet="abc./~-", max_size=8),
)
# --data never names the pipe: reading one waits for a writer (a loader's matter, not the command line's).
DATA_PATHS = PATHS.filter(lambda p: "special" not in p)
PARAM_FLAGS = {f"--{p.name.replace('_', '-')}": p for p in PARAMETERS}


def _valid(param: Param) -> st.SearchStrategy[str]:
    """Values the row accepts (small ones), so that the property also reaches the plan and the checks after it."""
    if param.kind == "choice":
        return st.sampled_from([str(c).lower() for c in param.choices or ()])
    if param.kind == "int":
        low = int(param.low or 0) + int(param.low_open)
        return st.integers(low, low + 40).map(str)
    if param.kind == "float":
        low = 0.0 if param.low is None else param.low
        high = low + 10 if param.high is None else param.high
        return st.floats(low, high, exclude_min=param.low_open, exclude_max=param.high_open).map(repr)
    if param.kind == "ints":
        return st.lists(st.integers(1, 40), min_size=1, max_size=3).map(lambda v: ",".join(map(str, v)))
    return st.sampled_from({"device": ["cpu", "auto"], "pretrained": ["mnist", "old.pt", "x.npz", "missing.pt"]}
                           .get(param.name, ["x"]))


@st.composite
def _pairs(draw: st.DrawFn, flags: dict[str, Param | None]) -> list[tuple[str, str]]:
    pairs = []
    for _ in range(draw(st.integers(1, 4))):
        flag = draw(st.sampled_from(sorted(flags)))
        param = flags[flag]
        pairs.append((flag, draw(VALUES if param is None or draw(st.booleans()) else _valid(param))))
    return pairs


@st.composite
def train_argv(draw: st.DrawFn) -> list[str]:
    argv = ["train", "--quiet", "--n-clusters", "2"]
    for flag, value in draw(_pairs({**PARAM_FLAGS, "--n-samples": cli.N_SAMPLES, "--preset": None, "--set": None})):
        if flag == "--set":
            name = draw(st.sampled_from([p.name for p in PARAMETERS] + ["nope", ""]))
            value = f"{name}={value}"
        argv += [flag, value]
    if draw(st.booleans()):
        argv += ["--data", draw(DATA_PATHS)]
    else:
        argv += ["--data", "x.npz"]
    if draw(st.booleans()):
        argv += ["--out", draw(PATHS)]
    if draw(st.booleans()):
        argv.append("--force")
    return argv


@st.composite
def pretrain_argv(draw: st.DrawFn) -> list[str]:
    argv = ["pretrain", "--quiet"]
    for flag, value in draw(_pairs(dict(cli.PRETRAIN_FLAGS))):
        argv += [flag, value]
    if draw(st.booleans()):
        argv += ["--data", draw(DATA_PATHS)]
    argv += ["--out", draw(PATHS)] if draw(st.booleans()) else ["--out", "new/ae.pt"]
    return argv


@st.composite
def predict_argv(draw: st.DrawFn) -> list[str]:
    argv = ["predict", "--model", draw(PATHS), *draw(st.lists(PATHS, min_size=1, max_size=3))]
    for flag, value in draw(st.lists(st.tuples(st.sampled_from(["--device", "--predict-with"]), VALUES), max_size=2)):
        argv += [flag, value]
    return argv


def check_outcome(capsys: pytest.CaptureFixture, argv: list[str]) -> None:
    """Past the checks, or status 2 with one line on stderr; anything else fails with the argv."""
    try:
        code: Any = main(argv)
    except SystemExit as exc:      # argparse
        code = exc.code
    except Reached:
        code = None
    err = capsys.readouterr().err
    event("past the checks" if code is None else f"status {code}")
    assert "Traceback" not in err, (argv, err)
    if code is not None:
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (argv, code, err)


@FUZZ
@given(argv=train_argv())
def test_train_arguments_run_or_exit_2_with_one_line(capsys: pytest.CaptureFixture, stop_before_work: None,
                                                     place: Path, argv: list[str]) -> None:
    check_outcome(capsys, argv)
    assert (place / "old.pt").read_bytes() == b"a previous model" and (place / "special" / "pipe").is_fifo()


@FUZZ
@given(argv=pretrain_argv())
def test_pretrain_arguments_run_or_exit_2_with_one_line(capsys: pytest.CaptureFixture, stop_before_work: None,
                                                        argv: list[str]) -> None:
    check_outcome(capsys, argv)


@settings(FUZZ, max_examples=60)
@given(argv=predict_argv())
def test_predict_arguments_run_or_exit_2_with_one_line(capsys: pytest.CaptureFixture, stop_before_work: None,
                                                       argv: list[str]) -> None:
    check_outcome(capsys, argv)


def test_the_presets_pass_the_checks_the_fuzz_stops_at(capsys: pytest.CaptureFixture, stop_before_work: None) -> None:
    """The property is not empty: plain commands reach the work."""
    for preset in PRESETS:
        with pytest.raises(Reached):
            main(["train", "--quiet", "--data", "x.npz", "--n-clusters", "2", "--preset", preset, "--out", "m.pt"])
    with pytest.raises(Reached):
        main(["pretrain", "--quiet", "--dataset", "digits", "--out", "ae.pt", "--epochs", "1"])
    assert capsys.readouterr().err == ""
