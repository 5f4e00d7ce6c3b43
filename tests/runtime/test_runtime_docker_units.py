"""The Docker runtime's pieces that need no engine: runtime choice, exit statuses, wheels, hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import DockerUnavailableError, HarnessError, ImageBuildError
from harness.paths import TARGETS_DIR
from harness.pidfiles import PidRegistry
from harness.runtime import dockerfile
from harness.runtime.buildlog import StepLog, run_logged
from harness.runtime.docker import exit_status
from harness.runtime.engine import clean_docker, engine_answers, run_filter
from harness.runtime.images import content_hash, target_dockerfile, target_names
from harness.runtime.process import ProcessRuntime
from harness.runtime.select import select_runtime
from harness.runtime.wheelhouse import download_command, wheel_platforms


class Silent:
    def step(self, title: str) -> None:
        pass

    def line(self, text: str) -> None:
        pass


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the Docker client at a socket nobody listens on."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")


def test_auto_without_engine_picks_processes_and_says_so(no_engine: None, tmp_path: Path) -> None:
    notes: list[str] = []
    runtime = select_runtime("auto", start_timeout_s=5, registry=PidRegistry(tmp_path), run_id="r",
                             note=notes.append)
    assert isinstance(runtime, ProcessRuntime) and runtime.name == "process"
    assert len(notes) == 1 and notes[0].startswith("runtime auto: no Docker engine answers")


def test_docker_without_engine_is_a_one_line_error_saying_how_to_get_one(
    no_engine: None, tmp_path: Path
) -> None:
    assert not engine_answers()
    with pytest.raises(DockerUnavailableError) as caught:
        select_runtime("docker", start_timeout_s=5, registry=PidRegistry(tmp_path), run_id="r", note=print)
    message = str(caught.value)
    assert "\n" not in message and caught.value.exit_status == 2
    assert "apt-get install docker.io" in message and "--runtime process" in message
    with pytest.raises(DockerUnavailableError):
        clean_docker("r")


def test_unknown_runtime_is_refused(tmp_path: Path) -> None:
    expected = "runtime 'podman' is unknown; choose one of process, docker, auto"
    with pytest.raises(HarnessError, match=expected):
        select_runtime("podman", start_timeout_s=5, registry=PidRegistry(tmp_path), run_id="r", note=print)


@pytest.mark.parametrize(("docker_code", "reported"), [(0, 0), (17, 17), (137, -9), (143, -15), (2, 2)])
def test_exit_status_reads_like_popen(docker_code: int, reported: int) -> None:
    assert exit_status(docker_code) == reported


def test_label_filters_name_one_run_or_all() -> None:
    assert run_filter("20261129-payments") == {"label": ["harness.run=20261129-payments"]}
    assert run_filter(None) == {"label": ["harness.run"]}


def test_wheels_asked_for_match_the_image_python(tmp_path: Path) -> None:
    assert wheel_platforms("x86_64")[:2] == ["manylinux_2_36_x86_64", "manylinux_2_35_x86_64"]
    legacy = ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    assert wheel_platforms("x86_64")[-3:] == legacy
    assert wheel_platforms("arm64")[0] == "manylinux_2_36_aarch64"
    offline = download_command(tmp_path / "requirements.txt", tmp_path / "wheels", offline=True)
    joined = " ".join(offline)
    assert "--only-binary=:all: --implementation cp --abi cp311 --abi none --python-version 3.11.2" in joined
    assert offline[-3:] == ["--no-index", "--find-links", str(tmp_path / "wheels")]
    assert "--no-index" not in download_command(tmp_path / "r.txt", tmp_path / "w", offline=False)


def test_content_hash_follows_content_not_bytecode(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    for folder in ("targetkit", "payments"):
        shutil.copytree(TARGETS_DIR / folder, targets / folder, ignore=shutil.ignore_patterns("__pycache__"))
    first = content_hash("payments", "sha256:base", targets)
    assert len(first) == 16 and first == content_hash("payments", "sha256:base", targets)
    (targets / "payments" / "__pycache__").mkdir()
    (targets / "payments" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    assert content_hash("payments", "sha256:base", targets) == first
    assert content_hash("payments", "sha256:other-base", targets) != first
    (targets / "targetkit" / "config.py").write_text("# changed kit\n")
    assert content_hash("payments", "sha256:base", targets) != first
    assert target_names(targets) == ["payments"]


@pytest.mark.parametrize("name", ["consumer", "inventory", "mailer", "orders", "payments"])
def test_each_reference_target_gets_the_template_rendered_for_it(name: str) -> None:
    assert name in target_names()
    lines = target_dockerfile(name).splitlines()
    instructions = [line for line in lines if line and not line.startswith(("#", " "))]
    assert instructions == [
        "FROM harness-base:bookworm",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1",
        f"COPY wheelhouse targets/targetkit/install-requirements.sh targets/{name}/requirements.txt \\",
        "RUN sh /tmp/wheelhouse/install-requirements.sh",
        "COPY targets /srv/targets",
        "WORKDIR /srv",
        "VOLUME /data",
        f'ENTRYPOINT ["python3", "-m", "targets.{name}.app"]',
        'CMD ["--host", "127.0.0.1", "--port", "8000", "--variant", "idempotent", "--db", "/data/target.db"]',
    ]
    assert lines[lines.index(instructions[2]) + 1].strip() == "/tmp/wheelhouse/"
    assert not list(TARGETS_DIR.glob("*/Dockerfile")), "the template replaces per-target copies"


def test_a_target_without_requirements_skips_the_install_step(tmp_path: Path) -> None:
    (tmp_path / "targets" / "standin").mkdir(parents=True)
    (tmp_path / "targets" / "standin" / "app.py").write_text("")
    rendered = target_dockerfile("standin", tmp_path / "targets")
    assert "install-requirements" not in rendered and "wheelhouse" not in rendered
    assert 'ENTRYPOINT ["python3", "-m", "targets.standin.app"]' in rendered


def test_content_hash_follows_the_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = tmp_path / "targets"
    for folder in ("targetkit", "payments"):
        shutil.copytree(TARGETS_DIR / folder, targets / folder, ignore=shutil.ignore_patterns("__pycache__"))
    first = content_hash("payments", "sha256:base", targets)
    monkeypatch.setattr(dockerfile, "CODE", dockerfile.CODE.replace("VOLUME /data", "VOLUME /data /cache"))
    assert content_hash("payments", "sha256:base", targets) != first
    monkeypatch.undo()
    assert content_hash("payments", "sha256:base", targets) == first
    (targets / "__init__.py").write_text('"""the package marker"""\n')
    assert content_hash("payments", "sha256:base", targets) != first


def test_failed_step_shows_its_last_lines_and_keeps_all_in_the_log(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    script = r"for i in $(seq 1 40); do echo line $i; done; printf '\033[91mERROR: red\033[0m\n'; exit 3"
    with StepLog("building thing", log, Silent()) as step, pytest.raises(ImageBuildError) as caught:
        run_logged(["sh", "-c", script], step)
    message = str(caught.value)
    assert message.startswith(f"building thing: sh exited with status 3 (full log {log}); last lines:")
    assert message.endswith("  line 40\n  ERROR: red") and "  line 27\n" in message
    assert "line 26\n" not in message
    assert log.read_text().splitlines()[-1] == "ERROR: red" and "line 1\n" in log.read_text()
