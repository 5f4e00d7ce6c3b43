"""A user's Python function named ``module:function``: a flow kind's, or an effects probe's.

Imported with the scenario's ``python_path`` folders first on ``sys.path``, once per process.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable


class CallableImportError(Exception):
    """A ``module:function`` that cannot be imported or is not a function; the message says why."""


@functools.lru_cache(maxsize=64)
def import_callable(target: str, python_path: tuple[str, ...] = ()) -> Callable[..., object]:
    """The function named ``module:function``, imported with ``python_path`` first on ``sys.path``."""
    module_name, _, function_name = target.partition(":")
    for folder in reversed(python_path):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any import failure is the user's code failing to import
        raise CallableImportError(f"cannot import {module_name}: {type(error).__name__}: {error}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise CallableImportError(f"module {module_name} has no function {function_name!r}")
    return function  # type: ignore[no-any-return]
