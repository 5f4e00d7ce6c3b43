"""Operations on a resource through the real driver: the create step, then the act, each its own op."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from factories import load_cell
from resource_app import resource_app

from harness.history import AttemptEnd, OpEnd, OpStart, iter_file
from harness.load.config import run_driver
from harness.load.operations import idempotency_key, op_id_for
from harness.scenario import OperationSpec

PREFIX = "res-"
SEED = 13
OPERATIONS = 12
STATE = {"path": "/things/{resource}"}


def kind(name: str, method: str, path: str, body: object, refuse: bool = False) -> OperationSpec:
    create = {"path": "/things", "body": {"name": "{customer}", "reference": "{op_id}", "refuse": refuse}}
    resource = {"create": create, "state": STATE}
    return OperationSpec.model_validate(
        {"name": name, "method": method, "path": path, "body": body, "resource": resource}
    )


KINDS = (
    kind("set-address", "PUT", "/things/{resource}/address", {"address": "{choice:a|b}", "ref": "{op_id}"}),
    kind("peek", "HEAD", "/things/{resource}", None),
    kind("refused", "PATCH", "/things/{resource}", {"by": 1}, refuse=True),
)


def test_the_create_step_runs_first_and_the_act_uses_the_id_it_answered(tmp_path: Path) -> None:
    config = load_cell(
        "http://127.0.0.1:1", tmp_path, PREFIX, kinds=KINDS, seed=SEED, operations=OPERATIONS, users=3
    )
    with resource_app(flaky_puts=True) as (app, base_url):
        summary = run_driver(
            config.model_copy(update={"base_url": base_url}), tmp_path / "load.json", lambda c, t: None, 60
        )
    assert summary.completed == summary.total == OPERATIONS

    events = list(iter_file(tmp_path / "history.jsonl"))
    starts = {e.op_id: e for e in events if isinstance(e, OpStart)}
    ends = {e.op_id: e for e in events if isinstance(e, OpEnd)}
    answers = defaultdict(list)
    for event in events:
        if isinstance(event, AttemptEnd):
            answers[event.op_id].append(event)
    acts = {op_id_for(PREFIX, n) for n in range(OPERATIONS)}
    assert set(starts) == set(ends) == acts | {f"{op_id}.create" for op_id in acts}
    kinds = {starts[op_id].kind for op_id in acts}
    assert kinds == {"set-address", "peek", "refused"}, kinds  # every kind was drawn

    for op_id in acts:
        act, create = starts[op_id], starts[f"{op_id}.create"]
        assert create.kind == f"{act.kind}.create" and create.t < act.t
        assert create.key == idempotency_key(SEED, f"{op_id}.create") and act.key == idempotency_key(
            SEED, op_id
        )
        created, ended = ends[f"{op_id}.create"], ends[op_id]
        if act.kind == "refused":  # the create was turned down: the act was never sent
            assert (created.outcome, created.status) == ("rejected", 400)
            assert (ended.outcome, ended.attempts, ended.status) == ("rejected", 0, None)
            assert op_id not in answers
            continue
        assert created.outcome == "acknowledged" and created.resource_id is not None
        sent = [s for s in app.seen if s.path.startswith(f"/things/{created.resource_id}")]
        assert {s.headers["Idempotency-Key"] for s in sent} == {act.key}
        if act.kind == "peek":  # a HEAD answer has no body, so no id
            assert (ended.outcome, ended.attempts, ended.status, ended.resource_id) == (
                "acknowledged",
                1,
                200,
                None,
            )
            assert [s.method for s in sent] == ["HEAD"] and sent[0].body == b""
        else:  # the first PUT is answered 503 and retried with the identical request
            assert (ended.outcome, ended.attempts, ended.status) == ("acknowledged", 2, 200)
            assert [a.status for a in answers[op_id]] == [503, 200]
            assert len(sent) == 2 and sent[0].body == sent[1].body
            assert sent[0].headers == sent[1].headers and json.loads(sent[0].body)["ref"] == op_id
