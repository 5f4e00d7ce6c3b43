"""Any target: reference name, command, container, or a URL already listening; each checked at load,
and the URL and container kinds driven for real (the command kind: test_byo_flask_example.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from waiting import wait_until

from harness.errors import ScenarioError, TargetError
from harness.history import CrashEvent, CrashPlanEvent, RestartEvent, read_history
from harness.paths import REPO_ROOT
from harness.ports import free_port
from harness.run import CLIENT_HISTORY, FAULT_HISTORY, RunOptions, run_scenario
from harness.runtime.byo import UrlTarget, start_target
from harness.runtime.process import ProcessRuntime
from harness.scenario import TargetSpec, is_catalogue, load_scenario
from harness.verdict import CellVerdict

EXAMPLE = REPO_ROOT / "examples" / "flask-orders"
FAULTS = "faults: {none: {}}\n"
HISTORIES = (CLIENT_HISTORY, FAULT_HISTORY)
CRASH = "faults: {crash: {crashes: {count: 1, min_interval_s: 1.0, first_after_s: 0.5}}}\n"


def write(tmp_path: Path, target: str, rest: str = FAULTS) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: t\ntarget: {target}\n{rest}")
    return path


def test_shipped_scenarios_still_name_reference_targets() -> None:
    for path in sorted((REPO_ROOT / "scenarios").glob("*.yaml")):
        if not is_catalogue(path):
            assert load_scenario(path).target.kind == "reference", path


@pytest.mark.parametrize(
    ("target", "rest", "field", "needle"),
    [
        (
            "{variants: [a]}",
            FAULTS,
            "target",
            "exactly one of name (a reference target), command, docker or url",
        ),
        ("{name: payments, url: 'http://127.0.0.1:9'}", FAULTS, "target", "(given: name, url)"),
        (
            "{command: [app, --port, '8000']}",
            FAULTS,
            "target",
            "put {port} in command or env (variant naive)",
        ),
        ("{command: [app], variants: {a: {}, b: {command: [app2]}}, env: {}}", FAULTS, "target", "variant a"),
        ("{command: ['{port}'], cwd: nowhere}", FAULTS, "target.cwd", "no such folder"),
        (
            "{command: ['{port}'], kill_command: [x]}",
            FAULTS,
            "target",
            "kill_command and restart_command: only with url",
        ),
        (
            "{command: ['{port}'], variants: {a: {url: 'http://127.0.0.1:1'}}}",
            FAULTS,
            "target",
            "variants.a.url",
        ),
        (
            "{name: payments, variants: {a: {command: [x]}}}",
            FAULTS,
            "target",
            "variants.a.command: only with",
        ),
        ("{command: ['{port}'], health_path: health}", FAULTS, "target.health_path", "must start with '/'"),
        ("{docker: {}}", FAULTS, "target.docker", "exactly one of image or build"),
        ("{docker: {build: .}}", FAULTS, "target.docker.build", "no Dockerfile in"),
        ("{docker: {image: x}}", FAULTS, "target", "the docker target must get its port"),
        ("{url: 'http://10.1.2.3:8000'}", FAULTS, "(top level)", "is not on loopback"),
        ("{url: 'http://example.com:80'}", FAULTS, "(top level)", "unless allow_remote: true"),
        (
            "{url: 'http://127.0.0.1:8000/api'}",
            FAULTS,
            "(top level)",
            "expected http://host:port, nothing more",
        ),
        ("{url: 'http://127.0.0.1'}", FAULTS, "(top level)", "expected http://host:port"),
        ("{url: 'http://127.0.0.1:8000'}", CRASH, "(top level)", "faults.crash.crashes: a url target needs"),
        (
            "{url: 'http://127.0.0.1:8000', kill_command: [k]}",
            CRASH,
            "(top level)",
            "target.kill_command and target.restart_command",
        ),
        (
            "{url: 'http://127.0.0.1:8000', kill_command: [k], restart_command: [r]}",
            "faults: {f: {failpoints: {after_commit_before_response: 0.1}}}\n",
            "(top level)",
            "faults.f.failpoints: a url target is not started by the harness",
        ),
    ],
)
def test_target_kinds_are_checked_at_load(
    tmp_path: Path, target: str, rest: str, field: str, needle: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, target, rest))
    assert str(caught.value).startswith(f"{tmp_path / 's.yaml'}: {field}: "), str(caught.value)
    assert needle in str(caught.value)


def test_accepted_kinds(tmp_path: Path) -> None:
    url = load_scenario(
        write(tmp_path, "{url: 'http://localhost:8000', kill_command: [k], restart_command: [r]}", CRASH)
    )
    assert url.target.kind == "url" and url.target.restart_command == ("r",)
    remote = load_scenario(write(tmp_path, "{url: 'http://10.1.2.3:8000'}", FAULTS + "allow_remote: true\n"))
    assert remote.target.kind == "url"
    (tmp_path / "svc").mkdir()
    command = load_scenario(
        write(
            tmp_path,
            "{command: [app], cwd: svc, env: {PORT: '{port}'}, variants: {a: {env: {F: '1'}}, b: null}}",
        )
    )
    assert command.target.kind == "command" and command.target.cwd == str(tmp_path / "svc")
    assert command.target.variants == ("a", "b")
    assert command.target.variant("a").env == {"F": "1"} and command.target.variant("b").env == {}
    docker = load_scenario(write(tmp_path, "{docker: {image: x, port: 8080}, command: [serve]}"))
    assert docker.target.kind == "docker" and docker.target.command == ("serve",)


def test_url_target_with_nothing_listening_is_refused(tmp_path: Path) -> None:
    spec = TargetSpec(url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(
        TargetError, match=r"^target\.url: nothing healthy answers http://127\.0\.0\.1:\d+/health"
    ):
        start_target(ProcessRuntime(), spec, "naive", data_dir=tmp_path, log_path=tmp_path / "t.log", env={})


@pytest.fixture
def user_service(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The Flask example started by the 'user' (this test), with a pid file its kill/restart commands use."""
    port = free_port()
    pid_file = tmp_path / "service.pid"
    db = tmp_path / "orders.db"
    start = (
        f"cd {EXAMPLE} && ORDERS_IDEMPOTENT=1 nohup {sys.executable} app.py --port {port} --db {db} "
        f">> {tmp_path / 'service.log'} 2>&1 & echo $! > {pid_file}"
    )
    subprocess.run(["sh", "-c", start], check=True)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: is_healthy(url), f"the service at {url} (log: {tmp_path / 'service.log'})")
    yield url, db
    with contextlib.suppress(ProcessLookupError, ValueError):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the service the last restart started


