"""n_clusters="auto" through the library and the command line (issue 34): the fit's first phase estimates K
(sscn_core.cluster_count), everything after it follows that K, and the model predicts, saves, loads and reports
exactly like one fitted with that K given."""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sscn_core import SSCN, choice, cluster_count
from sscn_core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from sscn_core.cli import build_parser, main
from sscn_core.data.synthetic import make_subspaces
from sscn_core.health import SSCNWarning
from sscn_core.params import PARAMS, Param, problems
from sscn_core.plan import choice_clarity, describe_clarity

FAST = dict(schedule="epochs", epochs=2, classifier_epochs=2, seed=0, device="cpu")


@pytest.fixture(scope="module")
def subspaces() -> np.ndarray:
    """Four independent 2-dimensional subspaces of R^20, 40 noise-free points each: the estimate is exactly 4."""
    return make_subspaces(4, 2, 20, 40, 0.0, "independent", seed=0).X


@pytest.fixture(scope="module")
def fitted(subspaces: np.ndarray) -> tuple[SSCN, list[tuple[str, str]]]:
    """A model fitted with n_clusters="auto", and the (kind, phase) of every event it reported."""
    events: list[tuple[str, str]] = []
    model = SSCN(n_clusters="auto", **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SSCNWarning)       # clear structure: nothing to warn about
        model.fit(subspaces, callback=lambda event: events.append((event.kind, event.phase)))
    return model, events


# ---------------------------------------------------------------------------------------------- the table
def test_the_row_takes_an_integer_or_auto_and_refuses_anything_else_in_one_line() -> None:
    row = PARAMS["n_clusters"]
    assert row.default == 10 and row.problem("auto") is None and row.problem(2) is None
    for bad in ("x", "automatic", "AUTO", 1, 0, True, 2.5, None, (4,)):
        message = row.problem(bad)
        assert message is not None and message.startswith("n_clusters must be 'auto' or an integer in [2, 100000]")
        with pytest.raises(ValueError, match="n_clusters must be 'auto' or an integer") as info:
            SSCN(n_clusters=bad).fit(np.ones((40, 4), np.float32))
        assert "\n" not in str(info.value)
    assert row.read(" Auto ") == "auto" and row.read("12") == 12
    with pytest.raises(ValueError, match=r"^n_clusters takes an integer or auto, got 'automatic'$"):
        row.read("automatic")
    with pytest.raises(ValueError, match=r"^n_clusters must be 'auto' or an integer in \[2, 100000\], got 1$"):
        row.read("1")
    assert "auto: fit estimates K from the data" in row.describe() and "sscn_core.plan" in row.describe()


def test_a_number_row_may_take_auto() -> None:
    row = Param("width", "int", 3, "Width", "A width.", low=1, high=10, auto="as wide as the data")
    assert row.problem("auto") is None and row.read(" Auto ") == "auto" and row.read("7") == 7
    assert row.problem("x") == "width must be 'auto' or an integer in [1, 10], got 'x'"
    with pytest.raises(ValueError, match=r"^width takes an integer or auto, got 'wide'$"):
        row.read("wide")
    assert "auto: as wide as the data." in row.describe()
    with pytest.raises(ValueError, match="'auto' goes with kind 'int' or 'float' only"):
        Param("name", "text", "x", "Name", "A name.", auto="from the data")


def test_checks_against_k_use_the_smallest_k_until_the_fit_knows_it() -> None:
    values = {name: p.default for name, p in PARAMS.items()}
    assert problems({**values, "n_clusters": "auto", "pseudo_sample_size": 4}) == {}
    assert problems({**values, "n_clusters": "auto", "pseudo_sample_size": 3}) == {
        "pseudo_sample_size": "pseudo_sample_size must hold at least 2·n_clusters = 4 points, got 3"}
    assert "pseudo_sample_size" in problems({**values, "n_clusters": 5, "pseudo_sample_size": 9})


def test_the_command_line_flag_reads_auto_and_refuses_other_words_in_one_line(capsys: pytest.CaptureFixture) -> None:
    train = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    flag = next(a for a in train._actions if a.dest == "n_clusters")
    assert flag.metavar == "INT|auto" and "auto: fit estimates K" in flag.help and flag.help.endswith("Default: 10.")
    assert build_parser().parse_args(["train", "--n-clusters", "auto"]).n_clusters == "auto"
    assert dict(build_parser().parse_args(["train", "--set", "n_clusters=auto"]).set) == {"n_clusters": "auto"}
    for bad in ("automatic", "1", "x"):
        with pytest.raises(SystemExit) as info:
            main(["train", "--n-clusters", bad])
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.count("\n") == 1 and "n_clusters" in err and bad in err, err


