"""Replays the watched service reports itself: a counter's increase per window, log lines per window."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.errors import ProbeError
from harness.watch.replays import CounterReplays, LogReplays
from tests.threaded_server import served


class _Counter:
    """A service's /metrics whose replay counter the test sets."""

    def __init__(self) -> None:
        self.value = 0.0
        self.name = "idempotency_replays"


@pytest.fixture
def service() -> Iterator[tuple[_Counter, str]]:
    counter = _Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = (
                f"# TYPE {counter.name} counter\n"
                f'{counter.name}_total{{route="/charges"}} {counter.value}\n'
                f'{counter.name}_total{{route="/refunds"}} 1\n'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with served(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "replays-metrics") as url:
        yield counter, f"{url}/metrics"


def test_a_counters_increase_per_window_counts_a_restart_as_a_fresh_start(
    service: tuple[_Counter, str],
) -> None:
    counter, url = service
    replays = CounterReplays(url, "idempotency_replays", "ledgers.p.replays")
    for t, value in ((0.0, 5), (100.0, 8), (200.0, 12), (300.0, 2)):  # 300: the service restarted
        counter.value = value
        replays.poll(t)

    restarted = 2 + 1  # after a restart every series starts again: the whole new total is new
    assert replays.count(start=0.0) == 3 + 4 + restarted
    assert replays.count(start=150.0) == 4 + restarted
    assert replays.count(start=250.0) == restarted
    replays.forget(horizon=250.0)
    assert replays.count(start=250.0) == restarted  # the base before the horizon is kept


def test_a_counter_that_is_not_there_names_the_metric_field(service: tuple[_Counter, str]) -> None:
    _, url = service
    with pytest.raises(ProbeError, match=r"^ledgers\.p\.replays\.metric: .* no series 'key_replays'"):
        CounterReplays(url, "key_replays", "ledgers.p.replays").poll(0.0)


def test_log_lines_count_by_their_own_time_and_survive_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("2027-01-15T08:00:00Z replayed key k1\n2027-01-15T08:10:00Z created charge\n")
    replays = LogReplays(log, "replayed key", r"^(\S+)", "ledgers.p.replays")
    replays.poll(now=0.0)
    with log.open("a") as file:
        file.write(
            "2027-01-15T08:20:00Z replayed key k2\n2027-01-15T08:21:00Z replayed key k3"
        )  # no newline yet
    replays.poll(now=0.0)
    assert replays.count(start=0.0) == 2  # the line still being written waits

    log.unlink()
    log.write_text("2027-01-15T08:30:00Z replayed key k4\n")  # rotated: a new, shorter file
    replays.poll(now=0.0)
    assert replays.count(start=0.0) == 3
    eight = 1_800_000_000.0  # 2027-01-15T08:00:00Z, the first line's time
    assert replays.count(start=eight - 1) == 3
    assert replays.count(start=eight + 25 * 60) == 1  # only k4, written at 08:30


def test_without_timestamps_lines_count_from_the_first_poll_on_at_the_poll_that_read_them(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text("replayed key old\n")
    replays = LogReplays(log, "replayed", None, "ledgers.p.replays")
    replays.poll(now=100.0)
    with log.open("a") as file:
        file.write("replayed key new\nsomething else\n")
    replays.poll(now=200.0)

    assert replays.count(start=0.0) == 1
    assert replays.count(start=150.0) == 1
    assert replays.count(start=250.0) == 0


def test_a_missing_log_names_the_log_field(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match=r"^ledgers\.p\.replays\.log: cannot read"):
        LogReplays(tmp_path / "nope.log", "x", None, "ledgers.p.replays").poll(0.0)
