"""Checkpoint files: one file holding weights, configuration and metadata.

A checkpoint is a ``torch.save`` of a plain dict (tensors, strings, numbers) and is read back with
``torch.load(..., weights_only=True)``, so opening a file never executes pickled code. Writes are
atomic: the file is written beside its destination, flushed to disk and renamed over it.

Since format version 2 every file carries a SHA-256 of its content (kind, configuration, metadata
and every tensor's name, dtype, shape and bytes), checked on load: a flipped bit in the weights is
refused instead of silently changing predictions. Version-1 files (written before the hash
existed) still load, unverified; saving them again adds the hash.

A file is untrusted input, even with a matching hash (anyone can compute one). ``load_checkpoint``
refuses tensors that are not dense real numbers (sscn_core writes none other) and floating weights that
are not finite once cast to float32, the dtype the networks compute in; the configuration and the
metadata must be JSON objects, and whoever reads a field checks its value first
(:func:`json_problem`, :func:`check_json`). Every refusal is a :class:`CheckpointError` of one line.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .atomic import file_kind, probe_folder, write_atomically

FORMAT = "sscn-checkpoint"
FORMAT_VERSION = 2
HASHED_SINCE_VERSION = 2
ZIP_MAGIC = b"PK\x03\x04"   # torch.save writes a zip archive
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
NETWORK_DTYPE = torch.float32   # what sscn_core's networks compute in: weights must be finite once cast to it
# The dtypes a checkpoint's tensors may have: real numbers (sscn_core writes float32 weights and int64 labels).
TENSOR_DTYPES = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8, torch.int8,
                           torch.int16, torch.int32, torch.int64, torch.bool})


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, of another kind or from an incompatible version, or
    cannot be written where it was asked to go."""


@dataclass
class Checkpoint:
    """The parts of a checkpoint file."""

    kind: str
    state: dict[str, torch.Tensor]
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def tensor_bytes(self) -> int:
        """Bytes of all the tensors in ``state``."""
        return sum(t.numel() * t.element_size() for t in self.state.values())


