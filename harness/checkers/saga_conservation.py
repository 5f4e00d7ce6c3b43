"""What money and stock conservation share: every saga's net effect at a participant, and every item's.

A participant of level kind ``money`` (payments) or ``stock`` (inventory, shipping) is conserved when,
for every item (a customer, a sku, an address):

* its ledger nets (forward amounts less compensated ones) to what the sagas that ended ``done`` asked
  of it, and to nothing for every saga that ended otherwise or was forgotten: for money, charges −
  refunds = price × completed sagas, per customer;
* its level reads as its starting level moved by that net (initial − reserved + released = current);
* with a floor (stock), its level never went below it, replaying the ledger in order, nor reads below now.

Per saga, the same comparison names the saga that broke it, with its story. A saga still pending, or
a participant whose ledger could not be read, cannot be judged: the checker is then ``unknown``
unless something else broke.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from harness.checkers.saga_story import (
    SagaFindings,
    SagaView,
    item_anomaly,
    readable,
    saga_views,
)
from harness.saga_evidence import (
    DONE,
    PENDING,
    LedgerRow,
    LevelKind,
    ParticipantRead,
    ParticipantRole,
    SagaEvidence,
)


@dataclass(frozen=True)
class Conservation:
    """What one conservation checker found: its saga findings, and the items that broke it."""

    findings: SagaFindings
    items_unbalanced: int
    items_below_floor: int


def _signed(role: ParticipantRole, row: LedgerRow) -> int:
    """How ``row`` moves the ledger's net: forward adds its amount, compensation takes it back."""
    return row.amount if row.kind == role.forward else -row.amount


def _saga_item(view: SagaView, role: ParticipantRole) -> str:
    ask = view.record.ask(role.step) if view.record is not None else None
    if ask is not None:
        return ask.item
    return next((row.item for rowed, row in view.rows if rowed == role), "?")


def _judge_sagas(views: Iterable[SagaView], read: ParticipantRead, findings: SagaFindings) -> set[str]:
    """Flag every saga whose net at ``read``'s participant is not what its end calls for; the items
    of the sagas that cannot be judged (still pending) come back."""
    role = read.role
    unjudged: set[str] = set()
    for view in views:
        net, expected = view.net(role), view.expected(role)
        if expected is None:
            unjudged.add(_saga_item(view, role))
            why = "is still pending" if view.status == PENDING else f"says nothing of step {role.step}"
            findings.cannot_judge(f"saga {view.id} {why}, so what it should hold at {role.name} is unknown")
        elif net != expected:
            findings.flag(
                view,
                f"{role.name}: its {role.forward}s less {role.compensation}s net {net} of "
                f"{_saga_item(view, role)} for a saga that ended {view.status}, which calls for {expected}",
            )
    return unjudged


def _lowest(read: ParticipantRead, item: str) -> tuple[int, LedgerRow | None]:
    """The lowest level ``item`` reached replaying the ledger in order, and the row that took it there."""
    level, lowest, at = read.initial_level, read.initial_level, None
    for row in read.rows:
        if row.item == item:
            level += read.role.forward_sign * _signed(read.role, row)
            if level < lowest:
                lowest, at = level, row
    return lowest, at


def _item_problems(read: ParticipantRead, item: str, asked: int, done_sagas: int) -> tuple[list[str], bool]:
    """What is wrong with one item's books (empty: nothing), and whether it went below its floor."""
    role = read.role
    ledger_net = sum(_signed(role, row) for row in read.rows if row.item == item)
    problems = []
    if ledger_net != asked:
        problems.append(
            f"its {role.forward}s less {role.compensation}s net {ledger_net}, but its {done_sagas} "
            f"completed saga(s) asked for {asked}"
        )
    books = read.initial_level + role.forward_sign * ledger_net
    if read.level(item) != books:
        problems.append(
            f"its level reads {read.level(item)}, the ledger says {books} (from {read.initial_level})"
        )
    below = False
    if read.floor is not None:
        lowest, row = _lowest(read, item)
        if lowest < read.floor and row is not None:
            below = True
            problems.append(
                f"it went to {lowest}, below the floor {read.floor}, with {row.kind} step {row.step} "
                f"of saga {row.saga_id}"
            )
        elif read.level(item) < read.floor:
            below = True
            problems.append(f"its level reads {read.level(item)}, below the floor {read.floor}")
    return problems, below


def judge_conservation(saga: SagaEvidence, level: LevelKind, kind: str) -> Conservation:
    """Judge every participant of ``level``'s sagas and items; item anomalies are of ``kind``."""
    reads, unreadable = readable(saga, level)
    findings = SagaFindings(unjudged=unreadable)
    views = saga_views(saga)
    unbalanced = below_floor = 0
    for read in reads:
        unjudged = _judge_sagas(views, read, findings)
        asked: dict[str, int] = defaultdict(int)
        done: dict[str, int] = defaultdict(int)
        for view in views:
            ask = view.record.ask(read.role.step) if view.record is not None else None
            if view.status == DONE and ask is not None:
                asked[ask.item] += ask.amount
                done[ask.item] += 1
        items = {row.item for row in read.rows} | set(read.levels) | set(asked)
        for item in sorted(items - unjudged):
            problems, below = _item_problems(read, item, asked[item], done[item])
            if problems:
                unbalanced += 1
                below_floor += below
                words = f"{read.role.name} {item}: " + "; ".join(problems)
                findings.other_anomalies.append(item_anomaly(kind, read.role, item, words))
    return Conservation(findings, unbalanced, below_floor)
