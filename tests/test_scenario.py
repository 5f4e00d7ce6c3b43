"""Scenario validation: every mistake names the file, the field and the value."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_COULD_NOT_RUN, EXIT_OK, HarnessError, ScenarioError
from harness.paths import REPO_ROOT, TARGETS_DIR
from harness.scenario import REFERENCE_FAILPOINTS, LoadSpec, is_catalogue, load_catalogue, load_scenario

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
        (MINIMAL + "parallel_cells: 0\n", "parallel_cells", "greater than or equal to 1"),
        (MINIMAL + "parallel_cells: 17\n", "parallel_cells", "less than or equal to 16"),
        (MINIMAL + "parallel_cells: two\n", "parallel_cells", "two"),
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
    assert first.faults == ("none",) and second.thresholds == {"max_lost_acknowledged": 0}


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


def with_faults(faults: str, target: str = "{name: payments}") -> str:
    """A scenario with ``faults`` (YAML flow text) against ``target``."""
    return f"name: t\ntarget: {target}\nfaults: {faults}\n"


@pytest.mark.parametrize(
    ("faults", "field", "needle"),
    [
        ("{latency: {toxics: [{type: latncy}]}}", "faults.latency.toxics.0.type", "unknown toxic type"),
        (
            "{latency: {toxics: [{type: latency, attributes: {latncy: 5}}]}}",
            "faults.latency.toxics.0.attributes.latncy",
            "unknown field (got 5)",
        ),
        (
            "{latency: {toxics: [{type: latency, attributes: {latency: 1.5}}]}}",
            "faults.latency.toxics.0.attributes.latency",
            "valid integer (got 1.5)",
        ),
        (
            "{drops: {toxics: [{type: drop_response, attributes: {mode: vanish}}]}}",
            "faults.drops.toxics.0.attributes.mode",
            "'vanish'",
        ),
        (
            "{twice: {toxics: [{type: latency}, {type: latency, stream: downstream}]}}",
            "faults.twice.toxics.1.name",
            "toxic 0 has the same name; give each toxic its own name (got 'latency_downstream')",
        ),
        (
            "{crash: {failpoints: {after_commit_before_respons: 0.1}}}",
            "faults.crash.failpoints.after_commit_before_respons",
            "target payments has no such failpoint (known: after_commit_before_response, before_commit, "
            "between_check_and_act)",
        ),
    ],
)
def test_faults_are_checked_when_the_file_loads(tmp_path: Path, faults: str, field: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, with_faults(faults)))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 's.yaml'}: {field}: "), message
    assert needle in message


def test_toxics_keep_their_attributes_as_written_and_named_toxics_may_share_a_type(tmp_path: Path) -> None:
    faults = "{slow: {toxics: [{type: latency, attributes: {latency: 5}}, {type: latency, name: more}]}}"
    (first, second) = load_scenario(write(tmp_path, with_faults(faults))).faults["slow"].toxics
    assert first.attributes == {"latency": 5}
    assert (first.proxy_name, second.proxy_name) == ("latency_downstream", "more")


def test_failpoints_of_a_service_of_your_own_are_its_business(tmp_path: Path) -> None:
    target = "{command: [python, app.py, '{port}']}"
    faults = "{crash: {failpoints: {my_own_line: 0.5}}}"
    scenario = load_scenario(write(tmp_path, with_faults(faults, target)))
    assert scenario.faults["crash"].failpoints == {"my_own_line": 0.5}


@pytest.mark.parametrize("target", sorted(p.name for p in TARGETS_DIR.iterdir() if (p / "app.py").is_file()))
def test_reference_failpoints_are_the_ones_each_target_knows(target: str) -> None:
    """The scenario's table against the target's own ``FAILPOINTS`` (read from its app, never copied)."""
    if str(TARGETS_DIR) not in sys.path:
        sys.path.append(str(TARGETS_DIR))  # as the targets' own tests import them
    app = importlib.import_module(f"{target}.app")
    assert REFERENCE_FAILPOINTS[target] == app.FAILPOINTS


def test_a_cell_overrides_only_what_it_is_given() -> None:
    load = LoadSpec(operations=50, double_submit=0.1)
    assert load.for_cell() is load
    assert load.for_cell(operations=7, double_submit=None) == load.model_copy(update={"operations": 7})
    assert load.for_cell(double_submit=0.0).double_submit == 0.0
    with pytest.raises(ValueError, match="operations"):
        load.for_cell(operations=0)


def test_validate_catches_a_typo_in_a_toxic_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, with_faults("{slow: {toxics: [{type: latency, attributes: {latncy: 500}}]}}"))
    assert main(["validate", str(path)]) == EXIT_COULD_NOT_RUN
    err = capsys.readouterr().err
    assert err == f"error: {path}: faults.slow.toxics.0.attributes.latncy: unknown field (got 500)\n"
    path.write_text(with_faults("{slow: {toxics: [{type: latency, attributes: {latency: 500}}]}}"))
    assert main(["validate", str(path)]) == EXIT_OK
