"""``harness serve`` end to end: the cell comes up under its fault with Locust's web UI on it, a swarm
started through the UI's own API shows its retries, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

from waiting import wait_until

from harness.paths import REPO_ROOT
from tests.e2e.test_interrupt import alive, descendants, group_alive

SCENARIO = Path(__file__).with_name("small_payments.yaml")
BOUND_S = 90.0
USERS = 6  # small_payments.yaml's load.users
ADDRESS = re.compile(r"^(target|proxy|Locust UI) +(http://127\.0\.0\.1:(\d+))")


def read_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def addresses_from(lines: queue.Queue[str], seen: list[str]) -> dict[str, str]:
    """The URLs serve prints, read as they come until the UI's, bounded."""
    found: dict[str, str] = {}
    while "Locust UI" not in found:
        line = lines.get(timeout=BOUND_S)
        seen.append(line)
        if match := ADDRESS.match(line):
            found[match[1]] = match[2]
    return found


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        text: str = answer.read().decode()
        return text


def stats(ui: str) -> dict[tuple[str, str], Any]:
    document = json.loads(get(f"{ui}/stats/requests"))
    return {(entry["method"], entry["name"]): entry for entry in document["stats"]}


def recorded(out: Path) -> set[int]:
    """The pids the session's registry records as its children."""
    return {int(entry.stem) for entry in (out / ".pids").rglob("[0-9]*.json")}


def answers(url: str) -> bool:
    port = urllib.parse.urlsplit(url).port
    assert port is not None
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_runs_the_ui_against_the_faulty_cell_and_ctrl_c_ends_everything(tmp_path: Path) -> None:
    out = tmp_path / "serve"
    command = [sys.executable, "-m", "harness.cli", "serve", str(SCENARIO), "--out", str(out)]
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as stderr_file:
        serve = subprocess.Popen(
            [*command, "--variant", "naive", "--fault", "dropped-responses"],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            start_new_session=True,  # its own process group, as a shell's foreground job has
        )
    assert serve.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=read_lines, args=(serve.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    started: dict[int, int] = {}
    try:
        urls = addresses_from(lines, seen)
        ui = urls["Locust UI"]
        wait_until(lambda: answers(ui), "Locust's web UI to answer", BOUND_S)
        page = get(ui)
        assert f'"num_users": {USERS}' in page  # the UI's default user count is the scenario's
        assert f'"host": "{urls["proxy"]}"' in page  # and its host the proxy in front of the target
        form = urllib.parse.urlencode({"user_count": USERS, "spawn_rate": 50}).encode()
        with urllib.request.urlopen(f"{ui}/swarm", data=form, timeout=5) as answer:
            assert json.loads(answer.read())["success"] is True
        # under 30% dropped responses, 40 operations retry: the table lists the retries apart
        wait_until(lambda: ("RETRY", "charge (retry 1)") in stats(ui), "a retry entry in the UI", BOUND_S)
        assert stats(ui)[("POST", "charge")]["num_requests"] > 0
        started = descendants(serve.pid)
        assert len(started) >= 3, f"expected the proxy, the target and Locust, got {started}"
        locust = [pid for pid in started if b"locust" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert locust and set(locust) <= recorded(out)  # Locust too is recorded for `harness clean`
        os.killpg(serve.pid, signal.SIGINT)  # Ctrl-C: the terminal signals its whole foreground group
        serve.wait(timeout=BOUND_S)
    finally:
        if serve.poll() is None:  # the test failed early: still let serve clean up after itself
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=BOUND_S)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
    reader.join(timeout=5)
    while not lines.empty():
        seen.append(lines.get())
    assert serve.returncode == 0, stderr.read_text()
    assert seen[-1].startswith("stopped: everything serve started has ended"), seen
    wait_until(lambda: not any(alive(pid) for pid in started), "every process serve started to end", 15)
    assert [group for group in set(started.values()) if group_alive(group)] == []
    assert [url for url in urls.values() if answers(url)] == []  # target, proxy and UI ports are closed
    assert recorded(out) == set()  # no child left recorded
    cell = next(out.glob("*/cells/naive--dropped-responses"))
    assert '"on"' in (cell / "faults.jsonl").read_text()  # the fault was on, and recorded
