"""``python -m benchmarks.load``: what one attempt of the retrying load costs the load process, in CPU.

The load generator shares the machine with the target and the fault proxy, so every millisecond of CPU
it spends per attempt is taken from them, and caps the rate a run can drive. This benchmark answers
"how many attempts does one CPU-second of the load process buy?" for two load processes against the
same no-fault target (the payments reference target, idempotent variant), in one run:

* ``retrying``: the harness's own driver (``python -m harness.load.driver``), with its retry policy,
  Idempotency-Keys, op header and history file, exactly as a run starts it;
* ``plain``: plain Locust ``FastHttpUser`` posting the same charges (``benchmarks.plain_locust``), with
  nothing else to do: the yardstick.

Each load process prints a line when its users start and one when they are done; the CPU time
(user + system, from ``/proc/<pid>/stat``) of that process alone between the two lines, divided into
the requests Locust counted, gives attempts per CPU-second. Rounds alternate between the two, so load
from elsewhere on the machine falls on both alike; each figure is the median over rounds. The ratio
retrying / plain is the number to read: CPU time per attempt hardly moves when the machine is busy,
unlike attempts per wall-second.

The target is started here on a loopback port and ended by its pid; every load process is bounded by
a request count and a time limit, and ended by its pid whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.proxy import child_process, machine_info, wait_for_port
from benchmarks.tables import machine_line, markdown_table, notes_lines, rich_table, write_result
from harness.checkers.answers import answer
from harness.history import AttemptEnd, iter_file
from harness.load.config import LoadCellConfig, driver_command
from harness.paths import REPO_ROOT
from harness.ports import LOOPBACK, free_port
from harness.processes import end_process
from harness.scenario import LoadSpec, RetryPolicySpec

TARGET = "targets.payments.app"
TARGET_VARIANT = "idempotent"
LOADS = {
    "retrying": "harness load driver: RetryingUser, retries, keys, history",
    "plain": "plain Locust FastHttpUser, same charges, nothing else",
}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BENCH_RETRY = RetryPolicySpec(timeout_s=30.0)
"""The default policy with a timeout no busy machine reaches: every attempt is answered, none retried."""
_SLACK_S = 30.0
"""How long past its own time limit a load process may take to start and exit before it is killed."""


@dataclass(frozen=True)
class BenchSettings:
    quick: bool
    rounds: int  # per load; the two loads alternate
    requests: int  # per round
    users: int
    time_limit_s: float  # per round

    @classmethod
    def for_mode(cls, quick: bool) -> BenchSettings:
        if quick:
            return cls(True, 1, 100, 4, 20.0)
        return cls(False, 3, 3000, 8, 120.0)


@dataclass(frozen=True)
class Round:
    """One load process's work: requests Locust counted, its CPU and wall time while its users ran."""

    requests: int
    failures: int
    cpu_s: float
    wall_s: float
    failed_with: dict[str, int] = field(default_factory=dict)
    """The retrying load's failed attempts by answer (``503``, ``connection reset``), from its history."""

    @property
    def attempts_per_cpu_s(self) -> float:
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0


@dataclass
class LoadResult:
    name: str
    description: str
    rounds: list[Round]
    attempts_per_cpu_s: float = 0.0
    cpu_ms_per_attempt: float = 0.0
    attempts_per_s: float = 0.0

    def summarise(self) -> None:
        """Medians over rounds (of the per-round figures, so one slow round cannot dominate)."""
        self.attempts_per_cpu_s = statistics.median(r.attempts_per_cpu_s for r in self.rounds)
        self.cpu_ms_per_attempt = 1000 / self.attempts_per_cpu_s if self.attempts_per_cpu_s else 0.0
        self.attempts_per_s = statistics.median(r.requests / r.wall_s for r in self.rounds if r.wall_s > 0)


@dataclass
class BenchResult:
    date: str
    mode: str
    machine: dict[str, object]
    settings: dict[str, object]
    target: str
    loads: dict[str, LoadResult]
    ratio: float | None = None
    """retrying / plain attempts per CPU-second."""
    notes: list[str] = field(default_factory=list)


