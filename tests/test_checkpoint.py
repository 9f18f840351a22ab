"""Checkpoint files: round trip, atomic writes, and plain errors for bad files."""
from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from sscn_core import SSCN, persistence
from sscn_core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from sscn_core.data import make_subspaces


def make() -> Checkpoint:
    return Checkpoint("sscn", {"w": torch.arange(6.0).reshape(2, 3)}, {"a": 1, "b": [1, 2]}, {"note": "x"})


def test_round_trip(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "sub" / "m.pt", make())
    ck = load_checkpoint(path, expected_kind="sscn")
    assert ck.kind == "sscn" and ck.config == {"a": 1, "b": [1, 2]} and ck.meta == {"note": "x"}
    assert torch.equal(ck.state["w"], torch.arange(6.0).reshape(2, 3))
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temp files left behind


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_checkpoint(tmp_path / "m.pt", make())
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(CheckpointError, match="disk full; the existing file is unchanged"):
        save_checkpoint(path, make())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


@pytest.mark.parametrize("content", [b"", b"junk", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_corrupt_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", make())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(path)


class Evil:
    def __reduce__(self) -> tuple:
        return (print, ("pwned",))


def test_pickled_code_is_not_executed(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "sscn-checkpoint", "evil": Evil()}, path)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(path)
    # Torch's own text (cut mid-sentence at 200 characters, with terminal bold codes) advised weights_only=False.
    assert str(refused.value) == ("'evil.pt' holds pickled Python objects other than tensors and plain values (it "
                                  "refers to print); it is refused for safety: only checkpoints written by sscn_core "
                                  "are loaded")
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError):
        load_checkpoint(raw)


def test_other_torch_files_kinds_and_versions(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="not an SSCN checkpoint"):
        load_checkpoint(plain)
    path = save_checkpoint(tmp_path / "m.pt", make())
    with pytest.raises(CheckpointError, match="expected 'autoencoder'"):
        load_checkpoint(path, expected_kind="autoencoder")
    future = tmp_path / "future.pt"
    torch.save({"format": "sscn-checkpoint", "version": 99, "kind": "sscn", "state": {}, "config_json": "{}",
                "meta_json": "{}"}, future)
    with pytest.raises(CheckpointError, match="upgrade"):
        load_checkpoint(future)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("content", [b"hello world\nthis is text\n",
                                     b's[M\x92y\x1a\xe2q\xb1\xdf' + bytes(range(256)) * 4,   # IndexError in torch
                                     bytes(random.Random(0).getrandbits(8) for _ in range(5000))])
def test_text_and_random_bytes_are_a_checkpoint_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable SSCN checkpoint") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def flip_one_bit_in(path: Path, tensor: torch.Tensor) -> None:
    data = bytearray(path.read_bytes())
    at = bytes(data).find(tensor.numpy().tobytes())
    assert at > 0, "the tensor's bytes are stored as they are"
    data[at + 5] ^= 0x10
    path.write_bytes(bytes(data))


def test_a_flipped_bit_in_the_weights_is_refused(tmp_path: Path) -> None:
    weights = torch.linspace(-1, 1, 64)
    path = save_checkpoint(tmp_path / "m.pt", Checkpoint("sscn", {"w": weights}, {"a": 1}))
    assert load_checkpoint(path).state["w"].equal(weights)
    flip_one_bit_in(path, weights)
    with pytest.raises(CheckpointError, match="does not match the SHA-256"):
        load_checkpoint(path)


def test_version_1_files_without_a_hash_still_load(tmp_path: Path) -> None:
    legacy = tmp_path / "v1.pt"
    torch.save({"format": "sscn-checkpoint", "version": 1, "kind": "sscn", "state": {"w": torch.ones(2)},
                "config_json": "{}", "meta_json": "{}"}, legacy)
    assert load_checkpoint(legacy).state["w"].equal(torch.ones(2))
    current = tmp_path / "v2.pt"
    torch.save({"format": "sscn-checkpoint", "version": 2, "kind": "sscn", "state": {"w": torch.ones(2)},
                "config_json": "{}", "meta_json": "{}"}, current)
    with pytest.raises(CheckpointError, match="SHA-256"):          # a version-2 file always has its hash
        load_checkpoint(current)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny fitted MLP model's checkpoint (8 features, 2 clusters)."""
    ds = make_subspaces(n_clusters=2, subspace_dim=2, ambient_dim=8, n_per_cluster=20, noise=0.0, seed=1)
    model = SSCN(n_clusters=2, subspace_dim=2, autoencoder="mlp", hidden_dims=(8,), latent_dim=4, epochs=2,
                 pretrain_epochs=1, classifier_epochs=1, seed=0, schedule="epochs")
    with pytest.warns():   # a two-epoch fit is warned about; it is only a file to edit here
        model.fit(ds.X)
    return model.save(tmp_path_factory.mktemp("small") / "small.pt")


