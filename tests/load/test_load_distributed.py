"""Load on Locust's distributed engine: a master handing out op numbers to worker processes.

Every test runs real processes (the master, the workers) against the conftest's server on port 0.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import load_cell

from harness.cli import main
from harness.errors import EXIT_COULD_NOT_RUN, LoadError
from harness.history import AttemptStart, Event, OpEnd, OpStart, iter_file, read_history
from harness.load.addresses import reachable_base_url
from harness.load.config import Distribution, LoadCellConfig, run_driver, serve_as_worker
from harness.load.operations import op_id_for
from harness.paths import REPO_ROOT
from harness.ports import LOOPBACK, free_port
from harness.proxy.client import ProxyClient, ProxyInfo
from harness.run import RunOptions, run_scenario
from harness.scenario import RetryPolicySpec, load_scenario

if TYPE_CHECKING:
    from conftest import Action, Serving

PREFIX = "nai-dist-"
OPERATIONS = 40
RESET_ONCE = {n for n in range(OPERATIONS) if n % 4 == 1}


def cell(server_url: str, tmp_path: Path, **changes: object) -> LoadCellConfig:
    defaults = {"operations": OPERATIONS, "max_duration_s": 30.0}
    return load_cell(server_url, tmp_path, PREFIX, **{**defaults, **changes})


def reset_once(reference: str, attempt: int) -> Action:
    return "reset" if int(reference.removeprefix(PREFIX)) in RESET_ONCE and attempt == 1 else "ok"


def op_ids(events: list[Event], kind: type[OpStart] | type[OpEnd]) -> Counter[str]:
    return Counter(event.op_id for event in events if isinstance(event, kind))


def drivers_running(port: int) -> list[int]:
    """Pids of driver processes (master or worker) on ``port``, from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        on_port = {f"--bind-port={port}".encode(), f"--master-port={port}".encode()}
        if b"harness.load.driver" in argv and on_port & set(argv):
            pids.append(int(entry.name))
    return pids


def test_two_workers_share_exactly_the_cells_operations(serving: Serving, tmp_path: Path) -> None:
    progress: list[tuple[int, int]] = []
    port = free_port()
    # the first four requests wait for each other: all four users, two on each worker, had an op at
    # once, so both workers run some ops however late either of them started
    with serving(reset_once, together=4) as server:
        summary = run_driver(
            cell(server.url, tmp_path),
            tmp_path / "load.json",
            on_progress=lambda done, total: progress.append((done, total)),
            timeout_s=60,
            distribution=Distribution(workers=2, port=port),
        )
    files = sorted(tmp_path.glob("history*.jsonl"))
    assert [f.name for f in files] == ["history.w0.jsonl", "history.w1.jsonl"]
    events = read_history(files)
    every_op = Counter({op_id_for(PREFIX, n): 1 for n in range(OPERATIONS)})
    assert op_ids(events, OpStart) == every_op
    assert op_ids(events, OpEnd) == every_op
    for file in files:  # both workers ran some of the ops, and no op is in both files
        assert 0 < sum(isinstance(event, OpStart) for event in iter_file(file)) < OPERATIONS
    assert all(event.outcome == "acknowledged" for event in events if isinstance(event, OpEnd))
    attempts = OPERATIONS + len(RESET_ONCE)
    assert sum(isinstance(event, AttemptStart) for event in events) == attempts
    assert len(server.received) == attempts
    assert (summary.completed, summary.total, summary.stopped_by) == (OPERATIONS, OPERATIONS, "completed")
    assert summary.requests == attempts  # Locust's statistics, aggregated by the master
    assert summary.failures == len(RESET_ONCE)
    assert progress[0] == (0, OPERATIONS) and progress[-1] == (OPERATIONS, OPERATIONS)
    assert server.alone == []
    assert drivers_running(port) == []
    assert (tmp_path / "load.w0.stderr.log").exists() and (tmp_path / "load.w1.stderr.log").exists()


