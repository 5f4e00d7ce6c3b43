"""Where the repository's own folders are: the reference targets and the shipped scenarios.

One small module, so the CLI, the runtimes and the scenario models agree on them without
importing each other.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or installed tree) the ``harness`` package sits in."""

TARGETS_DIR = REPO_ROOT / "targets"
"""Reference targets, one folder each (``targets/<name>/app.py``)."""

SCENARIOS_DIR = REPO_ROOT / "scenarios"
"""The scenarios shipped with the harness (``harness list``'s default folder)."""
