"""Property-based tests of what sscn_core reads back from disk: model checkpoints and the pre-training cache.

Both are untrusted input (issue 33). The payloads here are well formed — written in the format of
``save_checkpoint``, with a SHA-256 that matches — but odd inside: configuration and metadata of the wrong
JSON types, keys missing or added, tensors of other dtypes, shapes or values. ``SSCN.load`` either loads a
model that works or raises CheckpointError (a ValueError) with one line; a cache file that a fit cannot use
is ignored and written anew, and the fit never fails because of it.
"""
from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sscn_core import SSCN, load_dataset
from sscn_core.cache import SIGNATURE, autoencoder_file, cache_key, signature
from sscn_core.checkpoint import (FORMAT, FORMAT_VERSION, Checkpoint, CheckpointError, content_hash, json_problem,
                                  load_checkpoint)
from sscn_core.data import make_subspaces
from sscn_core.models import build_autoencoder, describe_autoencoder
from sscn_core.persistence import read_autoencoder
from sscn_core.plan import describe_clarity
from sscn_core.preprocess import ImageError, input_style
from sscn_core.pretraining import CACHE_FIELDS, CACHE_RECORD, _read_cached

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CACHE_FUZZ = settings(FUZZ, max_examples=30)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 2**40) | st.floats() | st.text(max_size=6),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)
DTYPES = [torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool,
          torch.complex64, torch.complex128]
ODD_VALUES = [float("nan"), float("inf"), -float("inf"), 1e300, -1e39, 3e38, 0.0, 1e-45]


def write_payload(path: Path, kind: str, state: dict[str, torch.Tensor], config: Any, meta: Any,
                  overrides: dict[str, Any] | None = None) -> Path:
    """A checkpoint file in the format of ``save_checkpoint`` with any content, its SHA-256 recomputed (then
    any field of the payload replaced by ``overrides``)."""
    config_json, meta_json = json.dumps(config), json.dumps(meta)
    body = {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind, "config_json": config_json,
            "meta_json": meta_json, "state": state, "sha256": content_hash(kind, config_json, meta_json, state)}
    torch.save({**body, **(overrides or {})}, path)
    return path


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a JSON value, the value itself first."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):       # a long history: its first rows stand for the rest
            out += paths(item, (*prefix, i))
    return out


def replaced(value: Any, path: tuple, new: Any, delete: bool = False) -> Any:
    """``value`` with the item at ``path`` replaced by ``new`` (or deleted)."""
    if not path:
        return new
    value = copy.copy(value)
    head, rest = path[0], path[1:]
    if rest:
        value[head] = replaced(value[head], rest, new, delete)
    elif delete:
        del value[head]
    else:
        value[head] = new
    return value


def one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text and len(text) < 1000, text