def test_max_duration_stops_every_worker_and_ends_every_op(serving: Serving, tmp_path: Path) -> None:
    port = free_port()
    retry = RetryPolicySpec(max_attempts=100, timeout_s=0.2, backoff_base_s=0.01, backoff_max_s=0.02)
    with serving(lambda reference, attempt: "hang", hang_s=5.0) as server:  # every attempt times out
        config = cell(server.url, tmp_path, max_duration_s=1.5, retry=retry)
        summary = run_driver(config, tmp_path / "load.json", lambda *_: None, 60, Distribution(2, port=port))
    assert summary.stopped_by == "max_duration_s"
    # each user that had taken an op when the budget ran out (how many did depends on the machine's
    # speed) retried it until the stop cut it short
    cut_short = summary.completed
    assert 1 <= cut_short <= 4
    events = read_history(sorted(tmp_path.glob("history.*.jsonl")))
    first_ops = Counter({op_id_for(PREFIX, n): 1 for n in range(cut_short)})
    assert op_ids(events, OpStart) == op_ids(events, OpEnd) == first_ops
    assert {event.outcome for event in events if isinstance(event, OpEnd)} == {"unknown"}
    assert drivers_running(port) == []


def test_the_timeout_kills_the_master_and_every_worker_by_pid(serving: Serving, tmp_path: Path) -> None:
    port = free_port()
    with serving(lambda reference, attempt: "hang_forever") as server:
        config = cell(server.url, tmp_path, retry=RetryPolicySpec(max_attempts=1, timeout_s=20))
        with pytest.raises(LoadError, match="did not finish in time"):
            run_driver(config, tmp_path / "load.json", lambda *_: None, 4, Distribution(2, port=port))
        assert drivers_running(port) == []


def test_workers_on_other_machines_ship_their_histories_to_each_cell(
    serving: Serving, tmp_path: Path
) -> None:
    """Two ``serve_as_worker`` calls stand for two machines serving a two-cell run, cell after cell."""
    port = free_port()
    errors: list[BaseException] = []

    def machine(name: str) -> None:
        try:
            serve_as_worker(LOOPBACK, port, name, cells=2, history_root=tmp_path / name, timeout_s=60)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=machine, args=(name,)) for name in ("alpha", "beta")]
    cell_dirs = [tmp_path / "cells" / "one", tmp_path / "cells" / "two"]
    with serving(reset_once) as server:
        for thread in threads:
            thread.start()
        for cell_dir in cell_dirs:
            summary = run_driver(
                cell(server.url, cell_dir),
                cell_dir / "load.json",
                lambda *_: None,
                timeout_s=60,
                distribution=Distribution(workers=2, local=False, port=port),
            )
            assert summary.all_completed
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    for number, cell_dir in enumerate(cell_dirs, start=1):
        shipped_names = sorted(f.name for f in cell_dir.glob("history*.jsonl"))
        assert shipped_names == ["history.alpha.jsonl", "history.beta.jsonl"]
        for name in ("alpha", "beta"):
            shipped = (cell_dir / f"history.{name}.jsonl").read_text()
            assert shipped == (tmp_path / name / str(number) / f"history.{name}.jsonl").read_text()
        events = read_history(cell_dir.glob("history*.jsonl"))
        assert op_ids(events, OpStart) == Counter({op_id_for(PREFIX, n): 1 for n in range(OPERATIONS)})
    # the same op ids twice: the server resets an op's first request only, so only in the first cell
    assert len(server.received) == (OPERATIONS + len(RESET_ONCE)) + OPERATIONS


def test_a_distribution_is_checked() -> None:
    with pytest.raises(LoadError, match="between 1 and 256"):
        Distribution(workers=0)
    with pytest.raises(LoadError, match="fixed master port"):
        Distribution(workers=2, local=False)


@pytest.fixture
def proxies_made(monkeypatch: pytest.MonkeyPatch) -> list[ProxyInfo]:
    """Every proxy the run creates, as the fault proxy answered (its real listen address)."""
    made: list[ProxyInfo] = []
    create = ProxyClient.create_proxy

    def record(self: ProxyClient, name: str, upstream: str, listen: str = "127.0.0.1:0") -> ProxyInfo:
        made.append(create(self, name, upstream, listen))
        return made[-1]

    monkeypatch.setattr(ProxyClient, "create_proxy", record)
    return made


