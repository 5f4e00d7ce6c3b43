"""The driver end to end, as the orchestrator runs it: run_driver against a real local server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import load_cell
from live_processes import driver_processes

from harness.errors import LoadError
from harness.history import AttemptEnd, AttemptStart, Event, OpEnd, OpStart, iter_file
from harness.load.config import (
    EXIT_BAD_CONFIG,
    LoadCellConfig,
    driver_command,
    load_cell_config,
    run_driver,
)
from harness.load.operations import (
    OperationQueue,
    choose_kind,
    idempotency_key,
    is_double_submitted,
    op_id_for,
)
from harness.load.transport import timeout_text
from harness.paths import REPO_ROOT
from harness.scenario import LoadSpec, OperationSpec, RetryPolicySpec, SuccessSpec

if TYPE_CHECKING:
    from conftest import Action, Serving

PREFIX = "nai-drop-"
SEED = 7
TIMEOUT_S = 2.0
"""Far longer than the local server takes to answer, even on a busy machine: only a hang times out."""
TIMED_OUT = timeout_text(TIMEOUT_S)
HANGS_ON_S = 30.0
"""How long the server holds a request it hangs on: the client's timeout ends the attempt long before."""


def cell(server_url: str, tmp_path: Path, **changes: object) -> LoadCellConfig:
    retry = RetryPolicySpec(max_attempts=3, timeout_s=TIMEOUT_S, backoff_base_s=0.01, backoff_max_s=0.05)
    defaults = {"seed": SEED, "retry": retry, "send_idempotency_key": True}
    return load_cell(server_url, tmp_path, PREFIX, **{**defaults, **changes})


def number_of(reference: str) -> int:
    return int(reference.removeprefix(PREFIX))


def faulty(reference: str, attempt: int) -> Action:
    """Ops 3, 13, 23 are reset on every attempt; ops ≡1 (mod 5) hang once, ops ≡2 (mod 5) reset once."""
    number = number_of(reference)
    if number % 10 == 3:
        return "reset"
    if number % 5 == 1 and attempt == 1:
        return "hang_forever"  # held until the server stops: the client's timeout fires on any machine
    if number % 5 == 2 and attempt == 1:
        return "reset"
    return "ok"


ALWAYS_RESET = {3, 13, 23}
HANG_ONCE = {n for n in range(30) if n % 5 == 1}
RESET_ONCE = {n for n in range(30) if n % 5 == 2}
EXPECTED_ATTEMPTS = 3 * len(ALWAYS_RESET) + 2 * len(HANG_ONCE) + 2 * len(RESET_ONCE) + 15


def history(tmp_path: Path) -> list[Event]:
    return list(iter_file(tmp_path / "history.jsonl"))


