"""A registry of the processes a run started, so a killed harness leaves a trail to clean up.

One small file per live child under ``<reports>/.pids/``; ``harness clean`` ends those still
running whose command line matches what was recorded (so a recycled pid is never hit).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path


class PidRegistry:
    """Records child pids with their command lines; entries are removed when a child is ended."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, pid: int, command: list[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{pid}.json").write_text(json.dumps({"pid": pid, "command": command}))

    def remove(self, pid: int) -> None:
        (self.folder / f"{pid}.json").unlink(missing_ok=True)

    def clean(self) -> list[int]:
        """End every recorded process that is still the one we started; returns the pids ended."""
        ended: list[int] = []
        if not self.folder.is_dir():
            return ended
        for entry in sorted(self.folder.glob("*.json")):
            try:
                record = json.loads(entry.read_text())
                pid = int(record["pid"])
                command = [str(part) for part in record["command"]]
            except (OSError, ValueError, KeyError):
                entry.unlink(missing_ok=True)
                continue
            if command_line(pid) == command:
                try:
                    os.kill(pid, signal.SIGKILL)
                    ended.append(pid)
                except ProcessLookupError:
                    pass
            entry.unlink(missing_ok=True)
        return ended


def command_line(pid: int) -> list[str] | None:
    """What /proc shows as the process's command (servers may rewrite theirs, as redis-server does).

    The one reader: what is recorded here and what ``clean`` compares it with must agree.
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part] or None