# -- measuring one load process -------------------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/<pid>/stat``, fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def measure_process(command: list[str], time_limit_s: float, log: Path) -> Round:
    """Run a load process; its CPU from its first JSON line to its done line, and Locust's counts there.

    A timer ends the process by its pid if it runs ``_SLACK_S`` past its own time limit, so a silent
    process cannot hold the loop that reads its lines.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=env, cwd=REPO_ROOT
        )
    overrun = threading.Timer(time_limit_s + _SLACK_S, end_process, args=(process,))
    overrun.start()
    try:
        assert process.stdout is not None
        start: tuple[float, float] | None = None
        for raw in process.stdout:
            line = _json_line(raw)
            if line is None:
                continue
            if start is None:
                start = (process_cpu_s(process.pid), time.monotonic())
            if line.get("done") is True:
                assert start is not None
                cpu_s, wall_s = process_cpu_s(process.pid) - start[0], time.monotonic() - start[1]
                return _round(line, cpu_s, wall_s)
        raise RuntimeError(f"{command[2]} ended without a done line: {log.read_text()[-2000:]}")
    finally:
        overrun.cancel()
        end_process(process)


def _json_line(raw: bytes) -> dict[str, object] | None:
    with contextlib.suppress(ValueError):
        data = json.loads(raw)
        return data if isinstance(data, dict) else None
    return None


def _round(done: dict[str, object], cpu_s: float, wall_s: float) -> Round:
    """The driver's done line nests Locust's counts in ``locust_stats``; the plain runner's does not."""
    counts = done.get("locust_stats", done)
    assert isinstance(counts, dict)
    return Round(int(counts["requests"]), int(counts["failures"]), cpu_s, wall_s)


def retrying_command(base_url: str, settings: BenchSettings, workdir: Path, number: int) -> list[str]:
    """The driver's command for one round, with its config (operations = the round's requests) written."""
    config = LoadCellConfig(
        base_url=base_url,
        variant=TARGET_VARIANT,
        fault="none",
        seed=number,
        op_id_prefix=f"bench{number}-",
        load=LoadSpec(
            operations=settings.requests,
            users=settings.users,
            spawn_rate=100,
            max_duration_s=settings.time_limit_s,
            retry=BENCH_RETRY,
        ),
        history_path=str(history_path(workdir, number)),
    )
    path = workdir / f"cell-{number}.json"
    path.write_text(config.model_dump_json())
    return driver_command(path)


def history_path(workdir: Path, number: int) -> Path:
    return workdir / f"history-{number}.jsonl"


def failed_attempts(history: Path) -> dict[str, int]:
    """Attempts that did not end ``ok``, counted by their answer in a few words."""
    ends = (event for event in iter_file(history) if isinstance(event, AttemptEnd))
    return dict(Counter(answer(end) for end in ends if end.outcome != "ok"))


def plain_command(base_url: str, settings: BenchSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.plain_locust",
        f"--host={base_url}",
        f"--requests={settings.requests}",
        f"--users={settings.users}",
        f"--max-seconds={settings.time_limit_s:g}",
    ]


# -- the run ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def payments_target(workdir: Path) -> Iterator[str]:
    """The payments target's idempotent variant on a free loopback port; its base URL."""
    port = free_port()
    log = workdir / "target.log"
    command = [
        sys.executable,
        "-m",
        TARGET,
        "--host",
        LOOPBACK,
        f"--port={port}",
        f"--variant={TARGET_VARIANT}",
        f"--db={workdir / 'payments.db'}",
    ]
    with child_process(command, log) as process:
        wait_for_port(port, process, log, timeout_s=30.0)
        yield f"http://{LOOPBACK}:{port}"


