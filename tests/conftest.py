"""Shared by every test folder: puts ``tests/`` on ``sys.path`` so test modules can import
``factories`` (hand-made model objects), as they import nothing else from here.

Appended, not prepended, so no module in ``tests/`` can shadow an installed one. Tests run with
``--import-mode=importlib``, which does not add test folders to ``sys.path`` by itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.append(_TESTS_DIR)
