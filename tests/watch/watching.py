"""What the watch tests share: a payments charges ledger with known duplicates, a config, a scrape."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.ports import free_port
from harness.watch.config import WatchConfig
from harness.watch.exporter import MetricsServer
from harness.watch.loop import Watcher
from targets.payments.ledger import CHARGES_SCHEMA


@dataclass(frozen=True)
class KnownLedger:
    """Rows of (reference, id, created_at) and what a watcher must find in them."""

    rows: tuple[tuple[str, str, float], ...]
    operations: int
    duplicated: frozenset[str]
    extra_effects: int


def known_ledger(seed: int, operations: int, duplicated: int, now: float, span_s: float) -> KnownLedger:
    """``operations`` operations first seen within ``span_s`` before ``now``, ``duplicated`` of them
    with 1-3 later effects that land within a minute of the first, all before ``now``."""
    rng = random.Random(seed)
    references = [f"op-{seed}-{index:05d}" for index in range(operations)]
    twice = frozenset(rng.sample(references, duplicated))
    rows, extra = [], 0
    for index, reference in enumerate(references):
        first = now - rng.uniform(61.0, span_s)
        rows.append((reference, f"ch_{seed}_{index}_0", first))
        for again in range(rng.randint(1, 3) if reference in twice else 0):
            rows.append((reference, f"ch_{seed}_{index}_{again + 1}", first + rng.uniform(0.0, 60.0)))
            extra += 1
    rng.shuffle(rows)
    return KnownLedger(tuple(rows), operations, twice, extra)


def charges_db(path: Path, rows: tuple[tuple[str, str, float], ...] = ()) -> Path:
    """The payments target's own charges table at ``path``, holding ``rows``."""
    with sqlite3.connect(path) as connection:
        connection.executescript(CHARGES_SCHEMA)
        add_charges(connection, rows)
    connection.close()
    return path


def add_charges(connection: sqlite3.Connection, rows: tuple[tuple[str, str, float], ...]) -> None:
    connection.executemany(
        "INSERT INTO charges (id, amount, currency, customer, reference, created_at)"
        " VALUES (?, 100, 'EUR', 'cus_0001', ?, ?)",
        [(charge_id, reference, created_at) for reference, charge_id, created_at in rows],
    )


SQLITE_QUERY = "SELECT reference, id, created_at FROM charges WHERE created_at >= :since"


def sqlite_watch_file(folder: Path, interval_s: float, windows: str) -> Path:
    """``folder/watch.yaml`` as a user writes it, watching ``folder/payments.db`` (``windows``: ``[5m]``)."""
    path = folder / "watch.yaml"
    path.write_text(
        f"interval_s: {interval_s}\nwindows: {windows}\nledgers:\n  - name: payments\n    source: sql\n"
        f'    sqlite: payments.db\n    query: "{SQLITE_QUERY}"\n'
        "    operation_field: reference\n    timestamp_field: created_at\n    id_field: id\n",
        encoding="utf-8",
    )
    return path


def sqlite_config(db: Path, **overrides: object) -> WatchConfig:
    ledger: dict[str, object] = {
        "name": "payments",
        "source": "sql",
        "sqlite": str(db),
        "query": SQLITE_QUERY,
        "operation_field": "reference",
        "timestamp_field": "created_at",
        "id_field": "id",
    }
    ledger.update(overrides.pop("ledger", {}))  # type: ignore[call-overload]
    return WatchConfig.model_validate(
        {"interval_s": 0.1, "windows": ["5m", "1h"], "ledgers": [ledger], **overrides}
    )


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample on ``127.0.0.1:port/metrics``, by name and sorted labels, parsed by prometheus_client."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def polled_and_scraped(watcher: Watcher) -> Samples:
    """One poll of ``watcher``, then its /metrics as a scraper sees them, from a server of its own."""
    port = free_port()
    server = MetricsServer(port, watcher.snapshot)
    try:
        watcher.poll()
        return scrape(port)
    finally:
        server.close()


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]
