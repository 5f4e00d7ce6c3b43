"""Effects: what a target really did, read after the load has drained.

An effect is one row of the target's ledger (a charge, an order, a sent e-mail) with the op
reference the harness put into the request as business data. The checker counts effects per op.

Probes, each naming the scenario field at fault when it cannot read (the run then exits 2)::

    HttpLedgerProbe   GET a JSON ledger on the target      target.effects.path, list_path, *_field
    SqlProbe          a query against SQLite or Postgres   target.effects.sqlite, dsn, query
    CallableProbe     a ``module:function`` of the user's  target.effects.callable
"""

from __future__ import annotations

import inspect
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx

from harness.errors import ProbeError
from harness.imports import CallableImportError, import_callable
from harness.jsonpath import MISSING, dig
from harness.ledger import Effect
from harness.local_http import local_client
from harness.scenario import EffectsSpec

FIELD = "target.effects"


class EffectsProbe(Protocol):
    """Reads the effects of a target. Small on purpose: fakes in unit tests are one class."""

    def read(self) -> list[Effect]: ...


class HttpLedgerProbe:
    """Reads effects from a JSON endpoint listing ``[{op_ref_field, id_field, ...}, ...]``.

    ``list_path`` finds the list inside a wrapping object (``data.items``); the field names may be
    dotted paths into each row (``metadata.op_id``). Talks to the target directly, never through
    the fault proxy: evidence must not be faulted.
    """

    def __init__(
        self,
        url: str,
        op_ref_field: str = "reference",
        id_field: str = "id",
        timeout_s: float = 10.0,
        list_path: str | None = None,
    ) -> None:
        self.url = url
        self.op_ref_field = op_ref_field
        self.id_field = id_field
        self.timeout_s = timeout_s
        self.list_path = list_path

    def read(self) -> list[Effect]:
        where = f"GET {self.url}"
        rows = json_list(self.url, self.list_path, FIELD, self.timeout_s)
        return [
            row_effect(row, index, self.op_ref_field, self.id_field, f"row {index} of {where}")
            for index, row in enumerate(rows)
        ]


