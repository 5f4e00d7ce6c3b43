"""Reference target `checkout`: a saga over three participants, each its own process with its own store.

    CHECKOUT_ROLE=ROLE python -m targets.checkout.app --host H --port P --variant VARIANT --db PATH

ROLE is `orchestrator` (default; `POST /checkouts`, `GET /sagas`, `GET /effects`, see orchestrator.py)
or a participant, `payments` (charge / refund), `inventory` (reserve / release) or `shipping`
(book / cancel), each with `GET /ledger`, `GET /state` and `GET /effects` (see participant.py). The
orchestrator finds each participant at CHECKOUT_<PARTICIPANT>_URL, so a fault proxy can sit on every
hop. Every process of a run takes the same `--variant` (see variants.py) and its own `--db`. Other
settings: settings.py. Faults: HARNESS_FAILPOINTS with the kit's `before_commit` and
`after_commit_before_response` (participants) and `after_step_1..3` (orchestrator), HARNESS_SEED,
HARNESS_INCARNATION, HARNESS_WORK_MS (see targetkit.config).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from targets.checkout.models import PARTICIPANTS
from targets.checkout.orchestrator import create_orchestrator_app
from targets.checkout.participant import create_participant_app
from targets.checkout.settings import ORCHESTRATOR, orchestrator_settings, participant_settings, role
from targets.checkout.variants import FAILPOINTS, VARIANTS
from targets.targetkit import TargetConfig
from targets.targetkit.launch import launch


def create_app(config: TargetConfig, environ: Mapping[str, str]) -> FastAPI:
    """The app of the role CHECKOUT_ROLE names; a bad setting raises `ValueError` naming it."""
    variant = VARIANTS[config.variant]
    chosen = role(environ)
    if chosen == ORCHESTRATOR:
        return create_orchestrator_app(config, environ, variant.orchestrator, orchestrator_settings(environ))
    settings = participant_settings(environ, PARTICIPANTS[chosen].kinds)
    return create_participant_app(config, chosen, variant.participant, settings)


def main() -> None:
    launch(create_app, description="Reference checkout saga target for the idempotency harness.",
           variants=tuple(VARIANTS), known_failpoints=FAILPOINTS)


if __name__ == "__main__":
    main()
