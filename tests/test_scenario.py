"""Scenario validation: every mistake names the file, the field and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError, ScenarioError
from harness.paths import REPO_ROOT
from harness.scenario import is_catalogue, load_catalogue, load_scenario

MINIMAL = """
name: t
target: {name: payments}
faults: {none: {}}
"""


def with_operation(operation: str) -> str:
    """MINIMAL whose target declares one operation kind, given as YAML flow text."""
    return MINIMAL.replace("{name: payments}", f"{{name: payments, operations: [{operation}]}}")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_every_shipped_scenario_is_valid() -> None:
    paths = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
    assert paths, "no scenarios shipped"
    for path in paths:
        if is_catalogue(path):
            _, files = load_catalogue(path)
            assert files
        else:
            assert load_scenario(path).faults


def test_minimal_scenario_gets_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, MINIMAL))
    assert scenario.target.variants == ("naive", "idempotent")
    assert scenario.load.retry.max_attempts == 4
    assert list(scenario.faults) == ["none"]


@pytest.mark.parametrize(
    ("text", "field", "needle"),
    [
        (MINIMAL + "colour: red\n", "colour", "unknown field"),
        (MINIMAL.replace("{name: payments}", "{name: nosuch}"), "target.name", "no target 'nosuch'"),
        (MINIMAL + "load: {operations: -3}\n", "load.operations", "-3"),
        (MINIMAL + "load: {retry: {timeout_s: fast}}\n", "load.retry.timeout_s", "fast"),
        (MINIMAL + "load: {amount_min: 500, amount_max: 10}\n", "load", "amount_min (500) must not exceed"),
        (MINIMAL + "gates: {other: {max_duplicate_rate: 0}}\n", "(top level)", "gates.other"),
        ("name: t\ntarget: {name: payments}\n", "faults", "Field required"),
        (MINIMAL + "faults: {f: {failpoints: {x: 2}}}\n", "faults.f.failpoints", "0..1"),
        (
            with_operation("{success: {body_equals: ok}}"),
            "target.operations.0.success",
            "body_equals: needs body_path",
        ),
        (
            with_operation("{success: {status: [99]}}"),
            "target.operations.0.success.status.0",
            "99",
        ),
    ],
)
def test_errors_name_field_and_value(tmp_path: Path, text: str, field: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 's.yaml'}: {field}:"), message
    assert needle in message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"line 2: not valid YAML"):
        load_scenario(write(tmp_path, "name: t\n  bad: [\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_gates_may_be_a_list_limited_to_named_faults(tmp_path: Path) -> None:
    text = MINIMAL + (
        "gates:\n  naive:\n    - {min_duplicate_rate: 0.01, faults: [none]}\n"
        "    - {max_lost_acknowledged: 0}\n"
    )
    scenario = load_scenario(write(tmp_path, text))
    first, second = scenario.gates["naive"]  # type: ignore[misc]
    assert first.faults == ("none",) and second.max_lost_acknowledged == 0


def test_gate_naming_a_missing_fault_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL + "gates: {naive: {max_duplicate_rate: 0, faults: [nosuch]}}\n"
    with pytest.raises(ScenarioError, match=r"gates.naive.faults: no such fault 'nosuch'"):
        load_scenario(write(tmp_path, text))


def test_repeated_operation_names_are_an_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("{name: payments}", "{name: payments, operations: [{name: a}, {name: a}]}")
    with pytest.raises(ScenarioError, match=r"target.operations: operation names must not repeat: a"):
        load_scenario(write(tmp_path, text))


def test_catalogue_names_a_missing_scenario_file(tmp_path: Path) -> None:
    catalogue = tmp_path / "all.yaml"
    catalogue.write_text("name: all\nscenarios: [absent.yaml]\n")
    with pytest.raises(ScenarioError, match=r"all.yaml: scenarios.0: no such scenario file"):
        load_catalogue(catalogue)


def test_cells_follow_the_chosen_faults_in_scenario_order(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, MINIMAL.replace("{none: {}}", "{a: {}, b: {}, c: {}}")))
    assert scenario.cells(("c", "a")) == [
        ("naive", "a"), ("idempotent", "a"), ("naive", "c"), ("idempotent", "c")
    ]  # fmt: skip
    assert len(scenario.cells()) == 6
    with pytest.raises(HarnessError, match=r"--fault x: no such fault in scenario 't' \(faults: a, b, c\)"):
        scenario.cells(("a", "x"))
