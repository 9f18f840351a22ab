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
