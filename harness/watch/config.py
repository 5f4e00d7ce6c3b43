"""``watch.yaml``: what ``harness watch`` reads, how often, and over which windows.

Validated whole before anything starts, in the scenario models' strict style: an unknown field, a
window that is no duration, a SQL ledger without its query, a URL off loopback (unless
``allow_remote``) is one line naming the file and the field, exit 2 (:class:`~harness.errors.
ScenarioError`, whose message is ``file: field: problem``). Paths (a SQLite file, a log, a callable's
``python_path``) are relative to the watch file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from harness.errors import ScenarioError, describe_invalid
from harness.ports import is_loopback
from harness.scenario._base import CALLABLE_PATTERN, Identifier, _ReadsFiles, _Strict, invalid_at, resolved
from harness.scenario.yamlfile import read_yaml

MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 3600.0
MAX_WINDOW_S = 7 * 24 * 3600.0
"""A week: longer windows mean reading a week of ledger rows at every poll."""
MAX_WORST = 100
"""Worst offenders kept per window: each is a labelled series, so their number is bounded."""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

NOT_LOCAL = "not on this machine (set allow_remote: true to watch another host)"

SinceFormat = Literal["seconds", "milliseconds", "iso", "datetime"]


def duration_seconds(text: object) -> float:
    """``"5m"`` → 300.0: a number with an optional unit ``ms``, ``s``, ``m``, ``h`` or ``d`` (seconds
    without one); a ValueError saying what is expected otherwise."""
    match = _DURATION.fullmatch(str(text).strip()) if isinstance(text, str | int | float) else None
    if match is None or isinstance(text, bool):
        raise ValueError("expected a duration such as 30s, 5m, 1h or 1d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def _loopback_dsn(dsn: str) -> bool:
    """Whether a Postgres DSN's host is on this machine (a loopback address, or a Unix socket)."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        host = str(conninfo_to_dict(dsn).get("host") or "")
    except ProgrammingError:
        return True  # not a connection string: connecting says so, naming the dsn field
    return all(part.startswith("/") or part == "" or is_loopback(part) for part in host.split(","))