def test_retries_resend_the_identical_request_and_every_op_ends(tmp_path: Path, serving: Serving) -> None:
    progress: list[tuple[int, int]] = []
    with serving(faulty) as server:
        summary = run_driver(
            cell(server.url, tmp_path), tmp_path / "load.json", lambda c, t: progress.append((c, t)), 60
        )

    events = history(tmp_path)
    starts = [e for e in events if isinstance(e, OpStart)]
    ends = {e.op_id: e for e in events if isinstance(e, OpEnd)}
    attempt_ends = [e for e in events if isinstance(e, AttemptEnd)]
    op_ids = {op_id_for(PREFIX, n) for n in range(30)}
    assert sorted(e.op_id for e in starts) == sorted(op_ids)
    assert len(ends) == 30 and set(ends) == op_ids
    assert sum(isinstance(e, AttemptStart) for e in events) == EXPECTED_ATTEMPTS == 48
    assert len(attempt_ends) == EXPECTED_ATTEMPTS
    assert len(server.received) == EXPECTED_ATTEMPTS

    # one key per op, derived from seed and op id, and byte-identical bodies and headers on every attempt
    for reference, requests in server.by_reference().items():
        assert {r.body for r in requests} == {requests[0].body}
        assert {r.headers for r in requests} == {requests[0].headers}
        assert requests[0].key == idempotency_key(SEED, reference)
        body = json.loads(requests[0].body)
        assert body["reference"] == reference and body["currency"] == "EUR"
        assert 100 <= body["amount"] <= 200 and body["customer"].startswith("cus_")
    assert {e.key for e in starts} == {idempotency_key(SEED, op_id) for op_id in op_ids}

    for number in range(30):
        end = ends[op_id_for(PREFIX, number)]
        if number in ALWAYS_RESET:
            assert (end.outcome, end.attempts, end.status, end.resource_id) == ("unknown", 3, None, None)
        elif number in HANG_ONCE | RESET_ONCE:
            assert (end.outcome, end.attempts, end.status) == ("acknowledged", 2, 201)
            assert end.resource_id == f"ch_{end.op_id}_2"
        else:
            assert (end.outcome, end.attempts, end.resource_id) == ("acknowledged", 1, f"ch_{end.op_id}_1")

    errors = Counter((number_of(e.op_id) % 5 == 1, e.outcome, e.error) for e in attempt_ends if e.error)
    assert errors == {
        (True, "info", TIMED_OUT): len(HANG_ONCE),
        (False, "info", "connection reset"): 3 * len(ALWAYS_RESET) + len(RESET_ONCE),
    }
    timeouts = [e for e in attempt_ends if e.error == TIMED_OUT]
    assert all(TIMEOUT_S <= e.latency_s < HANGS_ON_S / 2 for e in timeouts)  # ended by the timeout

    assert summary.completed == summary.total == 30 and summary.stopped_by == "completed"
    assert (summary.requests, summary.failures) == (48, 21)
    assert progress[-1] == (30, 30)
    assert [c for c, _ in progress] == sorted(c for c, _ in progress)
    assert (tmp_path / "load.json").is_file()


def test_5xx_is_retried_until_attempts_run_out_and_keys_can_be_omitted(
    tmp_path: Path, serving: Serving
) -> None:
    with serving(lambda reference, attempt: "error") as server:
        config = cell(server.url, tmp_path, operations=4, users=2, send_idempotency_key=False)
        summary = run_driver(config, tmp_path / "load.json", lambda c, t: None, 60)

    events = history(tmp_path)
    ends = [e for e in events if isinstance(e, OpEnd)]
    assert [(e.outcome, e.attempts, e.status) for e in ends] == [("unknown", 3, 503)] * 4
    assert all(e.key is None for e in events if isinstance(e, OpStart))
    assert len(server.received) == 12 and all(r.key is None for r in server.received)
    assert (summary.requests, summary.failures) == (12, 12)


def test_the_driver_stops_by_itself_at_max_duration_when_the_server_hangs(
    tmp_path: Path, serving: Serving
) -> None:
    retry = RetryPolicySpec(max_attempts=3, timeout_s=HANGS_ON_S)
    with serving(lambda reference, attempt: "hang_forever") as server:
        config = cell(server.url, tmp_path, operations=10, users=3, max_duration_s=1.0, retry=retry)
        summary = run_driver(config, tmp_path / "load.json", lambda c, t: None, 60)

    events = history(tmp_path)
    starts = [e for e in events if isinstance(e, OpStart)]
    ends = [e for e in events if isinstance(e, OpEnd)]
    attempt_ends = [e for e in events if isinstance(e, AttemptEnd)]
    # each user takes one op and hangs on it; how many users had theirs when the budget ran out
    # depends on the machine's speed, not on the driver
    hung = len(starts)
    assert 1 <= hung <= 3
    assert len(ends) == hung and {e.op_id for e in starts} == {e.op_id for e in ends}
    assert [(e.outcome, e.attempts, e.status) for e in ends] == [("unknown", 1, None)] * hung
    assert [(e.outcome, e.error) for e in attempt_ends] == [
        ("info", "stopped: max_duration_s (1 s) passed")
    ] * hung
    assert (summary.stopped_by, summary.completed, summary.total) == ("max_duration_s", hung, 10)
    assert 1.0 <= summary.duration_s < HANGS_ON_S / 2  # stopped by its budget, not by a request's timeout
    assert summary.requests == summary.failures == hung


