"""A cell's running counts: what ``harness run --metrics-port`` serves and run.json keeps per cell.

The checker's scan of a cell makes them (:func:`harness.checker.judge`), whether it runs on the whole
evidence at the cell's end or on the history so far while the load runs (a look of
:mod:`harness.cell_watch`), so the live numbers and the final ones are the same count, and the final
ones are the checker's own. Each count only grows as the history grows, as a Prometheus counter must:

* operations count those the load *finished*, by how they ended (``acknowledged``; ``failed``, the
  history's ``rejected``; ``gave_up``, its ``unknown``); those begun and not ended are
  :attr:`CellTally.unfinished` (in flight at a look; cut off by a killed load at the end), so the
  checker's ``unknown`` is ``gave_up + unfinished``;
* attempts count those answered in some way, by ``outcome`` (``answered`` with its HTTP status;
  ``timeout``; ``connection``: reset, refused, closed, or another transport error) and ``status``
  (``none`` when nothing answered);
* retries count the attempts sent again after an answer, by that answer (a double submit's twin is
  no retry: it went out with its first attempt).

Duplicates are the checkers' numbers: effects beyond the first per operation, operations with more
than one, and the operations the fault hit. The duplicate rate here is over the operations the fault
hit, as the exported series are (:mod:`harness.metric_names`); the checker's ``duplicate_rate`` is
over all operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

NO_STATUS = "none"
"""The ``status`` of an attempt nothing answered."""

OPERATION_OUTCOMES = {"acknowledged": "acknowledged", "rejected": "failed", "unknown": "gave_up"}
"""The history's operation outcomes by the names the series use."""


@dataclass(frozen=True)
class CellTally:
    """One cell's counts at one moment (see the module docstring for what each counts)."""

    operations: Mapping[str, int] = field(default_factory=dict)
    """Finished operations by outcome: ``acknowledged``, ``failed``, ``gave_up``."""
    unfinished: int = 0
    attempts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Answered attempts by outcome, then status: ``{"answered": {"201": 140}, "timeout": {"none": 3}}``."""
    retries: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Attempts sent again, by the outcome and status of the answer that made the client retry."""
    duplicate_effects: int = 0
    duplicated_operations: int = 0
    exposed_operations: int = 0
    crashes: int = 0

    @property
    def duplicate_rate(self) -> float:
        """Duplicated operations over the operations the fault hit; 0 while it hit none."""
        exposed = self.exposed_operations
        return self.duplicated_operations / exposed if exposed else 0.0


def attempt_kind(label: str) -> tuple[str, str]:
    """An answer's tally label (:func:`harness.checkers.answers.answer_label`) as (outcome, status)."""
    if label.isdigit():
        return "answered", label
    return ("timeout" if label == "timeout" else "connection"), NO_STATUS


def by_kind(labels: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """Counts by answer label, regrouped by (outcome, status); sorted, so equal tallies print alike."""
    grouped: dict[str, dict[str, int]] = {}
    for label, count in sorted(labels.items()):
        outcome, status = attempt_kind(label)
        statuses = grouped.setdefault(outcome, {})
        statuses[status] = statuses.get(status, 0) + count
    return grouped
