"""An operation's story in plain words, for a reader who has not seen the history.

Every checker explains its anomalies with these phrases, so ``3 attempts: attempt 1 timed out after
0.50 s, attempt 2 connection reset, attempt 3 → 201 ch_12`` reads the same whatever flagged the op.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.checkers.answers import Answered, answer
from harness.checkers.evidence import OpTrace
from harness.ledger import Effect

__all__ = ["attempts_story", "effects_phrase", "resource_list"]


def _describe_attempt(attempt: Answered) -> str:
    separator = " → " if attempt.status is not None else " "
    return f"attempt {attempt.attempt}{separator}{answer(attempt)}"


def effects_phrase(count: int) -> str:
    return f"{count} effect" if count == 1 else f"{count} effects"


def attempts_story(trace: OpTrace) -> str:
    """``3 attempts: attempt 1 timed out after 0.50 s, attempt 2 connection reset, attempt 3 → 201``."""
    count = max(trace.attempt_starts, len(trace.attempt_ends))
    parts = [_describe_attempt(attempt) for attempt in trace.attempt_ends]
    missing = count - len(trace.attempt_ends)
    if missing > 0:
        parts.append(f"{missing} without a recorded answer")
    head = f"{count} attempt{'' if count == 1 else 's'}"
    return f"{head}: {', '.join(parts)}" if parts else head


def resource_list(op_effects: Sequence[Effect]) -> str:
    return ", ".join(effect.resource_id for effect in op_effects)
