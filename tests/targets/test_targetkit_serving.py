"""A target forked from the fork server imports nothing more once it serves: the server imported it all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from waiting import WAIT_S

from harness.paths import REPO_ROOT
from harness.runtime.process import target_env

# In a process of its own, as a forked child: the fork server's preload of the module's imports, then
# the module run as `python -m` runs it, serving until a charge and a health check were answered.
_SERVE_AND_LIST_NEW_IMPORTS = """
import http.client, json, os, runpy, signal, socket, sys, threading, time
from harness.runtime.forkserver import preload

module, db, variant = sys.argv[1], sys.argv[2], sys.argv[3]
preload(module)
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
before = set(sys.modules)
answers = []

def ask(method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k1"}
    connection.request(method, path, body=body, headers=headers)
    return connection.getresponse().status

def client(deadline=time.monotonic() + float(sys.argv[4])):
    while time.monotonic() < deadline:
        try:
            answers.append(ask("GET", "/health"))
            break
        except OSError:
            time.sleep(0.05)
    charge = json.dumps({"amount": 5, "currency": "usd", "customer": "c", "reference": "r"})
    answers.append(ask("POST", "/charges", charge))
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=client, daemon=True).start()
sys.argv = [module, "--port", str(port), "--variant", variant, "--db", db]
runpy.run_module(module, run_name="__main__", alter_sys=True)
new = sorted(set(sys.modules) - before - {module, "__main__"})
print(json.dumps({"answers": answers, "new": new}))
"""


@pytest.mark.parametrize("variant", ["naive", "idempotent"])
def test_a_forked_payments_target_serves_without_importing_anything_new(tmp_path: Path, variant: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SERVE_AND_LIST_NEW_IMPORTS, "targets.payments.app", str(tmp_path / "p.db"),
         variant, str(WAIT_S)],
        cwd=REPO_ROOT, env=target_env({"PATH": "/usr/bin:/bin"}), capture_output=True, text=True,
        timeout=WAIT_S * 2, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["answers"] == [200, 201]
    assert seen["new"] == [], seen["new"]
