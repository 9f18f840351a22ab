"""The parameter table: one declaration per parameter, the same defaults in library, CLI and app,
and a package whose modules import one another without a cycle."""
from __future__ import annotations

import argparse
import ast
import doctest
import inspect
from pathlib import Path

import pytest

from app.config import ModelConfig, model_params, to_widget
from sscn_core import SSCN
from sscn_core.cli import build_parser
from sscn_core.params import (ATTRIBUTES, AUTOENCODER_OPTIONS, DEFAULTS, PARAMETERS, PARAMS, PRESETS, Param,
                              join_autoencoder, problems, split_autoencoder)

PACKAGE = Path(__file__).resolve().parents[1] / "sscn_core"


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_library_defaults_are_the_table_and_the_paper_preset() -> None:
    assert SSCN().get_params() == DEFAULTS == PRESETS["auto"]
    paper = PRESETS["paper"]
    # The paper preset sets every rule that follows the data back to the reference's choice.
    assert {k: paper[k] for k in ("batch_size", "classifier_batch_size", "schedule", "normalize", "h_init",
                                  "classifier_init", "postprocess", "n_restarts")} == dict(
        batch_size=1000, classifier_batch_size=1000, schedule="epochs", normalize="none", h_init="random",
        classifier_init="identity", postprocess="paper", n_restarts=1)
    # the paper's own rows keep their defaults, except those whose default follows the data: the batch
    # sizes (None: from N), q (None: from N / K), α (None: chosen per fit) and the auto-encoder ("auto": the plan's choice)
    follows_data = {"batch_size", "classifier_batch_size", "subspace_dim", "autoencoder", "alpha"}
    assert all(paper[p.name] == p.default for p in PARAMETERS if p.paper and p.name not in follows_data)
    assert (paper["subspace_dim"], paper["autoencoder"], paper["frontend"]) == (9, "conv", "pixels")
    assert list(inspect.signature(SSCN).parameters) == [p.name for p in PARAMETERS]
    assert DEFAULTS["lambda1"] == 0.5 and DEFAULTS["lambda2"] == 1.0     # the reference code's weights
    assert all(p.name in SSCN.__doc__ for p in PARAMETERS)
    assert problems(DEFAULTS) == {}
    for name, preset in PRESETS.items():
        assert set(preset) == set(DEFAULTS) and problems(preset) == {}, name


def test_cli_shows_and_uses_the_same_defaults() -> None:
    train = _subparser("train")
    flags = {a.dest: a for a in train._actions}
    for p in PARAMETERS:
        action = flags[p.name]
        assert action.option_strings == [f"--{p.name.replace('_', '-')}"]
        assert action.default is argparse.SUPPRESS                    # absent: the preset's value
        assert action.help.endswith(f"Default: {to_widget(p, p.default) if p.kind == 'ints' else p.default}.")
    args = build_parser().parse_args(["train"])
    assert not any(hasattr(args, p.name) for p in PARAMETERS)
    pretrain = {a.dest: a.default for a in _subparser("pretrain")._actions}
    assert (pretrain["epochs"], pretrain["batch_size"], pretrain["lr"], pretrain["seed"], pretrain["device"]) == \
        (DEFAULTS["pretrain_epochs"], DEFAULTS["pretrain_batch_size"], DEFAULTS["pretrain_lr"], DEFAULTS["seed"],
         DEFAULTS["device"])


def test_cli_flags_read_values_like_set() -> None:
    parser = build_parser()
    by_flag = parser.parse_args(["train", "--h-init", "closed_form", "--classifier-temperature", "20",
                                 "--pseudo-sample-size", "none", "--hidden-dims", "64,32", "--autoencoder", "none"])
    by_set = parser.parse_args(["train", "--set", "h_init=closed_form", "--set", "classifier_temperature=20",
                                "--set", "pseudo_sample_size=None", "--set", "hidden_dims=(64, 32)",
                                "--set", "autoencoder=None"])
    values = {name: getattr(by_flag, name) for name in ("h_init", "classifier_temperature", "pseudo_sample_size",
                                                         "hidden_dims", "autoencoder")}
    assert values == dict(by_set.set) == {"h_init": "closed_form", "classifier_temperature": 20.0,
                                          "pseudo_sample_size": None, "hidden_dims": (64, 32), "autoencoder": None}