@pytest.mark.parametrize(
    ("base_url", "master_host", "reached"),
    [
        ("http://127.0.0.1:8000", "10.0.0.5", "http://10.0.0.5:8000"),  # the master's wildcard or loopback
        ("http://0.0.0.0:8000", "master.lan", "http://master.lan:8000"),
        ("http://[::1]:8000", "fd00::5", "http://[fd00::5]:8000"),
        ("http://10.0.0.7:8000", "10.0.0.5", "http://10.0.0.7:8000"),  # a specific address: kept
        ("http://127.0.0.1:8000", "127.0.0.1", "http://127.0.0.1:8000"),
    ],
)
def test_a_worker_sends_its_load_where_it_reached_the_master(
    base_url: str, master_host: str, reached: str
) -> None:
    assert reachable_base_url(base_url, master_host) == reached


def test_a_master_run_serves_each_cells_proxy_to_remote_workers(
    tmp_path: Path, proxies_made: list[ProxyInfo]
) -> None:
    """127.0.0.2 stands for the master's address on a network: the master and its proxies bind it."""
    master_host = "127.0.0.2"
    port = free_port(master_host)
    errors: list[BaseException] = []

    def machine() -> None:
        try:
            serve_as_worker(master_host, port, "remote", 2, tmp_path / "remote", timeout_s=120)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    scenario_path = REPO_ROOT / "tests" / "e2e" / "small_payments.yaml"
    options = RunOptions(
        out_root=tmp_path / "reports",
        operations=10,
        faults=("dropped-responses",),
        workers=1,
        master=True,
        master_bind_host=master_host,
        master_port=port,
    )
    thread = threading.Thread(target=machine)
    thread.start()
    try:
        result = run_scenario(load_scenario(scenario_path), str(scenario_path), options)
    finally:
        thread.join(timeout=60)
    assert errors == []
    assert sorted((p.name, p.listen_host) for p in proxies_made) == [
        ("payments-small-idempotent--dropped-responses", master_host),
        ("payments-small-naive--dropped-responses", master_host),
    ]
    for variant in ("naive", "idempotent"):
        cell_dir = result.out_dir / "cells" / f"{variant}--dropped-responses"
        assert [f.name for f in cell_dir.glob("history*.jsonl")] == ["history.remote.jsonl"]
        events = read_history([cell_dir / "history.remote.jsonl"])
        assert len(op_ids(events, OpEnd)) == 10
        assert any(isinstance(e, OpEnd) and e.outcome == "acknowledged" for e in events)
        assert result.verdict.cell(variant, "dropped-responses").operations == 10


def test_run_scenario_with_two_workers_keeps_the_verdict(
    tmp_path: Path, proxies_made: list[ProxyInfo]
) -> None:
    scenario_path = REPO_ROOT / "tests" / "e2e" / "small_payments.yaml"
    options = RunOptions(out_root=tmp_path, operations=20, faults=("dropped-responses",), workers=2)
    result = run_scenario(load_scenario(scenario_path), str(scenario_path), options)
    assert len(proxies_made) == 2
    assert {proxy.listen_host for proxy in proxies_made} == {LOOPBACK}  # local workers: loopback only
    naive = result.verdict.cell("naive", "dropped-responses")
    idempotent = result.verdict.cell("idempotent", "dropped-responses")
    assert naive.operations == idempotent.operations == 20
    assert naive.ops_with_duplicates > 0
    assert idempotent.ops_with_duplicates == 0
    assert idempotent.lost_acknowledged == 0
    for variant in ("naive", "idempotent"):
        cell_dir = result.out_dir / "cells" / f"{variant}--dropped-responses"
        names = sorted(f.name for f in cell_dir.glob("history*.jsonl"))
        assert names == ["history.w0.jsonl", "history.w1.jsonl"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--master"], "--master needs --workers N"),
        (["--worker"], "--worker needs --master-host"),
        (["--worker", "--master-host", "127.0.0.1", "--fault", "nope"], "--fault nope: no such fault"),
    ],
)
def test_the_command_line_refuses_incomplete_distribution_flags(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_path = REPO_ROOT / "tests" / "e2e" / "small_payments.yaml"
    assert main(["run", str(scenario_path), *flags]) == EXIT_COULD_NOT_RUN
    assert message in capsys.readouterr().err
