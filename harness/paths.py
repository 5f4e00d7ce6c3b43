"""Where the repository's own folders are: the reference targets and the shipped scenarios.

One small module, so the CLI, the runtimes and the scenario models agree on them without
importing each other. The wheel ships ``targets`` (a package) and ``scenarios`` beside ``harness``
(``pyproject.toml``), so the same paths hold in a checkout and in an installed harness.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The checkout, or the site-packages folder of an installed harness, that holds ``harness``."""

TARGETS_DIR = REPO_ROOT / "targets"
"""Reference targets, one folder each (``targets/<name>/app.py``)."""

SCENARIOS_DIR = REPO_ROOT / "scenarios"
"""The scenarios shipped with the harness (``harness list``'s default folder)."""


def find_file(path: Path, *bases: Path) -> Path:
    """``path`` as given when it is absolute or exists from here; else under the first of ``bases`` that
    holds it; else as given, for the caller's error to name.

    ``harness run scenarios/payments.yaml`` then runs the bundled scenario in a project that has no
    ``scenarios/`` of its own (``find_file(path, REPO_ROOT)``), and a project's own file of that name
    wins over it.
    """
    if path.is_absolute() or path.exists():
        return path
    return next((base / path for base in bases if (base / path).exists()), path)
