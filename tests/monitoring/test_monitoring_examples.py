"""examples/monitoring: promtool accepts the rules and passes their unit tests, and every query of the
rules and of the Grafana dashboard names only series of ``harness/metric_names.py`` and parses in a
real Prometheus.

A renamed series would leave a rule silent and a panel empty without any error from Prometheus or
Grafana; these tests are what turns that into a failure.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_server import StartPrometheus, require_binary

from harness import metric_names

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "monitoring"
RULES = EXAMPLES / "rules.yml"
RULES_TEST = EXAMPLES / "rules_test.yml"
DASHBOARD = EXAMPLES / "grafana-dashboard.json"
PROMTOOL_TIMEOUT_S = 120.0

PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring", "group_left",
     "group_right", "inf", "nan"}
)
_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_TOKENS = re.compile(
    r"(?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?)"
    r"|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?P<call>\s*\()?"
)
_GRAFANA_LABEL_VALUES = re.compile(r"^label_values\((?P<metric>[^,()]+),\s*\w+\)$")


def series_in(expr: str) -> set[str]:
    """The metric names a PromQL expression selects.

    Label matchers, ranges, grouping clauses and strings are cut out first, so what is left is names,
    function calls (a name before ``(``), keywords and numbers; the names are the series.
    """
    bare = _STRINGS.sub('""', expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    bare = _GROUPING.sub(" ", bare)
    return {
        match["name"]
        for match in _TOKENS.finditer(bare)
        if match["name"] and not match["call"] and match["name"] not in PROMQL_WORDS
    }


def counters() -> set[str]:
    """The series metric_names documents as counters (its docstring starts with "Counter").

    Read from the module's source, so the one list of names stays the only place a kind is stated.
    """
    tree = ast.parse(inspect.getsource(metric_names))
    found: set[str] = set()
    for statement, following in zip(tree.body, tree.body[1:], strict=False):
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Constant)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and str(following.value.value).startswith("Counter")
        ):
            found.add(statement.value.value)
    return found


def exported_names() -> set[str]:
    """Every series as Prometheus stores it: counters with their ``_total``, gauges as named."""
    kinds = counters()
    series = (*metric_names.RUN_SERIES, *metric_names.WATCH_SERIES)
    return {f"{name}_total" if name in kinds else name for name in series}


def rule_expressions() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    """Every panel query, and the metric of every ``label_values(metric, label)`` variable query."""
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            definition = _GRAFANA_LABEL_VALUES.match(variable["definition"])
            assert definition is not None, f"variable {variable['name']}: {variable['definition']!r}"
            yield f"variable {variable['name']}", definition["metric"].strip()


def expressions() -> list[tuple[str, str]]:
    return [*rule_expressions(), *dashboard_expressions()]


def as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in, as Grafana would send it."""
    return re.sub(r"\$\w+", ".*", expr.replace("$__rate_interval", "1m"))


def promtool(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool", "prometheus")
    return subprocess.run(
        [str(binary), *arguments], cwd=cwd, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )


def test_promtool_accepts_the_rules() -> None:
    checked = promtool("check", "rules", RULES.name, cwd=EXAMPLES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(list(rule_expressions()))} rules found" in checked.stdout


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    tested = promtool("test", "rules", RULES_TEST.name, cwd=EXAMPLES)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_unit_tests_catch_a_rule_that_pages_on_tiny_windows(tmp_path: Path) -> None:
    shutil.copy(RULES_TEST, tmp_path)
    rules = RULES.read_text()
    assert '{window="5m"} >= 100' in rules
    (tmp_path / RULES.name).write_text(rules.replace('{window="5m"} >= 100', '{window="5m"} >= 1'))
    tested = promtool("test", "rules", RULES_TEST.name, cwd=tmp_path)
    assert tested.returncode != 0
    assert 'ledger="tiny"' in tested.stdout + tested.stderr


def test_series_in_finds_the_names_and_nothing_else() -> None:
    expr = (
        'sum by (ledger, window) (rate(a_total{job="x", b="c"}[$__rate_interval])) > 0.5e1 '
        'and on (ledger) b offset 15m unless time() - c_seconds{d=~"e|f"} > bool 900'
    )
    assert series_in(expr) == {"a_total", "b", "c_seconds"}


def test_counters_are_read_from_metric_names() -> None:
    kinds = counters()
    assert metric_names.WATCH_POLLS in kinds
    assert metric_names.WATCH_PROBE_UP not in kinds
    assert f"{metric_names.WATCH_POLLS}_total" in exported_names()
    assert metric_names.WATCH_POLLS not in exported_names()


def test_the_examples_show_every_series() -> None:
    used = set().union(*(series_in(expr) for _, expr in expressions()))
    assert exported_names() - used == set()


@pytest.mark.parametrize(("where", "expr"), expressions(), ids=[where for where, _ in expressions()])
def test_every_query_names_only_series_of_metric_names(where: str, expr: str) -> None:
    used = series_in(expr)
    assert used, f"{where} selects no series: {expr!r}"
    assert used - exported_names() == set(), f"{where}: unknown series in {expr!r}"


def test_every_query_parses_in_a_real_prometheus(prometheus: StartPrometheus) -> None:
    server = prometheus()
    for _, expr in expressions():
        server.query(as_promql(expr))


def test_the_dashboard_queries_the_chosen_data_source_and_fits_the_grid() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["ledger"]["type"] == "query"
    panels = list(_panels(dashboard["panels"]))
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        for source in (panel.get("datasource"), *(t["datasource"] for t in panel.get("targets", []))):
            assert source in (None, {"type": "prometheus", "uid": "${datasource}"}), panel["title"]
