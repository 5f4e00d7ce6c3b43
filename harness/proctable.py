"""The process table, read from /proc: which processes a server forked, and ending those left over.

A server's helpers are not always in its process group (each Postgres backend calls ``setsid``),
so "everything this server started" is its descendants by parent pid plus its group. Each pid is
kept with its start time, so a pid recycled by an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
POLL_S = 0.02
GONE_TIMEOUT_S = 3.0
STAT_BYTES = 4096
"""More than a ``/proc/<pid>/stat`` line holds (its command name is at most 64 bytes)."""


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    parent: int
    group: int
    started: int  # clock ticks since boot: tells a recycled pid apart
    zombie: bool


def _read(pid: int | str) -> ProcessInfo | None:
    try:
        fd = os.open(f"{PROC}/{pid}/stat", os.O_RDONLY)
        try:
            text = os.read(fd, STAT_BYTES)
        finally:
            os.close(fd)
        fields = text.rsplit(b")", 1)[1].split()
        return ProcessInfo(
            int(pid), int(fields[1]), int(fields[2]), int(fields[19]), fields[0] == b"Z"
        )
    except (OSError, IndexError, ValueError):
        return None


def process_info(pid: int) -> ProcessInfo | None:
    """One live (not zombie) process, or None: its start time tells whether a pid was recycled."""
    info = _read(pid)
    return None if info is None or info.zombie else info


def process_table() -> dict[int, ProcessInfo]:
    """Every process of the machine. Read with ``os`` calls, not ``Path.glob`` and ``read_text``: on a
    machine shared by several runs a table holds hundreds of processes, and a wait for a killed group
    to be gone reads it every 20 ms (a third as much CPU this way)."""
    table: dict[int, ProcessInfo] = {}
    with os.scandir(PROC) as entries:
        for entry in entries:
            if entry.name.isdigit() and (info := _read(entry.name)) is not None:
                table[info.pid] = info
    return table


def family(root: int) -> dict[int, int]:
    """Live pids of ``root``, its descendants and its process group → their start times."""
    table = process_table()
    members = {pid for pid, info in table.items() if info.group == root} | ({root} & table.keys())
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.parent, []).append(info.pid)
    pending = list(members)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in members:
                members.add(child)
                pending.append(child)
    return {pid: table[pid].started for pid in sorted(members) if not table[pid].zombie}



def snapshot(pids: Iterable[int]) -> dict[int, int]:
    """Live pids → start times, to check later with ``still_alive`` that they are gone."""
    table = process_table()
    return {pid: table[pid].started for pid in sorted(pids) if pid in table and not table[pid].zombie}


def still_alive(snapshot: Mapping[int, int]) -> list[int]:
    """The pids of a ``family`` snapshot that still run as the same processes."""
    alive: list[int] = []
    for pid, started in snapshot.items():
        info = _read(pid)
        if info is not None and info.started == started and not info.zombie:
            alive.append(pid)
    return alive


def wait_gone(snapshot: Mapping[int, int], timeout_s: float = GONE_TIMEOUT_S) -> list[int]:
    """Wait, bounded, until a snapshot's processes are gone; those still there (stuck in the kernel)."""
    deadline = time.monotonic() + timeout_s
    while (alive := still_alive(snapshot)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return alive


def kill_leftovers(snapshot: Mapping[int, int], timeout_s: float = GONE_TIMEOUT_S) -> list[int]:
    """SIGKILL every process of a snapshot still alive (helpers orphaned by their server's end),
    and wait until they are gone so a caller may check right after; returns any still there."""
    for pid in still_alive(snapshot):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return wait_gone(snapshot, timeout_s)