class ReplaysSpec(_ReadsFiles):
    """Idempotency-key replays the watched service counts itself: a counter on its Prometheus endpoint
    (``metrics_url`` + ``metric``; its increase per window) or lines of its log (``log`` + ``pattern``,
    a regular expression; a line's time from ``timestamp_pattern``'s first group, else the poll that
    first saw it)."""

    metrics_url: str | None = None
    metric: str | None = Field(None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    log: str | None = Field(None, description="a log file, relative to the watch file")
    pattern: str | None = None
    timestamp_pattern: str | None = None

    @field_validator("log")
    @classmethod
    def _log_relative(cls, log: str | None, info: ValidationInfo) -> str | None:
        return None if log is None else resolved(log, info)

    @field_validator("pattern", "timestamp_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                compiled = re.compile(pattern)
            except re.error as error:
                raise ValueError(f"not a regular expression: {error}") from None
            if compiled.pattern == "":
                raise ValueError("an empty pattern matches every line")
        return pattern

    @model_validator(mode="after")
    def _one_source(self) -> ReplaysSpec:
        if (self.metrics_url is None) == (self.log is None):
            raise ValueError("give exactly one of metrics_url (with metric) or log (with pattern)")
        if self.metrics_url is not None and self.metric is None:
            raise ValueError("metric: required with metrics_url (the counter's name)")
        if self.log is not None and self.pattern is None:
            raise ValueError("pattern: required with log (a regular expression a replay line matches)")
        if self.metrics_url is None and self.metric is not None:
            raise ValueError("metric: only with metrics_url")
        if self.log is None and (self.pattern or self.timestamp_pattern):
            raise ValueError("pattern: only with log")
        if self.timestamp_pattern is not None and re.compile(self.timestamp_pattern).groups < 1:
            raise ValueError("timestamp_pattern: needs a group (...) around the timestamp")
        return self


class LedgerSpec(_ReadsFiles):
    """One watched ledger: where its rows are (``source``) and which field of a row is which.

    ``sql``: ``query`` against the SQLite file ``sqlite`` (opened read-only) or the Postgres ``dsn``
    (a read-only session); it may use ``:since`` (SQLite) or ``%(since)s`` (Postgres), filled with the
    oldest window's start minus ``lookback`` as ``since_format`` says. ``http``: ``GET url``, the rows
    at ``list_path``; with ``since_param`` the URL gets ``?since_param=since``. ``callable``:
    ``module:function`` (imported with ``python_path``) called with ``since`` if it takes it, returning
    dicts. Field names may be dotted paths (``metadata.op_id``).
    """

    name: Identifier
    source: Literal["sql", "http", "callable"]
    sqlite: str | None = None
    dsn: str | None = None
    query: str | None = None
    url: str | None = None
    list_path: str | None = None
    since_param: str | None = None
    callable: str | None = None
    python_path: tuple[str, ...] = Field((".",), validate_default=True)
    operation_field: str = Field(min_length=1)
    timestamp_field: str = Field(min_length=1)
    id_field: str | None = None
    since_format: SinceFormat = "seconds"
    timeout_s: float = Field(30.0, ge=0.1, le=600.0, description="how long one read may take")
    replays: ReplaysSpec | None = None

    @model_validator(mode="after")
    def _source_fields(self) -> LedgerSpec:
        own = {"sql": ("sqlite", "dsn", "query"), "http": ("url", "list_path", "since_param"),
               "callable": ("callable",)}
        for source, names in own.items():
            given = [name for name in names if getattr(self, name) is not None]
            if source != self.source and given:
                raise ValueError(f"{given[0]}: only with source: {source} (source is {self.source})")
        if self.source == "sql":
            if not self.query:
                raise ValueError("query: required when source is sql")
            if (self.sqlite is None) == (self.dsn is None):
                raise ValueError("source sql needs exactly one of sqlite (a file) or dsn (Postgres)")
        if self.source == "http" and not self.url:
            raise ValueError("url: required when source is http")
        if self.source == "callable" and (self.callable is None or not CALLABLE_PATTERN.match(self.callable)):
            raise ValueError(f"callable: expected 'module:function' (got {self.callable!r})")
        return self


class WatchConfig(_Strict):
    """The whole watch file: the poll interval, the windows, how many worst offenders, the ledgers."""

    interval_s: float = Field(15.0, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)
    windows: tuple[str, ...] = ("5m", "1h")
    lookback: str = Field("5m", description="how late a duplicate may land after its first effect")
    worst: int = Field(5, ge=0, le=MAX_WORST)
    allow_remote: bool = Field(False, description="allow URLs and DSNs off this machine")
    ledgers: tuple[LedgerSpec, ...] = Field(min_length=1)

    @field_validator("windows")
    @classmethod
    def _windows(cls, windows: tuple[str, ...]) -> tuple[str, ...]:
        if not windows:
            raise ValueError("at least one window is needed")
        seconds = [duration_seconds(window) for window in windows]
        for window, length in zip(windows, seconds, strict=True):
            if not 0 < length <= MAX_WINDOW_S:
                raise ValueError(f"{window}: a window lasts more than 0 and at most 7d")
        if len(set(seconds)) != len(seconds):
            raise ValueError("windows must not repeat")
        return windows

    @field_validator("lookback")
    @classmethod
    def _lookback(cls, lookback: str) -> str:
        if duration_seconds(lookback) > MAX_WINDOW_S:
            raise ValueError("at most 7d")
        return lookback

    @field_validator("ledgers")
    @classmethod
    def _distinct_names(cls, ledgers: tuple[LedgerSpec, ...]) -> tuple[LedgerSpec, ...]:
        names = [ledger.name for ledger in ledgers]
        if len(set(names)) != len(names):
            raise ValueError("ledger names must not repeat (each is the ledger label of its series)")
        return ledgers

    @model_validator(mode="after")
    def _local_unless_allowed(self) -> WatchConfig:
        if self.allow_remote:
            return self
        for index, ledger in enumerate(self.ledgers):
            metrics_url = None if ledger.replays is None else ledger.replays.metrics_url
            places: list[tuple[tuple[str | int, ...], str | None, bool]] = [
                (("url",), ledger.url, ledger.url is not None and not _loopback_url(ledger.url)),
                (("replays", "metrics_url"), metrics_url,
                 metrics_url is not None and not _loopback_url(metrics_url)),
                (("dsn",), None, ledger.dsn is not None and not _loopback_dsn(ledger.dsn)),  # no password
            ]
            for where, value, remote in places:
                if remote:
                    raise invalid_at(("ledgers", index, *where), NOT_LOCAL, value)
        return self

    @property
    def window_seconds(self) -> tuple[float, ...]:
        return tuple(duration_seconds(window) for window in self.windows)

    @property
    def lookback_s(self) -> float:
        return duration_seconds(self.lookback)


def load_watch_config(path: Path | str) -> WatchConfig:
    """Read and validate a watch file; any problem is one :class:`ScenarioError` naming file and field."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "(top level)", "expected a mapping of fields", type(data).__name__)
    try:
        return WatchConfig.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as error:
        raise ScenarioError(str(path), *describe_invalid(error.errors()[0])) from None
