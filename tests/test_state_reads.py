"""The cell's state reads against a real local service: each resource beside its twin, in states.jsonl."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from factories import load_cell
from resource_app import ResourceApp, resource_app

from harness.history import HistoryWriter, OpEnd, OpStart
from harness.load.config import LoadCellConfig
from harness.load.operations import OperationRequest, build_request, idempotency_key
from harness.resource_states import STATES_FILE, read_states
from harness.scenario import OperationSpec
from harness.state_reads import read_resource_states

PREFIX = "nai-x-"
SEED = 9
CREATE = {"path": "/things", "body": {"name": "{customer}", "reference": "{op_id}"}}
STATE = {"path": "/things/{resource}", "ignore": ["created_at"]}


def kind(name: str, method: str, path: str, body: object = None) -> OperationSpec:
    resource = {"create": CREATE, "state": STATE}
    return OperationSpec.model_validate(
        {"name": name, "method": method, "path": path, "body": body, "resource": resource}
    )


KINDS = (
    kind("set-address", "PUT", "/things/{resource}/address", {"address": "{choice:1 Main St|2 High St}"}),
    kind("add-note", "PUT", "/things/{resource}/note", {"note": "n-{op_id}"}),
    kind("bump", "PATCH", "/things/{resource}", {"by": 1}),
    kind("peek", "GET", "/things/{resource}"),
    kind("remove", "DELETE", "/things/{resource}"),
)


def send(client: httpx.Client, request: OperationRequest) -> httpx.Response:
    return client.request(request.method, request.path, headers=dict(request.headers), content=request.body)


def run_load(config: LoadCellConfig, base_url: str, history: Path, operations: int) -> dict[str, list[str]]:
    """What the load does, without faults: each create, then its act sent twice (a retry resends the
    same bytes); every fifth create is recorded as never answered. The op ids by kind."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    with httpx.Client(base_url=base_url) as client, HistoryWriter(history) as writer:
        for number in range(operations):
            create = build_request(config, PREFIX, number)
            assert create.then is not None
            writer.append(OpStart(t=time.time(), op_id=create.op_id, kind=create.kind, key=create.key))
            if number % 5 == 4:
                writer.append(OpEnd(t=time.time(), op_id=create.op_id, outcome="unknown", attempts=3))
                continue
            resource = send(client, create).json()["id"]
            writer.append(
                OpEnd(
                    t=time.time(),
                    op_id=create.op_id,
                    outcome="acknowledged",
                    attempts=1,
                    status=201,
                    resource_id=resource,
                )
            )
            act = create.then.request(resource)
            assert send(client, act).status_code < 300
            send(client, act)
            by_kind[act.kind].append(act.op_id)
    return by_kind


def test_each_resource_is_read_beside_its_twin_made_by_the_same_requests(tmp_path: Path) -> None:
    config = load_cell("http://127.0.0.1:1", tmp_path, PREFIX, kinds=KINDS, seed=SEED)
    history, out = tmp_path / "history.jsonl", tmp_path / STATES_FILE
    with resource_app() as (app, base_url):
        by_kind = run_load(config, base_url, history, operations=40)
        sent_by_load = len(app.seen)
        states = read_resource_states(config, base_url, [history, tmp_path / "absent.jsonl"], out)
        twin_requests = app.seen[sent_by_load:]

    assert states is not None and all(by_kind[k.name] for k in KINDS), by_kind  # every kind was drawn
    assert [s.op_id for s in states] == sorted(op_id for ids in by_kind.values() for op_id in ids)
    assert list(read_states(out)) == states
    state = {s.op_id: s for s in states}
    for name, op_ids in by_kind.items():
        for op_id in op_ids:
            s = state[op_id]
            assert (s.kind, s.method, s.path) == (name, dict(PUT_OR_NOT)[name], f"/things/{s.resource}")
            assert s.ignored == ("id", "created_at") and s.twin_resource not in (None, s.resource)
            assert s.twin_applied is (name not in ("peek",)), s
    # an idempotent PUT applied twice reads as its twin applied once; a GET changed nothing
    assert all(state[op_id].matches_twin() for op_id in by_kind["set-address"] + by_kind["peek"])
    # an appending PUT and an increment applied twice do not
    for op_id in by_kind["add-note"] + by_kind["bump"]:
        s = state[op_id]
        assert s.matches_twin() is False and s.after.status == s.twin.status == 200  # type: ignore[union-attr]
    note = state[by_kind["add-note"][0]]
    assert len(note.after.body["notes"]) == 2 and len(note.twin.body["notes"]) == 1  # type: ignore[union-attr]
    # a deleted resource and its deleted twin both read 404
    assert all(
        state[op_id].after.status == state[op_id].twin.status == 404  # type: ignore[union-attr]
        for op_id in by_kind["remove"]
    )
    assert_twins_sent_the_loads_requests_with_their_own_keys(config, app, twin_requests, states)


PUT_OR_NOT = [
    ("set-address", "PUT"),
    ("add-note", "PUT"),
    ("bump", "PATCH"),
    ("peek", "GET"),
    ("remove", "DELETE"),
]


def assert_twins_sent_the_loads_requests_with_their_own_keys(
    config: LoadCellConfig, app: ResourceApp, twin_requests: list[Any], states: list[Any]
) -> None:
    creates = [r for r in twin_requests if r.method == "POST"]
    acts = [r for r in twin_requests if r.method in ("PUT", "PATCH", "DELETE")]
    applied = [s for s in states if s.twin_applied]
    assert len(creates) == len(states) and len(acts) == len(applied)
    for s in states:
        number = int(s.op_id.removeprefix(PREFIX))
        load_create = build_request(config, PREFIX, number)
        twin_create = next(
            r
            for r in creates
            if r.headers["Idempotency-Key"] == idempotency_key(SEED, f"{s.op_id}.create.twin")
        )
        assert twin_create.body == load_create.body
        if s.twin_applied:
            assert load_create.then is not None
            load_act = load_create.then.request(s.twin_resource)
            twin_act = next(r for r in acts if r.path == load_act.path)
            assert twin_act.headers["Idempotency-Key"] == idempotency_key(SEED, f"{s.op_id}.twin")
            assert twin_act.body == (load_act.body or b"")
    assert not any(r.path.startswith("/things") and r.method == "HEAD" for r in app.seen)


def test_a_cell_without_resource_kinds_reads_nothing_and_writes_no_file(tmp_path: Path) -> None:
    config = load_cell("http://127.0.0.1:1", tmp_path, PREFIX)
    out = tmp_path / STATES_FILE
    assert read_resource_states(config, "http://127.0.0.1:1", [tmp_path / "history.jsonl"], out) is None
    assert not out.exists()


def test_a_target_that_does_not_answer_gives_failed_reads_not_a_comparison(tmp_path: Path) -> None:
    config = load_cell("http://127.0.0.1:1", tmp_path, PREFIX, kinds=KINDS[:1], seed=SEED)
    history, out = tmp_path / "history.jsonl", tmp_path / STATES_FILE
    with resource_app() as (_, base_url):
        run_load(config, base_url, history, operations=2)
    states = read_resource_states(config, base_url, [history], out)  # the app has stopped: refused
    assert states is not None and len(states) == 2
    for state in states:
        assert state.after.status is None and state.after.error and "connection failed" in state.after.error
        assert (
            state.twin is not None and state.twin.error and state.twin.error.startswith("the twin's create:")
        )
        assert state.matches_twin() is None
    assert [json.loads(line)["op_id"] for line in out.read_text().splitlines()] == [s.op_id for s in states]
