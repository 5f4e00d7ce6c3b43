"""The CI examples (``examples/ci/``) run as a user's pipeline runs them, in a project folder outside this
checkout, with the harness installed from its wheel: every shell step as written, in order, under the
CI's own rules for which steps run after a failure.

What a CI server adds is stood in for: the variables it sets (a push to main, not a pull request, so the
baseline download with ``gh`` / ``curl`` is skipped by the example's own condition), a file for
``$GITHUB_STEP_SUMMARY``, and the actions (checkout, setup-python: the venv's ``bin`` comes first on
``PATH``; upload-artifact and the JUnit reporter: their paths are checked as those actions read them).
``HARNESS_PACKAGE`` names the built wheel and ``HARNESS_OPTIONS`` makes the run small: the knobs a
user sets too.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from installing import CHECKOUT, InstalledHarness

EXAMPLES = CHECKOUT / "examples" / "ci"
SMALL_RUN = "--operations 4 --fault dropped-responses"
STEP_TIMEOUT_S = 300
GITHUB_CONDITIONS = {None: "on success", "always()": "always", "github.event_name == 'pull_request'": "never"}
"""How each ``if:`` of the workflow reads on a push to main; a new condition must be taught here."""


@dataclass(frozen=True)
class PipelineRun:
    status: int
    """The job's exit status: the first failing step's."""
    log: str
    junit_paths: tuple[str, ...]
    """What the CI's test report reads (a glob or a path), relative to the project."""
    artifact_paths: tuple[str, ...]


