"""The watcher: poll every ledger each interval, update the snapshot, export it, until told to stop.

Polls are on a fixed grid (start + k × interval), so a slow read delays one poll, not all later ones;
a poll that overran its slot skips to the next. The loop ends after ``polls`` polls, after
``duration_s``, or when ``stop`` is set (SIGINT or SIGTERM in the CLI), whichever comes first, and it
waits on the event, so a signal ends it at once rather than at the next poll. Without a bound it runs
until signalled: that is what a watcher of a production service is for. On the way out it writes a
last snapshot marked ``stopped``.

A ledger that cannot be read does not stop the watcher: its one-line error (naming ``ledgers.<name>``
and the field) goes to stderr, the ledger is marked down and counted as failed, it keeps its last good
numbers, and the next poll tries again. Any exception from a read counts, not only a
:class:`ProbeError`: a watcher that dies on a surprise watches nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import EXIT_COULD_NOT_RUN, EXIT_OK, ProbeError
from harness.interrupts import on_stop_signals
from harness.watch.config import WatchConfig
from harness.watch.exporter import MetricsServer
from harness.watch.ledger import LedgerReader
from harness.watch.lines import poll_lines
from harness.watch.replays import Replays, replays_for
from harness.watch.snapshot import write_snapshot
from harness.watch.state import LedgerStatus, WatchSnapshot
from harness.watch.windows import tally, window_stats


def _stderr_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def one_line(error: BaseException) -> str:
    """An error as one line: a driver's message (Postgres' ``LINE 1: ...``) may span several."""
    text = " ".join(str(error).split())
    return text if isinstance(error, ProbeError) else f"{type(error).__name__}: {text}"


class Watcher:
    """Polls the ledgers of ``config`` and keeps the latest :class:`WatchSnapshot`."""

    def __init__(
        self,
        config: WatchConfig,
        out_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        report: Callable[[str], None] = _stderr_line,
    ) -> None:
        self.config = config
        self.out_dir = out_dir
        self._clock = clock
        self._report = report
        self._readers = {spec.name: LedgerReader(spec) for spec in config.ledgers}
        self._replays: dict[str, Replays] = {
            spec.name: replays_for(spec.replays, spec.name) for spec in config.ledgers if spec.replays
        }
        self._statuses = {
            spec.name: LedgerStatus(spec.name, replays_declared=spec.replays is not None)
            for spec in config.ledgers
        }
        self._lock = threading.Lock()
        self._polls = 0
        self._stopped = False

    def horizon(self, now: float) -> float:
        """The oldest time any window needs, minus the lookback: reads start here (``since``)."""
        return now - max(self.config.window_seconds) - self.config.lookback_s

    def snapshot(self) -> WatchSnapshot:
        with self._lock:
            return WatchSnapshot(
                generated_at=self._clock(),
                interval_s=self.config.interval_s,
                polls=self._polls,
                stopped=self._stopped,
                ledgers=tuple(self._statuses.values()),
            )

    def poll(self) -> WatchSnapshot:
        """Read every ledger once, update the numbers, rewrite the snapshot files."""
        for name in self._readers:
            status = self._poll_ledger(name)
            with self._lock:
                self._statuses[name] = status
        with self._lock:
            self._polls += 1
        return self._write()

    def _poll_ledger(self, name: str) -> LedgerStatus:
        status = self._statuses[name]
        now = self._clock()
        horizon = self.horizon(now)
        try:
            tallies = tally(self._readers[name].read(horizon), horizon)
            replays = self._replays.get(name)
            if replays is not None:
                replays.poll(now)
                replays.forget(horizon)
        except Exception as error:  # noqa: BLE001 - a failed read marks the ledger down, never ends the watch
            line = one_line(error)
            if not line.startswith(f"ledgers.{name}"):
                line = f"ledgers.{name}: {line}"
            self._report(f"watch: {line}")
            return status.failed(line)
        if status.up is False:
            self._report(f"watch: ledgers.{name}: read again after {status.errors} failed poll(s) in all")
        windows = tuple(
            window_stats(
                tallies, now, label, seconds, self.config.worst,
                None if replays is None else replays.count(now - seconds),
            )
            for label, seconds in zip(self.config.windows, self.config.window_seconds, strict=True)
        )
        return status.succeeded(now, windows)

    def _write(self) -> WatchSnapshot:
        snapshot = self.snapshot()
        write_snapshot(self.out_dir, snapshot)
        return snapshot

    def run(
        self,
        stop: threading.Event,
        polls: int | None = None,
        duration_s: float | None = None,
        on_poll: Callable[[WatchSnapshot], None] | None = None,
    ) -> WatchSnapshot:
        """Poll until ``polls`` were made, ``duration_s`` passed or ``stop`` is set; the final snapshot.
        ``on_poll`` sees each poll's snapshot (the terminal lines)."""
        started = time.monotonic()
        made = 0
        while not stop.is_set():
            snapshot = self.poll()
            if on_poll is not None:
                on_poll(snapshot)
            made += 1
            if polls is not None and made >= polls:
                break
            elapsed = time.monotonic() - started
            next_at = (int(elapsed / self.config.interval_s) + 1) * self.config.interval_s
            if duration_s is not None and next_at > duration_s:
                stop.wait(max(0.0, duration_s - elapsed))
                break
            stop.wait(next_at - elapsed)
        with self._lock:
            self._stopped = True
        return self._write()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM set ``stop``: the loop finishes its poll and writes a last snapshot."""

    with on_stop_signals(lambda signum, frame: stop.set()):
        yield


def _say_lines(say: Callable[[str], None]) -> Callable[[WatchSnapshot], None]:
    def say_lines(snapshot: WatchSnapshot) -> None:
        for line in poll_lines(snapshot):
            say(line)

    return say_lines


def watch(
    config: WatchConfig,
    out_dir: Path,
    *,
    metrics_port: int | None = None,
    polls: int | None = None,
    duration_s: float | None = None,
    say: Callable[[str], None] = print,
    quiet: bool = False,
) -> int:
    """``harness watch``: serve ``/metrics`` (when a port is given), poll until bounded or signalled,
    saying each poll's numbers in one line per ledger unless ``quiet``.

    Exit status 0; with a single poll (``--once``, a cron job's check) 2 when a ledger could not be read.
    """
    watcher = Watcher(config, out_dir)
    server = None if metrics_port is None else MetricsServer(metrics_port, watcher.snapshot)
    stop = threading.Event()
    try:
        where = "" if server is None else f"; metrics on http://127.0.0.1:{server.port}/metrics"
        say(f"watching {len(config.ledgers)} ledger(s) every {config.interval_s:g} s{where}; "
            f"snapshots in {out_dir}")
        with stop_on_signals(stop):
            final = watcher.run(stop, polls, duration_s, on_poll=None if quiet else _say_lines(say))
    finally:
        if server is not None:
            server.close()
    say(f"stopped after {final.polls} poll(s); last snapshot in {out_dir}")
    if polls == 1 and any(not ledger.up for ledger in final.ledgers):
        return EXIT_COULD_NOT_RUN
    return EXIT_OK
