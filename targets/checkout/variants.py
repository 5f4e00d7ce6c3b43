"""The checkout variants: what the orchestrator and the participants each do about keys and crashes.

Every process of one run is started with the same `--variant`, so a variant names the behaviour of the
whole saga; each role reads the half that concerns it.

- naive: no keys anywhere. A checkout retried by its client runs a second saga; a forward step whose
  answer times out is sent again and takes effect again; a retried compensation undoes twice.
- idempotent: the checkout's Idempotency-Key maps to one saga in a durable saga log; every forward step
  and compensation carries the key `<saga id>:<step>:<kind>`; participants dedupe it and replay the
  first answer; a step whose answer timed out is asked again with the same key until its outcome is
  known, and compensated only then (a compensation that arrives first fences the late forward step out);
  pending sagas are resumed when the orchestrator starts.
- idempotent-postgres: the same, with the saga log in Postgres (HARNESS_POSTGRES_DSN).
- broken-compensation-not-idempotent: like idempotent, except that participants do not dedupe
  compensations: a refund retried after a timeout or a lost answer pays twice.
- broken-compensate-on-timeout: a forward step that times out is compensated at once instead of asked
  again, and participants do not fence a late forward step: the refund finds nothing to refund, the
  charge then commits, and the saga ends "compensated" with the customer charged.
- broken-no-saga-log: keys everywhere, but the saga log lives only as long as the process (a scratch
  file wiped at start): an orchestrator crash mid-saga forgets it, so its reservation is held forever,
  and a client's retry of the checkout starts a second saga.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from targets.targetkit.failpoints import STANDARD_FAILPOINTS
from targets.targetkit.sql import Dialect

STEP_FAILPOINTS = ("after_step_1", "after_step_2", "after_step_3")
"""Orchestrator crash points: step k's success is in the saga log, step k+1 is not yet asked."""

FAILPOINTS = STANDARD_FAILPOINTS | frozenset(STEP_FAILPOINTS)


@dataclass(frozen=True)
class OrchestratorBehaviour:
    keyed_checkouts: bool  # POST /checkouts honours Idempotency-Key (one saga per key)
    keyed_steps: bool  # forward steps and compensations carry `<saga>:<step>:<kind>` keys
    retry_timed_out_steps: bool  # a timed-out forward step is asked again; else compensated at once
    durable_log: bool  # the saga log survives a restart
    resume_on_start: bool  # pending sagas are driven to an end when the process starts
    log_dialect: Dialect = "sqlite"


@dataclass(frozen=True)
class ParticipantBehaviour:
    dedupe_forward: bool
    dedupe_compensation: bool
    fence_late_forward: bool  # a forward step whose compensation came first is refused


@dataclass(frozen=True)
class Variant:
    orchestrator: OrchestratorBehaviour
    participant: ParticipantBehaviour


_IDEMPOTENT_ORCHESTRATOR = OrchestratorBehaviour(
    keyed_checkouts=True, keyed_steps=True, retry_timed_out_steps=True, durable_log=True,
    resume_on_start=True)
_IDEMPOTENT_PARTICIPANT = ParticipantBehaviour(
    dedupe_forward=True, dedupe_compensation=True, fence_late_forward=True)

VARIANTS: dict[str, Variant] = {
    "naive": Variant(
        OrchestratorBehaviour(keyed_checkouts=False, keyed_steps=False, retry_timed_out_steps=True,
                              durable_log=True, resume_on_start=False),
        ParticipantBehaviour(dedupe_forward=False, dedupe_compensation=False, fence_late_forward=False)),
    "idempotent": Variant(_IDEMPOTENT_ORCHESTRATOR, _IDEMPOTENT_PARTICIPANT),
    "idempotent-postgres": Variant(replace(_IDEMPOTENT_ORCHESTRATOR, log_dialect="postgres"),
                                   _IDEMPOTENT_PARTICIPANT),
    "broken-compensation-not-idempotent": Variant(
        _IDEMPOTENT_ORCHESTRATOR, replace(_IDEMPOTENT_PARTICIPANT, dedupe_compensation=False)),
    "broken-compensate-on-timeout": Variant(
        replace(_IDEMPOTENT_ORCHESTRATOR, retry_timed_out_steps=False),
        replace(_IDEMPOTENT_PARTICIPANT, fence_late_forward=False)),
    "broken-no-saga-log": Variant(
        replace(_IDEMPOTENT_ORCHESTRATOR, durable_log=False, resume_on_start=False),
        _IDEMPOTENT_PARTICIPANT),
}
