"""Where a file may be written (issue 33): ``--out`` and the library's saves follow one rule,
``sscn_core.checkpoint.check_output_path``. Never a device, a named pipe or a folder; never one of
the command's inputs; a failed write (a full disk...) is one line naming the user's path, the old
file kept and no temporary file left behind."""
from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from sscn_core import atomic
from sscn_core.checkpoint import Checkpoint, CheckpointError, check_output_path, load_checkpoint, save_checkpoint
from sscn_core.cli import main


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, out: str, err: str) -> None:
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, (code, out, err)
    assert "Traceback" not in err and ".tmp" not in err, err


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that gets past its checks fails the test: refusals must come before any work."""
    import sscn_core.cli as cli

    monkeypatch.setattr(cli, "load_dataset", lambda *a, **k: pytest.fail("work started before checking --out"))


def make() -> Checkpoint:
    return Checkpoint("sscn", {"w": torch.arange(6.0).reshape(2, 3)}, {"a": 1}, {"note": "x"})


def special_files(folder: Path) -> dict[str, Path]:
    """A named pipe, a socket, links to them and to /dev/null, and (as root) a character device."""
    fifo = folder / "pipe"
    os.mkfifo(fifo)
    sock = folder / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    server.close()
    files = {"fifo": fifo, "socket": sock, "link to a fifo": folder / "pipe-link", "link to /dev/null": folder / "null"}
    files["link to a fifo"].symlink_to(fifo)
    files["link to /dev/null"].symlink_to("/dev/null")
    if os.geteuid() == 0:
        files["character device"] = folder / "devnull"
        os.mknod(files["character device"], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return files


def assert_unchanged(files: dict[str, Path]) -> None:
    for path in files.values():
        assert not path.resolve().is_file(), f"{path} was replaced by a regular file"
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_out_refuses_devices_pipes_and_sockets(capsys: pytest.CaptureFixture, tmp_path: Path, no_work: None,
                                               command: str) -> None:
    files = special_files(tmp_path)
    for what, path in files.items():
        code, out, err = run(capsys, command, "--out", str(path), "--quiet")
        one_error_line(code, out, err)
        assert f"--out {str(path)!r}" in err and "not a regular file" in err, (what, err)
    assert_unchanged(files)


def test_the_library_never_replaces_a_device_or_a_pipe(tmp_path: Path) -> None:
    from sscn_core.persistence import save_autoencoder
    from sscn_core.models import ConvAutoEncoder

    files = special_files(tmp_path)
    for path in files.values():
        with pytest.raises(CheckpointError, match="not a regular file"):
            save_checkpoint(path, make())
        with pytest.raises(CheckpointError, match="not a regular file"):
            save_autoencoder(ConvAutoEncoder((8, 8)), path)
    with pytest.raises(CheckpointError, match="is a folder"):
        save_checkpoint(tmp_path, make())
    with pytest.raises(CheckpointError, match="names a folder; give a file name such as"):
        save_checkpoint(f"{tmp_path}/new-folder/", make())       # not a file named new-folder
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files.values())
    assert_unchanged(files)
    # A link to a regular file is followed: its file is replaced and the link kept.
    target = tmp_path / "real.pt"
    target.write_bytes(b"old")
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    assert save_checkpoint(link, make()) == target
    assert link.is_symlink() and load_checkpoint(link).meta == {"note": "x"}


def _npz(path: Path) -> Path:
    np.savez(path, X=np.random.default_rng(0).normal(size=(12, 16)).astype(np.float32))
    return path


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_out_is_never_one_of_the_inputs(capsys: pytest.CaptureFixture, tmp_path: Path, no_work: None,
                                        command: str) -> None:
    data = _npz(tmp_path / "x.npz")
    before = data.read_bytes()
    (tmp_path / "hard.npz").hardlink_to(data)
    (tmp_path / "soft.npz").symlink_to(data)
    (tmp_path / "sub").mkdir()
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("L", (8, 8)).save(folder / "a.png")
    cases = [
        (data, data),                                  # the same path
        (data, tmp_path / "sub" / ".." / "x.npz"),     # the same file by another spelling
        (data, tmp_path / "hard.npz"),                 # a hard link to it
        (data, tmp_path / "soft.npz"),                 # a symbolic link to it
        (tmp_path / "soft.npz", data),                 # the input given through a link
        (folder, folder / "a.png"),                    # a file of the input folder
    ]
    for source, out in cases:
        code, stdout, err = run(capsys, command, "--data", str(source), "--out", str(out), "--quiet")
        one_error_line(code, stdout, err)
        assert f"--out {str(out)!r}" in err and f"--data {str(source)!r}" in err, err
    assert data.read_bytes() == before and (tmp_path / "soft.npz").is_symlink()


def test_out_is_never_the_pretrained_auto_encoder(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                  no_work: None) -> None:
    weights = tmp_path / "ae.pt"
    weights.write_bytes(b"the user's auto-encoder")
    code, out, err = run(capsys, "train", "--autoencoder", "conv", "--pretrained", str(weights), "--out",
                         str(weights), "--quiet")
    one_error_line(code, out, err)
    assert "the same file as the input --pretrained" in err
    assert weights.read_bytes() == b"the user's auto-encoder"


def test_check_output_path_takes_inputs_with_or_without_labels(tmp_path: Path) -> None:
    data = _npz(tmp_path / "x.npz")
    with pytest.raises(CheckpointError, match=f"the same file as the input {str(data)!r}; "):
        check_output_path(data, inputs=[None, "", tmp_path / "other.npz", data])
    with pytest.raises(CheckpointError, match=r"^output file .* the same file as the input --data"):
        check_output_path(data, inputs={"--data": data})
    assert check_output_path(tmp_path / "new.pt", inputs={"--data": data}) == tmp_path / "new.pt"
    with pytest.raises(CheckpointError, match="an empty path was given"):
        check_output_path("")


class _FullDisk:
    """A file whose writes fail as on a full disk (the temporary file beside the destination)."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/somewhere/.model.pt.x1y2.tmp")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)

    def __enter__(self) -> "_FullDisk":
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


