"""The prefix of a cell's operation ids: readable, and unique per run, per variant and per fault.

Op ids are what the checker matches effects to, and they seed each op's Idempotency-Key, so two cells
that share an id would see each other's effects (``fastidem-redis`` and ``fastidem-memory`` writing to
one store), and a rerun against a store that outlives a run would find last run's effects under its own
ids and count them as duplicates. The readable part (the first letters of the variant and fault) is for
people; the digest of the run id and the full names is what keeps ids apart, for every kind of target.
The op id also travels in a header of its own (``OP_HEADER``), which the fault proxy reads.
"""

from __future__ import annotations

import hashlib

OP_HEADER = "X-Harness-Op"
"""The header every attempt of an op carries, unchanged: the op id, for the fault proxy's records.

Targets ignore it; the Idempotency-Key cannot serve, since a naive run may send none."""

SAGA_HEADER = "X-Saga-Id"
"""The header a saga's orchestrator sends on each call to a participant: the saga's id, so that a hop
proxy's decision names the saga it hit (those calls carry no op header: the orchestrator makes them)."""

DIGEST_HEX_CHARS = 8
"""32 bits: two cells of a run share a prefix with odds of one in four billion."""


def op_id_prefix(run_id: str, variant: str, fault: str) -> str:
    """``<variant[:3]>-<fault[:12]>-<digest>-``; the op's number follows (``op_id_for``)."""
    digest = hashlib.blake2s(f"{run_id}\0{variant}\0{fault}".encode(), digest_size=DIGEST_HEX_CHARS // 2)
    return f"{variant[:3]}-{fault[:12]}-{digest.hexdigest()}-"