# ---------------------------------------------------------------------------------------------- the fit
def test_plan_shows_auto_without_running_the_estimate(subspaces: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choice, "count_for_frontends", lambda *a, **k: pytest.fail("plan ran the estimate"))
    model = SSCN(n_clusters="auto")
    plan = model.plan(subspaces)
    assert plan["n_clusters"] == {"value": "auto",
                                  "reason": "estimated by fit from the data before any other setting (rule in "
                                            "sscn_core.plan)"}
    assert plan["subspace_dim"]["value"] is None and plan["subspace_dim"]["reason"].startswith("follows K")
    assert not hasattr(model, "n_clusters_") and model.planned_phases(20)[0] == "n_clusters"
    assert "n_clusters" not in SSCN(n_clusters=4).plan(subspaces) and "n_clusters" not in SSCN().planned_phases(20)
    with pytest.raises(ValueError, match=r"^n_clusters='auto' needs at least 16 points \(8 a cluster for K = 2\), "
                                         r"got 15$"):
        model.plan(subspaces[:15])


def test_auto_estimates_k_first_and_everything_after_follows_it(fitted, subspaces: np.ndarray) -> None:
    model, events = fitted
    assert model.n_clusters_ == 4 and model.params_["n_clusters"] == 4
    assert model.get_params()["n_clusters"] == "auto" and clone(model).n_clusters == "auto"   # fit changes no parameter
    assert set(model.labels_) == {0, 1, 2, 3} and set(model.predict(subspaces)) <= {0, 1, 2, 3}
    assert model.predict_proba(subspaces[:3]).shape == (3, 4) and model.block_energy(subspaces[:3]).shape == (3, 4)
    assert model.net_.classifier.n_clusters == 4 and model.net_.h.embed_dim == 4 * model.params_["subspace_dim"]
    # q follows the estimated K: 40 points a cluster hold 3q for the paper's q = 9
    assert model.settings_["subspace_dim"]["value"] == 9 and "40 points per cluster" in model.settings_[
        "subspace_dim"]["reason"]
    entry = model.settings_["n_clusters"]
    assert list(model.settings_)[0] == "n_clusters" and entry["value"] == 4 and entry["structure"] is True
    assert entry["reason"].startswith("estimated from the data: K = 4, whose graph beats a structureless reference by ")
    assert "searched 2…20 on 160 points through pixels" in entry["reason"]
    found = cluster_count.rivals(model.cluster_count_)        # the runner-up is named exactly when there is one
    assert ("runner-up K = " in entry["reason"]) == (found["runner_up"] is not None)
    assert [k for k, _ in entry["compared"]] == model.cluster_count_["candidates"]
    count = model.cluster_count_
    assert count["value"] == 4 and count["structure"] is True and count["frontend"] == "pixels" and count["sample"] == 160
    json.dumps(count)
    counted = [e for e in events if e[1] == "n_clusters"]
    assert counted[0] == ("phase", "n_clusters") and counted[-1] == ("done", "n_clusters")
    assert set(counted[1:-1]) == {("step", "n_clusters")} and len(counted) > 3     # a step after each graph
    assert events[len(counted)][1] == "self_expression"
    assert list(model.phase_times_)[0] == "n_clusters" and model.phase_times_["n_clusters"] > 0
    assert model.warnings_ == [] and model.stopped_ is False


def test_a_given_k_is_n_clusters_and_has_no_count(subspaces: np.ndarray,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choice, "count_for_frontends", lambda *a, **k: pytest.fail("K was given"))
    model = SSCN(n_clusters=4, **FAST).fit(subspaces)
    assert model.n_clusters_ == 4 and model.cluster_count_ is None and "n_clusters" not in model.settings_
    assert "n_clusters" not in model.phase_times_ and model.fit_report()["n_clusters"] == 4


def test_auto_predicts_like_the_same_k_given(fitted, subspaces: np.ndarray) -> None:
    model, _ = fitted
    given = SSCN(n_clusters=4, **FAST).fit(subspaces)
    assert np.array_equal(model.labels_, given.labels_)
    assert np.allclose(model.transform(subspaces), given.transform(subspaces))
    assert {k: v for k, v in model.params_.items() if k != "n_clusters"} == \
        {k: v for k, v in given.params_.items() if k != "n_clusters"}


