"""Shared memory a store server holds, recorded while it runs and removed if it dies by SIGKILL.

A server ended normally removes its own shared memory. One killed by SIGKILL (the OOM killer, a
``kill -9`` of the whole tree) leaves it: PostgreSQL's System V segment and its ``/dev/shm``
dynamic segments stay until reboot. What a server maps is read from ``/proc/<pid>/maps`` once it is
ready (``/SYSV<key> (deleted)`` for a System V segment, ``/dev/shm/<name>`` for POSIX shared
memory), recorded in the pid registry, and removed by ``harness clean`` only when nothing is
attached to it any more.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
SYSV_TABLE = PROC / "sysvipc" / "shm"
SHM_FOLDER = Path("/dev/shm")
IPC_RMID = 0
_SYSV_MAPPING = re.compile(r"/SYSV([0-9a-f]{8})\b")


@dataclass(frozen=True)
class SysvSegment:
    key: int
    shmid: int


@dataclass(frozen=True)
class SharedMemory:
    """What a server maps: System V segments (key and id) and POSIX shared memory files."""

    segments: tuple[SysvSegment, ...] = ()
    files: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"sysv": [[s.key, s.shmid] for s in self.segments], "files": list(self.files)}

    @classmethod
    def from_json(cls, data: object) -> SharedMemory:
        if not isinstance(data, dict):
            return cls()
        segments = tuple(SysvSegment(int(key), int(shmid)) for key, shmid in data.get("sysv", []))
        return cls(segments, tuple(str(name) for name in data.get("files", [])))

    def __bool__(self) -> bool:
        return bool(self.segments or self.files)


@dataclass(frozen=True)
class _SegmentRow:
    key: int
    shmid: int
    attached: int


def mapped_by(pids: Iterable[int]) -> SharedMemory:
    """The shared memory the processes ``pids`` have mapped right now (unreadable ones are skipped)."""
    keys: set[int] = set()
    files: set[str] = set()
    for pid in pids:
        try:
            maps = (PROC / str(pid) / "maps").read_text()
        except OSError:
            continue
        for line in maps.splitlines():
            parts = line.split(maxsplit=5)
            path = parts[5] if len(parts) == 6 else ""
            if (match := _SYSV_MAPPING.match(path)) is not None:
                keys.add(int(match.group(1), 16))
            elif path.startswith(f"{SHM_FOLDER}/"):
                files.add(path.removesuffix(" (deleted)"))
    rows = {row.key: row for row in _sysv_table() if row.key in keys}
    segments = tuple(SysvSegment(key, rows[key].shmid) for key in sorted(rows))
    return SharedMemory(segments, tuple(sorted(files)))


def remove_unattached(memory: SharedMemory) -> list[str]:
    """Remove what ``memory`` lists that still exists and that no process has attached; what was removed."""
    removed: list[str] = []
    rows = {row.shmid: row for row in _sysv_table()}
    for segment in memory.segments:
        row = rows.get(segment.shmid)
        if row is not None and row.key == segment.key and row.attached == 0 and _remove_segment(row.shmid):
            removed.append(f"System V shared memory segment {row.shmid} (key {row.key:#010x})")
    for name in memory.files:
        path = Path(name)
        if path.parent != SHM_FOLDER or not path.exists() or _mapped_anywhere(path):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(str(path))
    return removed


def _sysv_table() -> list[_SegmentRow]:
    try:
        lines = SYSV_TABLE.read_text().splitlines()[1:]
    except OSError:
        return []
    rows: list[_SegmentRow] = []
    for line in lines:
        fields = line.split()
        with contextlib.suppress(IndexError, ValueError):
            rows.append(_SegmentRow(int(fields[0]), int(fields[1]), int(fields[6])))
    return rows


def _remove_segment(shmid: int) -> bool:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return int(libc.shmctl(ctypes.c_int(shmid), ctypes.c_int(IPC_RMID), None)) == 0


def _mapped_anywhere(path: Path) -> bool:
    """Whether any process still maps ``path`` (a live server's segment is never removed)."""
    needle = str(path)
    for maps in PROC.glob("[0-9]*/maps"):
        try:
            if needle in maps.read_text():
                return True
        except OSError:
            continue
    return False