def test_a_driver_that_cannot_write_its_history_is_a_load_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = cell("http://127.0.0.1:9", tmp_path, history_path=str(blocker / "history.jsonl"))
    with pytest.raises(LoadError, match=r"exited with status 2: load driver: history_path: cannot write"):
        run_driver(config, tmp_path / "load.json", lambda c, t: None, 30)


REFUND = OperationSpec(
    name="refund",
    method="PUT",
    path="/refunds/{seq}",
    body={"reference": "{op_id}", "amount": "{amount}"},
    key_header="X-Request-Key",
    resource_id_field="data.id",
)


def test_each_op_performs_the_kind_drawn_for_it_with_that_kinds_key_header(
    tmp_path: Path, serving: Serving
) -> None:
    kinds = (OperationSpec(weight=3), REFUND)
    with serving(lambda reference, attempt: "ok") as server:
        config = cell(server.url, tmp_path, operations=24, users=3, kinds=kinds)
        summary = run_driver(config, tmp_path / "load.json", lambda c, t: None, 60)

    expected = {op_id_for(PREFIX, n): choose_kind(SEED, op_id_for(PREFIX, n), kinds).name for n in range(24)}
    assert 0 < Counter(expected.values())["refund"] < 24
    events = history(tmp_path)
    assert {e.op_id: e.kind for e in events if isinstance(e, OpStart)} == expected
    assert sum(isinstance(e, OpStart) for e in events) == 24
    ends = {e.op_id: e for e in events if isinstance(e, OpEnd)}
    assert len(ends) == len(server.received) == summary.requests == 24
    for request in server.received:
        reference, headers = request.reference, dict(request.headers)
        key = idempotency_key(SEED, reference)
        if expected[reference] == "refund":
            assert (request.method, request.path) == ("PUT", f"/refunds/{number_of(reference)}")
            assert headers["X-Request-Key"] == key and "Idempotency-Key" not in headers
            assert ends[reference].resource_id == f"d_{reference}_1"
        else:
            assert (request.method, request.path) == ("POST", "/charges")
            assert headers["Idempotency-Key"] == key and "X-Request-Key" not in headers
            assert ends[reference].resource_id == f"ch_{reference}_1"
        assert ends[reference].outcome == "acknowledged"


def test_a_kinds_success_rule_travels_to_the_driver_and_turns_an_unaccepted_answer_down(
    tmp_path: Path, serving: Serving
) -> None:
    """The server answers 201 to all; the ``strict`` kind only accepts 200: refused, not retried."""
    strict = OperationSpec(name="strict", success=SuccessSpec(status=(200,)))
    kinds = (OperationSpec(), strict)
    with serving(lambda reference, attempt: "ok") as server:
        config = cell(server.url, tmp_path, operations=16, users=2, kinds=kinds)
        run_driver(config, tmp_path / "load.json", lambda c, t: None, 60)

    drawn = {op_id_for(PREFIX, n): choose_kind(SEED, op_id_for(PREFIX, n), kinds).name for n in range(16)}
    assert 0 < Counter(drawn.values())["strict"] < 16
    ends = {e.op_id: e for e in history(tmp_path) if isinstance(e, OpEnd)}
    assert len(ends) == len(server.received) == 16
    for op_id, kind in drawn.items():
        expected = ("rejected", 1, 201) if kind == "strict" else ("acknowledged", 1, 201)
        assert (ends[op_id].outcome, ends[op_id].attempts, ends[op_id].status) == expected


