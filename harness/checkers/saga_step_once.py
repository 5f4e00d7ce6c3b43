"""Saga step once: within one saga, no forward step and no compensation took effect twice.

A step retried after a timeout or a lost answer must be deduplicated by its participant (the key
``<saga>:<step>:<kind>``). Two rows of the same saga, step and kind that both moved an amount mean it
was not: a charge taken twice, a refund paid twice. A compensation that found nothing to undo (amount
0) took no effect and is not counted. A client's retried checkout that began a *second saga* is not
this checker's: each saga is judged on its own (``duplicate_effects`` counts the second saga).
"""

from __future__ import annotations

from collections import defaultdict

from harness.checkers.base import Metric
from harness.checkers.evidence import CellEvidence
from harness.checkers.registry import register
from harness.checkers.saga_story import (
    SagaChecker,
    SagaFindings,
    SagaNames,
    readable,
    saga_views,
)
from harness.saga_evidence import LedgerRow, SagaEvidence


@register
class SagaStepOnce(SagaChecker):
    name = "saga_step_once"
    order = 61
    names = SagaNames("saga_steps_repeated", "repeated_saga_step")
    metrics, gates, columns, anomaly = names.declarations(
        label="saga steps or compensations that took effect twice",
        header="Steps twice",
        terminal_header="steps\ntwice",
        title="Saga steps that took effect twice",
        words="began a saga in which a step or compensation took effect twice",
        what="a saga step or compensation of {variant} under {fault} took effect twice",
        more=(Metric("sagas_with_repeated_steps", "count", "sagas with a step that took effect twice"),),
    )

    def judge(self, evidence: CellEvidence, saga: SagaEvidence) -> tuple[dict[str, float], SagaFindings]:
        _, unreadable = readable(saga)
        findings = SagaFindings(unjudged=unreadable)
        repeated = 0
        for view in saga_views(saga):
            applied: dict[tuple[str, int, str], list[LedgerRow]] = defaultdict(list)
            for role, row in view.rows:
                if row.amount > 0:
                    applied[(role.name, row.step, row.kind)].append(row)
            twice = {part: rows for part, rows in applied.items() if len(rows) > 1}
            if twice:
                repeated += len(twice)
                findings.flag(view, "; ".join(_repeat_words(*part, rows) for part, rows in twice.items()))
        numbers: dict[str, float] = {
            self.names.broken: repeated,
            "sagas_with_repeated_steps": len(findings.broken),
        }
        return numbers, findings


def _repeat_words(participant: str, step: int, kind: str, rows: list[LedgerRow]) -> str:
    keys = sorted({row.idempotency_key or "no key" for row in rows})
    total = sum(row.amount for row in rows)
    return (
        f"the {kind} of step {step} at {participant} took effect {len(rows)} times ({total} in all), "
        f"sent with {len(keys)} distinct key(s): {', '.join(keys)}"
    )
