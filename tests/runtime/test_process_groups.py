"""Process groups: a shell-wrapped target leaves nothing running, on stop and on ``harness clean``;
the target's log is capped and keeps its tail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from waiting import wait_until

from harness.pidfiles import PidRegistry
from harness.processes import end_process, group_members
from harness.proctable import snapshot, wait_gone
from harness.runtime.base import Endpoint, launch_on_a_free_port
from harness.runtime.logcap import DEFAULT_CAP_BYTES, CappedLog, rotated_path
from harness.runtime.process import ProcessTarget

SERVER = textwrap.dedent(
    """
    import http.server, sys
    chatter = int(sys.argv[2])
    if chatter:
        block = b"x" * 1023 + b"\\n"
        for _ in range(chatter):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.write(b"last words\\n")
        sys.stdout.flush()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)


def shell_wrapped_target(tmp_path: Path, registry: PidRegistry | None, chatter_kib: int = 0) -> ProcessTarget:
    """``sh -c "python server.py PORT; echo done"``: the shell is the child, the server its child."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)

    def make(endpoint: Endpoint) -> ProcessTarget:
        shell = f"{sys.executable} {script} {endpoint.port} {chatter_kib}; echo done"
        return ProcessTarget(["sh", "-c", shell], {}, endpoint, tmp_path / "target.log", 10.0, registry)

    return launch_on_a_free_port(make)


def server_pids(target: ProcessTarget) -> dict[int, int]:
    assert target.pid is not None
    members = group_members(target.pid)
    assert len(members) == 2  # the shell and the server it started
    return snapshot(members)


def test_stopping_a_shell_wrapped_target_ends_the_server_it_started(tmp_path: Path) -> None:
    target = shell_wrapped_target(tmp_path, None)
    running = server_pids(target)
    target.stop()
    assert wait_gone(running, timeout_s=3.0) == []


def test_a_crash_of_a_shell_wrapped_target_kills_the_server_too(tmp_path: Path) -> None:
    target = shell_wrapped_target(tmp_path, None)
    try:
        running = server_pids(target)
        target.kill()
        assert wait_gone(running, timeout_s=3.0) == []
        target.restart()  # the port is free again: nothing of the last incarnation holds it
        assert target.is_alive()
    finally:
        target.stop()


def test_clean_ends_the_whole_recorded_group(tmp_path: Path) -> None:
    registry = PidRegistry(tmp_path / "pids")
    target = shell_wrapped_target(tmp_path, registry)
    try:
        running = server_pids(target)
        assert len(registry.pids()) == 1
        registry.clean()  # what `harness clean` does for a harness that was killed
        assert wait_gone(running, timeout_s=3.0) == []
    finally:
        target.stop()


def test_a_chatty_target_s_log_is_capped_and_keeps_its_tail(tmp_path: Path) -> None:
    chatter_kib = 25 * 1024  # 25 MiB at once, more than twice the cap
    target = shell_wrapped_target(tmp_path, None, chatter_kib)
    target.stop()
    log, older = tmp_path / "target.log", rotated_path(tmp_path / "target.log")
    assert log.stat().st_size <= DEFAULT_CAP_BYTES
    assert older.stat().st_size <= DEFAULT_CAP_BYTES
    kept = older.read_bytes() + log.read_bytes()
    assert len(kept) >= DEFAULT_CAP_BYTES  # at least the cap's worth of the most recent output
    assert b"last words" in kept


@pytest.mark.parametrize("sizes", [[300] * 10, [5000], [10, 990, 10]])
def test_capped_log_rotates_once_and_keeps_the_newest_bytes(tmp_path: Path, sizes: list[int]) -> None:
    path = tmp_path / "t.log"
    log = CappedLog(path, cap_bytes=1000)
    written = b""
    for index, size in enumerate(sizes):
        chunk = bytes([65 + index]) * size
        log.write(chunk)
        written += chunk
    log.close()
    log.write(b"after close")  # ignored
    older = rotated_path(path).read_bytes() if rotated_path(path).exists() else b""
    current = path.read_bytes()
    assert len(current) <= 1000 and len(older) <= 1000
    assert written.endswith(older + current)
    assert len(older + current) >= min(1000, len(written))


def test_a_group_with_no_process_left_is_told_without_reading_the_process_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    group = child.pid
    assert group_members(group) == [child.pid]
    end_process(child, signal.SIGKILL)  # ended and reaped: not even a zombie is left in the group

    def unread_table() -> dict[int, object]:
        raise AssertionError("the process table was read for a group the kernel says is empty")

    monkeypatch.setattr("harness.processes.process_table", unread_table)
    assert group_members(group) == []


def test_a_group_whose_leader_ended_still_lists_the_member_it_left(tmp_path: Path) -> None:
    target = shell_wrapped_target(tmp_path, None)
    try:
        assert target.pid is not None
        shell, server = group_members(target.pid)
        os.kill(shell, signal.SIGKILL)  # the server, its child, lives on in the group
        wait_until(lambda: target.exit_code() is not None, "the shell reaped")
        assert group_members(target.pid) == [server]
    finally:
        target.stop()
    assert group_members(target.pid) == []
