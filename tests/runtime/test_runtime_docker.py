"""The Docker runtime against a real engine: crashes, restarts on the same volume, images reused by
content, an interrupted run that leaves nothing, and a small payments run with the same verdicts as
under processes.

Needs an engine (the ``engine`` fixture: skipped without one, failed so on CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docker import DockerClient
from docker_engine import leftovers
from waiting import wait_until

from harness.errors import TargetError
from harness.history import CrashEvent, RestartEvent
from harness.paths import REPO_ROOT, TARGETS_DIR
from harness.run import RunOptions, run_scenario
from harness.runtime.docker import DockerRuntime, DockerTarget
from harness.runtime.engine import TARGET_LABEL, clean_docker, run_filter
from harness.runtime.images import ensure_target_image
from harness.scenario import load_scenario

SMALL_PAYMENTS = REPO_ROOT / "tests" / "e2e" / "small_payments.yaml"
OPERATIONS = 24  # the scenario's 40 would do, but this machine is shared: keep the test short
CHARGE = {"amount": 1250, "currency": "eur", "customer": "cus_1", "reference": "op-before-kill"}


class Steps:
    """A build reporter that remembers step titles, so a test can tell a build from a reuse."""

    def __init__(self) -> None:
        self.titles: list[str] = []

    def step(self, title: str) -> None:
        self.titles.append(title)

    def line(self, text: str) -> None:
        pass


@pytest.fixture(scope="module")
def payments_image(engine: DockerClient) -> str:
    return ensure_target_image("payments", Steps(), client=engine)


@pytest.fixture
def run_id(engine: DockerClient, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"test-{request.node.name}-{os.getpid()}".replace("[", "-").replace("]", "")
    yield name
    left = leftovers(engine, name)
    clean_docker(name, client=engine)
    assert left == [], f"left behind: {left}"


def start_payments(engine: DockerClient, run_id: str, tmp_path: Path, env: dict[str, str]) -> DockerTarget:
    runtime = DockerRuntime(run_id, Steps(), start_timeout_s=20, client=engine)
    return runtime.start("payments", "naive", tmp_path / "data", tmp_path / "target.log", env)


def effects(target: DockerTarget) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = httpx.get(f"{target.endpoint.base_url}/effects", timeout=5).json()
    return rows


def test_kill_and_restart_keep_committed_effects(
    engine: DockerClient, payments_image: str, run_id: str, tmp_path: Path
) -> None:
    target = start_payments(engine, run_id, tmp_path, {"HARNESS_SEED": "5"})
    try:
        assert target.endpoint.host == "127.0.0.1"
        assert target.is_alive() and target.exit_code() is None
        charged = httpx.post(f"{target.endpoint.base_url}/charges", json=CHARGE, timeout=5)
        assert charged.status_code == 201
        target.kill()
        assert not target.is_alive()
        assert target.exit_code() == -9  # SIGKILL, reported as the process runtime reports it
        downtime = target.restart()
        assert 0 < downtime < 20
        assert target.incarnation == 1
        assert [row["reference"] for row in effects(target)] == ["op-before-kill"]
        labelled = engine.containers.list(filters=run_filter(run_id))
        assert len(labelled) == 1 and labelled[0].attrs["HostConfig"]["NetworkMode"] == "host"
    finally:
        target.stop()
        target.stop()  # safe twice
    log = (tmp_path / "target.log").read_text()
    assert "incarnation 0" in log and "incarnation 1" in log and "exit status -9" in log


def test_failpoint_exit_status_17_is_visible_and_effect_survives(
    engine: DockerClient, payments_image: str, run_id: str, tmp_path: Path
) -> None:
    env = {"HARNESS_FAILPOINTS": "after_commit_before_response=1.0", "HARNESS_SEED": "1"}
    target = start_payments(engine, run_id, tmp_path, env)
    try:
        with pytest.raises(httpx.HTTPError):  # the container dies before it answers
            httpx.post(f"{target.endpoint.base_url}/charges", json=CHARGE, timeout=5)
        wait_until(lambda: not target.is_alive(), "the container's failpoint exit")
        assert target.exit_code() == 17
        target.restart()
        assert [row["reference"] for row in effects(target)] == ["op-before-kill"]
    finally:
        target.stop()
    assert "failpoint after_commit_before_response fired" in (tmp_path / "target.log").read_text()


STAND_IN_APP = textwrap.dedent(
    """
    import os, sys
    print("stand-in: cannot open database /data/target.db: permission denied", flush=True)
    sys.exit(int(os.environ.get("STAND_IN_STATUS", "3")))
    """
)


@pytest.fixture
def stand_in_targets(tmp_path: Path, engine: DockerClient) -> Iterator[Path]:
    """A copy of targetkit plus a tiny target ``standin`` (no requirements, the template's Dockerfile)
    whose images are removed afterwards."""
    targets = tmp_path / "targets"
    shutil.copytree(TARGETS_DIR / "targetkit", targets / "targetkit")
    (targets / "standin").mkdir()
    (targets / "standin" / "app.py").write_text(STAND_IN_APP)
    yield targets
    for image in engine.images.list(filters={"label": f"{TARGET_LABEL}=standin"}):
        engine.images.remove(image.id, force=True)


def test_target_image_is_reused_until_its_content_changes(
    engine: DockerClient, payments_image: str, stand_in_targets: Path
) -> None:
    steps = Steps()
    first = ensure_target_image("standin", steps, client=engine, targets_dir=stand_in_targets)
    assert first.startswith("harness-target-standin:")
    assert steps.titles == [f"building image {first}"]
    assert ensure_target_image("standin", steps, client=engine, targets_dir=stand_in_targets) == first
    assert len(steps.titles) == 1, "an unchanged target must not be rebuilt"
    with (stand_in_targets / "standin" / "app.py").open("a") as app:
        app.write("# changed\n")
    second = ensure_target_image("standin", steps, client=engine, targets_dir=stand_in_targets)
    assert second != first and steps.titles[-1] == f"building image {second}"
    tags = [tag for image in engine.images.list(filters={"label": f"{TARGET_LABEL}=standin"})
            for tag in image.tags]
    assert tags == [second], "the image of the old content is dropped"


def test_target_dying_at_start_reports_its_log_tail(
    engine: DockerClient, stand_in_targets: Path, run_id: str, tmp_path: Path
) -> None:
    runtime = DockerRuntime(run_id, Steps(), start_timeout_s=10, client=engine, targets_dir=stand_in_targets)
    with pytest.raises(TargetError, match=r"exited with status 4 .*\n.*permission denied"):
        runtime.start("standin", "naive", tmp_path / "data", tmp_path / "t.log", {"STAND_IN_STATUS": "4"})


def test_interrupted_docker_run_leaves_no_container_or_volume(
    engine: DockerClient, payments_image: str, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    command = [sys.executable, "-m", "harness.cli", "run", str(SMALL_PAYMENTS), "--runtime", "docker",
               "--out", str(out), "--quiet"]
    run = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = ""
    try:
        wait_until(lambda: any(out.glob("*/cells/*/history.jsonl")), "the first cell's load", timeout_s=60)
        run_id = os.readlink(out / "latest")  # the run folder's name is the run id
        # waited for, not looked at once: between two cells a busy machine may show none for a while
        running = run_filter(run_id)
        wait_until(lambda: len(engine.containers.list(filters=running)) == 1, "the cell's container")
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        left = leftovers(engine, run_id) if run_id else []
        if run_id:
            clean_docker(run_id, client=engine)
    assert run.returncode == 2
    assert "interrupted" in err and "Traceback" not in err
    assert left == []


def test_small_payments_run_in_docker_gives_the_process_verdicts(
    engine: DockerClient, payments_image: str, tmp_path: Path
) -> None:
    options = RunOptions(
        out_root=tmp_path, runtime="docker", faults=("dropped-responses", "crash"), operations=OPERATIONS
    )
    result = run_scenario(load_scenario(SMALL_PAYMENTS), str(SMALL_PAYMENTS), options)
    assert result.runtime == "docker"
    assert result.verdict.cell("naive", "dropped-responses").ops_with_duplicates > 0
    for fault in ("dropped-responses", "crash"):
        naive, idempotent = result.verdict.cell("naive", fault), result.verdict.cell("idempotent", fault)
        for cell in (naive, idempotent):  # a crash cell's load runs on past its budget until the kill
            assert cell.operations >= OPERATIONS if fault == "crash" else cell.operations == OPERATIONS
        assert idempotent.ops_with_duplicates == 0 and idempotent.replay_mismatches == 0
        assert naive.lost_acknowledged == idempotent.lost_acknowledged == 0
    for variant in ("naive", "idempotent"):
        crash_cell = result.verdict.cell(variant, "crash")
        assert crash_cell.crashes >= 2  # the scheduled docker kill plus failpoint exits (status 17)
        crashes = [event for event in crash_cell.fault_events if isinstance(event, CrashEvent)]
        assert any(c.reason == "failpoint" and c.detail == "exit status 17" for c in crashes)
        assert any(isinstance(event, RestartEvent) for event in crash_cell.fault_events)
    assert leftovers(engine, result.out_dir.name) == []
