"""Reading a watched ledger: its rows through the harness's own probes, each as (operation, time).

The rows come from the same readers as a scenario's effects and saga probes (:func:`~harness.effects.
query_rows`, :func:`~harness.effects.json_list`, :func:`~harness.effects.call_user`), so a SQLite file
is opened read-only (``mode=ro``), a Postgres session is read-only, and an HTTP ledger is read with the
harness's one client. What is new is ``since``: the watcher asks only for rows at or after the oldest
window's start minus the lookback, where the source can be told:

* SQL: ``:since`` (SQLite) or ``%(since)s`` (Postgres) in the query; without it the query's rows are
  all read each poll (and those too old are dropped after counting);
* HTTP: ``?<since_param>=<since>`` on the URL when ``since_param`` is declared;
* a callable: its ``since`` keyword argument, when it takes one.

``since_format`` says how ``since`` is written: ``seconds`` (a float, the default), ``milliseconds``
(an integer), ``iso`` (UTC text ``YYYY-MM-DD HH:MM:SS``, which sorts like SQLite's
``CURRENT_TIMESTAMP``) or ``datetime`` (an aware UTC datetime, for a Postgres ``timestamptz``).

Every failure is a :class:`~harness.errors.ProbeError` whose message starts with the field to fix,
``ledgers.<name>.<field>``, so the watcher's one stderr line names the ledger and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from harness.effects import call_user, json_list, query_rows
from harness.errors import ProbeError
from harness.jsonpath import MISSING, dig
from harness.watch.config import LedgerSpec
from harness.watch.timestamps import epoch_seconds

SQLITE_SINCE = ":since"
POSTGRES_SINCE = "%(since)s"


@dataclass(frozen=True)
class LedgerRow:
    """One effect: the operation it belongs to and when it happened (Unix seconds)."""

    operation: str
    t: float


def since_value(since: float, since_format: str) -> object:
    """``since`` (Unix seconds) as the ledger's query, URL or callable expects it."""
    if since_format == "milliseconds":
        return int(since * 1000)
    if since_format in ("iso", "datetime"):
        moment = datetime.fromtimestamp(since, tz=UTC)
        return moment if since_format == "datetime" else moment.strftime("%Y-%m-%d %H:%M:%S")
    return since


class LedgerReader:
    """Reads one ledger's rows at or after ``since``, as :class:`LedgerRow`\\ s."""

    def __init__(self, spec: LedgerSpec) -> None:
        self.spec = spec
        self.field = f"ledgers.{spec.name}"

    def read(self, since: float) -> list[LedgerRow]:
        raw = self._raw_rows(since_value(since, self.spec.since_format))
        rows: list[LedgerRow] = []
        seen_ids: set[str] = set()
        for index, row in enumerate(raw):
            if self.spec.id_field is not None:
                effect_id = str(self._field(row, index, "id_field", self.spec.id_field))
                if effect_id in seen_ids:
                    continue  # one effect listed twice (a join, overlapping pages) is still one effect
                seen_ids.add(effect_id)
            operation = self._field(row, index, "operation_field", self.spec.operation_field)
            stamp = self._field(row, index, "timestamp_field", self.spec.timestamp_field)
            try:
                moment = epoch_seconds(stamp)
            except ValueError as error:
                raise ProbeError(f"{self.field}.timestamp_field: row {index}: {error}") from None
            rows.append(LedgerRow(str(operation), moment))
        return rows

    def _field(self, row: object, index: int, field: str, path: str) -> object:
        value = dig(row, path)
        if value is MISSING or value is None:
            raise ProbeError(f"{self.field}.{field}: row {index} has no {path!r}")
        return value

    def _raw_rows(self, since: object) -> list[object]:
        spec = self.spec
        if spec.source == "sql":
            assert spec.query is not None
            placeholder = SQLITE_SINCE if spec.sqlite is not None else POSTGRES_SINCE
            params = {"since": since} if placeholder in spec.query else None
            sqlite = None if spec.sqlite is None else Path(spec.sqlite)
            return list(query_rows(spec.query, sqlite, spec.dsn, self.field, params, spec.timeout_s))
        if spec.source == "callable":
            assert spec.callable is not None
            rows = call_user(spec.callable, spec.python_path, {"since": since}, self.field)
            if not isinstance(rows, list | tuple):
                kind = type(rows).__name__
                raise ProbeError(f"{self.field}.callable: {spec.callable} returned {kind}, not a list")
            return list(rows)
        assert spec.url is not None
        url = spec.url
        if spec.since_param is not None:
            url = str(httpx.URL(url).copy_add_param(spec.since_param, str(since)))
        return json_list(
            url, spec.list_path, self.field, spec.timeout_s, url_field="url", noun="ledger probe"
        )