def is_healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_url_target_is_crashed_and_restarted_by_its_commands(
    tmp_path: Path, user_service: tuple[str, Path]
) -> None:
    url, db = user_service
    pid_file = tmp_path / "service.pid"
    start = (
        f"cd {EXAMPLE} && ORDERS_IDEMPOTENT=1 nohup {sys.executable} app.py --port {url.rsplit(':', 1)[1]} "
        f"--db {db} >> {tmp_path / 'service.log'} 2>&1 & echo $! > {pid_file}"
    )
    scenario_file = tmp_path / "url.yaml"
    scenario_file.write_text(
        f"""
name: url-target
seed: 3
target:
  url: {url}
  kill_command: [sh, -c, "kill -9 $(cat {pid_file})"]
  restart_command: [sh, -c, "{start}"]
  variants: [idempotent]
  operations: [{{path: /api/orders, body: {{client_ref: "{{op_id}}", item: mug, quantity: 1}}}}]
  effects: {{path: /api/orders, list_path: data.items, op_ref_field: client_ref}}
load: {{operations: 24, users: 4, max_duration_s: 40, retry: {{max_attempts: 10, timeout_s: 0.5}}}}
faults:
  crash: {{crashes: {{count: 1, min_interval_s: 1.0, first_after_s: 0.3}}}}
"""
    )
    first_pid = int(pid_file.read_text())
    result = run_scenario(
        load_scenario(scenario_file), str(scenario_file), RunOptions(out_root=tmp_path / "r")
    )
    cell = result.verdict.cell("idempotent", "crash")
    assert cell.operations >= 24  # the load ran on past its budget until the kill was made
    (crash,) = [e for e in cell.fault_events if isinstance(e, CrashEvent)]
    assert crash.reason == "kill" and crash.planned_s is not None
    history = read_history([result.out_dir / "cells" / "idempotent--crash" / name for name in HISTORIES])
    (crash_plan,) = [e for e in history if isinstance(e, CrashPlanEvent)]
    assert (crash_plan.planned, crash_plan.made) == (1, 1)
    exposure = cell.check("exposure")
    assert exposure is not None and exposure.details["kill"]["hit"] >= 1  # it fell during the load
    assert cell.validity != "unknown"
    assert sum(isinstance(e, RestartEvent) for e in cell.fault_events) == 1
    assert int(pid_file.read_text()) != first_pid  # the restart command really started a new process
    assert cell.ops_with_duplicates == 0 and cell.lost_acknowledged == 0
    log = (result.out_dir / "cells" / "idempotent--crash" / "target.log").read_text()
    assert "--- harness: kill_command: sh -c kill -9" in log and "--- harness: restart_command:" in log


ORDERS_BY_CLIENT_REF = """  variants: [idempotent]
  operations: [{path: /api/orders, body: {client_ref: "{op_id}", item: mug, quantity: 1}}]
  effects: {path: /api/orders, list_path: data.items, op_ref_field: client_ref}
load: {operations: 10, users: 2}
faults: {none: {}}
"""
"""The Flask example's orders, each carrying its op id as ``client_ref``; ten operations, no fault."""


