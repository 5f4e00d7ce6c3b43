"""The checkout target's own environment, beside the kit's HARNESS_* knobs (see targetkit.config).

- `CHECKOUT_ROLE`: `orchestrator` (the default), `payments`, `inventory` or `shipping`. One module
  serves all four, so the harness starts each like any target and one image holds them all.
- Orchestrator: `CHECKOUT_PAYMENTS_URL`, `CHECKOUT_INVENTORY_URL`, `CHECKOUT_SHIPPING_URL` (required:
  the base URL of each participant, where the harness may put a fault proxy per hop);
  `CHECKOUT_STEP_TIMEOUT_MS` (1000), how long one call to a participant may take;
  `CHECKOUT_STEP_ATTEMPTS` (5), calls per forward step before its outcome counts as unknown;
  `CHECKOUT_COMPENSATION_ATTEMPTS` (20), calls per compensation before the saga is `failed`;
  `CHECKOUT_RETRY_BACKOFF_MS` (100), the pause before the second call of a step, doubled for each
  further call (at most 2 s).
- Participants: `CHECKOUT_INITIAL_STOCK` (100 per sku), `CHECKOUT_SHIPPING_SLOTS` (1000 per address),
  and `CHECKOUT_SLOW_FIRST="kind=ms,..."` (e.g. `charge=1500`): the first request of that kind the
  process serves takes that long before its commit, a hiccup that outlasts the orchestrator's timeout
  once; later requests take HARNESS_WORK_MS like every other kind.

Bad values raise `ValueError` naming the variable; `targetkit.launch` turns that into exit status 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ROLE_ENV = "CHECKOUT_ROLE"
ORCHESTRATOR = "orchestrator"
PARTICIPANT_ROLES = ("payments", "inventory", "shipping")
ROLES = (ORCHESTRATOR, *PARTICIPANT_ROLES)


def role(environ: Mapping[str, str]) -> str:
    value = environ.get(ROLE_ENV, "").strip() or ORCHESTRATOR
    if value not in ROLES:
        raise ValueError(f"{ROLE_ENV}={value!r} is not one of {', '.join(ROLES)}")
    return value


def participant_url_env(participant: str) -> str:
    return f"CHECKOUT_{participant.upper()}_URL"


def _non_negative_int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ValueError(f"{name}={raw!r} must be an integer of at least {minimum}")
    return int(raw)


@dataclass(frozen=True)
class OrchestratorSettings:
    participant_urls: Mapping[str, str]
    step_timeout_s: float = 1.0
    step_attempts: int = 5
    compensation_attempts: int = 20
    retry_backoff_s: float = 0.1


def orchestrator_settings(environ: Mapping[str, str]) -> OrchestratorSettings:
    urls: dict[str, str] = {}
    for participant in PARTICIPANT_ROLES:
        name = participant_url_env(participant)
        url = environ.get(name, "").strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{name}={url!r} must be the participant's base URL (http://host:port)")
        urls[participant] = url
    return OrchestratorSettings(
        participant_urls=urls,
        step_timeout_s=_non_negative_int(environ, "CHECKOUT_STEP_TIMEOUT_MS", 1000, minimum=1) / 1000,
        step_attempts=_non_negative_int(environ, "CHECKOUT_STEP_ATTEMPTS", 5, minimum=1),
        compensation_attempts=_non_negative_int(environ, "CHECKOUT_COMPENSATION_ATTEMPTS", 20, minimum=1),
        retry_backoff_s=_non_negative_int(environ, "CHECKOUT_RETRY_BACKOFF_MS", 100) / 1000,
    )


@dataclass(frozen=True)
class ParticipantSettings:
    initial_stock: int = 100
    shipping_slots: int = 1000
    slow_ms: Mapping[str, int] | None = None


def parse_slow(spec: str, kinds: tuple[str, ...]) -> dict[str, int]:
    """`"charge=1500,refund=200"` as milliseconds per request kind; an unknown kind is an error."""
    delays: dict[str, int] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        kind, _, raw = item.partition("=")
        if kind.strip() not in kinds or not raw.strip().isdigit():
            raise ValueError(f"CHECKOUT_SLOW_FIRST: {item!r} is not kind=milliseconds with kind in {kinds}")
        delays[kind.strip()] = int(raw)
    return delays


def participant_settings(environ: Mapping[str, str], kinds: tuple[str, ...]) -> ParticipantSettings:
    return ParticipantSettings(
        initial_stock=_non_negative_int(environ, "CHECKOUT_INITIAL_STOCK", 100),
        shipping_slots=_non_negative_int(environ, "CHECKOUT_SHIPPING_SLOTS", 1000),
        slow_ms=parse_slow(environ.get("CHECKOUT_SLOW_FIRST", ""), kinds),
    )