def content_hash(kind: str, config_json: str, meta_json: str, state: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a checkpoint's content: kind, configuration, metadata and every tensor."""
    digest = hashlib.sha256()
    for text in (kind, config_json, meta_json):
        digest.update(len(text).to_bytes(8, "little") + text.encode("utf-8"))
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        header = json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode("utf-8")
        digest.update(len(header).to_bytes(8, "little") + header)
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _reason(exc: OSError) -> str:
    """An OSError's reason without the file names it may carry (a temporary file's, say)."""
    return exc.strerror or " ".join(str(exc).split()) or type(exc).__name__


def _stat(path: Path, name: str, shown: str) -> os.stat_result | None:
    """``path``'s status (links followed), None when nothing is there."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CheckpointError(f"{name} {shown} cannot be examined ({_reason(exc)})") from None


def _input_items(inputs: Mapping[str, str | os.PathLike | None] | Iterable[str | os.PathLike | None]
                 ) -> list[tuple[str, Path]]:
    """``inputs`` as (how messages call it, path) pairs: "--data 'x.npz'", or "'x.npz'" without a label."""
    items = inputs.items() if isinstance(inputs, Mapping) else (("", p) for p in inputs)
    return [(f"{label} {os.fsdecode(os.fspath(p))!r}".lstrip(), Path(os.path.expanduser(p)))
            for label, p in items if p is not None and os.fspath(p) != ""]


def check_output_path(path: str | os.PathLike, *,
                      inputs: Mapping[str, str | os.PathLike | None] | Iterable[str | os.PathLike | None] = (),
                      force: bool = False, protected: str | os.PathLike | None = None, name: str = "output file",
                      probe: bool = True) -> Path:
    """The file to write for the output path ``path``, or a refusal: the one rule for outputs.

    A missing file (missing parent folders are made when writing) or an existing regular file is
    accepted; a link is followed, so that its file is the one replaced. Refused with a
    :class:`CheckpointError` whose one-line message names ``path`` as given (never a temporary file):
    an empty path; a folder (or a path ending in a slash), device, named pipe or socket (as root,
    replacing ``/dev/null`` would break the machine); any of ``inputs`` (the same file, however reached: links, hard links,
    ``..``) or a file inside an input folder; a file under ``protected`` (resolved) unless ``force``;
    a file or folder without write permission; and, with ``probe``, a folder in which no file can be
    created (tried with an empty file, then removed: a read-only disk, /proc...).

    Parameters
    ----------
    path : str or os.PathLike
        The output path as the user gave it.
    inputs : mapping of str to path, or iterable of paths, optional
        The paths the same command reads, by label (e.g. ``{"--data": "x.npz"}``); None and
        empty entries are skipped.
    force : bool, default False
        Allow replacing an existing file under ``protected``.
    protected : str or os.PathLike, optional
        A folder whose existing files are replaced only with ``force`` (the bundled assets).
    name : str, default "output file"
        How messages call the path (the CLI: ``"--out"``).
    probe : bool, default True
        Also create and remove an empty file in the destination's folder, so that a folder that
        cannot be written is found before any work.

    Returns
    -------
    Path
        The file to write: ``path`` with ``~`` expanded, or the file a link points to.

    Raises
    ------
    CheckpointError
        With a one-line message naming ``path`` and what to do instead.
    """
    text = os.fsdecode(os.fspath(path))
    if not text:
        raise CheckpointError(f"{name}: an empty path was given; name the file to write")
    if "\0" in text:
        raise CheckpointError(f"{name} {text!r}: a path cannot contain a NUL character")
    target, shown = Path(os.path.expanduser(text)), repr(text)   # (Path.expanduser fails on an unknown ~user)
    if text.endswith(os.sep):      # Path drops the slash: "models/" would become a file named models
        raise CheckpointError(f"{name} {shown} names a folder; give a file name such as {str(target / 'model.pt')!r}")
    status = _stat(target, name, shown)
    regular = status is not None and stat.S_ISREG(status.st_mode)
    if regular and not force and protected is not None and target.resolve().is_relative_to(Path(protected).resolve()):
        raise CheckpointError(f"{target.name} is a file bundled with sscn_core (in its {Path(protected).name}/ folder) "
                              f"that other commands need; give {name} another file, or --force to replace it")
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise CheckpointError(f"{name} {shown} is a folder; give a file name such as {str(target / 'model.pt')!r}")
    if status is not None and not regular:
        verb = "links to" if target.is_symlink() else "is"
        raise CheckpointError(f"{name} {shown} {verb} {file_kind(status.st_mode)}, not a regular file; "
                              f"give the name of a file to write")
    if regular:
        for source_text, source in _input_items(inputs):
            try:
                same = os.path.samefile(target, source)
            except (OSError, ValueError):
                same = False
            if same:
                raise CheckpointError(f"{name} {shown} is the same file as the input {source_text}; "
                                      f"writing it would replace what is read: give another file name")
            if source.is_dir() and target.resolve().is_relative_to(source.resolve()):
                raise CheckpointError(f"{name} {shown} is a file in the input folder {source_text}; "
                                      f"give a file outside it")
        if not os.access(target, os.W_OK):
            raise CheckpointError(f"{name} {shown} exists and is not writable")
    dest = Path(os.path.realpath(target)) if target.is_symlink() else target
    parent = dest.parent
    while _stat(parent, name, shown) is None and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise CheckpointError(f"{name} {shown}: {str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CheckpointError(f"{name} {shown}: the folder {str(parent)!r} is not writable")
    if probe:
        try:
            probe_folder(parent)
        except OSError as exc:
            raise CheckpointError(f"{name} {shown} cannot be written: no file can be created in {str(parent)!r} "
                                  f"({_reason(exc)})") from None
    return dest


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; a link is followed (its file is replaced). Refused as
        :func:`check_output_path` refuses: a folder, device, named pipe or socket is never replaced.
    checkpoint : Checkpoint
        What to write.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    CheckpointError
        When the path is refused, or the write fails (a full disk, a read-only file system, no
        permission...): the message names ``path`` only, an existing file there is unchanged and
        no temporary file is left behind.
    """
    dest = check_output_path(path, probe=False)
    existed = dest.is_file()
    state = {k: v.detach().cpu().contiguous() for k, v in checkpoint.state.items()}
    config_json, meta_json = json.dumps(checkpoint.config), json.dumps(checkpoint.meta)
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": checkpoint.kind,
        "config_json": config_json,
        "meta_json": meta_json,
        "state": state,
        "sha256": content_hash(checkpoint.kind, config_json, meta_json, state),
    }
    try:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        write_atomically(dest, buffer.getvalue())
    except OSError as exc:
        kept = "the existing file is unchanged" if existed else "nothing was written"
        raise CheckpointError(f"could not write {os.fsdecode(os.fspath(path))!r}: {_reason(exc)}; {kept}") from exc
    return dest


