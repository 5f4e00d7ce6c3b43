"""``harness serve``: one cell's target behind the fault proxy, under its fault, with Locust's web UI on it.

``harness run`` drives each cell's load itself and checks it; ``serve`` hands one cell's load to a
person. It is a :class:`~harness.run.Run` of that one cell with two seams of its own, so the target,
its stores, the proxy, the fault plan and the clean-up are exactly ``harness run``'s:

* the load driver is Locust's web UI (:meth:`ServeSession.drive`): ``locust -f
  harness/load/locustfile.py`` on a free loopback port, with the scenario's users and spawn rate as
  the UI's defaults and the proxy as its host, in its own process group, recorded for ``harness
  clean``; or, with ``--print-command``, that command printed for the user to run. It lasts until
  Ctrl-C or SIGTERM, watching the UI's statistics so the nemesis sees the load start (a crash
  schedule counts from the first swarm, kills fall while users run);
* the nemesis is the run's own, remembered so the target's address can be shown.

Ctrl-C ends Locust first, then the run tears down as an interrupted run does: the nemesis's toxics
and the proxy entries while the proxy still answers, the target, the stores, the proxy last. The
session's folder (``reports/serve/<run-id>``) keeps the cell's load config, Locust's log, the fault
history and ``locust-ui-history.jsonl``, the attempts made from the UI.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.errors import HarnessError, LoadError, LocustPortTakenError
from harness.events import RunEvents
from harness.faults import FaultPlan, ToxicCall
from harness.history import CrashEvent, FaultEvent, HistoryWriter
from harness.interrupts import interrupts_once
from harness.load.config import (
    LOAD_CONFIG_ENV,
    Distribution,
    LoadCellConfig,
    ProgressLine,
    end_recorded,
    log_tail,
    start_recorded,
    write_config,
)
from harness.load.link import LoadLink
from harness.nemesis import Nemesis, NemesisEvent, ToxicsApi
from harness.paths import REPO_ROOT
from harness.ports import LOOPBACK, free_port, looks_like_port_race, on_free_port
from harness.run import Run, RunInterrupted
from harness.run_options import RunOptions
from harness.runtime.base import TargetInstance
from harness.scenario import Scenario

LOCUSTFILE = REPO_ROOT / "harness" / "load" / "locustfile.py"
UI_START_S = 60.0
"""How long Locust may take to answer on its web port (importing it is slow on a busy machine)."""
WATCH_INTERVAL_S = 0.2
UI_ANSWER_S = 2.0
"""How long one look at the UI's statistics may take."""
RUNNING_STATES = ("spawning", "running")

Say = Callable[[str], None]


def choose_cell(scenario: Scenario, variant: str | None, fault: str | None) -> tuple[str, str]:
    """The (variant, fault) to serve: as named, or the scenario's only one; a one-line error otherwise."""
    return (
        _choose("--variant", "variant", variant, scenario.target.variants, scenario.name),
        _choose("--fault", "fault", fault, tuple(scenario.faults), scenario.name),
    )


def _choose(option: str, what: str, name: str | None, known: Sequence[str], scenario: str) -> str:
    if name is None:
        if len(known) == 1:
            return known[0]
        raise HarnessError(
            f"{option}: scenario {scenario!r} has {len(known)} {what}s ({', '.join(known)}): name one"
        )
    if name not in known:
        raise HarnessError(
            f"{option} {name}: no such {what} in scenario {scenario!r} ({what}s: {', '.join(known)})"
        )
    return name


def one_cell(scenario: Scenario, variant: str) -> Scenario:
    """The scenario with only ``variant`` to run (the run's options name the one fault)."""
    target = scenario.target.model_copy(update={"variants": (variant,)})
    return scenario.model_copy(update={"target": target})


def locust_command(host: str, users: int, spawn_rate: float, web_port: int) -> list[str]:
    """Locust's web UI on loopback ``web_port``: our locustfile, the UI's defaults set to the cell's."""
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host,
        "--users", str(users), "--spawn-rate", f"{spawn_rate:g}",
        "--web-host", LOOPBACK, "--web-port", str(web_port),
    ]  # fmt: skip


def serve(
    scenario: Scenario,
    scenario_path: str,
    variant: str,
    options: RunOptions,
    *,
    say: Say,
    print_command: bool = False,
) -> None:
    """Serve one cell (``variant`` under ``options.faults[0]``) until Ctrl-C or SIGTERM, then clean up.

    Raises :class:`~harness.errors.HarnessError` when the cell cannot be set up or Locust stops by itself.
    """
    session = ServeSession(say, print_command)
    run = Run(
        scenario=one_cell(scenario, variant),
        scenario_path=scenario_path,
        options=options,
        events=session.events,
        nemesis=session.nemesis,
        load_driver=session.drive,
    )
    try:
        with interrupts_once():
            run.run()
    except RunInterrupted:
        say(f"stopped: everything serve started has ended; the session's files are in {run.out_dir}")