def test_a_double_submit_sends_the_first_attempt_twice_at_once_and_the_better_answer_decides(
    tmp_path: Path, serving: Serving
) -> None:
    """Doubled ops with an even number get 201 + 409 (done); odd ones get 503 twice (retried once)."""
    op_ids = [op_id_for(PREFIX, n) for n in range(16)]
    doubled = {op_id for op_id in op_ids if is_double_submitted(SEED, op_id, 0.5)}
    assert 2 <= len(doubled) <= 14

    def decide(reference: str, attempt: int) -> Action:
        if reference not in doubled or attempt > 2:
            return "ok"
        if number_of(reference) % 2 == 0:
            return "ok" if attempt == 1 else "conflict"
        return "error"

    with serving(decide, pairs=frozenset(doubled)) as server:
        config = cell(server.url, tmp_path, operations=16, users=4, double_submit=0.5)
        summary = run_driver(config, tmp_path / "load.json", lambda c, t: None, 60)

    events = history(tmp_path)
    received = server.by_reference()
    for op_id in op_ids:
        requests = received[op_id]
        own = [e for e in events if getattr(e, "op_id", None) == op_id]
        end = own[-1]
        assert isinstance(end, OpEnd) and end.outcome == "acknowledged"
        assert {(r.body, r.headers) for r in requests} == {(requests[0].body, requests[0].headers)}
        assert requests[0].key == idempotency_key(SEED, op_id)
        if op_id not in doubled:
            assert (len(requests), end.attempts) == (1, 1)
            continue
        starts = [e for e in own if isinstance(e, AttemptStart)]
        attempt_ends = [e for e in own if isinstance(e, AttemptEnd)]
        assert [type(e) for e in own[:3]] == [OpStart, AttemptStart, AttemptStart]
        assert [e.attempt for e in starts[:2]] == [1, 2]
        assert max(e.t for e in starts[:2]) <= min(e.t for e in attempt_ends)
        assert sorted(e.status or 0 for e in attempt_ends[:2]) == (
            [201, 409] if number_of(op_id) % 2 == 0 else [503, 503]
        )
        if number_of(op_id) % 2 == 0:
            assert (len(requests), end.attempts, end.status, end.resource_id) == (2, 2, 201, f"ch_{op_id}_1")
        else:
            assert (len(requests), end.attempts, end.status, end.resource_id) == (3, 3, 201, f"ch_{op_id}_3")
            assert [e.attempt for e in starts] == [1, 2, 3]
    assert server.alone == []  # each doubled op's two requests were in the server together
    odd = sum(number_of(op_id) % 2 for op_id in doubled)
    assert summary.requests == len(server.received) == 16 + len(doubled) + odd


