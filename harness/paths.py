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