# ---------------------------------------------------------------------------------- model checkpoints
class Models(dict):
    """Checkpoints by name, with a short repr (Hypothesis prints the arguments of a failing example)."""

    def __repr__(self) -> str:
        return f"Models({', '.join(self)})"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Three small fitted models' checkpoints, read back as parts: an MLP auto-encoder on vectors, a conv
    student on 8×8 images, and the linear model whose K was estimated (n_clusters="auto", so the file holds the
    estimate's evidence); with a few rows of their data."""
    folder = tmp_path_factory.mktemp("fuzz-models")
    digits = load_dataset("digits", n_samples=60, seed=0)
    vectors = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
    fitted = {
        "mlp": (SSCN(n_clusters=2, subspace_dim=2, autoencoder="mlp", hidden_dims=(8,), latent_dim=4, epochs=2,
                     pretrain_epochs=1, classifier_epochs=1, seed=0, schedule="epochs", device="cpu"), vectors),
        "student": (SSCN(n_clusters=3, autoencoder=None, frontend="pixels", student="conv", student_epochs=1,
                         image_shape=(8, 8), epochs=2, classifier_epochs=1, seed=0, device="cpu"), digits.X),
        "auto": (SSCN(n_clusters="auto", schedule="epochs", epochs=2, classifier_epochs=1, seed=0, device="cpu"),
                 make_subspaces(3, 2, 8, 16, 0.0, "independent", seed=0).X)}
    out = Models()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (model, X) in fitted.items():
            out[name] = (load_checkpoint(model.fit(X).save(folder / f"{name}.pt")), X[:5])
    return out


def edits(ckpt: Any) -> st.SearchStrategy:
    """One edit of a checkpoint's parts: (what, where, how)."""
    json_edit = st.tuples(st.sampled_from(["config", "meta"]), st.data())
    tensor_edit = st.tuples(st.just("state"), st.sampled_from(sorted(ckpt.state)),
                            st.sampled_from(["dtype", "shape", "value", "delete", "extra"]), st.data())
    return st.one_of(json_edit, tensor_edit)


def apply_edit(parts: dict[str, Any], edit: tuple) -> None:
    """Apply one drawn edit to ``parts`` ({"config", "meta", "state"}) in place."""
    if edit[0] in ("config", "meta"):
        where, data = edit
        tree = parts[where]
        path = data.draw(st.sampled_from(paths(tree)))
        how = data.draw(st.sampled_from(["replace", "delete", "add"] if path else ["replace", "add"]))
        node = _at(tree, path)
        if how == "add" and isinstance(node, dict):
            new = {**node, data.draw(st.text(min_size=1, max_size=8)): data.draw(JSON)}
        elif how == "add" and isinstance(node, list):
            new = [*node, data.draw(JSON)]
        else:
            new = data.draw(JSON)
        parts[where] = replaced(tree, path, new, delete=how == "delete")
        return
    _, key, how, data = edit
    state = parts["state"]
    if key not in state:                   # deleted by an earlier edit
        return
    tensor = state[key]
    if how == "dtype":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")    # complex to real drops the imaginary part
            state[key] = tensor.to(data.draw(st.sampled_from(DTYPES)))
    elif how == "shape":
        shape = data.draw(st.lists(st.integers(0, 5), min_size=0, max_size=3))
        state[key] = torch.zeros(shape, dtype=tensor.dtype)
    elif how == "value" and tensor.numel():
        changed = tensor.clone().to(torch.float64 if tensor.is_floating_point() else tensor.dtype)
        value = data.draw(st.sampled_from(ODD_VALUES)) if tensor.is_floating_point() else \
            data.draw(st.integers(-5, 2**40))
        changed.view(-1)[data.draw(st.integers(0, tensor.numel() - 1))] = value
        state[key] = changed
    elif how == "delete":
        del state[key]
    elif how == "extra":
        prefix = data.draw(st.sampled_from(["net.", "student.", "fitted.", "other."]))
        state[prefix + data.draw(st.sampled_from(["labels_", "pseudo_labels_", "x", "h.linear.weight"]))] = \
            torch.zeros(data.draw(st.integers(0, 4)), dtype=data.draw(st.sampled_from([torch.float32, torch.int64])))


def _at(tree: Any, path: tuple) -> Any:
    for step in path:
        tree = tree[step]
    return tree


def check_loaded(model: SSCN, X: np.ndarray) -> None:
    """A model that loaded works: it predicts, reports, and the app's and the CLI's readers run on it."""
    try:
        labels = model.predict(X)
    except ValueError as exc:          # e.g. weights so large that the outputs overflow: said in one line
        one_line(exc)
        return
    assert labels.shape == (len(X),) and ((labels >= 0) & (labels < model.n_clusters_)).all()
    report = model.fit_report()
    for choice in report["choices"]:
        describe_clarity(choice)
    for phase, c in report["convergence"].items():
        assert isinstance(c, dict), phase
    for entry in model.settings_.values():
        assert "value" in entry and isinstance(entry["reason"], str)
    for row in model.history_:
        assert isinstance(row["phase"], str) and isinstance(float(row["total"]), float)
    try:
        input_style(model)
    except ImageError as exc:
        one_line(exc)


def loads_or_refuses(path: Path, X: np.ndarray) -> None:
    """SSCN.load either gives a model that predicts and reports, or one CheckpointError line."""
    try:
        model = SSCN.load(path, device="cpu")
    except CheckpointError as exc:
        one_line(exc)
        return
    check_loaded(model, X)


@pytest.mark.parametrize("name", ["mlp", "student", "auto"])
@FUZZ
@given(data=st.data())
def test_odd_checkpoints_load_or_give_one_checkpoint_error(models, tmp_path: Path, name: str, data) -> None:
    ckpt, X = models[name]
    parts = {"config": copy.deepcopy(ckpt.config), "meta": copy.deepcopy(ckpt.meta), "state": dict(ckpt.state)}
    for edit in data.draw(st.lists(edits(ckpt), min_size=1, max_size=3)):
        apply_edit(parts, edit)
    path = write_payload(tmp_path / "odd.pt", "sscn", parts["state"], parts["config"], parts["meta"])
    loads_or_refuses(path, X)


@FUZZ
@given(field=st.sampled_from(["format", "version", "kind", "config_json", "meta_json", "state", "sha256"]),
       value=JSON | st.binary(max_size=4) | st.just({"w": torch.zeros(2)}) | st.just({1: torch.zeros(2)}))
def test_odd_payload_fields_give_one_checkpoint_error(models, tmp_path: Path, field: str, value: Any) -> None:
    ckpt, X = models["mlp"]
    path = write_payload(tmp_path / "odd.pt", "sscn", ckpt.state, ckpt.config, ckpt.meta, {field: value})
    loads_or_refuses(path, X)


@FUZZ
@given(data=st.data())
def test_odd_autoencoder_files_are_read_or_give_one_checkpoint_error(tmp_path: Path, data) -> None:
    """What ``SSCN(pretrained=path)`` and the cache read: a configuration ``describe_autoencoder`` can say in
    words (the fit's message when it is not the network's), or one CheckpointError line."""
    ae = build_autoencoder({"kind": "mlp", "input_dim": 8, "hidden_dims": [6], "latent_dim": 3})
    parts = {"config": ae.config(), "meta": {"note": "x"}, "state": dict(ae.state_dict())}
    for edit in data.draw(st.lists(edits(Checkpoint("autoencoder", parts["state"], parts["config"])), min_size=1,
                                   max_size=3)):
        apply_edit(parts, edit)
    path = write_payload(tmp_path / "ae.pt", "autoencoder", parts["state"], parts["config"], parts["meta"])
    try:
        ckpt = read_autoencoder(path)
    except CheckpointError as exc:
        one_line(exc)
        return
    assert describe_autoencoder(ckpt.config)


# ---------------------------------------------------------------------------------- the pre-training cache
SMALL = dict(n_clusters=3, autoencoder="conv", image_shape=(8, 8), schedule="epochs", pretrain_epochs=2, epochs=1,
             classifier_epochs=1, device="cpu", seed=0)


@pytest.fixture
def genuine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, Path, bytes, str]:
    """A cache of its own with one genuine entry: the images, the entry's path, its bytes and fingerprint."""
    monkeypatch.setenv("SSCN_CACHE_DIR", str(tmp_path / "cache"))
    images = np.random.default_rng(0).random((40, 64), dtype=np.float32)
    model = fit(images)
    path = autoencoder_file(model.pretrain_["fingerprint"])
    return images, path, path.read_bytes(), model.pretrain_["fingerprint"]