def test_app_defaults_are_the_librarys_but_for_the_listed_ones() -> None:
    from app.config import APP_DEFAULTS

    assert model_params(ModelConfig()) == {**DEFAULTS, **APP_DEFAULTS}
    assert set(APP_DEFAULTS) == {"paper_start_steps"}     # a comparison run that leaves the labels as they are
    for p in PARAMETERS:
        if p.name not in ("autoencoder", "pretrained"):
            assert getattr(ModelConfig(), p.name) == to_widget(p, APP_DEFAULTS.get(p.name, p.default)), p.name


def test_autoencoder_options_split_and_join() -> None:
    for option in AUTOENCODER_OPTIONS:
        parts = split_autoencoder(option)
        assert PARAMS["autoencoder"].problem(parts["autoencoder"]) is None
        assert join_autoencoder(**parts) == option
    assert split_autoencoder("pretrained-mnist") == {"autoencoder": "conv", "pretrained": "mnist"}
    with pytest.raises(ValueError, match="unknown auto-encoder"):
        split_autoencoder("vae")


def test_a_row_checks_and_parses_its_values() -> None:
    p = Param("width", "int", 3, "Width", "A width.", low=1, high=10, none="as wide as the data")
    assert p.problem(None) is None and p.problem(10) is None
    assert p.problem(0) == "width must be None (as wide as the data) or an integer in [1, 10], got 0"
    assert p.problem(True) is not None and p.problem(2.0) is not None
    assert p.parse("none") is None and p.parse(" 7 ") == 7
    with pytest.raises(ValueError, match="width takes an integer"):
        p.parse("wide")
    with pytest.raises(ValueError, match="default is invalid"):
        Param("width", "int", 0, "Width", "A width.", low=1)
    assert "Used when autoencoder is mlp." in PARAMS["latent_dim"].describe()
    assert PARAMS["latent_dim"].used({**DEFAULTS, "autoencoder": "mlp"}) and not PARAMS["latent_dim"].used(DEFAULTS)


def test_the_docstring_examples_run_and_the_attributes_are_those_a_fit_sets() -> None:
    finder, runner = doctest.DocTestFinder(recurse=False), doctest.DocTestRunner()
    (test,) = finder.find(SSCN, "SSCN", globs={})
    runner.run(test, clear_globs=False)
    assert runner.failures == 0 and runner.tries >= 5
    model = test.globs["model"]
    assert {name for name in vars(model) if name.endswith("_") and not name.startswith("_")} == set(ATTRIBUTES)
    assert all(f"\n{name}: " in SSCN.__doc__ for name in ATTRIBUTES)


def _imports(path: Path) -> set[str]:
    """sscn_core modules that ``path`` imports, anywhere in the file (TYPE_CHECKING blocks included); a
    sub-package (``data``, ``viz``) counts as one module, and a module of one does not count its siblings."""
    level = 1 if path.parent == PACKAGE else 2
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == level:
            out |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sscn_core."):
            out.add(node.module.split(".")[1])
    return {name for name in out if (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()}


def test_no_import_cycle_and_a_training_loop_without_torch_distributed() -> None:
    graph = {path.stem: _imports(path) for path in PACKAGE.glob("*.py")}
    for init in PACKAGE.glob("*/__init__.py"):
        graph[init.parent.name] = set().union(*(_imports(path) for path in init.parent.glob("*.py")))
    done: set[str] = set()

    def visit(module: str, stack: tuple[str, ...]) -> None:
        assert module not in stack, f"import cycle: {' → '.join(stack + (module,))}"
        if module not in done:
            for dep in graph[module]:
                visit(dep, stack + (module,))
            done.add(module)

    for module in graph:
        visit(module, ())
    reach, todo = set(), ["trainer"]
    while todo:
        module = todo.pop()
        if module not in reach:
            reach.add(module)
            todo += graph[module]
    assert "distributed" not in reach
    assert not any(_uses_torch_distributed(PACKAGE / f"{m}.py") for m in reach), sorted(reach)


def _uses_torch_distributed(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(a.name.startswith("torch.distributed") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and ((node.module or "").startswith("torch.distributed") or (
                node.module == "torch" and any(a.name == "distributed" for a in node.names))):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "distributed" and isinstance(node.value, ast.Name) \
                and node.value.id == "torch":
            return True
    return False
