"""The one place a reference target commits a side effect, with the standard crash lines around it.

Keeping both failpoints here means every target crashes at the same, well-defined moments: `before_commit`
(the effect never happened) and `after_commit_before_response` (the effect happened, the client never
hears of it: the case that turns a client retry into a duplicate for a naive service).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from targets.targetkit.failpoints import AFTER_COMMIT_BEFORE_RESPONSE, BEFORE_COMMIT, Failpoints
from targets.targetkit.sqlite import Database

T = TypeVar("T")
C = TypeVar("C")


def commit_in(transaction: AbstractContextManager[C], failpoints: Failpoints, write: Callable[[C], T]) -> T:
    """Run `write` in `transaction` (of any store), commit it, and return its result for the response."""
    with transaction as handle:
        result = write(handle)
        failpoints.hit(BEFORE_COMMIT)
    failpoints.hit(AFTER_COMMIT_BEFORE_RESPONSE)
    return result


def commit_effect(db: Database, failpoints: Failpoints, write: Callable[[sqlite3.Connection], T]) -> T:
    """Run `write` in one transaction, commit it durably, and return its result for the response."""
    return commit_in(db.transaction(), failpoints, write)
