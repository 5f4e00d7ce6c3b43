"""``python -m benchmarks.checker``: how long checking a big cell takes, and how much memory.

One seeded cell folder (:mod:`benchmarks.checker_history`: a million operations by default, a fifth of
them retried, a tenth with a duplicate effect, a latency toxic and five kills) is checked the way
:func:`harness.cell.check_cell` checks it: the history files streamed through the checker's scan
(:func:`harness.checker.scan_files`, "read": decoding and folding are one pass) and the checkers' judgement
(:func:`harness.checker.judge`, "check"). The effects are streamed from ``effects.json`` after the
history, as ``harness report`` streams them (:func:`harness.ledger.stream_effects`), so their decoding
is part of "read"; the baseline reads them whole first, timed on their own (``effects_s``).

Each measurement runs in a fresh child process that imports only the checker, so its peak RSS
(:func:`peak_rss_mib`) counts what checking holds (the effects included) and not what generating the
files took. Wall seconds are the median over ``--rounds``; CPU
seconds are given too, since on a shared machine wall time also counts the waits for a core.

The baseline is the path every cell took before streaming: :func:`harness.history.read_history` (each
line validated into a pydantic event, all of them held in one sorted list) and
:func:`harness.checker.check` on that list, measured in the same run on a smaller cell (100,000
operations by default: the million would take minutes and gigabytes) beside the streamed path on that
same cell, and given as a ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checker import check, judge, scan_files
from harness.history import read_history
from harness.ledger import Effect, decode_effects, stream_effects

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

PATHS = ("streamed", "pydantic")
REPO_ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 10.0
GOAL_PEAK_MIB = 1024.0


@dataclass(frozen=True)
class Measurement:
    """One check of one cell folder in a fresh process."""

    path: str
    operations: int
    events: int
    effects_s: float
    read_s: float
    check_s: float
    total_s: float
    cpu_s: float
    peak_rss_mib: float
    verdict: dict[str, object]


@dataclass
class Row:
    """The median of several rounds of one path on one cell size."""

    path: str
    operations: int
    events: int
    rounds: int
    effects_s: float
    read_s: float
    check_s: float
    total_s: float
    cpu_s: float
    peak_rss_mib: float
    verdict: dict[str, object] = field(default_factory=dict)


def measure(path: str, effects_file: Path, files: list[Path]) -> Measurement:
    """Check the cell of ``files`` and ``effects_file`` by ``path`` in this process (a fresh child of
    :func:`run_child`, which imports only what checking needs)."""
    started = time.perf_counter()
    effects = read_effects(effects_file) if path != "streamed" else []
    cpu_start = time.process_time()
    read_from = time.perf_counter()
    if path == "streamed":
        evidence = scan_files(files, stream_effects(effects_file))
        checked_from = time.perf_counter()
        verdict = judge(evidence, variant="naive", fault="crash")
    else:
        events = read_history(files)
        checked_from = time.perf_counter()
        verdict = check(events, effects, variant="naive", fault="crash")
    finished = time.perf_counter()
    return Measurement(
        path=path,
        operations=verdict.operations,
        events=sum(_line_count(file) for file in files),
        effects_s=read_from - started,
        read_s=checked_from - read_from,
        check_s=finished - checked_from,
        total_s=finished - read_from,
        cpu_s=time.process_time() - cpu_start,
        peak_rss_mib=peak_rss_mib(),
        verdict={
            "validity": verdict.validity,
            "attempts": verdict.attempts,
            "retries": verdict.retries,
            "ops_with_duplicates": verdict.number("ops_with_duplicates"),
            "exposed_ops": verdict.number("exposed_ops"),
        },
    )


def peak_rss_mib() -> float:
    """This process's peak RSS. Linux's ``getrusage`` keeps the peak of the process image a child was
    forked from (the parent, with its generated cell), so the kernel's high-water mark of the image
    this process runs (``VmHWM``) is read where it exists."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _line_count(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def read_effects(path: Path) -> list[Effect]:
    """The effects of a file :func:`~benchmarks.checker_history.write_cell` wrote, as ``harness
    report`` reads them."""
    return decode_effects(path.read_bytes())


