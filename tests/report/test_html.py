"""index.html: self-contained, parseable, escaped, with every chart and the duplicated operations."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from factories import cell_verdict

from harness.report.html import ANOMALIES_OPEN, ANOMALY_ROWS_PER_KIND, render_html
from harness.result import RunResult
from harness.verdict import RunVerdict


class _Collector(HTMLParser):
    """Records tags, attribute values that load things, and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.open_svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.open_svgs += tag == "svg"
        for name, value in attrs:
            if name in {"src", "href", "xlink:href", "data", "poster"} and value is not None:
                self.links.append(value)

    def handle_endtag(self, tag: str) -> None:
        self.open_svgs -= tag == "svg"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def page(shared_run_result: RunResult) -> str:
    """Rendered once: matplotlib takes about a second per page."""
    return render_html(shared_run_result)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


def _reading(page: str) -> str:
    """The page's text as a reader sees it: text runs joined as laid out, whitespace collapsed."""
    return " ".join("".join(_parse(page).text).split())


def test_page_parses_and_every_svg_closes(page: str) -> None:
    parsed = _parse(page)

    assert parsed.tags[0] == "html"
    assert parsed.open_svgs == 0
    # duplicate rate, latency, and one timeline per cell (four cells)
    assert parsed.tags.count("svg") == 6
    assert page.count("<?xml") == 0


def test_page_loads_nothing_from_the_network(page: str) -> None:
    parsed = _parse(page)

    assert parsed.links, "the page should at least link its own sections"
    assert [link for link in parsed.links if not link.startswith("#")] == []
    assert re.search(r"""(src|href)\s*=\s*["']?https?:""", page, re.IGNORECASE) is None
    assert "@import" not in page
    assert "<script" not in page


def test_element_ids_are_unique(page: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', page)

    assert len(ids) == len(set(ids))


def test_header_names_the_run(page: str) -> None:
    text = " ".join(_parse(page).text)

    for expected in ("payments-retries", "run-20250615-150640-ab12", "2025-06-15 15:06:40 UTC", "21.50 s"):
        assert expected in text
    assert "FAIL" in text
    assert "5 of 6 held" in text


def test_description_is_escaped(page: str) -> None:
    assert "&lt;naive vs idempotent&gt;" in page
    assert "<naive vs idempotent>" not in page


def test_duplicated_operations_are_listed_with_their_stories(page: str) -> None:
    text = _reading(page)

    for op_id in ("op-naive-drop-0007", "op-naive-drop-0019", "op-naive-crash-0003", "op-idem-crash-0011"):
        assert op_id in text
    assert "op-naive-crash-0021" in text  # the lost acknowledged one
    # when the first attempt was sent, then the checker's story, or the attempts when it told none
    assert "+0.50 s op-naive-drop-0007: attempt 1 timed out after the charge; retry charged again" in text
    assert "+3.00 s op-naive-drop-0019: #1 info timeout (1.00 s) → #2 ok 201 (42 ms)" in text
    assert "near +3.00 s crash (kill): SIGKILL pid 4242; +3.60 s restart after 600 ms down" in text
    assert "12.5% [5.5–26.1]" in text


def test_anomalies_are_grouped_by_kind_with_their_counts(page: str) -> None:
    text = _reading(page)

    assert "Duplicate effects 5 of 40 operations took effect more than once" in text
    assert "Lost acknowledged 1 of 40 operations were acknowledged but never took effect" in text
    # both duplicates of naive × dropped_response had the toxic switched on nearby: said once
    assert text.count("Faults near each: +0.20 s dropped_response on: reset_peer toxicity 0.2") == 1


def test_gates_show_pass_and_fail(page: str) -> None:
    text = _parse(page).text

    assert text.count("✔ pass") == 5
    assert text.count("✘ fail") == 1
    assert "max_duplicate_rate ≤ 0% failed (actual 2.5%)" in text


def test_anomalies_fold_after_the_first_few_and_are_capped_per_kind(run_result: RunResult) -> None:
    cell = run_result.verdict.cells[0]
    template = cell.anomalies[1]
    many = tuple(
        dataclasses.replace(template, op_id=f"op-many-{i:03d}") for i in range(ANOMALY_ROWS_PER_KIND + 7)
    )
    checks = tuple(
        dataclasses.replace(check, anomalies=many) if check.checker == "duplicate_effects" else check
        for check in cell.checks
    )
    crowded = dataclasses.replace(cell, checks=checks)
    result = dataclasses.replace(run_result, verdict=RunVerdict(cells=(crowded,)))

    page = render_html(result)
    opened, _, folded = page.partition("<details>")

    open_ones = [f"op-many-{i:03d}" in opened for i in range(ANOMALIES_OPEN + 1)]
    assert open_ones == [True] * ANOMALIES_OPEN + [False]
    assert f"<summary>{ANOMALY_ROWS_PER_KIND - ANOMALIES_OPEN} more</summary>" in folded
    assert "op-many-049" in folded
    assert "op-many-050" not in page
    assert "7 more are not listed here" in page


def test_unknown_cell_says_why(run_result: RunResult) -> None:
    broken = dataclasses.replace(run_result.verdict.cells[3], validity="unknown", error="probe timed out")
    result = dataclasses.replace(
        run_result, verdict=RunVerdict(cells=(*run_result.verdict.cells[:3], broken))
    )

    page = render_html(result)

    assert "idempotent × crash: inconclusive: probe timed out" in page


def test_rendering_is_deterministic(run_result: RunResult, page: str) -> None:
    again = render_html(dataclasses.replace(run_result, out_dir=Path("elsewhere")))

    assert again == page


def test_a_method_anomaly_counts_out_of_the_acts_of_its_method(run_result: RunResult) -> None:
    template = run_result.verdict.cells[0].anomalies[0]
    mismatch = dataclasses.replace(template, kind="put_state_mismatch", op_id="op-put-1")
    cell = cell_verdict(
        "broken-put-appends",
        "latency",
        operations=320,
        put_ops=45,
        put_state_mismatches=15,
        anomalies=[mismatch],
    )
    text = _reading(render_html(dataclasses.replace(run_result, verdict=RunVerdict(cells=(cell,)))))

    assert "PUT state mismatches 15 of 45 operations left their resource unlike the same PUT" in text
