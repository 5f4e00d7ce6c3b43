"""What a checker module declares, and the one method it implements.

A checker is a pure function of one cell's evidence (:class:`~harness.checkers.evidence.CellEvidence`:
the history and the effects, scanned once for every checker) returning a
:class:`~harness.verdict.CheckResult`, as Jepsen's checkers are pure functions of a history. Beside that
method it *declares* everything the rest of the harness needs to know about it, so that gates, the
baseline, the terminal, HTML, Markdown and JUnit reports and the pytest plugin read these declarations
instead of closed lists:

* :class:`Metric`: each number it produces (name, unit, what a baseline compares);
* :class:`GateRule`: each threshold a scenario may set on those numbers (``max_duplicate_rate: 0``);
* :class:`Column`: each column it adds to the report tables;
* :class:`AnomalyDeclaration`: the kind of anomalous operation it flags, and how to word it.

Adding a metric is one new module under :mod:`harness.checkers` with a class decorated by
:func:`harness.checkers.registry.register`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from harness.checkers.evidence import CellEvidence
    from harness.verdict import CheckResult

MetricUnit = Literal["count", "rate", "per_1000"]
BaselineRule = Literal["interval", "rise"]
Direction = Literal["max", "min"]


@dataclass(frozen=True)
class Metric:
    """One number a checker puts in every cell.

    ``unit``: ``count`` (an integer), ``rate`` (a proportion of the cell's operations: ``numerator`` names
    the count it is made of, so totals over several cells can be recomputed) or ``per_1000``.
    ``baseline``: how ``harness gate --baseline`` compares it with an earlier run: ``interval`` (a
    regression when this run's 95% interval lies wholly above the baseline's, or when the numerator
    was 0 and is not now), ``rise`` (a regression when the count grew), or None (not compared).
    ``anomaly_kind``: the anomalies that stand behind the number, for explanations of a failed assert.
    """

    name: str
    unit: MetricUnit
    label: str
    numerator: str | None = None
    interval: bool = False
    baseline: BaselineRule | None = None
    anomaly_kind: str | None = None

    @property
    def is_rate(self) -> bool:
        return self.unit == "rate"


@dataclass(frozen=True)
class GateRule:
    """A threshold a scenario may set on a metric: ``max_*`` must not be exceeded, ``min_*`` reached.

    ``failure_hint`` is added to the message of a failed gate; ``{variant}`` and ``{fault}`` are filled.
    """

    name: str
    metric: str
    direction: Direction
    failure_hint: str = ""


@dataclass(frozen=True)
class Column:
    """A column a checker adds to the report tables (terminal, HTML, Markdown).

    It shows ``metric`` (with its interval when ``with_interval``) and is marked bad (red) when the
    number ``bad_when`` names (default: ``metric`` itself) is nonzero, or with ``alarm="zero"`` when it
    is zero (a fault that hit nothing). With ``shown_when`` it is left out of a table where no cell's
    number of that name is nonzero (a column about operations that no cell had).
    """

    header: str
    terminal_header: str
    metric: str
    with_interval: bool = False
    bad_when: str | None = None
    alarm: Literal["nonzero", "zero"] = "nonzero"
    shown_when: str | None = None

    @property
    def alarm_metric(self) -> str:
        return self.bad_when or self.metric


@dataclass(frozen=True)
class AnomalyDeclaration:
    """The kind of anomalous operation a checker flags: ``kind`` in run.json, ``title`` as a heading,
    ``words`` completing "N of M operations ..." in an assertion message."""

    kind: str
    title: str
    words: str
    out_of: str | None = None
    """The count metric of the operations the checker judges (``put_ops``), for M when the checker
    looks at only some of a cell's operations; None: every operation of the cell."""


class Checker(Protocol):
    """One checker module: its declarations (plain class attributes will do) and its pure check."""

    @property
    def name(self) -> str: ...

    @property
    def order(self) -> int:
        """Where its columns, gates and anomalies come among the others (lower first)."""
        ...

    @property
    def metrics(self) -> tuple[Metric, ...]: ...

    @property
    def gates(self) -> tuple[GateRule, ...]: ...

    @property
    def columns(self) -> tuple[Column, ...]: ...

    @property
    def anomaly(self) -> AnomalyDeclaration | None: ...

    def check(self, evidence: CellEvidence) -> CheckResult:
        """Judge one cell; an exception here makes this checker's result ``unknown``, nothing worse."""
        ...