def test_a_double_submit_cut_short_by_max_duration_ends_both_attempts(
    tmp_path: Path, serving: Serving
) -> None:
    retry = RetryPolicySpec(max_attempts=3, timeout_s=HANGS_ON_S)
    with serving(lambda reference, attempt: "hang_forever") as server:
        config = cell(
            server.url, tmp_path, operations=4, users=2, max_duration_s=1.0, retry=retry, double_submit=1.0
        )
        summary = run_driver(config, tmp_path / "load.json", lambda c, t: None, 60)

    events = history(tmp_path)
    ends = [e for e in events if isinstance(e, OpEnd)]
    attempt_ends = [e for e in events if isinstance(e, AttemptEnd)]
    hung = len(ends)  # one op per user that had taken one when the budget ran out
    assert 1 <= hung <= 2
    assert sorted((e.attempt, e.outcome, e.error) for e in attempt_ends) == sorted(
        (attempt, "info", "stopped: max_duration_s (1 s) passed") for attempt in (1, 2) * hung
    )
    assert [(e.outcome, e.attempts, e.status) for e in ends] == [("unknown", 2, None)] * hung
    assert sum(isinstance(e, AttemptStart) for e in events) == len(server.received) == 2 * hung
    assert (summary.stopped_by, summary.completed, summary.requests, summary.failures) == (
        "max_duration_s",
        hung,
        2 * hung,
        2 * hung,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ('{"base_url": "http://127.0.0.1:1"}', "variant: Field required"),
        ("not json", "Invalid JSON"),
    ],
)
def test_bad_config_exits_2_with_one_line_naming_the_problem(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "cell.json"
    if content is not None:
        path.write_text(content)
    done = subprocess.run(
        driver_command(path), cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == EXIT_BAD_CONFIG
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert done.stderr.startswith(f"load driver: {path}: ")


def test_the_config_file_holds_the_scenarios_load_block_as_it_is(tmp_path: Path) -> None:
    load = LoadSpec(operations=3, retry=RetryPolicySpec(max_attempts=2, retry_on=("429",)))
    config = LoadCellConfig(
        base_url="http://127.0.0.1:1/", load=load, variant="v", fault="f", seed=1, history_path="h.jsonl"
    )
    written = json.loads(config.model_dump_json())
    assert written["load"] == load.model_dump(mode="json")
    assert config.base_url == "http://127.0.0.1:1"
    assert LoadCellConfig.model_validate_json(config.model_dump_json()) == config


def test_config_errors_name_the_nested_field(tmp_path: Path) -> None:
    config = cell("http://127.0.0.1:1", tmp_path).model_dump()
    config["load"]["retry"]["max_attempts"] = 0
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(config))
    with pytest.raises(
        LoadError, match=r"cell.json: load.retry.max_attempts: .*greater than or equal to 1 \(got 0\)"
    ):
        load_cell_config(path)


def test_run_driver_kills_a_driver_that_overruns_its_timeout(tmp_path: Path, serving: Serving) -> None:
    retry = RetryPolicySpec(timeout_s=30.0)
    with serving(lambda reference, attempt: "hang_forever") as server:
        config = cell(server.url, tmp_path, operations=4, users=2, max_duration_s=60.0, retry=retry)
        with pytest.raises(LoadError, match=r"load driver did not finish in time; killed pid \d+"):
            run_driver(config, tmp_path / "load.json", lambda c, t: None, timeout_s=2.5)
    assert driver_processes(tmp_path / "load.json") == []


def test_run_driver_kills_the_driver_on_keyboard_interrupt(tmp_path: Path, serving: Serving) -> None:
    def interrupt(completed: int, total: int) -> None:
        raise KeyboardInterrupt

    with serving(lambda reference, attempt: "hang_forever") as server:
        config = cell(server.url, tmp_path, operations=4, users=2, max_duration_s=60.0)
        with pytest.raises(KeyboardInterrupt):
            run_driver(config, tmp_path / "load.json", interrupt, timeout_s=30)
    assert driver_processes(tmp_path / "load.json") == []


def test_stopping_the_queue_says_whether_it_withheld_operations() -> None:
    queue = OperationQueue(3)
    assert queue.take() == 0 and queue.stop_taking() and queue.take() is None
    assert (queue.total, queue.done) == (1, False)
    queue.finish()
    assert queue.done
    spent = OperationQueue(1)
    assert spent.take() == 0 and not spent.stop_taking()
    held = OperationQueue(1)
    held.hold()
    assert held.take() == 0 and held.stop_taking() and held.take() is None


_QUIT_AND_COUNT_STACK_LOOKUPS = """
import contextlib, inspect, sys
import locust.runners
from locust import User, constant, task
from locust.env import Environment
from harness.load.driver import caller_lookup_skipped

class Idle(User):
    wait_time = constant(60)
    @task
    def nothing(self): pass

lookups = []
real_stack = inspect.stack
inspect.stack = lambda *a, **k: lookups.append(1) or real_stack(*a, **k)
skip = sys.argv[1] == "skip"
runner = Environment(user_classes=[Idle]).create_local_runner()
runner.start(1, spawn_rate=1)
with caller_lookup_skipped() if skip else contextlib.nullcontext():
    runner.quit()
print(len(lookups), locust.runners.inspect is inspect)
"""


@pytest.mark.parametrize(("mode", "expected"), [("skip", "0 True"), ("plain", "1 True")])
def test_quitting_the_runner_skips_locusts_caller_lookup_and_restores_it(mode: str, expected: str) -> None:
    # in a process of its own: Locust patches the process with gevent on import
    done = subprocess.run(
        [sys.executable, "-c", _QUIT_AND_COUNT_STACK_LOOKUPS, mode],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == expected