def run_bench(settings: BenchSettings, workdir: Path, console: Console) -> BenchResult:
    loads = {name: LoadResult(name, description, []) for name, description in LOADS.items()}
    with payments_target(workdir) as base_url:
        for number in range(settings.rounds):
            for name in ("retrying", "plain") if number % 2 == 0 else ("plain", "retrying"):
                command = (
                    retrying_command(base_url, settings, workdir, number)
                    if name == "retrying"
                    else plain_command(base_url, settings)
                )
                measured = measure_process(command, settings.time_limit_s, workdir / f"{name}.log")
                if name == "retrying":
                    measured = replace(measured, failed_with=failed_attempts(history_path(workdir, number)))
                console.print(
                    f"round {number + 1} {name}: {measured.requests} attempts, "
                    f"{measured.cpu_s:.2f} s CPU, {measured.attempts_per_cpu_s:,.0f} per CPU-s"
                )
                loads[name].rounds.append(measured)
    return _assemble(settings, loads)


def _assemble(settings: BenchSettings, loads: dict[str, LoadResult]) -> BenchResult:
    notes = []
    for load in loads.values():
        load.summarise()
        failures = sum(r.failures for r in load.rounds)
        if failures:
            answers = Counter[str]()
            for measured in load.rounds:
                answers.update(measured.failed_with)
            said = f" ({', '.join(f'{n}× {text}' for text, n in answers.most_common())})" if answers else ""
            notes.append(f"{load.name}: {failures} failed requests against a no-fault target{said}")
    retrying, plain = loads["retrying"].attempts_per_cpu_s, loads["plain"].attempts_per_cpu_s
    if settings.quick:
        notes.append("quick mode: too few requests for the figures to mean anything but that it works")
    return BenchResult(
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        mode="quick" if settings.quick else "full",
        machine=machine_info(),
        settings=asdict(settings),
        target=f"python -m {TARGET} --variant {TARGET_VARIANT}",
        loads=loads,
        ratio=retrying / plain if plain > 0 else None,
        notes=notes,
    )


# -- output ----------------------------------------------------------------------------------------------

_COLUMNS = [
    ("load", "name", "{}"),
    ("attempts/CPU-s", "attempts_per_cpu_s", "{:,.0f}"),
    ("CPU ms/attempt", "cpu_ms_per_attempt", "{:.3f}"),
    ("attempts/s", "attempts_per_s", "{:,.0f}"),
]


def _ratio_text(result: BenchResult) -> str:
    return "n/a" if result.ratio is None else f"{result.ratio:.2f}×"


def render_table(result: BenchResult) -> Table:
    title = f"load bench ({result.mode}, {result.date}), retrying / plain {_ratio_text(result)}"
    return rich_table(title, _COLUMNS, [asdict(load) for load in result.loads.values()])


def render_markdown(result: BenchResult) -> str:
    lines = [
        "# Load generator benchmark",
        "",
        machine_line(result.date, result.mode, result.machine, f"target `{result.target}`"),
        "",
        *markdown_table(_COLUMNS, [asdict(load) for load in result.loads.values()]),
        "",
        f"Retrying / plain attempts per CPU-second: {_ratio_text(result)}",
        *notes_lines(result.notes),
    ]
    return "\n".join(lines) + "\n"


def write_outputs(result: BenchResult, out: Path) -> Path:
    """Write the JSON to ``out`` and the Markdown beside it; return the Markdown's path."""
    data = asdict(result)
    for name, load in result.loads.items():
        for round_data, measured in zip(data["loads"][name]["rounds"], load.rounds, strict=True):
            round_data["attempts_per_cpu_s"] = round(measured.attempts_per_cpu_s, 1)
    return write_result(data, render_markdown(result), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports/bench/load.json"), help="result JSON path")
    parser.add_argument("--quick", action="store_true", help="one tiny round of each load")
    parser.add_argument("--rounds", type=int, help="rounds per load (default 3)")
    parser.add_argument("--requests", type=int, help="requests per round (default 3000)")
    args = parser.parse_args(argv)
    settings = BenchSettings.for_mode(args.quick)
    changes = {key: value for key, value in (("rounds", args.rounds), ("requests", args.requests)) if value}
    settings = BenchSettings(**{**asdict(settings), **changes})
    console = Console()
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        result = run_bench(settings, Path(tmp), console)
    markdown = write_outputs(result, args.out)
    console.print(render_table(result))
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]")
    console.print(f"wrote {args.out} and {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
