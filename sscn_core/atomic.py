"""Atomic file writes, shared by checkpoints (:mod:`sscn_core.checkpoint`) and downloads
(:mod:`sscn_core.data.bundled`).

A file is written beside its destination under a hidden temporary name, flushed to disk and
renamed over the destination, so a reader sees the old file or the new one, never half of one.
On any failure the temporary file is removed and the destination is left as it was. No torch here.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"
_NAME_KEPT = 64     # characters of the destination's name kept in the temporary name (NAME_MAX is 255)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words ("a named pipe (FIFO)", …), from its ``st_mode``."""
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device (like /dev/null)"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _temp_prefix(path: Path) -> str:
    return f".{path.name[:_NAME_KEPT]}."


def write_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, creating missing parent folders.

    Parameters
    ----------
    path : str or os.PathLike
        The destination file. An existing file there is replaced only once the new content is
        entirely on disk.
    data : bytes
        The file's new content.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        When the folder cannot be made, or the file cannot be written, synced or renamed (a full
        disk, a read-only file system, no permission...). The destination is then unchanged and
        no temporary file is left behind. The error may name the temporary file: callers that
        show it to people should use its ``strerror`` and their own path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fh.fileno(), 0o666 & ~umask)   # mkstemp makes the file private; give it normal permissions
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return path


def probe_folder(folder: str | os.PathLike) -> None:
    """Check that a file can be created in ``folder`` by creating and removing an empty one.

    Raises
    ------
    OSError
        When it cannot (no permission, a read-only or special file system such as /proc...).
    """
    fd, tmp_name = tempfile.mkstemp(prefix=".sscn-probe.", suffix=TEMP_SUFFIX, dir=folder)
    os.close(fd)
    os.unlink(tmp_name)
