"""index.html in a real browser: a busy run's page fits a wide and a narrow window without sideways scroll.

The page of :mod:`busy_run` (32 duplicated operations in one cell, long fault and variant names, nine
cells) opens in headless Chromium at 1400 and 800 CSS pixels. Wide tables may scroll inside their own
box, but the page itself must not. Each look keeps a full-page screenshot, named in the test output.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from busy_run import busy_run
from chromium import Browser, find_browser, running_browser
from saga_run import saga_run

from harness.report.html import write_html
from harness.watch.loop import Watcher
from tests.watch.watching import add_charges, charges_db, known_ledger, sqlite_config

WIDTHS = (1400, 800)

MEASURE = """(() => {
  const page = document.scrollingElement;
  const sticking_out = [...document.querySelectorAll('main *')]
    .filter(element => element.getBoundingClientRect().right > innerWidth + 0.5)
    .filter(element => !element.closest('.scroll'))
    .slice(0, 5)
    .map(element => `${element.tagName.toLowerCase()}: ${element.textContent.slice(0, 60)}`);
  return {scrollWidth: page.scrollWidth, innerWidth: innerWidth, sticking_out: sticking_out};
})()"""
"""The page's width against the window's, and (to say why) the first elements reaching past the window."""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = find_browser()
    if executable is None:
        message = "Chromium is not installed (.ci/install-system-packages installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}, and CI must run every test")
        pytest.skip(message)
    with running_browser(executable, tmp_path_factory.mktemp("chromium")) as started:
        yield started


@pytest.fixture(scope="module")
def saga_page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("saga")
    return write_html(saga_run(folder), folder / "index.html").as_uri()


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("busy")
    return write_html(busy_run(folder), folder / "index.html").as_uri()


@pytest.fixture(scope="module")
def watch_page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """harness watch's page after 40 polls of a ledger whose duplicates keep coming: a chart, two
    windows, five worst offenders with long references."""
    folder = tmp_path_factory.mktemp("watch")
    db = charges_db(folder / "payments.db")
    clock = [time.time()]
    watcher = Watcher(sqlite_config(db), folder / "out", clock=lambda: clock[0])
    with sqlite3.connect(db) as connection:
        for poll in range(40):
            clock[0] += 10
            add_charges(connection, known_ledger(100 + poll, 20, poll // 4, clock[0], 120).rows)
            connection.commit()
            watcher.poll()
    connection.close()
    return (folder / "out" / "watch.html").as_uri()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_watch_page_needs_no_sideways_scroll(
    browser: Browser, watch_page_url: str, width: int, tmp_path: Path
) -> None:
    assert_no_sideways_scroll(browser, watch_page_url, width, tmp_path / f"watch-{width}px.png")


@pytest.mark.parametrize("width", WIDTHS)
def test_page_needs_no_sideways_scroll(browser: Browser, page_url: str, width: int, tmp_path: Path) -> None:
    assert_no_sideways_scroll(browser, page_url, width, tmp_path / f"index-{width}px.png")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_saga_cells_lanes_need_no_sideways_scroll(
    browser: Browser, saga_page_url: str, width: int, tmp_path: Path
) -> None:
    assert_no_sideways_scroll(browser, saga_page_url, width, tmp_path / f"saga-{width}px.png")
    lanes = browser.look(saga_page_url, width, LANES, tmp_path / f"saga-lanes-{width}px.png").value
    assert lanes["lanes"] == 4  # client, orchestrator, payments, inventory: shipping did nothing
    assert lanes["narrowest_track"] > width / 3, f"the lanes' time strips are squeezed: {lanes}"


LANES = """(() => {
  const tracks = [...document.querySelectorAll('.lane .track')]
    .map(track => track.getBoundingClientRect().width);
  return {lanes: document.querySelectorAll('.lane').length, narrowest_track: Math.min(...tracks)};
})()"""
"""How many lanes the saga page draws, and how wide the narrowest time strip is."""


def assert_no_sideways_scroll(browser: Browser, url: str, width: int, screenshot: Path) -> None:
    look = browser.look(url, width, MEASURE, screenshot)
    print(f"screenshot at {width} px: {look.screenshot}")

    assert look.value["innerWidth"] == width
    assert look.value["scrollWidth"] <= look.value["innerWidth"], (
        f"the page scrolls sideways at {width} px (screenshot {look.screenshot}); "
        f"reaching past the window: {look.value['sticking_out']}"
    )
