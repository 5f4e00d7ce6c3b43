"""The process runtime on a tiny stand-in target: start, health, kill, restart, stop, clean-up."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import httpx
import pytest
from waiting import wait_until

from harness.errors import TargetError
from harness.pidfiles import PidRegistry
from harness.processes import group_members
from harness.runtime.process import ProcessRuntime
from harness.runtime.spawn import ForkServer

STAND_IN = textwrap.dedent(
    """
    import argparse, http.server, os, sys
    parser = argparse.ArgumentParser()
    for flag in ("--host", "--port", "--variant", "--db"):
        parser.add_argument(flag)
    args = parser.parse_args()
    mode = os.environ.get("STAND_IN_MODE", "ok")

    def import_lazily():  # not at the top level: the fork server learns it from a first incarnation
        learned = "colorsys" in sys.modules
        import colorsys
        return learned

    learned = import_lazily()
    if mode == "exit":
        print("cannot open database: permission denied", flush=True)
        sys.exit(3)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status = 503 if mode == "unhealthy" else 200
            body = os.environ.get("HARNESS_INCARNATION", "?").encode()
            if self.path == "/learned":
                body = str(learned).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    http.server.HTTPServer((args.host, int(args.port)), Handler).serve_forever()
    """
)


@pytest.fixture
def targets_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "targets" / "standin"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(STAND_IN)
    return tmp_path / "targets"


def runtime(targets_dir: Path, tmp_path: Path, timeout: float = 10.0) -> ProcessRuntime:
    return ProcessRuntime(
        start_timeout_s=timeout, registry=PidRegistry(tmp_path / "pids"), targets_dir=targets_dir
    )


def recorded(tmp_path: Path) -> list[int]:
    return PidRegistry(tmp_path / "pids").pids()


def test_start_kill_restart_stop(targets_dir: Path, tmp_path: Path) -> None:
    target = runtime(targets_dir, tmp_path).start(
        "standin", "naive", tmp_path / "data", tmp_path / "t.log", env={}
    )
    try:
        assert target.endpoint.host == "127.0.0.1"
        assert httpx.get(f"{target.endpoint.base_url}/health").text == "0"
        assert len(recorded(tmp_path)) == 2  # the serving process and the fork server it came from
        serving = target.pid
        target.kill()
        assert not target.is_alive()
        assert target.exit_code() == -9
        downtime = target.restart()
        assert downtime > 0 and target.is_alive()
        assert httpx.get(f"{target.endpoint.base_url}/health").text == "1"  # same port, next incarnation
        assert target.pid != serving and len(recorded(tmp_path)) == 2
    finally:
        target.stop()
    target.stop()  # twice is fine
    assert not target.is_alive()
    assert recorded(tmp_path) == []
    log = (tmp_path / "t.log").read_text()
    assert "start incarnation 0" in log and "start incarnation 1" in log


def test_a_restart_finds_imported_what_the_last_incarnation_imported_as_it_started(
    targets_dir: Path, tmp_path: Path
) -> None:
    target = runtime(targets_dir, tmp_path).start("standin", "naive", tmp_path / "d", tmp_path / "t.log", {})
    try:
        assert httpx.get(f"{target.endpoint.base_url}/learned").text == "False"
        target.restart()
        assert httpx.get(f"{target.endpoint.base_url}/learned").text == "True"
    finally:
        target.stop()


def test_targets_of_one_module_share_a_fork_server_that_ends_with_the_last(
    targets_dir: Path, tmp_path: Path
) -> None:
    shared = runtime(targets_dir, tmp_path)
    first = shared.start("standin", "naive", tmp_path / "d1", tmp_path / "t1.log", {})
    try:
        second = shared.start("standin", "idempotent", tmp_path / "d2", tmp_path / "t2.log", {})
        assert len(recorded(tmp_path)) == 3  # one server, two serving processes
        first.stop()
        second.kill()
        second.restart()  # the server outlives the first target while the second needs it
        assert httpx.get(f"{second.endpoint.base_url}/health").text == "1"
        second.stop()
        assert recorded(tmp_path) == []
    finally:
        first.stop()


def test_target_that_exits_reports_its_log(
    targets_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "exit")
    with pytest.raises(TargetError, match=r"exited with status 3[\s\S]*permission denied"):
        runtime(targets_dir, tmp_path).start("standin", "naive", tmp_path / "d", tmp_path / "t.log", {})


def test_unhealthy_target_times_out_and_is_killed(
    targets_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "unhealthy")
    with pytest.raises(TargetError, match=r"did not answer .*/health within"):
        runtime(targets_dir, tmp_path, timeout=1.0).start(
            "standin", "naive", tmp_path / "d", tmp_path / "t.log", {}
        )
    assert recorded(tmp_path) == []


def test_clean_ends_a_leftover_process(targets_dir: Path, tmp_path: Path) -> None:
    target = runtime(targets_dir, tmp_path).start("standin", "naive", tmp_path / "d", tmp_path / "t.log", {})
    try:
        serving = target.pid
        assert serving is not None and serving in recorded(tmp_path)
        left = recorded(tmp_path)  # the serving process and the fork server it came from
        assert len(left) == 2
        ended = PidRegistry(tmp_path / "pids").clean()
        assert ended and set(ended) <= set(left)  # the fork server, ended first, takes its child along
        wait_until(lambda: not target.is_alive(), "the cleaned target to be gone")
        assert group_members(serving) == []
    finally:
        target.stop()


def test_clean_leaves_a_recycled_pid_alone(tmp_path: Path) -> None:
    registry = PidRegistry(tmp_path / "pids")
    registry.add(os.getpid(), ["not", "this", "command"])
    assert registry.clean() == []
    assert recorded(tmp_path) == []


def test_a_running_forked_target_is_seen_alive_without_asking_its_fork_server(
    targets_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    real_poll = ForkServer.poll

    def counted_poll(server: ForkServer, pid: int) -> int | None:
        asked.append(pid)
        return real_poll(server, pid)

    monkeypatch.setattr(ForkServer, "poll", counted_poll)
    target = runtime(targets_dir, tmp_path).start("standin", "naive", tmp_path / "d", tmp_path / "t.log", {})
    try:
        asked.clear()  # the start's health wait may have asked while the child was not yet up
        assert all(target.is_alive() for _ in range(20))
        assert asked == []
        serving = target.pid
        target.kill()
        assert target.exit_code() == -9  # once it is gone, the server reaps it and tells its status
        assert serving in asked
    finally:
        target.stop()


def test_a_fork_server_started_ahead_serves_the_targets_and_ends_with_its_block(
    targets_dir: Path, tmp_path: Path
) -> None:
    shared = runtime(targets_dir, tmp_path)
    with shared.fork_server_started("standin", {}, tmp_path / "forks.log"):
        assert len(recorded(tmp_path)) == 1  # the server, before any target asked for it
        target = shared.start("standin", "naive", tmp_path / "d", tmp_path / "t.log", {})
        assert len(recorded(tmp_path)) == 2  # forked from that server: no second one
        target.stop()
        assert len(recorded(tmp_path)) == 1  # the block still holds it, for the next cell's target
    assert recorded(tmp_path) == []
