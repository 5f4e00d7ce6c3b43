"""The harness as a user gets it, built and installed once per session: the end-to-end tests of the
installed package and of the CI examples share it."""

from __future__ import annotations

import pytest
from installing import InstalledHarness, install_wheel


@pytest.fixture(scope="session")
def installed_harness(tmp_path_factory: pytest.TempPathFactory) -> InstalledHarness:
    """The wheel of this checkout, installed (not editable) into a fresh venv outside it."""
    return install_wheel(tmp_path_factory.mktemp("installed"))