def test_a_stop_before_the_estimate_leaves_k_unestimated(subspaces: np.ndarray,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choice, "count_for_frontends", lambda *a, **k: pytest.fail("the estimate ran after stop()"))
    model = SSCN(n_clusters="auto", **FAST)
    model.stop()
    model.fit(subspaces)
    assert model.stopped_ and not hasattr(model, "net_") and not hasattr(model, "n_clusters_")
    assert model.settings_["n_clusters"] == {"value": "auto", "reason": "not estimated: the fit stopped first"}


def test_a_stop_during_the_estimate_ends_it_after_the_graph_being_built(subspaces: np.ndarray) -> None:
    steps: list[int] = []

    def stop_at_the_second_graph(event: TrainingEvent) -> None:
        if event.kind == "step" and event.phase == "n_clusters":
            steps.append(event.step)
            if event.step == 2:
                event.model.stop()

    model = SSCN(n_clusters="auto", **FAST).fit(subspaces, callback=stop_at_the_second_graph)
    assert steps == [1, 2] and model.stopped_ and not hasattr(model, "n_clusters_")
    assert model.settings_["n_clusters"] == {"value": "auto", "reason": "not estimated: the fit stopped first"}


def test_a_pseudo_sample_below_twice_the_estimate_is_refused(subspaces: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"pseudo_sample_size must hold at least 2·n_clusters = 8 points, got 6 "
                                         r"\(n_clusters='auto' estimated K = 4\)"):
        SSCN(n_clusters="auto", pseudo_sample_size=6, **FAST).fit(subspaces)


def test_no_cluster_structure_is_warned_about() -> None:
    blob = np.random.default_rng(0).standard_normal((200, 20)).astype(np.float32)
    model = SSCN(n_clusters="auto", **FAST)
    with pytest.warns(SSCNWarning, match=r"^n_clusters='auto': the data show no cluster structure: no K beat a "
                                         r"structureless reference by 2× \(the best was K = \d+, ×\d"):
        model.fit(blob)
    count = model.cluster_count_
    assert count["structure"] is False and model.n_clusters_ == count["value"]
    assert model.warnings_[0].endswith("are not evidence of subspaces; give n_clusters if you know it")
    assert model.settings_["n_clusters"]["reason"].startswith(
        "estimated from the data, but no K beat a structureless reference by 2×")
    (clarity,) = [c for c in model.fit_report()["choices"] if c["setting"] == "n_clusters"]
    assert clarity["clear"] is False and describe_clarity(clarity).startswith("NEAR TIE")
    assert "the data show no cluster structure" in describe_clarity(clarity)


def test_a_front_ends_k_counts_first_where_the_front_end_choice_with_it_keeps_that_front_end() -> None:
    from sscn_core.plan import count_frontend

    found = {"pixels": {"factor": 1.6, "confirmed": True}, "scattering": {"factor": 2.1, "confirmed": False}}
    assert count_frontend(found) == "pixels"                    # Yale B's case: the larger factor is not confirmed
    assert count_frontend({**found, "pixels": {"factor": 1.6, "confirmed": False}}) == "scattering"   # none: factor
    assert count_frontend({**found, "scattering": {"factor": 2.1, "confirmed": True}}) == "scattering"  # both: factor
    assert count_frontend({"pixels": {"factor": 1.6}, "scattering": {"factor": 2.1}}) == "scattering"  # not asked


def _images() -> np.ndarray:
    """Four subspaces in rows of 64 (8×8 images): both front-ends are candidates."""
    return make_subspaces(4, 2, 64, n_per_cluster=40, noise=0.05, seed=1).X


def test_the_trial_choice_is_the_one_a_fit_with_that_k_makes_and_leaves_the_model_as_it_was() -> None:
    x = _images()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        given = SSCN(n_clusters=4, **FAST).fit(x)
    model = SSCN(n_clusters="auto", **FAST)
    rows = model._planned(x)
    before = (dict(model.settings_), dict(model.params_))
    assert choice.frontend_at(model, rows, 4, torch.device("cpu")) == given.model_choice_["value"]
    assert (model.settings_, model.params_) == before and model.params_["frontend"] == ("pixels", "scattering")
    small = SSCN(n_clusters="auto", pseudo_sample_size=6, **FAST)
    assert choice.frontend_at(small, small._planned(x), 4, torch.device("cpu")) is None   # a K its parameters refuse


