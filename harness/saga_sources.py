"""Reading a saga of the user's own: the sagas, ledgers and levels from wherever the scenario says.

The reference checkout target has JSON endpoints the harness knows (:class:`~harness.saga_reads.
HttpSagaReader`); a user's saga keeps its records where it likes. The scenario's ``target.saga``
declares, for the orchestrator's sagas and for each participant's ledger and levels, a
:class:`~harness.scenario.saga.RowsSpec`: an HTTP JSON path on that service, a SQL query against its
SQLite file or a Postgres DSN, or a Python ``module:function``; and which field of a row is which.
:class:`DeclaredSagaReader` turns those rows into the records the saga checkers read, behind the same
:class:`~harness.saga_reads.SagaReader` protocol. A row that lacks a field is a :class:`ProbeError`
naming the scenario field to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.effects import call_user, json_list, query_rows
from harness.errors import ProbeError
from harness.jsonpath import MISSING, dig
from harness.saga_evidence import LedgerRow, ParticipantRole, SagaRecord, StepAsk
from harness.saga_reads import Levels
from harness.scenario import SagaSpec
from harness.scenario.saga import RowsSpec

FIELD = "target.saga"


@dataclass(frozen=True)
class Service:
    """Where one service of the saga is: its direct URL (never a proxy's) and its data folder."""

    base_url: str
    data_dir: Path


def read_rows(spec: RowsSpec, service: Service, field: str, participant: str | None = None) -> list[object]:
    """The rows ``spec`` names, from ``service``; a :class:`ProbeError` naming ``field`` when unreadable."""
    if spec.source == "sql":
        assert spec.query is not None
        filled = None if spec.sqlite is None else spec.sqlite.replace("{data_dir}", str(service.data_dir))
        sqlite = None if filled is None else Path(filled)
        return list(query_rows(spec.query, sqlite, spec.dsn, field))
    if spec.source == "callable":
        assert spec.callable is not None
        arguments = {"base_url": service.base_url, "data_dir": service.data_dir, "participant": participant}
        rows = call_user(spec.callable, spec.python_path, arguments, field)
        if not isinstance(rows, list | tuple):
            raise ProbeError(f"{field}.callable: {spec.callable} returned {type(rows).__name__}, not a list")
        return list(rows)
    return json_list(f"{service.base_url}{spec.path}", spec.list_path, field)


def _value(row: object, spec: RowsSpec, name: str, field: str, index: int) -> object:
    found = dig(row, spec.field(name))
    if found is MISSING:
        raise ProbeError(f"{field}.fields.{name}: row {index} has no {spec.field(name)!r}")
    return found


def _optional(row: object, spec: RowsSpec, name: str) -> object:
    found = dig(row, spec.field(name))
    return None if found is MISSING else found


def _steps(value: object) -> tuple[int, ...]:
    """Step numbers as a list (``[1, 2]``) or text (``"1,2"``, empty for none)."""
    if isinstance(value, str):
        return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
    if isinstance(value, list | tuple):
        return tuple(int(step) for step in value)
    raise ValueError(f"expected a list of step numbers, got {value!r}")


class DeclaredSagaReader:
    """Reads a saga where its scenario declares: each read by its :class:`RowsSpec`."""

    def __init__(self, spec: SagaSpec, orchestrator: Service, participants: Mapping[str, Service]) -> None:
        assert spec.sagas is not None, "the scenario model requires sagas when reads are declared"
        self.spec = spec
        self.orchestrator = orchestrator
        self.participants = dict(participants)

    def _service(self, role: ParticipantRole) -> Service:
        service = self.participants.get(role.name)
        if service is None:
            raise LookupError(f"no service was given for participant {role.name!r}")
        return service

    def _asks(self, row: object) -> tuple[StepAsk, ...]:
        """What the saga asked of each participant: its item and amount, read from the saga's row."""
        asks = []
        for role in self.spec.roles:
            settings = self.spec.participant(role.name)
            if settings.item_field is None:
                continue
            item = dig(row, settings.item_field)
            amount = settings.amount if settings.amount_field is None else dig(row, settings.amount_field)
            if item is MISSING or amount is MISSING or amount is None:
                continue  # not asked of this participant: the checkers judge what they can
            asks.append(StepAsk(role.step, str(item), int(str(amount))))
        return tuple(asks)

    def sagas(self) -> list[SagaRecord]:
        spec = self.spec.sagas
        assert spec is not None
        field = f"{FIELD}.sagas"
        records = []
        for index, row in enumerate(read_rows(spec, self.orchestrator, field)):
            try:
                records.append(SagaRecord(
                    id=str(_value(row, spec, "id", field, index)),
                    reference=str(_value(row, spec, "reference", field, index)),
                    status=str(_value(row, spec, "status", field, index)),
                    steps_done=_steps(_value(row, spec, "steps_done", field, index)),
                    compensations_done=_steps(_value(row, spec, "compensations_done", field, index)),
                    created_at=float(str(_value(row, spec, "created_at", field, index))),
                    asks=self._asks(row),
                ))
            except ValueError as error:
                raise ProbeError(f"{field}.fields: row {index}: {error}") from error
        return records

    def ledger(self, role: ParticipantRole) -> list[LedgerRow]:
        spec = self.spec.participant(role.name).ledger
        assert spec is not None
        field = f"{FIELD}.participants.{role.name}.ledger"
        rows = []
        for index, row in enumerate(read_rows(spec, self._service(role), field, role.name)):
            def text(name: str, row: object = row, index: int = index) -> str:
                return str(_value(row, spec, name, field, index))

            key = _optional(row, spec, "idempotency_key")
            try:
                rows.append(LedgerRow(
                    id=text("id"), saga_id=text("saga_id"), step=int(text("step")), kind=text("kind"),
                    idempotency_key=None if key is None else str(key), item=text("item"),
                    amount=int(text("amount")), reference=text("reference"),
                    created_at=float(text("created_at")),
                ))
            except ValueError as error:
                raise ProbeError(f"{field}.fields: row {index}: {error}") from error
        return rows

    def levels(self, role: ParticipantRole) -> Levels:
        spec = self.spec.participant(role.name).levels
        assert spec is not None
        field = f"{FIELD}.participants.{role.name}.levels"
        levels = {}
        for index, row in enumerate(read_rows(spec, self._service(role), field, role.name)):
            item = _value(row, spec, "item", field, index)
            try:
                levels[str(item)] = int(str(_value(row, spec, "level", field, index)))
            except ValueError as error:
                raise ProbeError(f"{field}.fields.level: row {index}: {error}") from error
        return Levels(levels, spec.initial_level, spec.floor)
