"""Seeded failpoints: named lines in a target where the process may crash on purpose.

The harness turns a scenario's crash plan into `HARNESS_FAILPOINTS="name=probability,..."`. Each time a
target reaches a named line it asks `Failpoints.hit(name)`; if the seeded decision says so, the process
exits at once with status 17, exactly as a power cut would end it: no `finally`, no flush of sockets.

Why decisions are hashed rather than drawn from one random stream: the n-th hit of a failpoint must get the
same answer for the same seed, whatever other failpoints were hit in between. The harness restarts the
process after each crash, so the incarnation (a restart counter) is mixed in; otherwise a restarted target
would replay the first decisions of its previous life and crash on the same request again and again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

BEFORE_COMMIT = "before_commit"
AFTER_COMMIT_BEFORE_RESPONSE = "after_commit_before_response"
STANDARD_FAILPOINTS: frozenset[str] = frozenset({BEFORE_COMMIT, AFTER_COMMIT_BEFORE_RESPONSE})

CRASH_EXIT_STATUS = 17
"""Exit status of a failpoint crash, so the harness can tell it from any other death."""

_log = logging.getLogger("targetkit.failpoints")


def parse_failpoints(spec: str, known: Collection[str] = STANDARD_FAILPOINTS) -> dict[str, float]:
    """Parse `"name=probability,name=probability"`; an empty spec means no failpoints.

    Unknown names are an error rather than ignored: a typo in a scenario would otherwise run a whole
    campaign without a single crash and report a clean bill of health.
    """
    probabilities: dict[str, float] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, sep, raw_probability = item.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"failpoint {item!r}: expected name=probability")
        if name not in known:
            raise ValueError(f"failpoint {name!r} is unknown; known: {', '.join(sorted(known))}")
        try:
            probability = float(raw_probability)
        except ValueError:
            raise ValueError(f"failpoint {name!r}: probability {raw_probability!r} is not a number") from None
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"failpoint {name!r}: probability {probability} is outside [0, 1]")
        probabilities[name] = probability
    return probabilities


def decide(seed: int, incarnation: int, name: str, hit_number: int, probability: float) -> bool:
    """Whether hit number `hit_number` (0-based) of failpoint `name` fires; a pure function of its inputs."""
    if probability <= 0.0:
        return False
    if probability >= 1.0:
        return True
    digest = hashlib.sha256(f"{seed}:{incarnation}:{name}:{hit_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < probability


def crash_process() -> None:
    """End the process now, skipping every clean-up handler, as a crash would."""
    _log.warning("failpoint crash: exiting with status %d", CRASH_EXIT_STATUS)
    for handler in logging.getLogger().handlers + _log.handlers:
        handler.flush()
    os._exit(CRASH_EXIT_STATUS)


@dataclass
class Failpoints:
    """The failpoints of one process incarnation; `hit` is safe to call from many threads."""

    probabilities: Mapping[str, float]
    seed: int = 0
    incarnation: int = 0
    crash: Callable[[], None] = crash_process
    _hits: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def hit(self, name: str) -> bool:
        """Count a pass through failpoint `name` and crash if this pass is chosen.

        Returns whether the failpoint fired, which only matters when `crash` is a test double that
        returns instead of ending the process.
        """
        probability = self.probabilities.get(name, 0.0)
        if probability <= 0.0:
            return False
        with self._lock:
            hit_number = self._hits.get(name, 0)
            self._hits[name] = hit_number + 1
        fired = decide(self.seed, self.incarnation, name, hit_number, probability)
        if fired:
            _log.warning("failpoint %s fired on hit %d (seed %d, incarnation %d)",
                         name, hit_number, self.seed, self.incarnation)
            self.crash()
        return fired
