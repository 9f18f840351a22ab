"""Messages between the app and the worker processes it starts: length-prefixed pickles on pipes.

Only used between the app and a worker process it started itself (trusted both ways).
"""
from __future__ import annotations

import pickle
from typing import BinaryIO


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def frame(message: object) -> bytes:
    """One message as the bytes :func:`send` writes: its pickle's length, then the pickle."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(8, "little") + payload


def send(stream: BinaryIO, message: object) -> None:
    """Write one length-prefixed pickled message."""
    stream.write(frame(message))
    stream.flush()


def receive(stream: BinaryIO) -> object | None:
    """Read one message written by :func:`send`; None at end of stream."""
    header = _read_exactly(stream, 8)
    if header is None:
        return None
    payload = _read_exactly(stream, int.from_bytes(header, "little"))
    return None if payload is None else pickle.loads(payload)
