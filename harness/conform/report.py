"""The conformance result in the terminal, as conform.json and as junit.xml (one test case per check).

The same three-way reading everywhere: a check that passed, failed, or could not tell (``passed`` None),
which JUnit calls skipped so CI shows it without failing the build.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.text import Text

from harness.conform.model import ConformCheck, ConformResult, Contract, Exchange
from harness.report.formatting import JUNIT_NAME
from harness.report.json_report import JsonValue
from harness.report.junit import JUnitCase, JUnitFailure, build_suite

CONFORM_JSON_NAME = "conform.json"
CONFORM_SCHEMA_VERSION = 1
SUITE_NAME = "idempotency-key-conformance"
METHODS_SUITE_NAME = "http-method-conformance"
FAILURE_TYPE = "ConformanceFailed"

_SUITES = {Contract.IDEMPOTENCY_KEY: SUITE_NAME, Contract.METHODS: METHODS_SUITE_NAME}
"""The JUnit suite of each contract, so CI tells the two kinds of conformance apart."""
_TITLES = {
    Contract.IDEMPOTENCY_KEY: "Idempotency-Key conformance of ",
    Contract.METHODS: "HTTP method conformance of ",
}

_MARKS = {True: ("✔", "green"), False: ("✘", "bold red"), None: ("?", "bold yellow")}


def conform_paths(out_dir: Path) -> dict[str, Path]:
    """Where each conformance report lives, by format name (``json``, ``junit``)."""
    return {"json": out_dir / CONFORM_JSON_NAME, "junit": out_dir / JUNIT_NAME}


def describe_exchange(exchange: Exchange) -> str:
    """``POST key k1 → 201 {"id":…}``: one request and its answer on one line.

    With a path (the method checks): ``PATCH /orders/7 key k1 {"op":…} → 200 {…}``, the key and the
    body sent shown only when there was one.
    """
    if exchange.path is None:
        key = "no key" if exchange.key is None else f"key {exchange.key}"
        return f"{exchange.method} {key} → {exchange.status} {exchange.body}"
    request = " ".join(
        part
        for part in (
            exchange.method,
            exchange.path,
            None if exchange.key is None else f"key {exchange.key}",
            exchange.sent,
        )
        if part is not None
    )
    return f"{request} → {exchange.status} {exchange.body}".rstrip()


def print_conformance(
    result: ConformResult, console: Console, paths: Mapping[str, Path] | None = None
) -> None:
    """One line per check (✔ passed, ✘ failed, ? could not tell), the evidence of failures, the verdict."""
    console.print(Text.assemble(_TITLES[result.contract], (f"{result.method} {result.url}", "bold")))
    for check in result.checks:
        mark, style = _MARKS[check.passed]
        console.print(Text.assemble("  ", (f"{mark} ", style), (check.name, "bold"), ": ", check.message))
        if check.passed is False:
            for exchange in check.evidence:
                console.print(Text(f"      {describe_exchange(exchange)}", style="dim"), no_wrap=True,
                              overflow="ellipsis")
    failed = sum(1 for check in result.checks if check.passed is False)
    unknown = sum(1 for check in result.checks if check.passed is None)
    verdict = Text("PASS", style="bold green") if result.passed else Text("FAIL", style="bold red")
    counts = f" ({len(result.checks)} checks, {failed} failed, {unknown} could not tell)"
    console.print(Text.assemble("Conformance: ", verdict, counts))
    for name, path in (paths or {}).items():
        console.print(Text.assemble(f"  {name:<6}", (str(path), "cyan")))


def _check_document(check: ConformCheck) -> JsonValue:
    evidence: list[JsonValue] = [dict(exchange._asdict()) for exchange in check.evidence]
    return {"name": check.name, "passed": check.passed, "message": check.message, "evidence": evidence}


def conform_document(result: ConformResult) -> dict[str, JsonValue]:
    """conform.json's content: schema version first, then the endpoint, the verdict and every check."""
    return {
        "schema_version": CONFORM_SCHEMA_VERSION,
        "contract": str(result.contract),
        "url": result.url,
        "method": result.method,
        "passed": result.passed,
        "checks": [_check_document(check) for check in result.checks],
    }


def _check_case(suite: str, check: ConformCheck) -> JUnitCase:
    failure = None
    if check.passed is False:
        details = "".join(f"{describe_exchange(exchange)}\n" for exchange in check.evidence)
        failure = JUnitFailure(check.message, FAILURE_TYPE, details)
    skipped = check.message if check.passed is None else None
    return JUnitCase(suite, check.name, failure, skipped)


def build_conform_junit(result: ConformResult) -> ET.ElementTree:
    """One suite for the endpoint; one test case per check, failed or skipped (could not tell)."""
    suite = _SUITES[result.contract]
    properties = (("url", result.url), ("method", result.method))
    return build_suite(suite, [_check_case(suite, check) for check in result.checks], properties)


def write_conformance(result: ConformResult, out_dir: Path) -> dict[str, Path]:
    """Write conform.json and junit.xml into ``out_dir`` (created if needed); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = conform_paths(out_dir)
    text = json.dumps(conform_document(result), indent=2, ensure_ascii=False) + "\n"
    paths["json"].write_text(text, encoding="utf-8")
    build_conform_junit(result).write(paths["junit"], encoding="utf-8", xml_declaration=True)
    return paths