def test_a_k_that_its_front_end_would_not_cluster_with_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scattering's K has the larger factor, but the front-end choice made with it keeps pixels: pixels' K;
    the data show cluster structure, as scattering's graph does."""
    def fake(features, *, frontend, **kw):
        k, factor = (4, 1.5) if frontend == "pixels" else (2, 5.0)
        return {"value": k, "candidates": [2, 3, 4], "scores": [float(np.log(factor if c == k else 1.1)) for c in (2, 3, 4)],
                "ratios": [1.0] * 3, "null_ratios": [1.0] * 3, "eigenvalues": [0.0] * 5, "null_eigenvalues": [0.0] * 5,
                "graph_k": [2, 3, 4], "fixed_points": [k], "structure": factor >= 2, "factor": factor, "alpha": 3.5}

    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(cluster_count, "count_clusters", fake)
    monkeypatch.setattr(choice, "frontend_at", lambda model, x, k, device: asked.append((k, "pixels")) or "pixels")
    model = SSCN(n_clusters="auto", **FAST)
    rows = model._planned(_images())
    model.phase_times_ = {}
    choice.choose_n_clusters(model, rows, lambda event: None)
    assert sorted(asked) == [(2, "pixels"), (4, "pixels")]
    assert model.n_clusters_ == 4 and model.cluster_count_["frontend"] == "pixels"
    # Pixels' graph alone beats its reference by only 1.5×, scattering's by 5×: the data show structure.
    assert model.cluster_count_["structure"] is True and model.settings_["n_clusters"]["structure"] is True
    assert model.cluster_count_["by_frontend"]["scattering"] == {"value": 2, "factor": 5.0, "confirmed": False}
    assert "scattering's best K = 2, 5×, not kept" in model.settings_["n_clusters"]["reason"]
    assert "the front-end choice made with K = 2 keeps another front-end" in model.settings_["n_clusters"]["reason"]


# ---------------------------------------------------------------------------------------------- reports
def test_the_fit_report_lists_k_how_it_was_chosen_and_the_runner_up(fitted) -> None:
    model, _ = fitted
    report = model.fit_report()
    assert report["n_clusters"] == 4 and report["cluster_count"] is model.cluster_count_
    assert report["settings"]["n_clusters"]["value"] == 4
    (clarity,) = [c for c in report["choices"] if c["setting"] == "n_clusters"]
    scores = dict(zip(model.cluster_count_["candidates"], model.cluster_count_["scores"]))
    runner = max((k for k in scores if k != 4), key=scores.get)
    assert (clarity["value"], clarity["runner_up"], clarity["noise"], clarity["clear"]) == (4, runner, None, None)
    assert clarity["margin"] == pytest.approx(scores[4] - scores[runner])
    assert describe_clarity(clarity).startswith(f"margin: {clarity['margin']:.3g} ahead of {runner} on the log")


def test_choice_clarity_reads_the_kept_k_against_the_best_other() -> None:
    entry = {"value": 5, "reason": "", "structure": True, "compared": [[2, 3.0], [5, 2.0], [6, 1.0], [9, 1.0]]}
    (row,) = choice_clarity({"n_clusters": entry}, None)     # the kept K need not score highest (exact partitions)
    assert (row["value"], row["runner_up"], row["margin"], row["clear"]) == (5, 2, -1.0, None)
    (row,) = choice_clarity({"n_clusters": {**entry, "structure": False}}, None)
    assert row["clear"] is False and "give n_clusters if you know it" in row["advice"]
    assert choice_clarity({"n_clusters": {**entry, "compared": [[5, 2.0]]}}, None) == []
    assert choice_clarity({"n_clusters": {**entry, "value": 7}}, None) == []


