"""The Run's orchestration on in-memory fakes: no process, no network, no Locust.

A fake runtime (targets that record kill, restart and stop), a fake proxy client (proxies and toxics
recorded), a fake load driver that writes a small hand-made history, and a fake effects probe in which
the naive variant charged op-1 twice. The checker, the nemesis and the report writers are the real ones.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from run_fakes import (
    CRASH_SCENARIO,
    SCENARIO,
    FakeLoad,
    Recorder,
    assert_all_cleaned_up,
    fake_run,
    scenario_from,
)

from harness.errors import LoadError
from harness.events import RunEvents
from harness.gate import BASELINE_GATE
from harness.history import CrashEvent, FaultEvent
from harness.listeners import BaselineGate, ReportFile, subscribe_listeners
from harness.listeners.markdown import MarkdownSummary, StepSummary
from harness.listeners.reports import TerminalSummary
from harness.result import RunResult


def test_events_fire_in_order_with_their_payloads(tmp_path: Path) -> None:
    run, _, _ = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)
    recorder = Recorder(run.events)
    result = run.run()
    cell = ["cell_started", "fault", "cell_progress", "cell_progress", "fault", "cell_checked"]
    assert recorder.names() == ["run_started", *cell, *cell, "run_checked", "run_finished"]
    payloads = [payload for _, payload in recorder.heard]
    assert payloads[0]["run_id"] == result.run_id and payloads[0]["out_dir"] == result.out_dir
    assert payloads[1] == {"variant": "naive", "fault": "dropped", "operations": 3}
    on, off = payloads[2], payloads[5]
    assert (on["variant"], on["fault"], type(on["event"]), on["event"].action) == (
        "naive",
        "dropped",
        FaultEvent,
        "on",
    )
    cell = {"variant": "naive", "fault": "dropped"}
    assert [payloads[3], payloads[4]] == [{**cell, "completed": n, "total": 3} for n in (1, 3)]
    assert off["event"].action == "off"
    assert payloads[6]["verdict"] == result.verdict.cell("naive", "dropped")
    assert payloads[12]["verdict"] == result.verdict.cell("idempotent", "dropped")
    assert payloads[-1] == {"result": result}


def test_verdicts_and_gates_reflect_the_fake_history_and_effects(tmp_path: Path) -> None:
    run, runtime, proxy = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)
    result = run.run()
    naive, idempotent = result.verdict.cell("naive", "dropped"), result.verdict.cell("idempotent", "dropped")
    assert (naive.operations, naive.attempts, naive.retries, naive.ops_with_duplicates) == (3, 4, 1, 1)
    assert [a.op_id for a in naive.anomalies if a.kind == "duplicate_effect"] == ["op-1"]
    assert (idempotent.operations, idempotent.ops_with_duplicates, idempotent.lost_acknowledged) == (3, 0, 0)
    assert [(g.variant, g.passed) for g in result.gates] == [("idempotent", True), ("naive", True)]
    assert (result.runtime, result.proxy) == ("fake", "fake://proxy")
    effects = json.loads((result.out_dir / "cells" / "naive--dropped" / "effects.json").read_text())
    assert [e["op_ref"] for e in effects] == ["op-1", "op-2", "op-3", "op-1"]
    assert_all_cleaned_up(runtime, proxy)
    assert runtime.log == [
        ("start", "naive"),
        ("stop", "naive"),
        ("start", "idempotent"),
        ("stop", "idempotent"),
    ]


# an interrupt still ends in run_checked and run_finished, for the partial report (test_interrupted_run.py)
@pytest.mark.parametrize(
    ("error", "last_hooks"),
    [
        (LoadError("the load driver died"), []),
        (KeyboardInterrupt(), ["run_checked", "run_finished"]),
    ],
)
def test_every_proxy_and_target_is_cleaned_up_when_the_load_fails_mid_cell(
    tmp_path: Path, error: BaseException, last_hooks: list[str]
) -> None:
    load = FakeLoad(raise_in="idempotent", error=error)
    run, runtime, proxy = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path, load)
    recorder = Recorder(run.events)
    with pytest.raises(type(error)):
        run.run()
    assert load.cells == ["naive", "idempotent"]
    assert_all_cleaned_up(runtime, proxy)
    added = [where[:2] for call, where in proxy.calls if call == "add"]  # (proxy, toxic name)
    assert len(added) == 2 and added == [where for call, where in proxy.calls if call == "remove"]
    # the toxic's "off", then no cell_checked: the interrupted cell was not checked
    assert recorder.names()[-2 - len(last_hooks) :] == ["cell_progress", "fault", *last_hooks]


def test_the_nemesis_tells_each_crash_and_restart_it_records(tmp_path: Path) -> None:
    load = FakeLoad()  # held by the nemesis until its kill is made and the target is back
    run, runtime, _ = fake_run(scenario_from(CRASH_SCENARIO, tmp_path), tmp_path, load)
    recorder = Recorder(run.events)
    result = run.run()
    assert runtime.targets[-1].restarted.is_set(), "the nemesis never restarted the target"
    faults = [payload["event"] for name, payload in recorder.heard if name == "fault"]
    assert [type(event).__name__ for event in faults] == ["CrashEvent", "RestartEvent"]
    assert isinstance(faults[0], CrashEvent) and faults[0].reason == "kill"
    assert runtime.log == [("start", "naive"), ("kill", "naive"), ("restart", "naive"), ("stop", "naive")]
    assert result.verdict.cell("naive", "crash").crashes == 1


def test_a_raising_listener_loses_neither_the_result_nor_the_listeners_after_it(tmp_path: Path) -> None:
    run, _, _ = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)

    def broken(**payload: object) -> None:
        raise OSError("disk full")

    run.events.cell_progress.add_listener(broken)
    run.events.run_finished.add_listener(broken)
    recorder = Recorder(run.events)
    result = run.run()
    assert result.verdict.cell("naive", "dropped").ops_with_duplicates == 1
    assert recorder.names()[-1] == "run_finished"
    assert [(f.hook, type(f.error)) for f in run.events.failures] == [("cell_progress", OSError)] * 4 + [
        ("run_finished", OSError)
    ]
    assert "disk full" in str(run.events.failures[-1])


def test_listeners_are_subscribed_in_the_stated_order(tmp_path: Path) -> None:
    baseline = BaselineGate({}, tmp_path / "main.json")
    listeners = subscribe_listeners(
        RunEvents(), console=Console(file=io.StringIO()), baseline=baseline, step_summary=True
    )
    names = [
        repr(listener) if isinstance(listener, ReportFile) else type(listener).__name__
        for listener in listeners
    ]
    assert names == [
        "ReportFile(json)", "ReportFile(html)", "ReportFile(junit)",
        "TerminalSummary", "MarkdownSummary", "BaselineGate", "StepSummary",
    ]  # fmt: skip


def test_run_finished_listeners_are_called_in_the_stated_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard: list[str] = []
    for listener_class in (ReportFile, TerminalSummary, MarkdownSummary, StepSummary):
        original = listener_class.run_finished

        def spy(self: Any, *, result: RunResult, original: Any = original) -> None:
            heard.append(self.name if isinstance(self, ReportFile) else type(self).__name__)
            original(self, result=result)

        monkeypatch.setattr(listener_class, "run_finished", spy)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step.md"))
    run, _, _ = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)
    subscribe_listeners(run.events, console=Console(file=io.StringIO()), step_summary=True)
    run.run()
    assert heard == ["json", "html", "junit", "TerminalSummary", "MarkdownSummary", "StepSummary"]


def test_baseline_gates_are_in_every_report_and_its_section_in_both_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = scenario_from(SCENARIO, tmp_path)
    first, _, _ = fake_run(scenario, tmp_path)
    subscribe_listeners(first.events)
    document = json.loads((first.run().out_dir / "run.json").read_text())
    naive = next(cell for cell in document["verdict"]["cells"] if cell["variant"] == "naive")
    duplicates = next(check for check in naive["checks"] if check["checker"] == "duplicate_effects")
    duplicates["intervals"]["duplicate_rate"]["high"] = -1.0  # any rate now is a rise beyond it
    baseline_path = tmp_path / "main" / "run.json"
    baseline_path.parent.mkdir()
    baseline_path.write_text(json.dumps(document))

    step_summary = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    terminal = io.StringIO()
    console = Console(file=terminal, width=200)
    second, _, _ = fake_run(scenario, tmp_path)
    gate = BaselineGate.load(baseline_path, scenario, console=console)
    subscribe_listeners(second.events, console=console, baseline=gate, step_summary=True)
    result = second.run()
    assert [(g.variant, g.passed) for g in result.gates if g.name == BASELINE_GATE] == [
        ("naive", False),
        ("idempotent", True),
    ]
    written = json.loads((result.out_dir / "run.json").read_text())["gates"]
    assert [g["passed"] for g in written if g["name"] == BASELINE_GATE] == [False, True]
    assert BASELINE_GATE in (result.out_dir / "junit.xml").read_text()
    summary = (result.out_dir / "summary.md").read_text()
    assert summary.startswith("## ✘ idempotency: fake-payments — FAIL\n")
    assert "against the baseline" in summary
    assert step_summary.read_text() == summary
    shown = terminal.getvalue()
    assert shown.index("Reports:") < shown.index(f"fake-payments against the baseline {baseline_path}")