class ServeSession:
    """The seams that make a one-cell :class:`~harness.run.Run` a serve session, and what it says."""

    def __init__(self, say: Say, print_command: bool = False) -> None:
        self.say = say
        self.print_command = print_command
        self.events = RunEvents()
        self.events.note.add_listener(lambda *, message: say(message))
        self.events.cell_started.add_listener(self._cell_started)
        self.events.fault.add_listener(self._fault)
        self.target: TargetInstance | None = None
        self.proxy_api: str | None = None

    def nemesis(
        self,
        plan: FaultPlan,
        client: ToxicsApi,
        proxy_name: str,
        target: TargetInstance,
        history: HistoryWriter,
        store_toxics: Sequence[tuple[str, ToxicCall]],
        on_event: Callable[[NemesisEvent], None],
        *,
        restart_proxy: str | None = None,
    ) -> Nemesis:
        """The run's own nemesis; the target and the proxy's API are remembered to be shown."""
        self.target = target
        self.proxy_api = getattr(client, "url", None)
        return Nemesis(
            plan, client, proxy_name, target, history, store_toxics, on_event, restart_proxy=restart_proxy
        )

    def drive(
        self,
        config: LoadCellConfig,
        config_path: Path,
        on_progress: Callable[[int, int], None],
        timeout_s: float,
        distribution: Distribution | None = None,
        link: LoadLink | None = None,
    ) -> None:
        """The load driver: Locust's web UI (or its command, printed) until Ctrl-C; never returns."""
        write_config(config, config_path)
        users = min(config.load.users, config.load.operations)
        log_path = config_path.with_name("locust.log")

        def command(port: int) -> list[str]:
            return locust_command(config.base_url, users, config.load.spawn_rate, port)

        process: subprocess.Popen[bytes] | None = None
        try:
            if self.print_command:
                web_port = free_port(LOOPBACK)
                self._show(config, None)
                self.say("run Locust's web UI yourself (serve waits; Ctrl-C stops everything):")
                self.say(
                    f"  {LOAD_CONFIG_ENV}={shlex.quote(str(config_path))} {shlex.join(command(web_port))}"
                )
            else:
                process, web_port = on_free_port(
                    lambda port: _start_locust(command(port), port, config_path, log_path)
                )
                self._show(config, f"http://{LOOPBACK}:{web_port}")
                self.say(f"{users} users at {config.load.spawn_rate:g}/s by default; Ctrl-C stops everything")
            _watch(process, web_port, log_path, link)
        finally:
            if process is not None:
                end_recorded(process)
            if link is not None:
                link.end()

    def _show(self, config: LoadCellConfig, ui_url: str | None) -> None:
        target = "(unknown)" if self.target is None else self.target.endpoint.base_url
        self.say(f"target      {target}  (its own address: no fault)")
        self.say(f"proxy       {config.base_url}  (the target under the fault: the load's host)")
        self.say(f"proxy API   {self.proxy_api or '(unknown)'}  (Toxiproxy's API)")
        if ui_url is not None:
            self.say(f"Locust UI   {ui_url}")

    def _cell_started(self, *, variant: str, fault: str, operations: int) -> None:
        self.say(f"serving {variant} under {fault}: starting its target, stores and proxy")

    def _fault(self, *, variant: str, fault: str, event: NemesisEvent) -> None:
        if isinstance(event, FaultEvent):
            detail = f" ({event.detail})" if event.detail else ""
            self.say(f"fault: toxic {event.name} {event.action}{detail}")
        elif isinstance(event, CrashEvent):
            self.say(f"fault: crash ({event.reason}): {event.detail}")
        else:
            self.say(f"fault: target restarted after {event.downtime_s:g} s down")


def _start_locust(
    command: list[str], port: int, config_path: Path, log_path: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Start Locust (``command``, its web UI on ``port``) and wait, bounded, until the UI answers; its
    process and web port."""
    with log_path.open("wb") as log:
        process = start_recorded(command, log, log.fileno(), env={LOAD_CONFIG_ENV: str(config_path)})
    try:
        deadline = time.monotonic() + UI_START_S
        while _ui_stats(port) is None:
            if process.poll() is not None:
                tail = log_tail(log_path)
                error = LocustPortTakenError if looks_like_port_race(tail) else LoadError
                raise error(f"Locust exited with status {process.returncode}: {tail}")
            if time.monotonic() > deadline:
                raise LoadError(
                    f"Locust's web UI did not answer on port {port} in {UI_START_S:g} s: {log_tail(log_path)}"
                )
            time.sleep(WATCH_INTERVAL_S)
    except BaseException:
        end_recorded(process)
        raise
    return process, port


def _watch(process: subprocess.Popen[bytes] | None, port: int, log_path: Path, link: LoadLink | None) -> None:
    """Until interrupted: tell ``link`` when the UI's users run; raise if Locust stops by itself."""
    first_running_at: float | None = None
    while True:
        if process is not None and process.poll() is not None:
            raise LoadError(f"Locust exited with status {process.returncode}: {log_tail(log_path)}")
        users = _running_users(_ui_stats(port))
        if users and first_running_at is None:
            first_running_at = time.time()
        if link is not None:
            # the UI tells users, not attempts: while users run, something is taken to be in flight
            link.observe(
                ProgressLine(completed=0, total=0, first_op_at=first_running_at, attempts_in_flight=users)
            )
        time.sleep(WATCH_INTERVAL_S)


def _running_users(stats: dict[str, object] | None) -> int:
    """How many users the UI runs now; 0 while it is stopped, ready, or does not answer."""
    if stats is None or stats.get("state") not in RUNNING_STATES:
        return 0
    users = stats.get("user_count")
    return users if isinstance(users, int) else 0


def _ui_stats(port: int) -> dict[str, object] | None:
    """Locust's ``/stats/requests`` document, or ``None`` while nothing answers there."""
    try:
        with urllib.request.urlopen(
            f"http://{LOOPBACK}:{port}/stats/requests", timeout=UI_ANSWER_S
        ) as answer:
            document = json.load(answer)
    except (OSError, ValueError):  # URLError and timeouts are OSErrors
        return None
    return document if isinstance(document, dict) else None
