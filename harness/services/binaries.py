"""Finding a store's programs, and naming the Debian package to install when one is missing.

Debian puts some of them off ``PATH`` (Postgres under ``/usr/lib/postgresql/<version>/bin``,
RabbitMQ's tools under ``/usr/sbin``), so the lookup adds those places. Tests point it at an empty
folder to see the error a machine without the package would give.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

POSTGRES_ROOT = Path("/usr/lib/postgresql")
SYSTEM_DIRS = (Path("/usr/sbin"), Path("/sbin"), Path("/usr/local/sbin"))


class MissingBinary(Exception):
    """A program is not installed; ``str()`` says which and the package that provides it."""

    def __init__(self, program: str, package: str) -> None:
        self.program = program
        self.package = package
        super().__init__(f"{program} not found: install the Debian package {package}")


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in folder.name.split(".") if part.isdigit())


def postgres_bin_dirs(root: Path = POSTGRES_ROOT) -> list[Path]:
    """``/usr/lib/postgresql/<version>/bin``, newest version first, whichever versions exist."""
    if not root.is_dir():
        return []
    versions = sorted((p for p in root.iterdir() if _version_key(p)), key=_version_key, reverse=True)
    return [version / "bin" for version in versions]


@dataclass(frozen=True)
class BinaryLookup:
    """Where programs are looked for: ``dirs`` only if given, else PATH plus Debian's places."""

    dirs: tuple[Path, ...] | None = None

    def search_path(self, extra: Sequence[Path] = ()) -> list[Path]:
        if self.dirs is not None:
            return list(self.dirs)
        on_path = [Path(part) for part in os.environ.get("PATH", "").split(os.pathsep) if part]
        return [*extra, *on_path, *SYSTEM_DIRS]

    def find(self, program: str, package: str, extra: Sequence[Path] = ()) -> Path:
        """The program's path, or MissingBinary naming the package that provides it."""
        path = os.pathsep.join(str(folder) for folder in self.search_path(extra))
        found = shutil.which(program, path=path) if path else None
        if found is None:
            raise MissingBinary(program, package)
        return Path(found)

    def missing(self, programs: Sequence[str], package: str, extra: Sequence[Path] = ()) -> str | None:
        """None if every program is found, else the message for the first that is not."""
        for program in programs:
            try:
                self.find(program, package, extra)
            except MissingBinary as error:
                return str(error)
        return None
