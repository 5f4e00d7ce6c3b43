"""What one attempt's answer was, in words and as a tally key: the raw material of every "why".

A status code is its own answer; an attempt without one is classified by its transport error, so
``ReadTimeout: timed out`` and ``httpx.ReadTimeout`` both read ``timed out after 0.50 s`` and count as
``timeout``.
"""

from __future__ import annotations

from typing import Protocol

from harness.history import AttemptOutcome


class Answered(Protocol):
    """An attempt's answer: a history's :class:`~harness.history.AttemptEnd`, or the checker's compact
    :class:`~harness.records.AttemptAnswer` of it."""

    @property
    def attempt(self) -> int: ...
    @property
    def t(self) -> float: ...
    @property
    def outcome(self) -> AttemptOutcome: ...
    @property
    def status(self) -> int | None: ...
    @property
    def resource_id(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def latency_s(self) -> float: ...


def answer(attempt: Answered) -> str:
    """An attempt's answer in a few words: ``201 ch_12``, ``timed out after 0.50 s``, ``connection reset``."""
    if attempt.status is not None:
        return f"{attempt.status} {attempt.resource_id}" if attempt.resource_id else str(attempt.status)
    error = (attempt.error or "").strip()
    lowered = error.lower()
    if "timeout" in lowered or "timed out" in lowered:
        return f"timed out after {attempt.latency_s:.2f} s"
    if "reset" in lowered:
        return "connection reset"
    if "refused" in lowered:
        return "connection refused"
    if "closed" in lowered or "disconnect" in lowered or "eof" in lowered:
        return "connection closed without an answer"
    if error:
        return error
    return {"ok": "succeeded", "fail": "failed", "info": "no answer"}[attempt.outcome]


def answer_label(attempt: Answered) -> str:
    """An attempt's answer as a short tally key: ``201``, ``500``, ``timeout``, ``reset``, ``refused``,
    ``closed`` or ``error``, so a cell's answers can be counted by kind."""
    if attempt.status is not None:
        return str(attempt.status)
    said = answer(attempt)
    for word in ("timed out", "reset", "refused", "closed"):
        if said.startswith(word) or said.startswith(f"connection {word}"):
            return "timeout" if word == "timed out" else word
    return "error"