def load_checkpoint(path: str | os.PathLike, expected_kind: str | None = None) -> Checkpoint:
    """Read a checkpoint safely.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    expected_kind : str, optional
        The kind the file must hold ("sscn", "autoencoder").

    Returns
    -------
    Checkpoint
        Its weights, with every floating tensor finite once cast to float32 (the dtype of sscn_core's
        networks), and its configuration and metadata, both JSON objects.

    Raises
    ------
    CheckpointError
        With one plain line, when the file is missing, too large, corrupt, holds anything but
        tensors and plain values, is of another kind or a newer version, or when its weights are
        not real numbers or not finite.
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise CheckpointError(f"checkpoint {str(path)!r} is {file_kind(path.stat().st_mode)}, not a regular file")
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"checkpoint {path.name!r} is empty")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint {path.name!r} is {size / 2**20:.0f} MiB; the limit is "
                              f"{MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB")
    unreadable = (f"{path.name!r} is not a readable SSCN checkpoint (corrupt, truncated, or not written by "
                  f"sscn_core)")
    with path.open("rb") as fh:
        if fh.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
            raise CheckpointError(f"{unreadable}: it does not start like a torch file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        what = f" (it refers to {found.group(1)})" if found else ""
        raise CheckpointError(f"{path.name!r} holds pickled Python objects other than tensors and plain values{what}; "
                              f"it is refused for safety: only checkpoints written by sscn_core are loaded") from exc
    except Exception as exc:   # a damaged archive can make the unpickler fail in any way (even IndexError)
        raise CheckpointError(f"{unreadable}: {_one_line(exc)}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name!r} is a torch file but not an SSCN checkpoint")
    version = payload.get("version")
    if type(version) is not int or version < 1:
        raise CheckpointError(f"{path.name!r} is damaged: its checkpoint format version is {_short(version)}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path.name!r} has checkpoint format version {version}; this sscn_core reads "
                              f"versions up to {FORMAT_VERSION}: upgrade sscn_core")
    kind = payload.get("kind")
    if not isinstance(kind, str):
        raise CheckpointError(f"{path.name!r} is damaged: its kind is {_short(kind)}, not a name")
    if expected_kind is not None and kind != expected_kind:
        raise CheckpointError(f"{path.name!r} holds a {_short(kind)} checkpoint, expected {expected_kind!r}")
    state = _checked_state(payload.get("state"), path.name)
    config_json, meta_json = payload.get("config_json"), payload.get("meta_json")
    if not isinstance(config_json, str) or not isinstance(meta_json, str):
        raise CheckpointError(f"{path.name!r} has a damaged configuration block")
    if version >= HASHED_SINCE_VERSION and payload.get("sha256") != content_hash(kind, config_json, meta_json, state):
        raise CheckpointError(f"{path.name!r} is corrupt: its content does not match the SHA-256 stored when it "
                              f"was saved (a changed byte in the weights or settings)")
    bad = next((name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(
        t.to(NETWORK_DTYPE)).all())), None)
    if bad is not None:
        raise CheckpointError(f"{path.name!r} is unusable: the weights contain NaN or infinite values (in "
                              f"{_label(bad)}, as {NETWORK_DTYPE}), so the training that wrote it diverged; train it "
                              f"again with a smaller learning rate")
    config = _json_object(config_json, "configuration", path.name)
    meta = _json_object(meta_json, "metadata", path.name)
    return Checkpoint(kind=kind, state=state, config=config, meta=meta)


def _checked_state(state: Any, name: str) -> dict[str, torch.Tensor]:
    """A payload's ``state``: a dict of named dense tensors of real dtypes; CheckpointError otherwise."""
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise CheckpointError(f"{name!r} has no valid weights")
    for key, tensor in state.items():
        if tensor.layout != torch.strided:
            raise CheckpointError(f"{name!r} holds a {str(tensor.layout).removeprefix('torch.')} tensor "
                                  f"({_label(key)}); sscn_core writes dense tensors only: the file was not written "
                                  f"by sscn_core")
        if tensor.dtype not in TENSOR_DTYPES:
            raise CheckpointError(f"{name!r} holds a tensor of type {tensor.dtype} ({_label(key)}); sscn_core writes "
                                  f"real numbers only: the file was not written by sscn_core")
    return state