def json_list(
    url: str,
    list_path: str | None,
    field: str,
    timeout_s: float = 10.0,
    *,
    url_field: str = "path",
    noun: str | None = None,
) -> list[object]:
    """The JSON list ``GET url`` answers (at ``list_path`` inside it), or a :class:`ProbeError` naming
    ``field``'s ``url_field`` or ``list_path``: evidence read directly, never through the fault proxy."""
    where = f"GET {url}"
    noun = noun or ("effects probe" if field == FIELD else "saga probe")
    try:
        response = local_client().get(url, timeout=timeout_s)
    except httpx.HTTPError as error:
        raise ProbeError(f"{field}.{url_field}: {noun} {where} failed: {error}") from error
    if response.status_code != 200:
        raise ProbeError(f"{field}.{url_field}: {noun} {where} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as error:
        raise ProbeError(f"{field}.{url_field}: {noun} {where} did not return JSON") from error
    rows = body if list_path is None else dig(body, list_path)
    if rows is MISSING:
        raise ProbeError(f"{field}.list_path: {where} has no {list_path!r} in its answer")
    if not isinstance(rows, list):
        at = url_field if list_path is None else "list_path"
        raise ProbeError(f"{field}.{at}: {where}: expected a JSON list there")
    return rows


def row_effect(row: object, index: int, op_ref_field: str, id_field: str, where: str) -> Effect:
    """One JSON row as an effect: its op reference (required), its id (else the row number) and its
    ``created_at`` (seconds since the epoch) when it has one."""
    op_ref = dig(row, op_ref_field)
    if op_ref is MISSING or op_ref is None:
        raise ProbeError(f"{FIELD}.op_ref_field: {where} has no field {op_ref_field!r}")
    resource_id = dig(row, id_field)
    created_at = dig(row, "created_at")
    return Effect(
        op_ref=str(op_ref),
        resource_id=str(index if resource_id is MISSING else resource_id),
        t=created_at if isinstance(created_at, float) else None,
    )


class SqlProbe:
    """Runs ``query`` against a SQLite file or a Postgres DSN: column 1 the op reference, the
    optional column 2 the effect's id (else the row number)."""

    def __init__(self, query: str, sqlite: Path | None = None, dsn: str | None = None) -> None:
        if (sqlite is None) == (dsn is None):
            raise ValueError("exactly one of sqlite or dsn")
        self.query = query
        self.sqlite = sqlite
        self.dsn = dsn

    def read(self) -> list[Effect]:
        rows = [tuple(row.values()) for row in query_rows(self.query, self.sqlite, self.dsn, FIELD)]
        effects = []
        for index, row in enumerate(rows):
            if not row or row[0] is None:
                raise ProbeError(f"{FIELD}.query: row {index} has no op reference in its first column")
            resource_id = row[1] if len(row) > 1 and row[1] is not None else index
            effects.append(Effect(op_ref=str(row[0]), resource_id=str(resource_id)))
        return effects


def query_rows(
    query: str,
    sqlite: Path | None,
    dsn: str | None,
    field: str,
    params: Mapping[str, object] | None = None,
    timeout_s: float | None = None,
) -> list[dict[str, object]]:
    """The rows ``query`` (with its named ``params``) returns from the SQLite file or the Postgres DSN,
    by column name; a :class:`ProbeError` naming ``field``'s ``sqlite``, ``dsn`` or ``query`` when it
    cannot. Both are opened read-only: a probe reads evidence, and must never be able to change it,
    even when its query (the user's text) tries to.

    With ``timeout_s`` the query is given up after that long (SQLite interrupted, a Postgres statement
    timeout): a watcher polling a production database must not hang on, or keep loading, a slow query.
    """
    if sqlite is not None:
        if not sqlite.is_file():
            raise ProbeError(f"{field}.sqlite: no database file at {sqlite}")
        try:
            # read-only: the probe must not create or change the evidence it reads
            with sqlite3.connect(f"file:{sqlite}?mode=ro", uri=True, timeout=10) as connection:
                if timeout_s is not None:
                    _interrupt_after(connection, timeout_s)
                cursor = connection.execute(query, dict(params or {}))
                return _named(cursor.description, cursor.fetchall())
        except sqlite3.Error as error:
            late = " (the query's timeout_s passed)" if "interrupted" in str(error) else ""
            raise ProbeError(f"{field}.query: SQLite {sqlite}: {error}{late}") from error
    import psycopg

    assert dsn is not None
    try:
        with psycopg.connect(dsn, connect_timeout=10) as connection:
            connection.read_only = True  # each transaction BEGINs READ ONLY
            connection.execute("SET SESSION default_transaction_read_only = on")  # and so does any other
            if timeout_s is not None:
                connection.execute(f"SET SESSION statement_timeout = {max(1, round(timeout_s * 1000))}")
            rows = connection.execute(query, None if params is None else dict(params))
            return _named(rows.description, rows.fetchall())
    except psycopg.OperationalError as error:
        if isinstance(error, psycopg.errors.QueryCanceled):
            raise ProbeError(f"{field}.query: Postgres: {error} (the query's timeout_s passed)") from error
        raise ProbeError(f"{field}.dsn: cannot connect to Postgres: {error}") from error
    except psycopg.Error as error:
        raise ProbeError(f"{field}.query: Postgres: {error}") from error


SQLITE_CHECK_EVERY = 10_000
"""SQLite virtual-machine steps between two looks at the clock while a timed query runs."""


def _interrupt_after(connection: sqlite3.Connection, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_CHECK_EVERY)


def _named(description: Any, rows: list[Any]) -> list[dict[str, object]]:
    names = [column[0] for column in description or ()]
    return [dict(zip(names, row, strict=True)) for row in rows]


class CallableProbe:
    """Calls the user's ``module:function``; it may take any of the keyword arguments
    ``base_url``, ``data_dir`` and ``variant``, and returns op references (strings) or dicts
    with ``op_ref_field`` (and optionally ``id_field``), dotted paths allowed."""

    def __init__(
        self,
        target: str,
        python_path: tuple[str, ...] = (),
        arguments: dict[str, object] | None = None,
        op_ref_field: str = "reference",
        id_field: str = "id",
    ) -> None:
        self.target = target
        self.python_path = python_path
        self.arguments = arguments or {}
        self.op_ref_field = op_ref_field
        self.id_field = id_field

    def read(self) -> list[Effect]:
        rows = call_user(self.target, self.python_path, self.arguments, FIELD)
        if not isinstance(rows, list | tuple):
            raise ProbeError(f"{FIELD}.callable: {self.target} returned {type(rows).__name__}, not a list")
        effects = []
        for index, row in enumerate(rows):
            if isinstance(row, str | int):
                effects.append(Effect(op_ref=str(row), resource_id=str(index)))
                continue
            where = f"row {index} from {self.target}"
            effects.append(row_effect(row, index, self.op_ref_field, self.id_field, where))
        return effects


def call_user(
    target: str, python_path: tuple[str, ...], arguments: Mapping[str, object], field: str
) -> object:
    """What the user's ``module:function`` returns, given those of ``arguments`` it takes; its failing
    to import or raising is a :class:`ProbeError` naming ``field``'s ``callable``."""
    try:
        function = import_callable(target, python_path)
    except CallableImportError as error:
        raise ProbeError(f"{field}.callable: {error}") from None
    parameters = inspect.signature(function).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs = {k: v for k, v in arguments.items() if accepts_any or k in parameters}
    try:
        return function(**kwargs)
    except Exception as error:  # noqa: BLE001 - the user's code failing is the probe failing
        failure = f"{type(error).__name__}: {error}"
        raise ProbeError(f"{field}.callable: {target} raised {failure}") from error


def probe_for(spec: EffectsSpec, base_url: str, data_dir: Path, variant: str) -> EffectsProbe:
    """The probe a scenario's ``target.effects`` declares (all sources but ``smtp``)."""
    if spec.source == "sql":
        assert spec.query is not None
        sqlite = None if spec.sqlite is None else Path(spec.sqlite.replace("{data_dir}", str(data_dir)))
        return SqlProbe(spec.query, sqlite=sqlite, dsn=spec.dsn)
    if spec.source == "callable":
        assert spec.callable is not None
        arguments: dict[str, object] = {"base_url": base_url, "data_dir": data_dir, "variant": variant}
        return CallableProbe(spec.callable, spec.python_path, arguments, spec.op_ref_field, spec.id_field)
    url = f"{base_url}{spec.path}"
    return HttpLedgerProbe(url, spec.op_ref_field, spec.id_field, list_path=spec.list_path)


def require_effects(effects: list[Effect], acknowledged: int, source: str) -> None:
    """A probe that finds nothing while operations were acknowledged is almost surely pointed at
    the wrong place (another file, table or field): refuse it rather than report data loss."""
    if not effects and acknowledged:
        raise ProbeError(
            f"{FIELD}: the {source} probe found no effects although {acknowledged} operations were "
            "acknowledged; check where it reads (file, table, query, path)"
        )


DRAIN_POLL_S = 0.1
DRAINED_READINGS = 2  # a queue can read empty for a moment while a message is on its way


def wait_until_drained(url: str, timeout_s: float) -> None:
    """Poll a target's ``{"pending": n}`` endpoint until it reads 0 twice in a row.

    Queue-backed targets (a mail worker, a message consumer) finish their work after the load has
    stopped; reading effects before then would count real work as lost.
    """
    deadline = time.monotonic() + timeout_s
    zero_readings = 0
    pending: object = "no answer"
    with httpx.Client(timeout=2.0) as client:  # one client: each new one loads the CA bundle again
        while time.monotonic() < deadline:
            try:
                pending = client.get(url).json().get("pending")
            except (httpx.HTTPError, ValueError, AttributeError):
                pending = "no answer"
            zero_readings = zero_readings + 1 if pending == 0 else 0
            if zero_readings >= DRAINED_READINGS:
                return
            time.sleep(DRAIN_POLL_S)
    raise ProbeError(f"target still busy after {timeout_s:.0f} s: GET {url} answered pending={pending}")
