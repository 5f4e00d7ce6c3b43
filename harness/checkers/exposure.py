"""Exposure: how often the cell's fault fired, and how many operations it really hit.

A clean verdict means something only where the fault hit: "0 duplicates" from a crash cell whose kills
found nothing in flight proves nothing. Exposure is *counted* from the history, not guessed:

* a per-request toxic (``drop_response``, ``http_latency``, ``http_error``) hits the operation the
  fault proxy recorded with its decision (a ``toxic_hit`` event carries the op id);
* a kill hits every operation with an attempt in flight when the kill was issued;
* a failpoint exit hits the operations whose attempt lost its connection without an answer in the
  :data:`EXIT_SLACK_S` before the exit was noticed, or was still unanswered then (the target knows which
  request it died on, the history does not; an attempt refused while it was down was never sent); an
  exit that cut no attempt fired in work done after the answer (a queued job): it hit one operation
  the history cannot name, and counts as one;
* a double submit hits the operation whose first attempt was doubled;
* any other toxic (Toxiproxy's own, store latency) hits every attempt made while it was on.

The cell is ``unknown`` — and every gate on it fails — when the fault was meant to act and hit fewer
operations than ``min_exposed``, or when planned kills were not all made: a gate must never pass on a
fault that never hit.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from operator import attrgetter

from harness.checkers.base import Column, Metric
from harness.checkers.evidence import CellEvidence, OpTrace
from harness.checkers.registry import register
from harness.history import CrashEvent, FaultEvent
from harness.scenario import CLIENT_LINK
from harness.verdict import CheckResult

EXIT_SLACK_S = 0.5
"""How long before a failpoint exit was noticed an attempt may have been cut and still count as hit:
more than the nemesis's watch interval, much less than a restart."""


@register
class Exposure:
    name = "exposure"
    order = 0
    metrics = (
        Metric("exposed_ops", "count", "operations the fault hit"),
        Metric("fault_firings", "count", "times the fault fired"),
        Metric("crashes_planned", "count", "kills planned"),
        Metric("crashes_made", "count", "kills made"),
    )
    gates = ()
    columns = (Column("Exposed", "exposed\nops", "exposed_ops", alarm="zero"),)
    anomaly = None

    def check(self, evidence: CellEvidence) -> CheckResult:
        fired: dict[str, int] = {}
        hit_by: dict[str, set[str]] = {}
        unnamed: dict[str, int] = {}  # exits that hit an operation the history cannot name

        def count(part: str, firings: int, op_ids: Iterable[str]) -> None:
            """Count ``op_ids`` (operations of ``evidence.ops``) as hit by ``part``."""
            fired[part] = fired.get(part, 0) + firings
            hit_by.setdefault(part, set()).update(op_ids)

        for toxic_hit in evidence.toxic_hits:  # the proxy may name an op id the history never began
            if toxic_hit.link != CLIENT_LINK:  # a hop's: its toxic is counted by its window below
                continue
            count(toxic_hit.toxic, 1, [toxic_hit.op_id] if toxic_hit.op_id in evidence.ops else [])
        spans = _Spans(evidence.ops.values()) if evidence.crash_events or evidence.fault_events else None
        for crash in evidence.crash_events:
            assert spans is not None
            if crash.reason == "kill":  # issued at crash.t: what was in flight then
                victims = spans.in_flight(crash.t)
            else:  # noticed at crash.t, a little after the process died
                victims = spans.cut_off(crash.t, EXIT_SLACK_S)
                if crash.reason == "failpoint" and not victims:
                    # a failpoint sits on an operation's path, so it fired on one: a queued job's,
                    # processed after its request was answered (a mail worker, a consumer)
                    unnamed[_crash_part(crash)] = unnamed.get(_crash_part(crash), 0) + 1
            count(_crash_part(crash), 1, victims)
        twins = [trace for trace in evidence.ops.values() if trace.twins]
        if twins:
            count("double_submit", sum(trace.twins for trace in twins), (trace.op_id for trace in twins))
        for name, (start, end) in _windows(evidence).items():
            if name not in evidence.expect.per_request_toxics:
                assert spans is not None
                count(name, 1, spans.attempted_between(start, end))

        parts = {
            name: {"fired": fired[name], "hit": len(hit_by[name]) + unnamed.get(name, 0)} for name in fired
        }
        plan = evidence.crash_plan
        if plan is not None:
            parts.setdefault("kill", {"fired": 0, "hit": 0})["planned"] = plan.planned
        exposed = _union_size(list(hit_by.values())) + sum(unnamed.values())
        reason = _unmet_guard(evidence, exposed, parts, plan.detail if plan is not None else "")
        return CheckResult(
            checker=self.name,
            validity="unknown" if reason else "valid",
            numbers={
                "exposed_ops": exposed,
                "fault_firings": sum(fired.values()),
                "crashes_planned": plan.planned if plan is not None else 0,
                "crashes_made": plan.made if plan is not None else 0,
            },
            details=parts,
            reason=reason,
        )


