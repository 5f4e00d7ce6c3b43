"""Idempotency-key replays the watched service counts itself, per window.

A service that honours keys answers a retried request from its store (a replay) instead of acting
again; how often it does says how much the keys are saving. Two sources, both read once per poll:

* :class:`CounterReplays`: a counter on the service's Prometheus text endpoint. A window's replays are
  the counter's increases between consecutive polls whose later poll lies in the window (a drop is a
  restart of the service: the new value is the increase). Until the watcher has run a whole window,
  the window covers only the time since it started.
* :class:`LogReplays`: lines of a log file matching ``pattern``, read from where the last poll
  stopped (a rotated or truncated file is read from its start). With ``timestamp_pattern`` a line's
  time is its first group's (epoch seconds or ISO-8601) and the file is read from its start at the
  first poll; without it (or where a line's time does not parse) a line's time is the poll that read
  it, and the lines already in the file at the first poll are skipped, since their time is unknown.

Both keep only what the largest window needs; a failure is a :class:`ProbeError` naming
``ledgers.<name>.replays.<field>``.
"""

from __future__ import annotations

import os
import re
from collections import deque
from pathlib import Path
from typing import Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.errors import ProbeError
from harness.local_http import local_client
from harness.watch.config import ReplaysSpec
from harness.watch.timestamps import epoch_seconds

MAX_LOG_BYTES_PER_POLL = 64 * 1024 * 1024
"""A poll reads at most this much of a log; the rest waits for the next poll (bounded memory and time)."""


class Replays(Protocol):
    def poll(self, now: float) -> None:
        """Read what is new; a ProbeError when the source cannot be read."""

    def count(self, start: float) -> int:
        """Replays at or after ``start``."""

    def forget(self, horizon: float) -> None:
        """Drop what no window starting at or after ``horizon`` needs."""


class CounterReplays:
    """A Prometheus counter's increase per window (every series of that name, summed)."""

    def __init__(self, url: str, metric: str, field: str) -> None:
        self.url = url
        self.metric = metric
        self.field = field
        self._samples: deque[tuple[float, float]] = deque()

    def _value(self) -> float:
        try:
            response = local_client().get(self.url, timeout=10.0)
        except httpx.HTTPError as error:
            raise ProbeError(f"{self.field}.metrics_url: GET {self.url} failed: {error}") from error
        if response.status_code != 200:
            raise ProbeError(f"{self.field}.metrics_url: GET {self.url} answered HTTP {response.status_code}")
        names = (self.metric, f"{self.metric}_total")
        try:
            values = [
                sample.value
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
                if sample.name in names
            ]
        except ValueError as error:
            raise ProbeError(f"{self.field}.metrics_url: {self.url}: not Prometheus text: {error}") from None
        if not values:
            raise ProbeError(f"{self.field}.metric: {self.url} has no series {self.metric!r}")
        return sum(values)

    def poll(self, now: float) -> None:
        self._samples.append((now, self._value()))

    def count(self, start: float) -> int:
        increase = 0.0
        samples = list(self._samples)
        for (_, before), (t, after) in zip(samples, samples[1:], strict=False):
            if t >= start:
                increase += after - before if after >= before else after
        return round(increase)

    def forget(self, horizon: float) -> None:
        # keep the last sample before the horizon: the base of the first increase inside it
        while len(self._samples) > 1 and self._samples[1][0] < horizon:
            self._samples.popleft()


class LogReplays:
    """Lines of a log matching a pattern, each at its own time or at the poll that read it."""

    def __init__(self, path: Path, pattern: str, timestamp_pattern: str | None, field: str) -> None:
        self.path = path
        self.pattern = re.compile(pattern)
        self.timestamp_pattern = None if timestamp_pattern is None else re.compile(timestamp_pattern)
        self.field = field
        self._offset: int | None = None if timestamp_pattern is None else 0
        self._inode: int | None = None
        self._times: deque[float] = deque()

    def poll(self, now: float) -> None:
        try:
            stat = os.stat(self.path)
        except OSError as error:
            raise ProbeError(f"{self.field}.log: cannot read {self.path}: {error.strerror}") from None
        if self._offset is None:  # first poll, no timestamps: what is there already has no known time
            self._offset = stat.st_size
        if self._inode not in (None, stat.st_ino) or stat.st_size < self._offset:
            self._offset = 0  # rotated or truncated: a new file, read from its start
        self._inode = stat.st_ino
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                chunk = file.read(MAX_LOG_BYTES_PER_POLL)
        except OSError as error:
            raise ProbeError(f"{self.field}.log: cannot read {self.path}: {error.strerror}") from None
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next poll
        self._offset += len(complete)
        for line in complete.decode("utf-8", errors="replace").splitlines():
            if self.pattern.search(line):
                self._times.append(self._line_time(line, now))

    def _line_time(self, line: str, now: float) -> float:
        if self.timestamp_pattern is None:
            return now
        found = self.timestamp_pattern.search(line)
        if found is None:
            return now
        try:
            return epoch_seconds(found.group(1))
        except ValueError:
            return now

    def count(self, start: float) -> int:
        return sum(1 for t in self._times if t >= start)

    def forget(self, horizon: float) -> None:
        self._times = deque(t for t in self._times if t >= horizon)


def replays_for(spec: ReplaysSpec, ledger: str) -> Replays:
    """The replay source ``spec`` declares for the ledger named ``ledger``."""
    field = f"ledgers.{ledger}.replays"
    if spec.metrics_url is not None:
        assert spec.metric is not None
        return CounterReplays(spec.metrics_url, spec.metric, field)
    assert spec.log is not None and spec.pattern is not None
    return LogReplays(Path(spec.log), spec.pattern, spec.timestamp_pattern, field)
