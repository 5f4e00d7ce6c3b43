"""A registry of the processes a harness started, so a killed harness leaves a trail to clean up.

Layout: ``<reports>/.pids/<owner pid>-<owner start time>/`` per harness process (the *owner*), with
``owner.json`` (its pid, start time and the run ids it ran) and one ``<pid>.json`` per live child:
its command line, start time, process group, the signal that ends it politely and the shared
memory it maps. ``harness clean`` works owner by owner: it leaves alone a folder whose owner still
runs (a concurrent run's), and for the others ends each recorded process group that is still the one
we started (pid *and* start time *and* command match, so a recycled pid is never hit) and removes
the shared memory a server killed by SIGKILL left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from harness.processes import end_group_by_id, group_members
from harness.proctable import process_info
from harness.shm import SharedMemory, remove_unattached

REGISTRY_FOLDER = ".pids"
"""The registry's folder inside a reports folder (``--out``)."""
OWNER_FILE = "owner.json"
SEARCH_LEVELS = 4  # a cell's file: <out>/<run>/cells/<cell>/load.json


@dataclass(frozen=True)
class Owner:
    """The harness process that recorded a folder, and the runs it ran."""

    pid: int
    started: int | None
    runs: tuple[str, ...]

    def is_alive(self) -> bool:
        info = process_info(self.pid)
        return info is not None and info.started == self.started


@dataclass
class CleanedChildren:
    """What cleaning one registry folder did: processes ended and shared memory removed."""

    ended: list[str]
    removed: list[str]


class PidRegistry:
    """This harness process's record of its children under ``root``; entries go when a child ends."""

    def __init__(self, root: Path, *, folder: Path | None = None) -> None:
        self.root = root
        self.folder = folder or root / f"{os.getpid()}-{_own_start_time() or 0}"

    @classmethod
    def near(cls, path: Path) -> PidRegistry | None:
        """The registry of the reports folder ``path`` lies in (a cell's file), if one was started."""
        for folder in list(path.parents)[:SEARCH_LEVELS]:
            if (folder / REGISTRY_FOLDER).is_dir():
                return cls(folder / REGISTRY_FOLDER)
        return None

    def note_run(self, run_id: str) -> None:
        """Record that this owner runs ``run_id`` (its Docker objects carry that label)."""
        owner = self.owner()
        runs = owner.runs if run_id in owner.runs else (*owner.runs, run_id)
        self._write_owner(runs)

    def owner(self) -> Owner:
        return read_owner(self.folder) or Owner(os.getpid(), _own_start_time(), ())

    def add(
        self,
        pid: int,
        command: list[str],
        *,
        stop_signal: signal.Signals = signal.SIGTERM,
        shared_memory: SharedMemory | None = None,
    ) -> None:
        """Record a child started in its own session (its pid is its process group)."""
        if not (self.folder / OWNER_FILE).exists():
            self._write_owner(())
        info = process_info(pid)
        record = {
            "pid": pid,
            "command": command,
            "started": info.started if info else None,
            "group": pid,
            "stop_signal": int(stop_signal),
            "shared_memory": (shared_memory or SharedMemory()).to_json(),
        }
        (self.folder / f"{pid}.json").write_text(json.dumps(record))

    def remove(self, pid: int) -> None:
        (self.folder / f"{pid}.json").unlink(missing_ok=True)

    def pids(self) -> list[int]:
        """The pids recorded (children not ended yet, or left by a killed harness)."""
        return sorted(int(entry.stem) for entry in self.folder.glob("*.json") if entry.name != OWNER_FILE)

    def clean(self) -> list[int]:
        """End every recorded process that is still the one we started; returns the pids ended."""
        ended: list[int] = []
        clean_folder(self.folder, ended_pids=ended)
        return ended

    def close(self) -> list[int]:
        """At the end of a run: end anything still recorded (nothing, normally) and remove this owner's
        folder, so ``harness clean`` has nothing to look at; returns the pids it had to end."""
        ended = self.clean()
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.root.rmdir()  # only if no other owner is recorded
        return ended

    def _write_owner(self, runs: tuple[str, ...]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"pid": os.getpid(), "started": _own_start_time(), "runs": list(runs)}
        (self.folder / OWNER_FILE).write_text(json.dumps(record))


def read_owner(folder: Path) -> Owner | None:
    try:
        record = json.loads((folder / OWNER_FILE).read_text())
        return Owner(int(record["pid"]), record.get("started"), tuple(str(r) for r in record["runs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def owner_folders(root: Path) -> list[Path]:
    """Every owner's folder under a registry root (a root of an older layout counts as one)."""
    if not root.is_dir():
        return []
    folders = sorted(path for path in root.iterdir() if path.is_dir())
    return [root, *folders] if any(root.glob("*.json")) else folders


@dataclass(frozen=True)
class RecordedChild:
    """One ``<pid>.json`` entry. ``started`` and ``group`` are None in entries of the older layout."""

    pid: int
    command: list[str]
    started: int | None
    group: int | None
    stop_signal: signal.Signals
    shared_memory: SharedMemory

    @classmethod
    def read(cls, entry: Path) -> RecordedChild | None:
        try:
            record = json.loads(entry.read_text())
            return cls(
                pid=int(record["pid"]),
                command=[str(part) for part in record["command"]],
                started=None if record.get("started") is None else int(record["started"]),
                group=None if record.get("group") is None else int(record["group"]),
                stop_signal=signal.Signals(int(record.get("stop_signal", signal.SIGKILL))),
                shared_memory=SharedMemory.from_json(record.get("shared_memory")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def end_if_ours(self) -> bool:
        """End the recorded process group if it is still the one we started; whether anything was."""
        info = process_info(self.pid)
        if info is None:
            # the leader is gone, so its pid (the group's id) cannot be reused while members remain
            if self.group == self.pid and group_members(self.pid):
                end_group_by_id(self.pid, signal.SIGKILL)
                return True
            return False
        if command_line(self.pid) != self.command or self.started not in (None, info.started):
            return False  # the pid now belongs to another process
        if self.group == self.pid == info.group:
            end_group_by_id(self.pid, self.stop_signal)
        else:  # an entry of the older layout: the pid alone
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        return True


def clean_folder(folder: Path, ended_pids: list[int] | None = None) -> CleanedChildren:
    """End what one folder records (its owner is gone, or it is our own) and remove the entries."""
    cleaned = CleanedChildren([], [])
    for entry in sorted(folder.glob("*.json")):
        if entry.name == OWNER_FILE:
            continue
        child = RecordedChild.read(entry)
        if child is not None and child.end_if_ours():
            cleaned.ended.append(f"pid {child.pid} ({' '.join(child.command)[:120]})")
            if ended_pids is not None:
                ended_pids.append(child.pid)
        if child is not None:
            cleaned.removed += remove_unattached(child.shared_memory)
        entry.unlink(missing_ok=True)
    return cleaned


def _own_start_time() -> int | None:
    info = process_info(os.getpid())
    return None if info is None else info.started


def command_line(pid: int) -> list[str] | None:
    """What /proc shows as the process's command (servers may rewrite theirs, as redis-server does).

    The one reader: what is recorded here and what ``clean`` compares it with must agree.
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part] or None