def test_a_config_describing_a_huge_network_is_refused_before_building(
        small_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = load_checkpoint(small_model)
    for part in (ckpt.config["autoencoder"], ckpt.config["params"]):
        part["hidden_dims"] = [1_000_000]
    path = save_checkpoint(tmp_path / "huge.pt", ckpt)   # a valid SHA-256: only its configuration is wrong

    def must_not_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network was built from the configuration")

    monkeypatch.setattr(persistence, "build_autoencoder", must_not_build)
    monkeypatch.setattr(persistence, "SSCNNetwork", must_not_build)
    with pytest.raises(CheckpointError, match=r"^'huge.pt' does not describe a valid SSCN model: .*describes "
                                              r"\d+\.\d+ MiB of weights but the file holds"):
        SSCN.load(path)


def test_nan_or_infinite_weights_are_refused(small_model: Path, tmp_path: Path) -> None:
    for value in (float("nan"), float("inf")):
        ckpt = load_checkpoint(small_model)
        ckpt.state["net.h.linear.weight"][0, 0] = value
        path = save_checkpoint(tmp_path / "diverged.pt", ckpt)
        with pytest.raises(CheckpointError, match=r"the weights contain NaN or infinite values \(in net\.h\."):
            SSCN.load(path)
    assert np.isfinite(SSCN.load(small_model).predict_proba(np.ones((2, 8), np.float32))).all()


def test_messages_from_other_libraries_are_one_clean_line() -> None:
    from sscn_core.checkpoint import MAX_MESSAGE, _one_line

    assert _one_line(ValueError("\x1b[1mbold\x1b[0m and\n\tplain")) == "bold and plain"
    long = ValueError("First sentence is short. " + "word " * 100)
    assert _one_line(long) == "First sentence is short."
    cut = _one_line(ValueError("word " * 100))
    assert cut.endswith("word…") and len(cut) <= MAX_MESSAGE
    assert _one_line(ValueError("x" * 1000)) == "x" * (MAX_MESSAGE - 1) + "…"
    assert _one_line(ValueError("")) == "ValueError"


# ---------------------------------------------------------------------------------- untrusted content (issue 33)
def edited(small_model: Path, tmp_path: Path, edit) -> Path:
    """A copy of the small model's checkpoint after ``edit(ckpt)``, saved with a valid SHA-256."""
    ckpt = load_checkpoint(small_model)
    edit(ckpt)
    return save_checkpoint(tmp_path / "edited.pt", ckpt)


def refused(path: Path, match: str) -> str:
    """SSCN.load(path)'s CheckpointError, checked to be one line matching ``match``."""
    with pytest.raises(CheckpointError, match=match) as info:
        SSCN.load(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400
    return str(info.value)


def _set(where: str, key: str, value: object):
    def edit(ckpt: Checkpoint) -> None:
        getattr(ckpt, where)[key] = value
    return edit


def _weight(dtype: torch.dtype, value: float | None = None):
    def edit(ckpt: Checkpoint) -> None:
        w = ckpt.state["net.h.linear.weight"].to(dtype)
        if value is not None:
            w[0, 0] = value
        ckpt.state["net.h.linear.weight"] = w
    return edit


@pytest.mark.parametrize("edit, match", [
    (_weight(torch.complex64), r"^'edited.pt' holds a tensor of type torch.complex64 \(net.h.linear.weight\); "
                               r"sscn_core writes real numbers only"),
    (_weight(torch.complex128), "type torch.complex128"),
    (_weight(torch.float64, 1e300), r"^'edited.pt' is unusable: the weights contain NaN or infinite values \(in "
                                    r"net.h.linear.weight, as torch.float32\)"),
    (_weight(torch.float64, -3.5e38), r"NaN or infinite values \(in net.h.linear.weight, as torch.float32\)"),
])
def test_weights_that_are_not_real_or_not_finite_as_float32_are_refused(small_model: Path, tmp_path: Path,
                                                                         edit, match) -> None:
    path = edited(small_model, tmp_path, edit)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)
    refused(path, match)


def test_weights_of_another_real_dtype_with_finite_values_still_load(small_model: Path, tmp_path: Path) -> None:
    x = np.ones((2, 8), np.float32)
    model = SSCN.load(edited(small_model, tmp_path, _weight(torch.float64)))
    assert model.net_.h.linear.weight.dtype == torch.float32
    np.testing.assert_allclose(model.predict_proba(x), SSCN.load(small_model).predict_proba(x), rtol=1e-6)


def test_a_sparse_tensor_is_refused(small_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "sparse.pt"
    state = {"w": torch.eye(3).to_sparse()}
    torch.save({"format": "sscn-checkpoint", "version": 1, "kind": "sscn", "state": state, "config_json": "{}",
                "meta_json": "{}"}, path)
    with pytest.raises(CheckpointError, match=r"holds a sparse_coo tensor \(w\); sscn_core writes dense tensors"):
        load_checkpoint(path)


@pytest.mark.parametrize("meta", [["history", []], "a string", 3, None])
def test_metadata_that_is_not_an_object_is_refused(small_model: Path, tmp_path: Path, meta: object) -> None:
    def edit(ckpt: Checkpoint) -> None:
        ckpt.meta = meta
    path = edited(small_model, tmp_path, edit)
    with pytest.raises(CheckpointError, match=r"^'edited.pt' has a damaged metadata block: it holds .*, not an object$"):
        load_checkpoint(path)
    refused(path, "damaged metadata block")


@pytest.mark.parametrize("config", [["params"], "text", 1.5])
def test_a_configuration_that_is_not_an_object_is_refused(small_model: Path, tmp_path: Path, config: object) -> None:
    def edit(ckpt: Checkpoint) -> None:
        ckpt.config = config
    refused(edited(small_model, tmp_path, edit), r"^'edited.pt' has a damaged configuration block: it holds")


@pytest.mark.parametrize("where, key, value, match", [
    ("meta", "history", "abc", r"its metadata\['history'\] is the string 'abc', expected an array"),
    ("meta", "history", [{"phase": "x", "step": 1}], r"its metadata\['history'\]\[0\] is an object, expected a loss-"),
    ("meta", "history", [{"phase": "x", "step": 1, "total": "big"}], r"\[0\] is an object, expected a loss-history row"),
    ("meta", "history", [{"phase": "x", "step": True, "total": 1.0}], r"\[0\] is an object, expected a loss-history row"),
    ("meta", "settings", [], r"its metadata\['settings'\] is an array of 0, expected an object"),
    ("meta", "settings", {"alpha": {"value": 1, "reason": "r", "compared": [[1, "x"]]}},
     r"\['settings'\]\['alpha'\]\['compared'\]\[0\]\[1\] is the string 'x', expected a number"),
    ("meta", "settings", {"input_style": {"value": "graffiti", "reason": "r"}}, "input_style is one of"),
    ("meta", "phase_times", {"pretrain": None}, r"\['phase_times'\]\['pretrain'\] is null, expected a number"),
    ("meta", "peak_memory", {"pretrain": -1}, r"is the number -1, expected an integer ≥ 0"),
    ("meta", "stopped", "no", r"\['stopped'\] is the string 'no', expected true or false"),
    ("meta", "model_choice", {"margin": 0.1}, r"\['model_choice'\] has no 'value'"),
    ("meta", "pretrain", {"cached": True}, r"\['pretrain'\] has no 'fingerprint'"),
    ("meta", "pseudo_label_solver", "dense", r"\['pseudo_label_solver'\] is the string 'dense'"),
    ("config", "params", ["n_clusters", 2], r"its configuration\['params'\] is an array of 2, expected an object"),
    ("config", "resolved", {"subspace_dim": "two"}, r"its resolved parameters are wrong: subspace_dim must be"),
    ("config", "n_features_in", 7, "front-end reads rows of 8 values but n_features_in is 7"),
    ("config", "n_features_in", 8.0, r"\['n_features_in'\] is the number 8.0, expected an integer ≥ 1"),
    ("config", "proba_scale", -1.0, r"\['proba_scale'\] is the number -1.0, expected a finite number > 0"),
    ("config", "frontend", "pixels", r"\['frontend'\] is the string 'pixels', expected an object"),
    ("config", "autoencoder", {"kind": "mlp", "input_dim": 8, "hidden_dims": "8", "latent_dim": 4},
     r"\['hidden_dims'\] is the string '8', expected an array"),
    ("config", "autoencoder", {"kind": "mlp", "input_dim": 9, "hidden_dims": [8], "latent_dim": 4},
     "does not describe a valid SSCN model"),
    ("config", "student", "conv", r"its configuration\['student'\] is the string 'conv', expected an object"),
])
def test_fields_of_the_wrong_type_are_one_checkpoint_error(small_model: Path, tmp_path: Path, where: str, key: str,
                                                           value: object, match: str) -> None:
    message = refused(edited(small_model, tmp_path, _set(where, key, value)), match)
    assert message.startswith("'edited.pt' does not describe a valid SSCN model: "), message


def test_fitted_labels_out_of_range_or_of_another_type_are_refused(small_model: Path, tmp_path: Path) -> None:
    def labels(value: torch.Tensor):
        return lambda ckpt: ckpt.state.__setitem__("fitted.labels_", value)
    refused(edited(small_model, tmp_path, labels(torch.full((40,), 7))), r"fitted labels_ hold values outside \[0, 2\)")
    refused(edited(small_model, tmp_path, labels(torch.zeros(40))), "fitted labels_ is a torch.float32 tensor")
    refused(edited(small_model, tmp_path, labels(torch.zeros(4, 10, dtype=torch.int64))), "not a 1-D array")


def test_extra_fields_are_allowed_and_missing_records_take_their_defaults(small_model: Path, tmp_path: Path) -> None:
    def edit(ckpt: Checkpoint) -> None:
        ckpt.meta = {"written_by": "a newer sscn_core", "history": []}
        ckpt.config["future"] = {"anything": [1, 2]}
    model = SSCN.load(edited(small_model, tmp_path, edit))
    assert model.history_ == [] and model.settings_ == {} and model.pretrain_ is None and model.stopped_ is False
    assert model.predict(np.ones((3, 8), np.float32)).shape == (3,)
