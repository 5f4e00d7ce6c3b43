"""A saga of the user's own: its block refused in one line naming the field, and its reads (SQL, a
Python callable) turned into the records the saga checkers judge, or a ProbeError naming the field."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.errors import ProbeError, ScenarioError
from harness.saga_cell import participant_target
from harness.saga_sources import DeclaredSagaReader, Service
from harness.scenario import SagaSpec, load_scenario

ROLE = "step: 1, forward: debit, compensation: credit, level: money"
READS = (
    "ledger: {source: sql, sqlite: '{data_dir}/w.db', query: SELECT * FROM ledger},"
    " levels: {source: callable, callable: 'levels_probe:levels'}"
)
SAGAS = "sagas: {source: callable, callable: 'levels_probe:sagas', fields: {reference: ref}}"
SCENARIO = """
name: t
target:
  command: ["{python}", "app.py", "--port", "{port}"]
  variants: [v]
  saga: SAGA
faults: {none: {}}
"""
PROBES = '''
def levels(participant):
    return [{"item": "cus_1", "level": 700 if participant == "wallet" else 0}]

def sagas(base_url):
    return [{"id": "s1", "ref": "op-1", "status": "done", "steps_done": "1", "compensations_done": [],
             "created_at": 1.5, "order": {"customer": "cus_1", "amount": 700}}]
'''


def load(tmp_path: Path, saga: str) -> SagaSpec:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("SAGA", saga))
    spec = load_scenario(path).target.saga
    assert spec is not None
    return spec


def refusal(tmp_path: Path, saga: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, saga)
    message = str(caught.value)
    assert "\n" not in message, message
    return message.removeprefix(f"{tmp_path / 's.yaml'}: ")


@pytest.mark.parametrize(
    ("saga", "message"),
    [
        ("{participants: {wallet: {step: 1}}}",
         "target.saga.participants.wallet.forward: required: not a checkout participant"),
        (f"{{participants: {{wallet: {{{ROLE}, {READS}}}}}}}",
         "target.saga.sagas: a saga that declares one read declares sagas, ledger and levels"),
        (f"{{participants: {{wallet: {{{ROLE}}}}}}}", "target.saga.sagas: participant 'wallet' is not of"),
        (f"{{{SAGAS}, participants: {{wallet: {{{ROLE}, {READS}, command: [w]}}}}}}",
         "target.saga.participants.wallet.command: put {port} in it or its env"),
        (f"{{{SAGAS}, participants: {{a: {{{ROLE}, {READS}}}, b: {{{ROLE}, {READS}}}}}}}",
         "target.saga.participants.b.step: step 1 is served by a already"),
        ("{sagas: {path: /s, fields: {saga: x}}, participants: [payments]}",
         "target.saga.sagas.fields.saga: no such field"),
        ("{sagas: {source: sql, path: /s}, participants: [payments]}",
         "target.saga.sagas.path: only with source: http"),
        ("{participants: {payments: {url: 'http://example.com:80'}}}",
         "target.saga.participants.payments.url: expected http://<loopback host>:<port>"),
    ],
)
def test_a_bad_own_saga_is_refused_naming_the_field(tmp_path: Path, saga: str, message: str) -> None:
    assert refusal(tmp_path, saga).startswith(message)


def _reader(tmp_path: Path) -> DeclaredSagaReader:
    (tmp_path / "levels_probe.py").write_text(PROBES)
    saga = (f"{{{SAGAS}, participants: {{wallet: {{{ROLE}, {READS}, item_field: order.customer,"
            " amount_field: order.amount}}}")
    spec = load(tmp_path, saga)
    service = Service("http://unused", tmp_path)
    return DeclaredSagaReader(spec, service, {"wallet": service})


def test_sql_and_callable_reads_become_the_saga_records(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "w.db") as db:
        db.execute("CREATE TABLE ledger (id, saga_id, step, kind, idempotency_key, item, amount, reference,"
                   " created_at)")
        db.execute("INSERT INTO ledger VALUES ('r1', 's1', 1, 'debit', NULL, 'cus_1', 700, 'op-1', 2.0)")
    reader = _reader(tmp_path)
    role = reader.spec.roles[0]

    [saga] = reader.sagas()
    assert (saga.reference, saga.steps_done, saga.compensations_done) == ("op-1", (1,), ())
    assert saga.ask(1) is not None and (saga.ask(1).item, saga.ask(1).amount) == ("cus_1", 700)  # type: ignore[union-attr]
    [row] = reader.ledger(role)
    assert (row.kind, row.amount, row.idempotency_key) == ("debit", 700, None)
    assert reader.levels(role).levels == {"cus_1": 700}


def test_an_unreadable_ledger_names_the_field_to_fix(tmp_path: Path) -> None:
    reader = _reader(tmp_path)

    with pytest.raises(ProbeError, match=r"^target\.saga\.participants\.wallet\.ledger\.sqlite: no database"):
        reader.ledger(reader.spec.roles[0])


def test_each_participant_starts_by_its_own_command_or_is_found_at_its_url(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    saga = (f"{{{SAGAS}, participants: {{wallet: {{{ROLE}, {READS}, command: [w, '{{port}}']}},"
            f" stock: {{step: 2, forward: take, compensation: put, level: stock, {READS},"
            " url: 'http://127.0.0.1:9'}}}")
    path.write_text(SCENARIO.replace("SAGA", saga))
    target = load_scenario(path).target

    wallet, stock = participant_target(target, "wallet"), participant_target(target, "stock")
    assert (wallet.kind, wallet.command, wallet.saga) == ("command", ("w", "{port}"), None)
    assert (stock.kind, stock.url) == ("url", "http://127.0.0.1:9")
    assert target.saga is not None and [role.name for role in target.saga.roles] == ["wallet", "stock"]
