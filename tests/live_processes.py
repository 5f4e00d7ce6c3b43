"""Finding the processes a test started, by what their command line names."""

from __future__ import annotations

from pathlib import Path


def driver_processes(config_path: Path) -> list[int]:
    """Live processes whose command line names this config (the driver we started, if still there)."""
    marker = str(config_path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