def _json_object(text: str, what: str, name: str) -> dict[str, Any]:
    """The JSON object ``text`` (a checkpoint's configuration or metadata); CheckpointError when it is not one."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{name!r} has a damaged {what} block: {_one_line(exc)}") from exc
    if not isinstance(value, dict):
        raise CheckpointError(f"{name!r} has a damaged {what} block: it holds {json_kind(value)}, not an object")
    return value


# ---------------------------------------------------------------------------- the shapes of JSON values
# A checkpoint's configuration and metadata are untrusted input: before a field is used, its value is
# checked against a spec. A spec is a scalar type — ``bool``, ``int`` (not a bool), ``float`` (any
# number but a bool), ``str``, ``None``, ``dict`` (any object), ``list`` (any array) or ``object``
# (anything) —, a tuple of specs (any of them), or one of the classes below. Integers as large as the file
# says are left to the reader's size checks.
@dataclass(frozen=True)
class Record:
    """A JSON object whose listed ``fields``, where present, match their specs; the ``required`` ones must be
    present. Other keys are allowed (a newer file may hold more)."""

    fields: dict[str, Any]
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entries:
    """A JSON object whose values all match ``spec``."""

    spec: Any


@dataclass(frozen=True)
class Items:
    """A JSON array whose items all match ``spec`` (and that has ``length`` items, when given)."""

    spec: Any
    length: int | None = None


@dataclass(frozen=True)
class Where:
    """A value of ``spec`` for which ``test`` holds; ``what`` says so in words ("a number > 0")."""

    spec: Any
    test: Callable[[Any], bool]
    what: str


@dataclass(frozen=True)
class Check:
    """A value of ``spec`` that ``problem`` finds nothing wrong with: it returns what is wrong in words, said
    after the field's name ("has no 'latent_dim', which …"), or None."""

    spec: Any
    problem: Callable[[Any], str | None]