def run_twice(tmp_path: Path, target: str) -> tuple[CellVerdict, CellVerdict]:
    """The idempotent cell of two runs of one scenario against ``target`` (YAML lines under ``target:``)."""
    scenario_file = tmp_path / "rerun.yaml"
    scenario_file.write_text(f"name: rerun\nseed: 3\ntarget:\n{target}{ORDERS_BY_CLIENT_REF}")
    scenario = load_scenario(scenario_file)
    first, second = (
        run_scenario(scenario, str(scenario_file), RunOptions(out_root=tmp_path / "r")).verdict.cell(
            "idempotent", "none"
        )
        for _ in range(2)
    )
    return first, second


def test_a_rerun_against_a_url_target_does_not_count_last_runs_effects(
    tmp_path: Path, user_service: tuple[str, Path]
) -> None:
    url, _ = user_service
    first, second = run_twice(tmp_path, f"  url: {url}\n")
    assert first.ops_with_duplicates == 0 and second.ops_with_duplicates == 0
    assert second.orphan_effects == first.orphan_effects + 10  # last run's orders are not this run's


def test_a_rerun_against_a_command_targets_persistent_store_uses_new_ids(tmp_path: Path) -> None:
    database = tmp_path / "kept-across-runs.db"
    command = f'  command: ["{{python}}", app.py, --port, "{{port}}", --db, "{database}"]\n'
    first, second = run_twice(tmp_path, f'{command}  cwd: {EXAMPLE}\n  env: {{ORDERS_IDEMPOTENT: "1"}}\n')
    assert (first.operations, first.acknowledged, first.orphan_effects) == (10, 10, 0)
    assert first.ops_with_duplicates == 0 and second.ops_with_duplicates == 0
    assert second.orphan_effects == 10  # last run's orders, under last run's ids, are not this run's
    assert second.acknowledged == 10 and second.validity == "valid"


def test_url_target_lifecycle_without_a_run(tmp_path: Path, user_service: tuple[str, Path]) -> None:
    url, _ = user_service
    target = UrlTarget.from_spec(TargetSpec(url=url, kill_command=("false",)), "x", tmp_path / "t.log")
    assert target.is_alive() and target.exit_code() is None
    with pytest.raises(TargetError, match=r"^target\.kill_command exited with status 1"):
        target.kill()
    with pytest.raises(TargetError, match=r"^target\.restart_command: a url target cannot be restarted"):
        target.restart()
    target.stop()  # not ours: still answering
    assert httpx.get(f"{url}/health", timeout=2).status_code == 200


def test_container_target_mounts_the_data_folder_and_is_crashed_for_real(tmp_path: Path) -> None:
    from harness.runtime.engine import RUN_LABEL, connect
    from harness.scenario import DockerSpec

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "evidence.txt").write_text("written on the host")
    spec = TargetSpec(
        docker=DockerSpec(image="harness-base:bookworm"),
        command=(
            "python3",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "{port}",
            "--directory",
            "{data_dir}",
        ),
        health_path="/evidence.txt",
    )
    run_id = f"byo-test-{os.getpid()}"
    log = tmp_path / "target.log"
    target = start_target(
        ProcessRuntime(), spec, "naive", data_dir=data_dir, log_path=log, env={}, run_id=run_id
    )
    try:
        assert httpx.get(f"{target.endpoint.base_url}/evidence.txt", timeout=5).text == "written on the host"
        target.kill()
        assert not target.is_alive() and target.exit_code() == -9
        assert target.restart() > 0
        assert target.is_alive() and target.exit_code() is None
    finally:
        target.stop()
    assert connect().containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}) == []
    assert log.read_text().count("--- harness: container harness-byo-") == 2


def test_container_target_built_from_a_folder_with_a_dockerfile(tmp_path: Path) -> None:
    from harness.runtime.byo import _built_image
    from harness.runtime.engine import connect
    from harness.scenario import DockerSpec

    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "Dockerfile").write_text(
        'FROM harness-base:bookworm\nCOPY hello.txt /srv/hello.txt\nCMD ["python3", "-m", "http.server"]\n'
    )
    (folder / "hello.txt").write_text(f"built {os.getpid()}")
    spec = TargetSpec(
        docker=DockerSpec(build=str(folder)),
        command=("python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}", "--directory", "/srv"),
        health_path="/hello.txt",
    )
    data_dir, log = tmp_path / "data", tmp_path / "target.log"
    target = start_target(
        ProcessRuntime(), spec, "a", data_dir=data_dir, log_path=log, env={}, run_id="byo-build"
    )
    try:
        assert httpx.get(f"{target.endpoint.base_url}/hello.txt", timeout=5).text == f"built {os.getpid()}"
    finally:
        target.stop()
    tag = _built_image(connect(), str(folder))
    assert tag.startswith("harness-byo-svc:")
    connect().images.remove(tag, force=True)