def fill_disk(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make every file opened for writing in ``folder`` fail as on a full disk."""
    real = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        fh = real(fd, *args, **kwargs)
        return _FullDisk(fh) if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)) else fh

    monkeypatch.setattr(os, "fdopen", fdopen)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_pretrain_on_a_full_disk_is_one_line_and_keeps_the_old_file(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out_path = tmp_path / "ae.pt"
    out_path.write_bytes(b"the previous auto-encoder")
    fill_disk(monkeypatch, tmp_path)
    code, out, err = run(capsys, "pretrain", "--dataset", "digits", "--epochs", "1", "--out", str(out_path),
                         "--quiet")
    one_error_line(code, out, err)
    assert err == (f"error: could not write {str(out_path)!r}: No space left on device; the existing file is "
                   f"unchanged\n"), err
    assert out_path.read_bytes() == b"the previous auto-encoder"
    assert [p.name for p in tmp_path.iterdir()] == ["ae.pt"]


@pytest.mark.parametrize(("where", "code"), [("write", errno.ENOSPC), ("fsync", errno.ENOSPC),
                                             ("replace", errno.EROFS), ("mkstemp", errno.EACCES)])
@pytest.mark.parametrize("existed", [True, False])
def test_a_failed_write_is_a_checkpoint_error_naming_only_the_users_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, code: int, existed: bool) -> None:
    path = tmp_path / "m.pt"
    if existed:
        save_checkpoint(path, make())
    before = path.read_bytes() if existed else None
    temp = str(tmp_path / ".m.pt.abc123.tmp")

    def fail(*args: object, **kwargs: object) -> Any:
        raise OSError(code, os.strerror(code), temp)

    if where == "write":
        fill_disk(monkeypatch, tmp_path)
    else:
        monkeypatch.setattr(*{"fsync": (os, "fsync"), "replace": (os, "replace"),
                              "mkstemp": (atomic.tempfile, "mkstemp")}[where], fail)
    with pytest.raises(CheckpointError) as info:
        save_checkpoint(path, make())
    message = str(info.value)
    kept = "the existing file is unchanged" if existed else "nothing was written"
    assert message == f"could not write {str(path)!r}: {os.strerror(code)}; {kept}", message
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == (["m.pt"] if existed else [])
    if existed:
        assert path.read_bytes() == before


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs /proc")
def test_out_in_a_folder_where_nothing_can_be_made_names_only_the_users_path(capsys: pytest.CaptureFixture,
                                                                              no_work: None) -> None:
    for command in ("train", "pretrain"):
        code, out, err = run(capsys, command, "--out", "/proc/version", "--quiet")
        one_error_line(code, out, err)
        assert err.startswith("error: --out '/proc/version' cannot be written"), err
        assert "sscn-probe" not in err


def test_a_read_only_folder_is_found_before_any_work(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch, no_work: None) -> None:
    def read_only(*args: object, **kwargs: object) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / ".sscn-probe.xyz.tmp"))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    code, out, err = run(capsys, "train", "--out", str(tmp_path / "m.pt"), "--quiet")
    one_error_line(code, out, err)
    assert err == (f"error: --out {str(tmp_path / 'm.pt')!r} cannot be written: no file can be created in "
                   f"{str(tmp_path)!r} (Read-only file system)\n"), err


def test_downloads_share_the_atomic_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sscn_core.data import bundled

    assert bundled.write_atomically is atomic.write_atomically
    dest = tmp_path / "sub" / "file.bin"
    assert atomic.write_atomically(dest, b"abc") == dest and dest.read_bytes() == b"abc"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~_umask()
    long = tmp_path / ("n" * 250)     # a long name of the user's still leaves room for the temporary name
    atomic.write_atomically(long, b"x")
    assert long.read_bytes() == b"x" and sorted(p.name for p in tmp_path.iterdir()) == [long.name, "sub"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------ inputs that are not regular files
@pytest.mark.parametrize("what", ["data", "model", "image"])
def test_an_input_that_is_a_named_pipe_is_refused_without_being_opened(tmp_path: Path, capsys, what: str) -> None:
    """Opening a FIFO for reading waits for a writer forever: --data, --model and predict's images are
    refused by their kind first, in one line that says what the path is."""
    pipe = tmp_path / ("x.npz" if what != "image" else "x.png")
    os.mkfifo(pipe)
    if what == "data":
        result = run(capsys, "train", "--data", str(pipe), "--n-clusters", "2")
    elif what == "model":
        result = run(capsys, "predict", str(tmp_path), "--model", str(pipe))
    else:
        model = tmp_path / "m.pt"
        from sscn_core import SSCN
        from sscn_core.data import make_subspaces

        data = make_subspaces(n_clusters=2, subspace_dim=2, ambient_dim=64, n_per_cluster=20, noise=0.0, seed=0)
        SSCN(n_clusters=2, subspace_dim=2, epochs=2, classifier_epochs=2, image_shape=(8, 8)).fit(data.X).save(model)
        result = run(capsys, "predict", str(pipe), "--model", str(model))
    one_error_line(*result)
    assert "a named pipe (FIFO), not a regular file" in result[2] and result[2].count(str(pipe)) == 1
    with pytest.raises(CheckpointError, match="named pipe"):
        load_checkpoint(pipe)