def shell(script: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A step's script as both CIs run it: bash, stopping at the first failing command or pipe."""
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    return subprocess.run(
        command, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False
    )


def ci_environment(installed: InstalledHarness, variables: Mapping[str, Any]) -> dict[str, str]:
    """The machine's environment without this checkout's, the venv first on PATH, then ``variables``."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    path = f"{installed.bin_dir}{os.pathsep}{inherited.get('PATH', '')}"
    return {**inherited, "PATH": path, **{name: str(value) for name, value in variables.items()}}


def run_github_actions(workflow: dict[str, Any], env: dict[str, str], project: Path) -> PipelineRun:
    [job] = workflow["jobs"].values()
    status, log = 0, []
    for step in job["steps"]:
        when = GITHUB_CONDITIONS[step.get("if")]
        if when == "never" or (when == "on success" and status != 0) or "run" not in step:
            continue  # the actions are stood in for by the checks on their paths
        started = time.monotonic()
        done = shell(step["run"], {**env, **step.get("env", {})}, project)
        took = f"{time.monotonic() - started:.1f} s, exit {done.returncode}"
        log.append(f"$ {step.get('name', step['run'])} ({took})\n{done.stdout}{done.stderr}")
        status = status or done.returncode
    actions = [step for step in job["steps"] if "uses" in step]
    return PipelineRun(
        status,
        "\n".join(log),
        tuple(step["with"]["report_paths"] for step in actions if "action-junit-report" in step["uses"]),
        tuple(step["with"]["path"] for step in actions if "upload-artifact" in step["uses"]),
    )


def run_gitlab(pipeline: dict[str, Any], env: dict[str, str], project: Path) -> PipelineRun:
    job = pipeline["idempotency"]
    done = shell("\n".join(job["script"]), env, project)
    after = shell("\n".join(job["after_script"]), env, project)  # a shell of its own, always run
    artifacts = job["artifacts"]
    return PipelineRun(
        done.returncode,
        done.stdout + done.stderr + after.stdout + after.stderr,
        (artifacts["reports"]["junit"],),
        tuple(artifacts["paths"]),
    )


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return document


def assert_published_once(pipeline: PipelineRun, project: Path) -> dict[str, Any]:
    """One JUnit file, each gate in it once, every artifact path present; the run's run.json."""
    report = json.loads((project / "reports" / "latest" / "run.json").read_text())
    assert pipeline.status == (0 if report["passed"] else 1), pipeline.log[-4000:]
    [junit_path] = pipeline.junit_paths
    matched = sorted(project.glob(junit_path))  # a glob follows the latest link, as the CI tools do
    assert [path.relative_to(project) for path in matched] == [Path("reports/junit.xml")]
    cases = ET.parse(matched[0]).getroot().findall("testsuite/testcase")
    named = [(case.get("classname"), case.get("name")) for case in cases]
    assert len(named) == len(set(named)) == len(report["gates"])
    assert all(float(case.get("time") or 0) > 0 for case in cases)
    for artifact in pipeline.artifact_paths:
        assert (project / artifact).is_dir()
    for name in ("index.html", "summary.md"):
        assert (project / "reports" / "latest" / name).is_file()
    assert (project / "reports" / "run.json").is_file()  # the next pull request's baseline
    return report


def assert_a_summary_for_ci(summary: str, project: Path) -> None:
    """A heading, the table, and a link to the report that resolves within the reports folder."""
    run_dir = (project / "reports" / "latest").resolve()
    outcome = "PASS" if "✔" in summary.splitlines()[0] else "FAIL"
    assert summary.splitlines()[0].endswith(f"— {outcome}") and "| scenario | variant |" in summary
    link = f"[`{run_dir.name}/index.html`]({run_dir.name}/index.html)"
    assert link in summary and (project / "reports" / run_dir.name / "index.html").is_file()
    assert str(project) not in summary


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's repository: nothing of the harness in it, and far from this checkout."""
    folder = tmp_path / "their-project"
    folder.mkdir()
    (folder / "README.md").write_text("a service with retries\n")
    assert not folder.is_relative_to(CHECKOUT)
    return folder


def test_the_github_actions_workflow_runs_a_bundled_scenario_in_a_users_repository(
    installed_harness: InstalledHarness, project: Path, tmp_path: Path
) -> None:
    workflow = example("github-actions.yml")
    step_summary = tmp_path / "step-summary.md"
    variables = {
        **workflow["env"],
        "HARNESS_PACKAGE": str(installed_harness.wheel),
        "HARNESS_OPTIONS": SMALL_RUN,
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF_NAME": "main",
        "GITHUB_STEP_SUMMARY": str(step_summary),
    }

    pipeline = run_github_actions(workflow, ci_environment(installed_harness, variables), project)

    report = assert_published_once(pipeline, project)
    assert report["scenario_name"] == "payments"  # scenarios/payments.yaml: the bundled one
    summary = step_summary.read_text()
    assert summary == (project / "reports" / "latest" / "summary.md").read_text()
    assert summary.startswith("## ") and "idempotency: payments — " in summary.splitlines()[0]
    assert_a_summary_for_ci(summary, project)


def test_the_gitlab_pipeline_runs_the_users_own_scenario_and_fails_the_job_on_a_failed_gate(
    installed_harness: InstalledHarness, project: Path
) -> None:
    pipeline_file = example("gitlab-ci.yml")
    scenario = project / "chaos" / "payments.yaml"
    scenario.parent.mkdir()
    small = (CHECKOUT / "tests" / "e2e" / "small_payments.yaml").read_text()
    promise = "idempotent: {max_duplicate_rate: 0,"
    assert promise in small
    scenario.write_text(small.replace(promise, "idempotent: {min_duplicate_rate: 0.5,"))  # it cannot
    variables = {
        **pipeline_file["idempotency"]["variables"],
        "HARNESS_PACKAGE": str(installed_harness.wheel),
        "HARNESS_OPTIONS": SMALL_RUN,
        "SCENARIO": "chaos/payments.yaml",
        "CI": "true",
        "CI_PIPELINE_SOURCE": "push",
        "CI_COMMIT_BRANCH": "main",
        "CI_DEFAULT_BRANCH": "main",
    }

    pipeline = run_gitlab(pipeline_file, ci_environment(installed_harness, variables), project)

    report = assert_published_once(pipeline, project)
    assert pipeline.status == 1 and report["scenario_name"] == "payments-small"
    summary = (project / "reports" / "latest" / "summary.md").read_text()
    assert summary.splitlines()[0] == "## ✘ idempotency: payments-small — FAIL"
    assert summary in pipeline.log  # the after_script prints it in the job log
    assert_a_summary_for_ci(summary, project)
