"""The contract between the orchestrator and the load driver process, and the call that runs it.

The driver runs in its own process because importing Locust patches the whole process with
gevent, which must never reach the orchestrator (nor the asyncio fault proxy). This module is
what both sides share, and it imports no Locust:

* :class:`LoadCellConfig`: the JSON file the driver reads (``--config cell.json``);
* :class:`ProgressLine` and :class:`DoneLine`: the JSON lines the driver prints on stdout;
* :func:`run_driver`: writes the config, runs the driver, relays progress, returns a
  :class:`DriverSummary` or raises :class:`LoadError` with the tail of the driver's stderr;
  with a :class:`Distribution` it runs a Locust master and N local worker processes instead
  (or waits for workers on other machines, each started by :func:`serve_as_worker`).

Driver exit status: 0 the run finished (every op ended, or ``max_duration_s`` stopped it, which the
summary says), 1 the driver hit an internal error, 2 the config was bad, 130 it was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from harness.errors import LoadError, describe_invalid, shown_value
from harness.load.forked import DRIVER_MODULE, ForkedDriver, fork_driver
from harness.paths import REPO_ROOT
from harness.pidfiles import PidRegistry
from harness.ports import LOOPBACK, free_port
from harness.processes import end_process
from harness.scenario import LoadSpec, OperationKinds, OperationSpec

if TYPE_CHECKING:
    from harness.load.link import LoadLink

EXIT_FINISHED = 0
EXIT_DRIVER_ERROR = 1
EXIT_BAD_CONFIG = 2
EXIT_INTERRUPTED = 130

LOAD_CONFIG_ENV = "HARNESS_LOAD_CONFIG"
"""The environment variable naming the cell config ``locustfile.py`` runs (``harness serve`` sets it)."""

STDERR_TAIL_LINES = 15
_KILL_WAIT_S = 5.0
_NEXT_CELL_PAUSE_S = 1.0
_LINE_WAIT_S = 0.25


def history_file(directory: Path, worker: str) -> Path:
    """Where the worker named ``worker`` writes (or the master writes a shipped) history."""
    return directory / f"history.{worker}.jsonl"


def worker_histories(directory: Path) -> list[Path]:
    """Every worker's history in a cell folder (:func:`history_file`), in name order."""
    return sorted(directory.glob(history_file(Path(), "*").name))