def test_the_command_line_reports_the_estimate(subspaces: np.ndarray, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "subspaces.npz"
    np.savez(data, X=subspaces)
    model = tmp_path / "auto.pt"
    flags = ["train", "--data", str(data), "--n-clusters", "auto", "--schedule", "epochs", "--epochs", "2",
             "--classifier-epochs", "2", "--quiet"]
    assert main([*flags, "--json", "--out", str(model)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_clusters"] == 4 and report["cluster_count"]["value"] == 4 and report["params"]["n_clusters"] == "auto"
    assert report["settings"]["n_clusters"]["reason"].startswith("estimated from the data: K = 4")
    # the estimate's choice comes first (the pseudo-label graph's follows it: the rule ran on these points)
    assert [c["setting"] for c in report["choices"]][:1] == ["n_clusters"] and report["phase_seconds"]["n_clusters"] > 0
    assert SSCN.load(model).n_clusters_ == 4
    assert main(flags) == 0
    out = capsys.readouterr().out
    assert "K = 4 clusters (estimated)" in out.splitlines()[0]
    assert "  setting n_clusters = 4: estimated from the data: K = 4" in out and "  choice n_clusters = 4: margin" in out


# ---------------------------------------------------------------------------------------------- checkpoints
def test_save_and_load_keep_k_its_evidence_and_the_predictions(fitted, subspaces: np.ndarray, tmp_path: Path) -> None:
    model, _ = fitted
    loaded = SSCN.load(model.save(tmp_path / "auto.pt"))
    assert loaded.n_clusters == "auto" and loaded.n_clusters_ == 4 and loaded.params_["n_clusters"] == 4
    assert loaded.cluster_count_ == json.loads(json.dumps(model.cluster_count_))
    assert loaded.settings_["n_clusters"] == model.settings_["n_clusters"]
    assert np.array_equal(loaded.predict(subspaces), model.predict(subspaces))
    assert np.array_equal(loaded.labels_, model.labels_)
    assert loaded.fit_report()["choices"] == model.fit_report()["choices"]


def _edited(path: Path, tmp_path: Path, edit) -> Path:
    ckpt = load_checkpoint(path)
    edit(ckpt)
    return save_checkpoint(tmp_path / "edited.pt", ckpt)


def _refused(path: Path, match: str) -> None:
    with pytest.raises(CheckpointError, match=match) as info:
        SSCN.load(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def _resolved(value: object):
    def edit(ckpt: Checkpoint) -> None:
        ckpt.config["resolved"]["n_clusters"] = value
    return edit


def _count(key: str, value: object):
    def edit(ckpt: Checkpoint) -> None:
        ckpt.meta["cluster_count"][key] = value
    return edit


@pytest.mark.parametrize(("edit", "match"), [
    (_resolved("auto"), "its resolved n_clusters is the string 'auto', not the number of clusters of its network"),
    (_resolved(None), "its resolved n_clusters is null, not the number of clusters"),
    (_resolved(1), "its resolved parameters are wrong: n_clusters must be 'auto' or an integer in"),
    (_resolved(5), r"its cluster count estimated K = 4, but its network has n_clusters = 5"),
    (_count("value", "x"), r"\['cluster_count'\]\['value'\] is the string 'x', expected an integer ≥ 1"),
    (_count("structure", "yes"), r"\['cluster_count'\]\['structure'\] is the string 'yes', expected true or false"),
    (_count("scores", [1.0, "a"]), r"\['cluster_count'\]\['scores'\]\[1\] is the string 'a', expected a number"),
    (_count("value", 3), "its cluster count estimated K = 3, but its network has n_clusters = 4"),
    (lambda ckpt: ckpt.meta["cluster_count"].pop("factor"), r"\['cluster_count'\] has no 'factor'"),
    (lambda ckpt: ckpt.meta.update(cluster_count=[4]), r"\['cluster_count'\] is an array of 1, expected an object"),
])
def test_a_wrong_k_or_count_in_a_file_is_one_checkpoint_error(fitted, tmp_path: Path, edit, match: str) -> None:
    model, _ = fitted
    _refused(_edited(model.save(tmp_path / "auto.pt"), tmp_path, edit), match)


def test_a_given_k_must_match_the_resolved_one_and_older_files_still_load(subspaces: np.ndarray,
                                                                          tmp_path: Path) -> None:
    model = SSCN(n_clusters=4, **FAST).fit(subspaces)
    path = model.save(tmp_path / "given.pt")
    _refused(_edited(path, tmp_path, _resolved(5)), "its resolved n_clusters = 5 differs from its n_clusters parameter 4")

    def older(ckpt: Checkpoint) -> None:      # written before n_clusters="auto": no count
        del ckpt.meta["cluster_count"]
    loaded = SSCN.load(_edited(path, tmp_path, older))
    assert loaded.n_clusters_ == 4 and loaded.cluster_count_ is None
    assert np.array_equal(loaded.predict(subspaces), model.predict(subspaces))
