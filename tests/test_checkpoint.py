"""Checkpoint files: round trip, atomic writes, and plain errors for bad files."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from sscn_core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint


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
    with pytest.raises(OSError, match="disk full"):
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
    with pytest.raises(CheckpointError, match="safe loader"):
        load_checkpoint(path)
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
