"""The harness as a user gets it, built and installed once per session: the end-to-end tests of the
installed package and of the CI examples share it, whichever test process (``pytest -n``) runs them."""

from __future__ import annotations

import pytest
from installing import InstalledHarness, install_wheel_once


@pytest.fixture(scope="session")
def installed_harness(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> InstalledHarness:
    """The wheel of this checkout, installed (not editable) into a fresh venv outside it.

    Under pytest-xdist each worker has its own folder in the session's; the install goes beside them, so
    the workers share it. Alone (``master``), the session's own folder holds it.
    """
    session_folder = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        session_folder = session_folder.parent
    return install_wheel_once(session_folder / "installed-harness")
