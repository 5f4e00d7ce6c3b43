"""Fixtures of the checker's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def cells_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for a module's generated cells: ``mktemp`` per cell lists every earlier one to number it."""
    return tmp_path_factory.mktemp("cells")