def _union_size(sets: list[set[str]]) -> int:
    """How many op ids ``sets`` hold together, without copying the biggest (a toxic on for the whole
    load hit every operation: a million op ids)."""
    biggest = max(sets, key=len, default=set())
    rest = set().union(*(one for one in sets if one is not biggest))
    return len(biggest) + len(rest - biggest)


def _crash_part(crash: CrashEvent) -> str:
    return "kill" if crash.reason == "kill" else f"{crash.reason} exit"


class _Spans:
    """Every operation that sent attempts, by when it first sent one, with when it last sent one and
    when its last answer came (infinity while an attempt is unanswered: it stays in flight).

    A moment (a kill) or a window (a toxic's time on) can only have hit operations whose span reaches
    it, so only the operations that began within the longest span before it are examined one by one:
    a million operations and a dozen kills cost a sort, not twelve million checks.
    """

    def __init__(self, traces: Iterable[OpTrace]) -> None:
        self.unanswered: list[OpTrace] = []
        answered: list[OpTrace] = []
        longest = 0.0
        for trace in traces:
            first = trace.first_attempt_t  # trace.first_sent(), without the call
            if first is None:
                continue
            if trace.all_answered():
                answered.append(trace)
                if trace.last_event_t - first > longest:
                    longest = trace.last_event_t - first
            else:
                self.unanswered.append(trace)
        self.longest = longest
        answered.sort(key=_first_sent)  # stable; found by bisecting on the same key: no list of times
        self.answered = answered

    def _index(self, moment: float, *, after: bool = False) -> int:
        """Where ``moment`` falls among the answered operations' first sendings (after those sent at
        it, with ``after``)."""
        bisect = bisect_right if after else bisect_left
        return bisect(self.answered, moment, key=_first_sent)

    def _reaching(self, start: float, end: float) -> Iterator[OpTrace]:
        """Operations whose span may overlap [start, end]: every unanswered one, and the answered
        ones that first sent between ``start`` less the longest span (and a second, for rounding)
        and ``end`` and were last answered (or sent) at ``start`` or later."""
        yield from self.unanswered
        yield from self._answered_before(start, self._index(end, after=True))

    def _answered_before(self, start: float, high: int) -> Iterator[OpTrace]:
        """The answered operations up to index ``high`` whose span may reach ``start``."""
        for trace in itertools.islice(self.answered, self._index(start - self.longest - 1.0), high):
            if trace.last_event_t >= start:
                yield trace

    def in_flight(self, moment: float) -> list[str]:
        return [trace.op_id for trace in self._reaching(moment, moment) if trace.in_flight(moment)]

    def cut_off(self, moment: float, slack_s: float) -> list[str]:
        return [
            trace.op_id
            for trace in self._reaching(moment - slack_s, moment)
            if trace.cut_off(moment, slack_s)
        ]

    def attempted_between(self, start: float, end: float) -> Iterator[str]:
        """Every answered operation that first sent from ``start`` to ``end``, without a look (a toxic
        on for the whole load: all of them, so no list of them is made), and those of the others
        whose span may reach the window that sent an attempt within it."""
        low = self._index(start)
        within = itertools.islice(self.answered, low, self._index(end, after=True))
        others = itertools.chain(self.unanswered, self._answered_before(start, low))
        yield from map(_op_id, within)
        yield from (trace.op_id for trace in others if trace.sent_between(start, end))


_first_sent = attrgetter("first_attempt_t")
_op_id = attrgetter("op_id")


def _windows(evidence: CellEvidence) -> dict[str, tuple[float, float]]:
    """Each toxic's time on: from its ``on`` to its ``off`` (or forever, if the history has no off)."""
    windows: dict[str, tuple[float, float]] = {}
    for event in evidence.fault_events:
        if not isinstance(event, FaultEvent):
            continue
        if event.action == "on":
            windows[event.name] = (event.t, float("inf"))
        elif event.action == "off" and event.name in windows:
            windows[event.name] = (windows[event.name][0], event.t)
    return windows


def _unmet_guard(
    evidence: CellEvidence, exposed: int, parts: dict[str, dict[str, int]], why: str
) -> str | None:
    """The guard this cell fails, in words with its numbers, or None."""
    kill = parts.get("kill")
    if kill is not None and kill.get("fired", 0) < kill.get("planned", 0):
        missed = f" ({why})" if why else ""
        return (
            f"crash: {kill['planned']} kills planned, {kill['fired']} made, {kill['hit']} operations in "
            f"flight at them{missed}"
        )
    wanted = evidence.expect.min_exposed
    if evidence.expect.fault_acts and exposed < wanted:
        fired = ", ".join(f"{name} fired {part['fired']}" for name, part in parts.items()) or "nothing fired"
        return (
            f"exposure: the fault hit {exposed} of {evidence.operations} operations, fewer than "
            f"min_exposed {wanted} ({fired})"
        )
    return None