def fit(images: np.ndarray) -> SSCN:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SSCN(**SMALL).fit(images)


@CACHE_FUZZ
@given(data=st.data(), signed=st.booleans())
def test_odd_cache_entries_are_ignored_and_rewritten_never_fatal(genuine, data, signed: bool) -> None:
    images, path, original, fp = genuine
    path.write_bytes(original)
    ckpt = load_checkpoint(path)
    parts = {"config": copy.deepcopy(ckpt.config),
             "meta": {k: v for k, v in copy.deepcopy(ckpt.meta).items() if k != SIGNATURE},
             "state": dict(ckpt.state)}
    for edit in data.draw(st.lists(edits(ckpt), min_size=1, max_size=2)):
        apply_edit(parts, edit)
    meta, kind = parts["meta"], data.draw(st.sampled_from(["autoencoder", "autoencoder", "sscn"]))
    if signed and isinstance(meta, dict) and isinstance(parts["config"], dict):  # as only a fit here could sign it
        record = {key: meta[key] for key in CACHE_FIELDS if key in meta}
        meta = {**meta, SIGNATURE: signature(cache_key(), fp, parts["config"], record, parts["state"])}
    write_payload(path, kind, parts["state"], parts["config"], meta)
    model = fit(images)                                              # never fatal
    assert model.labels_ is not None and model.pretrain_["fingerprint"] == fp
    if model.pretrain_["cached"]:         # only a file signed here, with a record of the right types, is used
        assert signed and json_problem({k: meta[k] for k in CACHE_FIELDS}, CACHE_RECORD, "record") is None
        return
    assert model.pretrain_["cache"].startswith(f"written to {path} (the file there was ignored: "), \
        model.pretrain_["cache"]
    assert "\n" not in model.pretrain_["cache"]
    ae = build_autoencoder(load_checkpoint(path).config)
    record, why = _read_cached(ae, path, fp)                          # written anew: the next fit reads it
    assert why is None and record["fingerprint"] == fp