class LoadCellConfig(BaseModel):
    """Everything the driver needs for one variant × fault cell; written as JSON by the orchestrator.

    ``load`` is the scenario's own :class:`~harness.scenario.LoadSpec`, with the cell's overrides
    already applied (:meth:`~harness.scenario.LoadSpec.for_cell`): the driver reads the same model
    the scenario file was validated into, so nothing is copied field by field or checked twice.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    variant: str
    fault: str
    seed: int
    load: LoadSpec
    """How many operations, users, how long, how to retry (``load`` with the cell's overrides)."""
    kinds: OperationKinds = (OperationSpec(),)
    """The kinds of operation, each op drawing one by weight (``target.operations``)."""
    history_path: str
    op_id_prefix: str = ""
    release_path: str | None = None
    """Set by :func:`run_driver` for a held load: operations go on past ``operations`` (bounded by
    ``max_duration_s``) until this file exists, so the orchestrator's planned crashes fall in the load."""
    stop_path: str | None = None
    """Set by :func:`run_driver` when a link is given: once this file exists no operation starts, those
    in flight run to their end (so the history stays complete) and the driver ends as ``decided``
    (:meth:`harness.load.link.LoadLink.stop`: the orchestrator has decided every gate of the cell)."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, base_url: str) -> str:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return base_url.rstrip("/")


def load_cell_config(path: Path) -> LoadCellConfig:
    """Read and validate a config file; any problem is a one-line LoadError naming the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LoadError(f"{path}: cannot read: {error.strerror}") from None
    try:
        return LoadCellConfig.model_validate_json(text)
    except ValidationError as error:
        field, problem, value = describe_invalid(error.errors()[0])
        raise LoadError(f"{path}: {field}: {problem}{shown_value(value)}") from None


class ProgressLine(BaseModel):
    """Printed by the driver at most ~10 times a second while operations start and complete.

    Besides the counts it is the load's live signal to the nemesis (:mod:`harness.load.link`):
    when the first operation started and whether anything is in flight.
    """

    completed: int
    total: int
    started: int = 0
    """Operations handed out so far (past the budget while the load is held)."""
    first_op_at: float | None = None
    """When the first operation started (``time.time()``): the origin of the fault schedule."""
    attempts_in_flight: int | None = None
    """Attempts sent and not answered yet; ``None`` from a master, which sees only operations."""

    @property
    def in_flight(self) -> int:
        """Attempts in flight, or operations in flight where attempts are not known."""
        if self.attempts_in_flight is not None:
            return self.attempts_in_flight
        return max(0, self.started - self.completed)


class LocustTotals(BaseModel):
    """Locust's own aggregate statistics, kept as a cross-check of the history."""

    requests: int
    failures: int
    median_response_time_ms: float | None


StoppedBy = Literal["completed", "max_duration_s", "decided"]
"""Why a driver ended: every operation ended, its time ran out, or the orchestrator stopped it early."""


class DoneLine(ProgressLine):
    """The driver's last stdout line."""

    done: Literal[True] = True
    duration_s: float
    stopped_by: StoppedBy
    locust_stats: LocustTotals


@dataclass(frozen=True)
class DriverSummary:
    """What the orchestrator learns from a finished driver (the history file holds the details)."""

    completed: int
    total: int
    duration_s: float
    stopped_by: StoppedBy
    requests: int
    failures: int
    median_response_time_ms: float | None

    @property
    def all_completed(self) -> bool:
        return self.stopped_by in ("completed", "decided") and self.completed == self.total


@dataclass(frozen=True)
class Distribution:
    """How one cell's load is spread over Locust workers (see :mod:`harness.load.distributed`).

    ``local``: run_driver starts ``workers`` worker processes on this machine; otherwise it starts
    only the master, which waits for ``workers`` workers started elsewhere (:func:`serve_as_worker`).
    ``port`` 0 picks a free one (local workers only: remote ones must be told the port).
    """

    workers: int
    local: bool = True
    bind_host: str = LOOPBACK
    port: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= 256:
            raise LoadError(f"workers must be between 1 and 256 (got {self.workers})")
        if not self.local and not self.port:
            raise LoadError("workers on other machines need a fixed master port")


def driver_args(config_path: Path, wait_for_config_s: float = 0.0) -> list[str]:
    """The driver's arguments; with ``wait_for_config_s`` it may start before its config is written."""
    args = ["--config", str(config_path)]
    return [*args, f"--wait-for-config={wait_for_config_s:g}"] if wait_for_config_s else args


def driver_command(config_path: Path, wait_for_config_s: float = 0.0) -> list[str]:
    """The driver's command line as a fresh process (:func:`driver_args`)."""
    return [sys.executable, "-m", DRIVER_MODULE, *driver_args(config_path, wait_for_config_s)]


def master_command(config_path: Path, distribution: Distribution, port: int) -> list[str]:
    return [
        *driver_command(config_path),
        "--master",
        f"--expect-workers={distribution.workers}",
        f"--bind-host={distribution.bind_host}",
        f"--bind-port={port}",
    ]


def worker_command(
    master_host: str,
    master_port: int,
    name: str,
    history_dir: Path | None = None,
    ship: bool = False,
    connect_timeout_s: float = 30.0,
) -> list[str]:
    command = [sys.executable, "-m", DRIVER_MODULE, "--worker"]
    command += [f"--master-host={master_host}", f"--master-port={master_port}", f"--name={name}"]
    command.append(f"--connect-timeout={connect_timeout_s:g}")
    if history_dir is not None:
        command.append(f"--history-dir={history_dir}")
    return [*command, "--ship-history"] if ship else command


def driver_env() -> dict[str, str]:
    """The environment of a load process: this one's, the repository importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


_RECORDED: dict[int, PidRegistry] = {}
"""Pids recorded by :func:`start_recorded` → their registry, for :func:`end_recorded` to forget them."""


def start_recorded(
    command: list[str], stderr_file: IO[bytes], stdout: int | None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a load process (a driver, or ``harness serve``'s Locust) in its own session (a Ctrl-C
    reaches only us; we end its group), recorded in the pid registry of the reports folder its stderr
    log lies in, so ``harness clean`` can end one a killed harness left running. ``env`` is added to
    the driver's environment."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr_file,
        env={**driver_env(), **(env or {})},
        start_new_session=True,
    )
    _record(process.pid, command, stderr_file)
    return process


def _record(pid: int, command: list[str], stderr_file: IO[bytes]) -> None:
    registry = PidRegistry.near(Path(stderr_file.name))
    if registry is not None:
        registry.add(pid, command)
        _RECORDED[pid] = registry


DriverProcess = subprocess.Popen[bytes] | ForkedDriver
"""A driver started afresh, or forked from the run's driver fork server (:mod:`harness.load.forked`)."""


def _start_early(config_path: Path, wait_s: float, stderr_file: IO[bytes]) -> DriverProcess:
    """The driver of ``config_path``, forked if the run has a driver fork server, else started afresh."""
    forked = fork_driver(driver_args(config_path, wait_s), driver_env(), stderr_file)
    if forked is None:
        return start_recorded(driver_command(config_path, wait_s), stderr_file, subprocess.PIPE)
    _record(forked.pid, forked.child.command_line, stderr_file)
    return forked


@dataclass(frozen=True)
class _EarlyDriver:
    process: DriverProcess
    stderr_file: IO[bytes]


_EARLY: dict[Path, _EarlyDriver] = {}
"""Driver processes started by :func:`driver_started_early`, by config path, until run_driver takes one."""


@contextlib.contextmanager
def driver_started_early(
    load_driver: object, config_path: Path, distribution: Distribution | None, wait_s: float
) -> Iterator[None]:
    """Start the driver process of ``config_path`` now, while the cell's target is still starting.

    The driver spends seconds importing Locust before it reads its config (most of its start on a busy
    machine), so it imports while the target starts and waits, at most ``wait_s``, for the config
    :func:`run_driver` writes; run_driver then follows that process instead of starting one. Only
    run_driver's own single process is started early: another driver (a test's fake, ``harness
    serve``'s Locust UI) or a distributed load gets nothing. One not used by the end of the block (the
    cell failed before its load) is ended.
    """
    if load_driver is not run_driver or distribution is not None:
        yield
        return
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.unlink(missing_ok=True)  # the driver must wait for this cell's config, not read an old one
    stderr_file = _stderr_path(config_path).open("wb")
    try:
        _EARLY[config_path] = _EarlyDriver(_start_early(config_path, wait_s, stderr_file), stderr_file)
        yield
    finally:
        unused = _EARLY.pop(config_path, None)
        if unused is not None:
            end_recorded(unused.process)
            stderr_file.close()


def _stderr_path(config_path: Path) -> Path:
    return config_path.with_name(f"{config_path.stem}.stderr.log")


def write_config(config: LoadCellConfig, config_path: Path) -> None:
    """Write the cell's load config whole at once: a driver started early reads it as soon as it
    exists (and a Locust started by ``harness serve`` reads the same file)."""
    config_path.parent.mkdir(parents=True, exist_ok=True)
    partial = config_path.with_name(f"{config_path.name}.partial")
    partial.write_text(config.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(config_path)


def run_driver(
    config: LoadCellConfig,
    config_path: Path,
    on_progress: Callable[[int, int], None],
    timeout_s: float,
    distribution: Distribution | None = None,
    link: LoadLink | None = None,
) -> DriverSummary:
    """Run the load driver for one cell as a subprocess and wait for it, at most ``timeout_s``.

    A ``link`` hears every progress line and the load's end; if it ``holds``, the driver runs on
    past its budget until ``link.release()`` (which creates the config's ``release_path``).

    The driver gets its own session so a Ctrl-C reaches only us; we then kill it by pid. Its
    stderr goes to ``<config stem>.stderr.log`` beside the config, as evidence and for errors.
    With a ``distribution`` that process is the Locust master, and each local worker ``w<i>``
    is one more process (stderr in ``<config stem>.w<i>.stderr.log``), ended by pid as well.
    A driver :func:`driver_started_early` for ``config_path`` is followed instead of a new one.
    """
    if link is not None and link.holds:
        config = _held(config, config_path, link)
    if link is not None:
        config = _stoppable(config, config_path, link)
    write_config(config, config_path)
    stderr_path = _stderr_path(config_path)
    deadline = time.monotonic() + timeout_s
    workers: list[tuple[subprocess.Popen[bytes], Path]] = []
    with contextlib.ExitStack() as files:
        port = 0
        early = _EARLY.pop(config_path, None)  # from here on ended below, like a driver started here
        process: DriverProcess
        if early is not None:
            files.enter_context(early.stderr_file)
            process = early.process
        else:
            stderr_file = files.enter_context(stderr_path.open("wb"))
            if distribution is None:
                command = driver_command(config_path)
            else:
                port = distribution.port or free_port(distribution.bind_host)
                command = master_command(config_path, distribution, port)
            process = start_recorded(command, stderr_file, subprocess.PIPE)
        try:
            for index in range(distribution.workers if distribution and distribution.local else 0):
                worker_stderr = config_path.with_name(f"{config_path.stem}.w{index}.stderr.log")
                worker_file = files.enter_context(worker_stderr.open("wb"))
                worker = start_recorded(worker_command(LOOPBACK, port, f"w{index}"), worker_file, None)
                workers.append((worker, worker_stderr))
            done = _follow(process, on_progress, deadline, link)
            _wait_for_workers(workers, deadline)
        except LoadError as error:
            end_recorded(process)
            raise LoadError(f"{error}: {log_tail(stderr_path)}") from None
        except BaseException:  # KeyboardInterrupt above all: never leave the driver behind
            end_recorded(process)
            raise
        finally:
            if link is not None:
                link.end()
            for worker, _ in workers:
                end_recorded(worker)
            end_recorded(process)  # ended already unless an error came first; forgets its registry entry
    if process.returncode != EXIT_FINISHED:
        raise LoadError(f"load driver exited with status {process.returncode}: {log_tail(stderr_path)}")
    for worker, worker_stderr in workers:
        if worker.returncode != EXIT_FINISHED:
            raise LoadError(f"load worker exited with status {worker.returncode}: {log_tail(worker_stderr)}")
    if done is None:
        raise LoadError(f"load driver ended without its final summary line: {log_tail(stderr_path)}")
    return DriverSummary(
        completed=done.completed,
        total=done.total,
        duration_s=done.duration_s,
        stopped_by=done.stopped_by,
        requests=done.locust_stats.requests,
        failures=done.locust_stats.failures,
        median_response_time_ms=done.locust_stats.median_response_time_ms,
    )


def _held(config: LoadCellConfig, config_path: Path, link: LoadLink) -> LoadCellConfig:
    """The config of a held load: its release file, created when the link is released."""
    release_path = config_path.with_name(f"{config_path.stem}.release")
    release_path.unlink(missing_ok=True)
    link.on_release(release_path.touch)
    return config.model_copy(update={"release_path": str(release_path)})


def _stoppable(config: LoadCellConfig, config_path: Path, link: LoadLink) -> LoadCellConfig:
    """The config of a load the orchestrator may stop early: its stop file, created by ``link.stop()``."""
    stop_path = config_path.with_name(f"{config_path.stem}.stop")
    stop_path.unlink(missing_ok=True)
    link.on_stop(stop_path.touch)
    return config.model_copy(update={"stop_path": str(stop_path)})


def _follow(
    process: DriverProcess,
    on_progress: Callable[[int, int], None],
    deadline: float,
    link: LoadLink | None,
) -> DoneLine | None:
    """Relay the driver's progress lines until it exits; raise LoadError at the deadline."""
    assert process.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    done: DoneLine | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LoadError(f"load driver did not finish in time; killed pid {process.pid}")
        try:  # short waits: a cell on a thread of its own is interrupted between them (cell_threads)
            line = lines.get(timeout=min(remaining, _LINE_WAIT_S))
        except queue.Empty:
            continue
        if line is None:
            break
        parsed = _parse_line(line)
        if isinstance(parsed, DoneLine):
            done = parsed
        if parsed is not None:
            on_progress(parsed.completed, parsed.total)
            if link is not None:
                link.observe(parsed)
    reader.join(timeout=_KILL_WAIT_S)
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise LoadError(f"load driver did not exit in time; killed pid {process.pid}") from None
    return done


def _wait_for_workers(workers: list[tuple[subprocess.Popen[bytes], Path]], deadline: float) -> None:
    """After the master's end, give each worker until the deadline (at most a few seconds) to exit."""
    for worker, _ in workers:
        try:
            worker.wait(timeout=max(0.1, min(_KILL_WAIT_S, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            raise LoadError(f"load worker did not exit after the master; killed pid {worker.pid}") from None


def serve_as_worker(
    master_host: str, master_port: int, name: str, cells: int, history_root: Path, timeout_s: float
) -> None:
    """Be one worker of ``cells`` cells in turn, for a master on another machine (``--worker``).

    Each cell is one worker process that waits for the cell's master, gets the config from it,
    runs its share of the ops, writes ``<history_root>/<n>/history.<name>.jsonl`` and ships it to
    the master, which writes it into the cell folder. Each process is bounded by ``timeout_s`` and
    ended by pid.
    """
    for cell in range(1, cells + 1):
        if cell > 1:
            time.sleep(_NEXT_CELL_PAUSE_S)  # let the last cell's master go before greeting the next
        history_dir = history_root / str(cell)
        history_dir.mkdir(parents=True, exist_ok=True)
        stderr_path = history_dir / f"worker.{name}.stderr.log"
        with stderr_path.open("wb") as stderr_file:
            command = worker_command(master_host, master_port, name, history_dir, True, timeout_s)
            process = start_recorded(command, stderr_file, None)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise LoadError(
                    f"cell {cell}: no end in {timeout_s:g} s; killed worker pid {process.pid}"
                ) from None
            finally:
                end_recorded(process)
        if process.returncode != EXIT_FINISHED:
            raise LoadError(f"cell {cell}: worker exit status {process.returncode}: {log_tail(stderr_path)}")


def _read_lines(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    try:
        for line in stream:
            lines.put(line)
    finally:
        lines.put(None)


def _parse_line(line: bytes) -> ProgressLine | None:
    """A progress or done line, or ``None`` for anything else a library may have printed."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        if data.get("done") is True:
            return DoneLine.model_validate(data)
        return ProgressLine.model_validate(data)
    except ValidationError:
        return None


def end_recorded(process: DriverProcess) -> None:
    """End a load process's group (SIGKILL: it holds nothing that needs a graceful end)."""
    if isinstance(process, ForkedDriver):
        process.end(_KILL_WAIT_S)
    else:
        end_process(process, signal.SIGKILL, _KILL_WAIT_S)
    registry = _RECORDED.pop(process.pid, None)
    if registry is not None:
        registry.remove(process.pid)


def log_tail(stderr_path: Path) -> str:
    try:
        text = stderr_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no stderr)"
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-STDERR_TAIL_LINES:]) or "(no stderr)"