def run_child(path: str, folder: Path) -> Measurement:
    """:func:`measure` in a fresh Python process, so its peak RSS is the check's alone."""
    from harness.cell import CLIENT_HISTORY, EFFECTS_FILE, FAULT_HISTORY

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    files = [str(folder / name) for name in (EFFECTS_FILE, CLIENT_HISTORY, FAULT_HISTORY)]
    command = [sys.executable, "-m", "benchmarks.checker", "--measure", path, *files]
    output = subprocess.run(
        command, env=env, cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout
    return Measurement(**json.loads(output))


def bench_size(path: str, folder: Path, rounds: int, console: Console) -> Row:
    measurements = []
    for round_number in range(1, rounds + 1):
        measurement = run_child(path, folder)
        console.print(
            f"  {path} {measurement.operations:,} ops, round {round_number}: "
            f"{measurement.total_s:.1f} s, {measurement.peak_rss_mib:,.0f} MiB"
        )
        measurements.append(measurement)
    first = measurements[0]
    assert all(m.verdict == first.verdict for m in measurements), "rounds disagree on the verdict"

    def median(name: str) -> float:
        return round(float(statistics.median(getattr(m, name) for m in measurements)), 3)

    return Row(
        path=path,
        operations=first.operations,
        events=first.events,
        rounds=rounds,
        effects_s=median("effects_s"),
        read_s=median("read_s"),
        check_s=median("check_s"),
        total_s=median("total_s"),
        cpu_s=median("cpu_s"),
        peak_rss_mib=round(max(m.peak_rss_mib for m in measurements), 1),
        verdict=first.verdict,
    )


def run_bench(
    operations: int, baseline_operations: int, rounds: int, workdir: Path, console: Console
) -> dict[str, object]:
    from benchmarks.checker_history import HistoryShape, write_cell
    from benchmarks.proxy import machine_info

    rows: list[Row] = []
    big = workdir / "big"
    console.print(f"generating {operations:,} operations")
    write_cell(big, HistoryShape(operations))
    rows.append(bench_size("streamed", big, rounds, console))
    small = workdir / "small"
    console.print(f"generating {baseline_operations:,} operations for the baseline")
    write_cell(small, HistoryShape(baseline_operations))
    small_rows = [bench_size(path, small, rounds, console) for path in PATHS]
    assert small_rows[0].verdict == small_rows[1].verdict, "the streamed and pydantic paths disagree"
    rows += small_rows
    streamed, pydantic = small_rows
    big_row = rows[0]
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "load_average": os.getloadavg(),
        "goal": {"total_s": GOAL_SECONDS, "peak_rss_mib": GOAL_PEAK_MIB},
        "met_goal": big_row.total_s <= GOAL_SECONDS and big_row.peak_rss_mib <= GOAL_PEAK_MIB,
        "rows": [asdict(row) for row in rows],
        "baseline_ratio": {
            "operations": baseline_operations,
            "total_s": round(pydantic.total_s / streamed.total_s, 2),
            "cpu_s": round(pydantic.cpu_s / streamed.cpu_s, 2),
            "peak_rss_mib": round(pydantic.peak_rss_mib / streamed.peak_rss_mib, 2),
        },
    }


_COLUMNS = [
    ("path", "path", "{}"),
    ("ops", "operations", "{:,}"),
    ("events", "events", "{:,}"),
    ("read s", "read_s", "{:.2f}"),
    ("check s", "check_s", "{:.2f}"),
    ("total s", "total_s", "{:.2f}"),
    ("CPU s", "cpu_s", "{:.2f}"),
    ("peak RSS MiB", "peak_rss_mib", "{:,.0f}"),
]


def render_markdown(result: dict[str, object]) -> str:
    from benchmarks.tables import markdown_table  # rich: not in the measuring child process

    rows: list[dict[str, object]] = result["rows"]  # type: ignore[assignment]
    ratio: dict[str, object] = result["baseline_ratio"]  # type: ignore[assignment]
    lines = [
        *markdown_table(_COLUMNS, rows),
        "",
        f"Pydantic path / streamed path at {ratio['operations']:,} operations: {ratio['total_s']}× the wall "
        f"time, {ratio['cpu_s']}× the CPU time, {ratio['peak_rss_mib']}× the peak RSS.",
    ]
    return "\n".join(lines) + "\n"


def render_table(result: dict[str, object]) -> Table:
    from benchmarks.tables import rich_table

    return rich_table(f"checker bench ({result['date']})", _COLUMNS, result["rows"])  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checker", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path("reports/bench/checker.json"), help="result JSON path"
    )
    parser.add_argument("--operations", type=int, default=1_000_000)
    parser.add_argument("--baseline-operations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", nargs="+", metavar="PATH EFFECTS HISTORY", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # the child process of run_child
        path, effects_file, *files = args.measure
        print(json.dumps(asdict(measure(path, Path(effects_file), [Path(file) for file in files]))))
        return 0
    from rich.console import Console

    console = Console()
    with tempfile.TemporaryDirectory(prefix="checker-bench-") as tmp:
        result = run_bench(args.operations, args.baseline_operations, args.rounds, Path(tmp), console)
    from benchmarks.tables import write_result

    markdown = write_result(result, "# Checker benchmark\n\n" + render_markdown(result), args.out)
    console.print(render_table(result))
    console.print(render_markdown(result).splitlines()[-1])
    console.print(f"wrote {args.out} and {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