def json_kind(value: Any) -> str:
    """What a JSON value is, in words ("an object", "the string 'abc'", "the number 3")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {_short(value)}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, (list, tuple)):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def json_problem(value: Any, spec: Any, where: str) -> str | None:
    """What is wrong with the JSON ``value`` for ``spec`` (see the classes above), naming the field
    ``where``; None when it matches."""
    if isinstance(spec, tuple):
        if any(json_problem(value, option, where) is None for option in spec):
            return None
        fits = [option for option in spec if _matches_type(value, option)]
        if len(fits) == 1:     # the right kind of value, wrong inside: say what is wrong inside
            return json_problem(value, fits[0], where)
        return f"{where} is {json_kind(value)}, expected {_describe(spec)}"
    if not _matches_type(value, spec):
        return f"{where} is {json_kind(value)}, expected {_describe(spec)}"
    if isinstance(spec, Record):
        missing = next((key for key in spec.required if key not in value), None)
        if missing is not None:
            return f"{where} has no {missing!r}"
        return next((found for key, inner in spec.fields.items() if key in value
                     if (found := json_problem(value[key], inner, f"{where}[{key!r}]")) is not None), None)
    if isinstance(spec, Entries):
        return next((found for key, item in value.items()
                     if (found := json_problem(item, spec.spec, f"{where}[{_short(key)}]")) is not None), None)
    if isinstance(spec, Items):
        if spec.length is not None and len(value) != spec.length:
            return f"{where} has {len(value)} items, expected {spec.length}"
        return next((found for i, item in enumerate(value)
                     if (found := json_problem(item, spec.spec, f"{where}[{i}]")) is not None), None)
    if isinstance(spec, Check):
        inner = json_problem(value, spec.spec, where)
        found = spec.problem(value) if inner is None else None
        return inner if inner is not None else None if found is None else f"{where} {found}"
    if isinstance(spec, Where):
        inner = json_problem(value, spec.spec, where)
        if inner is not None:
            return inner
        try:
            ok = bool(spec.test(value))
        except (TypeError, ValueError, OverflowError):
            ok = False
        return None if ok else f"{where} is {json_kind(value)}, expected {spec.what}"
    return None


def check_json(value: Any, spec: Any, where: str) -> None:
    """Raise CheckpointError with :func:`json_problem`'s line when the JSON ``value`` does not match ``spec``."""
    problem = json_problem(value, spec, where)
    if problem is not None:
        raise CheckpointError(problem)


def _matches_type(value: Any, spec: Any) -> bool:
    """Whether ``value`` is of the JSON type of ``spec`` (its outer type only)."""
    if spec is object:
        return True
    if spec is None:
        return value is None
    if spec is bool:
        return isinstance(value, bool)
    if spec is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if spec is str:
        return isinstance(value, str)
    if spec is dict or isinstance(spec, (Record, Entries)):
        return isinstance(value, dict)
    if spec is list or isinstance(spec, Items):
        return isinstance(value, list)
    if isinstance(spec, (Where, Check)):
        return _matches_type(value, spec.spec)
    if isinstance(spec, tuple):
        return any(_matches_type(value, option) for option in spec)
    raise TypeError(f"not a JSON spec: {spec!r}")


_TYPE_WORDS = {object: "a value", None: "null", bool: "true or false", int: "an integer", float: "a number",
               str: "a string", dict: "an object", list: "an array"}


def _describe(spec: Any) -> str:
    """A spec in words."""
    if isinstance(spec, tuple):
        return " or ".join(_describe(option) for option in spec)
    if isinstance(spec, Check):
        return _describe(spec.spec)
    if isinstance(spec, Where):   # of a container: its test is about what it holds, said where it fails
        return _describe(spec.spec) if isinstance(spec.spec, (Record, Entries, Items)) else spec.what
    if isinstance(spec, Items):
        return "an array"
    if isinstance(spec, (Record, Entries)):
        return "an object"
    return _TYPE_WORDS[spec]


def _label(name: str) -> str:
    """A name from a file as it is when short and printable, else :func:`_short`'s quoted cut."""
    return name if name.isprintable() and 0 < len(name) <= 60 else _short(name)


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` on one line, cut to about ``limit`` characters (values from files can be anything)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")   # terminal colour and bold codes
MAX_MESSAGE = 300


def _one_line(exc: BaseException) -> str:
    """An exception's message for people: one line, terminal codes removed, at most about
    MAX_MESSAGE characters, cut after a whole sentence (or a whole word when the first is longer)."""
    text = " ".join(_ANSI.sub("", str(exc)).split()) or type(exc).__name__
    if len(text) <= MAX_MESSAGE:
        return text
    end = text.rfind(". ", 0, MAX_MESSAGE)
    if end > 0:
        return text[:end + 1]
    cut = text.rfind(" ", 0, MAX_MESSAGE - 1)
    return text[:cut if cut > 0 else MAX_MESSAGE - 1].rstrip(" ,;:") + "…"
