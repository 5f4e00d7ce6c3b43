"""Watch a cell's load in Locust's web UI, with the same user class and retry policy as the driver.

    HARNESS_LOAD_CONFIG=reports/latest/cells/<variant>--<fault>/load.json \\
        locust -f harness/load/locustfile.py --host http://127.0.0.1:PORT

Without ``HARNESS_LOAD_CONFIG`` the scenario defaults (``harness.scenario.LoadSpec``) apply. The
cell's own history is never touched: attempts go to ``HARNESS_LOAD_HISTORY``, else to
``locust-ui-history.jsonl`` beside the config (or ``reports/locust-ui/history.jsonl``). Each start
in the UI runs the config's operations once more under a fresh op id prefix (``…ui1-``,
``…ui2-``), and stops when they have all ended or ``max_duration_s`` has passed; in ``--headless``
mode Locust then exits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import gevent
from locust import events
from locust.env import Environment

from harness.errors import LoadError
from harness.history import HistoryWriter
from harness.load.config import LOAD_CONFIG_ENV, LoadCellConfig, load_cell_config
from harness.load.drive import max_duration_reason
from harness.load.user import Workload, make_user_class
from harness.scenario import LoadSpec

CONFIG_ENV = LOAD_CONFIG_ENV
HISTORY_ENV = "HARNESS_LOAD_HISTORY"
DEFAULT_HOST = "http://127.0.0.1:8000"
WATCH_INTERVAL_S = 0.2


def config_from_env(environ: Mapping[str, str]) -> tuple[LoadCellConfig, Path]:
    """The cell config to run and the history file for this UI session."""
    path = environ.get(CONFIG_ENV)
    if path:
        try:
            config = load_cell_config(Path(path))
        except LoadError as error:
            raise SystemExit(f"{CONFIG_ENV}: {error}") from None
        default_history = Path(path).with_name("locust-ui-history.jsonl")
    else:
        config = LoadCellConfig(
            load=LoadSpec(),
            base_url=DEFAULT_HOST,
            variant="ui",
            fault="ui",
            seed=1,
            history_path="reports/locust-ui/history.jsonl",
        )
        default_history = Path(config.history_path)
    return config, Path(environ.get(HISTORY_ENV) or default_history)


CONFIG, HISTORY_PATH = config_from_env(os.environ)
ChargeUser = make_user_class(None, CONFIG.base_url)
"""The one user class Locust finds here; its workload is set at each test start."""

_session = {"starts": 0}
_writers: list[HistoryWriter] = []


def _start_workload(environment: Environment, **_kwargs: object) -> None:
    _close_writers()
    _session["starts"] += 1
    writer = HistoryWriter(HISTORY_PATH)
    _writers.append(writer)
    prefix = f"{CONFIG.op_id_prefix}ui{_session['starts']}-"  # each start of the UI: ops of its own
    workload = Workload(CONFIG.model_copy(update={"op_id_prefix": prefix}), writer)
    ChargeUser.workload = workload
    gevent.spawn(_stop_when_finished, environment, workload)


def _on_quitting(**_kwargs: object) -> None:
    _close_writers()


def _close_writers() -> None:
    while _writers:
        _writers.pop().close()


events.test_start.add_listener(_start_workload)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_on_quitting)  # type: ignore[no-untyped-call]


def _stop_when_finished(environment: Environment, workload: Workload) -> None:
    """Stop the test once every operation ended or max_duration_s passed; exit if headless."""
    deadline = time.monotonic() + CONFIG.load.max_duration_s
    while not workload.queue.done and time.monotonic() < deadline:
        gevent.sleep(WATCH_INTERVAL_S)
    if ChargeUser.workload is not workload or environment.runner is None:
        return  # a newer start took over, or nothing to stop
    if not workload.queue.done:
        workload.stop_reason = max_duration_reason(CONFIG.load.max_duration_s)
    if environment.web_ui is None:
        environment.runner.quit()
    else:
        environment.runner.stop()
