"""``make demo-watch``: ``harness watch`` on the payments target's ledger while retried load hits it.

For each variant, naive then idempotent, it starts ``harness serve`` (the target, the fault proxy with
dropped responses, Locust's web UI), starts ``harness watch`` on the target's own SQLite charges table,
swarms a bounded number of operations through the UI's API, and lets the watcher's line per poll show
the duplicate rate: the naive one's climbs from nothing as charges are made twice, the idempotent one's
stays at 0. Everything runs on loopback, stops by itself (a bounded load, a bounded watch) and is ended
by process group; the files stay under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

import httpx

from harness.processes import end_process

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "payments.yaml"
FAULT = "dropped-responses"
INTERVAL_S = 2.0
"""How often the demo's watcher polls by default (``--interval``)."""
START_AT_MOST_S = 120.0
"""How long serve may take to start a target, the proxy and Locust on a loaded machine."""
LOAD_AT_MOST_S = 300.0
STOP_AT_MOST_S = 30.0
POLL_S = 0.5

T = TypeVar("T")


def wait_for(what: str, found: Callable[[], T | None], deadline_s: float) -> T:
    """``found()`` once it is not None; a clear error naming ``what`` after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while (value := found()) is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"demo-watch: no {what} after {deadline_s:g} s")
        time.sleep(POLL_S)
    return value


@contextmanager
def started(command: list[str], stdout: IO[bytes] | None) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group, interrupted (as Ctrl-C would) on the way out, its whole group
    killed if it lingers: the harness's own way of ending what it started."""
    process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        end_process(process, signal.SIGINT, STOP_AT_MOST_S)


def serve_line(log: Path, label: str) -> str | None:
    """The value serve printed after ``label`` (``Locust UI   http://...``), once it has."""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(label):
            return line.split()[len(label.split())]
    return None


def load_finished(ui: str) -> bool | None:
    """True once the swarm has run and stopped (its operations budget spent)."""
    stats = httpx.get(f"{ui}/stats/requests", timeout=5.0).json()
    return True if stats.get("state") == "stopped" else None


def polled_all(snapshot: Path, operations: int) -> bool | None:
    """True once the watcher's latest poll counted ``operations`` operations in its widest window."""
    try:
        windows = json.loads(snapshot.read_text(encoding="utf-8"))["ledgers"][0]["windows"]
    except (OSError, ValueError, KeyError, IndexError):  # not written yet, or being replaced
        return None
    return True if windows and windows[-1]["operations"] >= operations else None


def watch_file(folder: Path, db: Path, ledger: str, interval_s: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "watch.yaml"
    path.write_text(
        f"interval_s: {interval_s}\nwindows: [1m, 10m]\nledgers:\n"
        f"  - name: {ledger}\n    source: sql\n    sqlite: {db}\n"
        '    query: "SELECT reference, id, created_at FROM charges WHERE created_at >= :since"\n'
        "    operation_field: reference\n    timestamp_field: created_at\n    id_field: id\n",
        encoding="utf-8",
    )
    return path


def demo_variant(variant: str, out: Path, operations: int, users: int, interval_s: float) -> dict[str, float]:
    """Serve, watch and load one variant; its last watch snapshot's widest window."""
    harness = [sys.executable, "-m", "harness.cli"]
    folder = out / variant
    shutil.rmtree(folder, ignore_errors=True)  # an earlier demo's ledger or snapshot would pass as this one's
    folder.mkdir(parents=True)
    log = folder / "serve.log"
    serve = [*harness, "serve", str(SCENARIO), "--variant", variant, "--fault", FAULT]
    serve += ["--operations", str(operations), "--out", str(folder / "serve")]
    print(f"\n== {variant}: harness serve (the target under {FAULT}), then harness watch on its ledger")
    with log.open("wb") as serve_output, started(serve, serve_output):
        ui = wait_for("Locust UI from harness serve", lambda: serve_line(log, "Locust UI"), START_AT_MOST_S)
        db = wait_for(
            "target.db",
            lambda: next((folder / "serve").glob("*/cells/*/data/target.db"), None),
            START_AT_MOST_S,
        )
        config = watch_file(folder, db, f"payments-{variant}", interval_s)
        watch = [
            *harness,
            "watch",
            str(config),
            "--out",
            str(folder / "watch"),
            "--duration",
            str(LOAD_AT_MOST_S),
        ]
        with started(watch, None):
            snapshot = folder / "watch" / "watch.json"
            wait_for("first poll of the empty ledger", lambda: snapshot.is_file() or None, START_AT_MOST_S)
            httpx.post(f"{ui}/swarm", data={"user_count": users, "spawn_rate": users}, timeout=10.0)
            wait_for(f"end of the {operations} operations", lambda: load_finished(ui), LOAD_AT_MOST_S)
            wait_for(
                "a poll that counted every operation",
                lambda: polled_all(snapshot, operations),
                LOAD_AT_MOST_S,
            )
    last = json.loads((folder / "watch" / "watch.json").read_text(encoding="utf-8"))
    widest: dict[str, float] = last["ledgers"][0]["windows"][-1]
    return widest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "demo-watch")
    parser.add_argument("--operations", type=int, default=1200, help="operations per variant")
    parser.add_argument("--users", type=int, default=2, help="Locust users (a gentle, steady load)")
    parser.add_argument(
        "--interval", type=float, default=INTERVAL_S, help="seconds between the watcher's polls"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.operations <= 100_000 or not 1 <= args.users <= 100 or not 0.1 <= args.interval <= 60:
        parser.error("--operations must be 1..100000, --users 1..100 and --interval 0.1..60")
    finals = {
        variant: demo_variant(variant, args.out, args.operations, args.users, args.interval)
        for variant in ("naive", "idempotent")
    }
    print()
    for variant, window in finals.items():
        print(
            f"{variant:<10} {window['duplicated_operations']:.0f}/{window['operations']:.0f} operations "
            f"charged more than once ({window['duplicate_rate']:.1%})"
        )
    print(f"pages: {shown(args.out)}/<variant>/watch/watch.html")
    return 0


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it: lines stay within 100 columns."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
