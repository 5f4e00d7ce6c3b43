"""harness watch on the payments target's own SQLite charges table: the numbers, /metrics, the files,
a probe that breaks and recovers, read-only, and a SIGTERM that ends it with a last snapshot."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import metric_names as names
from harness.errors import ProbeError
from harness.ports import free_port
from harness.watch.exporter import MetricsServer
from harness.watch.ledger import LedgerReader
from harness.watch.loop import Watcher
from tests.waiting import wait_until
from tests.watch.watching import (
    add_charges,
    charges_db,
    known_ledger,
    polled_and_scraped,
    sample,
    scrape,
    sqlite_config,
    sqlite_watch_file,
)


def test_the_watcher_exports_the_known_duplicate_rate_of_a_real_charges_table(tmp_path: Path) -> None:
    now = time.time()
    recent = known_ledger(11, 200, 23, now, span_s=240)  # all first seen within the 5m window
    older = known_ledger(12, 100, 5, now - 600, span_s=1800)  # 10 to 40 min ago: only in 1h
    db = charges_db(tmp_path / "payments.db", recent.rows + older.rows)
    lines: list[str] = []
    watcher = Watcher(sqlite_config(db), tmp_path / "out", report=lines.append)
    samples = polled_and_scraped(watcher)

    five = {"ledger": "payments", "window": "5m"}
    hour = {"ledger": "payments", "window": "1h"}
    assert sample(samples, names.WATCH_OPERATIONS, **five) == recent.operations
    assert sample(samples, names.WATCH_DUPLICATED_OPERATIONS, **five) == len(recent.duplicated)
    assert sample(samples, names.WATCH_DUPLICATE_RATE, **five) == len(recent.duplicated) / recent.operations
    assert sample(samples, names.WATCH_DUPLICATE_EFFECTS, **five) == recent.extra_effects
    assert sample(samples, names.WATCH_OPERATIONS, **hour) == recent.operations + older.operations
    both = len(recent.duplicated) + len(older.duplicated)
    assert sample(samples, names.WATCH_DUPLICATED_OPERATIONS, **hour) == both
    assert sample(samples, names.WATCH_DUPLICATE_RATE_LOWER, **five) < sample(
        samples, names.WATCH_DUPLICATE_RATE_UPPER, **five
    )
    worst = [labels for (name, labels) in samples if name == names.WATCH_WORST_OFFENDER_EFFECTS]
    assert 0 < len(worst) <= 2 * 5
    assert sample(samples, names.WATCH_PROBE_UP, ledger="payments") == 1
    assert sample(samples, f"{names.WATCH_POLLS}_total", ledger="payments") == 1
    assert sample(samples, f"{names.WATCH_PROBE_ERRORS}_total", ledger="payments") == 0
    assert lines == []

    snapshot = json.loads((tmp_path / "out" / "watch.json").read_text())
    (ledger,) = snapshot["ledgers"]
    assert [w["duplicated_operations"] for w in ledger["windows"]] == [len(recent.duplicated), both]
    page = (tmp_path / "out" / "watch.html").read_text()
    assert "<h2>payments" in page and page.count("<tr>") == 1 + 2  # header and one row per window


def test_a_duplicate_landing_after_the_first_poll_counts_for_the_window_of_its_first_effect(
    tmp_path: Path,
) -> None:
    now = time.time()
    db = charges_db(tmp_path / "payments.db", (("op-late", "ch_1", now - 200), ("op-ok", "ch_2", now - 100)))
    watcher = Watcher(sqlite_config(db), tmp_path / "out", report=lambda line: None)
    first = watcher.poll().ledgers[0].windows[0]
    with sqlite3.connect(db) as connection:
        add_charges(connection, (("op-late", "ch_3", time.time()),))
    connection.close()
    second = watcher.poll().ledgers[0].windows[0]

    assert (first.operations, first.duplicated_operations) == (2, 0)
    assert (second.operations, second.duplicated_operations, second.effects) == (2, 1, 3)


def test_a_broken_probe_is_reported_counted_and_recovered_from_while_the_watcher_keeps_polling(
    tmp_path: Path,
) -> None:
    now = time.time()
    db = charges_db(tmp_path / "payments.db", (("op-1", "ch_1", now - 10), ("op-1", "ch_2", now - 5)))
    hidden = tmp_path / "moved.db"
    lines: list[str] = []
    watcher = Watcher(sqlite_config(db, interval_s=0.1), tmp_path / "out", report=lines.append)
    port = free_port()
    server = MetricsServer(port, watcher.snapshot)
    stop = threading.Event()
    loop = threading.Thread(target=watcher.run, args=(stop,), kwargs={"polls": 10_000}, daemon=True)
    try:
        loop.start()
        wait_until(lambda: watcher.snapshot().polls >= 1, "a first poll")
        db.rename(hidden)  # the probe breaks: its database file is gone
        wait_until(lambda: sample(scrape(port), names.WATCH_PROBE_UP, ledger="payments") == 0, "probe_up 0")
        errors = sample(scrape(port), f"{names.WATCH_PROBE_ERRORS}_total", ledger="payments")
        wait_until(lambda: watcher.snapshot().ledgers[0].errors > errors, "another failed poll")
        down = watcher.snapshot().ledgers[0]
        hidden.rename(db)  # fixed
        wait_until(lambda: sample(scrape(port), names.WATCH_PROBE_UP, ledger="payments") == 1, "recovery")
        recovered = scrape(port)
    finally:
        stop.set()
        loop.join(timeout=30)
        server.close()

    assert not loop.is_alive()
    assert down.windows[0].duplicated_operations == 1  # the last good numbers stay while it is down
    assert sample(recovered, f"{names.WATCH_PROBE_ERRORS}_total", ledger="payments") >= 2
    assert sample(recovered, names.WATCH_DUPLICATED_OPERATIONS, ledger="payments", window="5m") == 1
    failures = [line for line in lines if "read again" not in line]
    assert failures and all("\n" not in line for line in failures)
    assert failures[0].startswith("watch: ledgers.payments.sqlite: no database file at")
    assert any(line.startswith("watch: ledgers.payments: read again") for line in lines)


@pytest.mark.parametrize(
    ("ledger", "field"),
    [
        ({"query": "SELECT reference, id, created_at FROM no_such_table"}, "ledgers.payments.query: "),
        ({"timestamp_field": "updated_at"}, "ledgers.payments.timestamp_field: row 0 has no 'updated_at'"),
        ({"operation_field": "op"}, "ledgers.payments.operation_field: row 0 has no 'op'"),
        (
            {"query": "SELECT reference, id, customer AS created_at FROM charges"},
            "ledgers.payments.timestamp_field: row 0: expected epoch seconds",
        ),
    ],
)
def test_a_bad_probe_names_the_ledger_and_the_field(
    tmp_path: Path, ledger: dict[str, str], field: str
) -> None:
    db = charges_db(tmp_path / "payments.db", (("op-1", "ch_1", time.time()),))
    lines: list[str] = []
    snapshot = Watcher(sqlite_config(db, ledger=ledger), tmp_path / "out", report=lines.append).poll()

    assert [line.removeprefix("watch: ")[: len(field)] for line in lines] == [field]
    assert (snapshot.ledgers[0].up, snapshot.ledgers[0].errors) == (False, 1)


SLOW_SQLITE_QUERY = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000)"
    " SELECT reference, id, created_at FROM charges, (SELECT max(i) FROM n)"
)


def test_a_query_slower_than_its_timeout_is_given_up_and_reported_and_the_watcher_polls_on(
    tmp_path: Path,
) -> None:
    db = charges_db(tmp_path / "payments.db", (("op-1", "ch_1", time.time()),))
    lines: list[str] = []
    slow = sqlite_config(db, ledger={"query": SLOW_SQLITE_QUERY, "timeout_s": 0.2})
    watcher = Watcher(slow, tmp_path / "out", report=lines.append)

    snapshot = watcher.poll()  # without the timeout: a read of about 20 s that succeeds

    assert (snapshot.ledgers[0].up, snapshot.ledgers[0].errors) == (False, 1)
    (line,) = lines
    assert line.startswith("watch: ledgers.payments.query: ") and "timeout_s" in line


def test_a_write_through_the_probes_sqlite_connection_fails_and_changes_nothing(tmp_path: Path) -> None:
    db = charges_db(tmp_path / "payments.db", (("op-1", "ch_1", time.time()),))
    writing = sqlite_config(
        db,
        ledger={
            "query": "INSERT INTO charges (id, amount, currency, customer, reference, created_at)"
            " VALUES ('ch_x', 1, 'EUR', 'c', 'op-x', 0) RETURNING reference, id, created_at",
        },
    ).ledgers[0]

    with pytest.raises(ProbeError, match="readonly database"):
        LedgerReader(writing).read(since=0.0)
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM charges").fetchone() == (1,)
    connection.close()


def test_harness_watch_serves_metrics_and_ends_cleanly_on_sigterm_with_a_last_snapshot(
    tmp_path: Path,
) -> None:
    charges_db(tmp_path / "payments.db", (("op-1", "ch_1", time.time() - 1), ("op-1", "ch_2", time.time())))
    config = sqlite_watch_file(tmp_path, 0.2, "[5m]")
    out = tmp_path / "out"
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "watch",
        str(config),
        "--out",
        str(out),
        "--metrics-port",
        str(port),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        wait_until(lambda: (out / "watch.json").is_file() and _polls(out) >= 2, "two polls")
        samples = scrape(port)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    assert process.returncode == 0, stderr
    assert sample(samples, names.WATCH_DUPLICATED_OPERATIONS, ledger="payments", window="5m") == 1
    final = json.loads((out / "watch.json").read_text())
    assert final["stopped"] is True
    assert "stopped after" in stdout
    assert " payments  5m 1/1 dup 100.0% (" in stdout  # a line per poll
    assert not list(out.glob(".*.tmp"))


def _polls(out: Path) -> int:
    try:
        return int(json.loads((out / "watch.json").read_text())["polls"])
    except (ValueError, OSError):
        return 0
