"""Driving one saga to its end: charge, reserve, book; on a refusal or an unknown outcome, undo in reverse.

Every finished step is in the saga log before the next one starts (then failpoint `after_step_<k>`), so
a saga can be driven again from the log after a crash: steps already done are skipped, and with keys a
step whose answer was lost is asked again and replayed. Which steps are undone when a step fails:
- refused: the steps before it (the refused one did nothing);
- unknown (timeouts, lost answers): with keys, that step too, since its effect may exist or still
  appear (a keyed compensation that arrives first leaves a fence, in the variants that honour it);
  without keys (naive), only the steps before it: a naive orchestrator takes "no answer" for "not done".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from targets.checkout.calls import CallOutcome, RetryPolicy, Succeeded, Unknown, call
from targets.checkout.models import STEPS, Step, step_key
from targets.checkout.saga_log import COMPENSATED, COMPENSATION, DONE, FAILED, FORWARD, Saga, SagaLog
from targets.checkout.settings import OrchestratorSettings
from targets.checkout.variants import OrchestratorBehaviour
from targets.targetkit.failpoints import Failpoints

_log = logging.getLogger("targetkit.checkout")


@dataclass
class SagaRunner:
    log: SagaLog
    client: httpx.Client
    settings: OrchestratorSettings
    behaviour: OrchestratorBehaviour
    failpoints: Failpoints

    def _call(self, saga: Saga, step: Step, kind: str, policy: RetryPolicy) -> CallOutcome:
        key = step_key(saga.id, step.number, kind) if self.behaviour.keyed_steps else None
        url = f"{self.settings.participant_urls[step.participant.name]}/{kind}"
        outcome = call(self.client, url, step.request(saga.id, saga.request), key, policy)
        if not isinstance(outcome, Succeeded):
            _log.info("saga %s step %d %s: %s", saga.id, step.number, kind, outcome)
        return outcome

    def drive(self, saga: Saga) -> Saga:
        """Run the saga from where its log says it is to `done`, `compensated` or `failed`."""
        if saga.compensate_through is None:
            through = self._forward(saga)
            if through is None:
                self.log.finish(saga.id, DONE)
                return self.log.get(saga.id)
            self.log.start_compensation(saga.id, through)
            saga = self.log.get(saga.id)
        self.log.finish(saga.id, COMPENSATED if self._compensate(saga) else FAILED)
        return self.log.get(saga.id)

    def _forward(self, saga: Saga) -> int | None:
        """Run the steps not yet done; None if all succeed, else the highest step to compensate."""
        policy = RetryPolicy(self.settings.step_attempts, self.settings.retry_backoff_s,
                             give_up_on_timeout=not self.behaviour.retry_timed_out_steps)
        for step in STEPS:
            if step.number in saga.steps_done:
                continue
            outcome = self._call(saga, step, step.participant.forward, policy)
            if isinstance(outcome, Succeeded):
                self.log.record(saga.id, step.number, step.participant.forward, FORWARD)
                self.failpoints.hit(f"after_step_{step.number}")
                continue
            unknown_may_exist = isinstance(outcome, Unknown) and self.behaviour.keyed_steps
            return step.number if unknown_may_exist else step.number - 1
        return None

    def _compensate(self, saga: Saga) -> bool:
        """Undo steps `compensate_through` down to 1 not yet undone; False if one never got through."""
        assert saga.compensate_through is not None
        policy = RetryPolicy(self.settings.compensation_attempts, self.settings.retry_backoff_s)
        for step in reversed(STEPS[:saga.compensate_through]):
            if step.number in saga.compensations_done:
                continue
            if not isinstance(self._call(saga, step, step.participant.compensation, policy), Succeeded):
                return False
            self.log.record(saga.id, step.number, step.participant.compensation, COMPENSATION)
        return True
