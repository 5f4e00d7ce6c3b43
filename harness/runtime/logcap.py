"""A target's log with a size cap: the tail is kept, the disk is not filled.

A chatty target writes hundreds of megabytes a second; the harness keeps its output as evidence, but
only the most recent part matters (why it crashed, what it said last). When ``target.log`` would pass
the cap it becomes ``target.log.1`` (replacing an older one) and a fresh ``target.log`` is started, so
at most twice the cap is on disk and at least the last ``cap`` bytes are always kept.

The child writes into a pipe that :func:`pump` copies into the capped log on a thread, so the cap
holds whatever the child does; a child faster than the disk is slowed by the pipe, never buffered.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO

DEFAULT_CAP_BYTES = 10 * 1024 * 1024
READ_CHUNK = 64 * 1024
PUMP_JOIN_S = 2.0


def rotated_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.1")


class CappedLog:
    """An append-only log file that rotates once to ``<name>.1`` when it would pass ``cap_bytes``."""

    def __init__(self, path: Path, cap_bytes: int = DEFAULT_CAP_BYTES) -> None:
        self.path = path
        self.cap_bytes = cap_bytes
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = path.open("ab")
        self._size = self._file.tell()

    def write(self, data: bytes) -> None:
        """Append ``data``, rotating first if it would pass the cap; a no-op once closed."""
        with self._lock:
            if self._file is None:
                return
            if len(data) > self.cap_bytes:
                data = data[-self.cap_bytes :]  # more than the cap at once: only its tail is kept
            if self._size + len(data) > self.cap_bytes and self._size > 0:
                self._rotate()
            assert self._file is not None
            self._file.write(data)
            self._file.flush()
            self._size += len(data)

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self.path.replace(rotated_path(self.path))
        self._file = self.path.open("ab")
        self._size = 0

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def pump(stream: IO[bytes], log: CappedLog) -> threading.Thread:
    """Copy ``stream`` (a child's stdout) into ``log`` on a daemon thread until the stream ends."""

    def copy() -> None:
        with stream:
            while chunk := os.read(stream.fileno(), READ_CHUNK):
                log.write(chunk)

    thread = threading.Thread(target=copy, name=f"log-pump-{log.path.name}", daemon=True)
    thread.start()
    return thread
