"""An effect: one thing the target really committed, as its ledger shows it.

Its own small module, below the checkers and the probes alike: the checkers judge effects without
knowing how a probe read them (HTTP, SQL, SMTP, a callable: :mod:`harness.effects`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Effect:
    """One effect the target committed; ``op_ref`` links it to the harness's ``op_id``."""

    op_ref: str
    resource_id: str
    t: float | None = None
