"""The ``harness`` command: parses arguments, calls the library, prints. No logic of its own.

Exit status: 0 every gate held, 1 a gate failed, 2 the run could not be made (the message says why).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.arguments import (
    MAX_PORT,
    json_object,
    json_value,
    name_list,
    positive_seconds,
    whole_number,
    writable_folder,
)
from harness.errors import EXIT_COULD_NOT_RUN, EXIT_OK, HarnessError
from harness.paths import REPO_ROOT, SCENARIOS_DIR, find_file
from harness.proxy.options import add_server_arguments, configure_logging
from harness.scenario import MAX_PARALLEL_CELLS, is_catalogue, load_catalogue, load_scenario

if TYPE_CHECKING:
    from harness.events import RunEvents
    from harness.listeners import CatalogueSummary
    from harness.listeners.metrics import MetricsServer
    from harness.result import RunResult
    from harness.run import RunOptions

DEFAULT_MASTER_PORT = 5557  # Locust's own default
MAX_OPERATIONS = 1_000_000  # load.operations' own bound
MAX_WORKERS = 256  # Locust worker processes per cell: each is a process on this machine
WORKER_WAIT_S = 360.0  # a --worker's bound per cell beyond max_duration_s (the master may start late)

# CI logs are no terminal: rich would assume 80 columns, so use 120 there unless COLUMNS says otherwise.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)
errors = Console(stderr=True, soft_wrap=True)  # an error is one line, however long
say_line = partial(console.print, highlight=False, markup=False, soft_wrap=True)  # plain text, one line


def _cmd_run(args: argparse.Namespace) -> int:
    if args.worker:
        if args.metrics_port is not None:
            raise HarnessError("--metrics-port serves a run's metrics; a --worker runs no cell of its own")
        return _serve_as_worker(args)
    if args.master and not args.workers:
        raise HarnessError("--master needs --workers N: how many workers to wait for")
    with _metrics_server(args.metrics_port) as metrics:
        return _run_files(args, metrics)


def _metrics_server(port: int | None) -> AbstractContextManager[MetricsServer | None]:
    """The ``--metrics-port`` endpoint, bound now (a taken port fails before anything starts) and
    closed when the run(s) end; nothing without the option."""
    from harness.listeners.metrics import MetricsServer

    return nullcontext() if port is None else MetricsServer(port)


def _run_files(args: argparse.Namespace, metrics: MetricsServer | None) -> int:
    """Run the scenario, or each scenario of a catalogue; the worst exit status."""
    from harness.listeners import CatalogueSummary

    scenario = _scenario_argument(args.scenario)
    if not is_catalogue(scenario):
        return _run_file(scenario, args, step_summary=True, metrics=metrics)
    if args.baseline is not None:
        raise HarnessError("--baseline compares one scenario's run; run the catalogue's scenarios one by one")
    if args.junit is not None:
        raise HarnessError("--junit names one file for one scenario's run; a catalogue's runs each have one")
    catalogue, files = load_catalogue(scenario)
    combined = CatalogueSummary(catalogue.name, Path(args.out))
    statuses = [
        _run_file(file, args, step_summary=False, catalogue=combined, metrics=metrics) for file in files
    ]
    combined.finish(console)
    return max(statuses)


def _scenario_argument(path: Path) -> Path:
    """The scenario file a command names: from here, else among the harness's bundled scenarios."""
    return find_file(path, REPO_ROOT)


def _run_file(
    path: Path,
    args: argparse.Namespace,
    *,
    step_summary: bool,
    catalogue: CatalogueSummary | None = None,
    metrics: MetricsServer | None = None,
) -> int:
    """Run one scenario file with the command line's overrides and listeners; its exit status."""
    from harness.listeners import BaselineGate, JUnitAt, LiveMetrics, TerminalProgress, subscribe_listeners
    from harness.run import Run, interrupts_once

    scenario = load_scenario(path)
    faults = tuple(args.fault or ())
    baseline = None if args.baseline is None else BaselineGate.load(args.baseline, scenario, faults, console)
    run = Run(scenario=scenario, scenario_path=str(path), options=_run_options(args))
    with interrupts_once(), TerminalProgress(console, quiet=args.quiet) as progress:
        subscribe_listeners(
            run.events,
            progress=progress,
            console=console,
            baseline=baseline,
            junit=None if args.junit is None else JUnitAt(args.junit),
            step_summary=step_summary,
            catalogue=catalogue,
            metrics=None if metrics is None else LiveMetrics(metrics),
        )
        result = run.run()
    return _exit_status(result, run.events, "a listener failed")


def _run_options(args: argparse.Namespace) -> RunOptions:
    from harness.run import RunOptions

    return RunOptions(
        out_root=Path(args.out),
        runtime=args.runtime,
        proxy_url=args.proxy_url,
        seed=args.seed,
        operations=args.operations,
        faults=tuple(args.fault or ()),
        fixed=args.fixed,
        parallel_cells=args.parallel,
        workers=args.workers,
        master=args.master,
        master_bind_host=args.master_bind_host,
        master_port=args.master_port or (DEFAULT_MASTER_PORT if args.master else 0),
    )


def _serve_as_worker(args: argparse.Namespace) -> int:
    """``run --worker``: run no target, only Locust workers for each cell of a ``--master`` run elsewhere."""
    import socket

    from harness.load.config import serve_as_worker

    if args.master_host is None:
        raise HarnessError("--worker needs --master-host: the machine running `harness run --master`")
    path = _scenario_argument(args.scenario)
    if is_catalogue(path):
        raise HarnessError("--worker serves one scenario's run; give it that scenario's file")
    scenario = load_scenario(path)
    cells = len(scenario.cells(args.fault or ()))
    name = f"{socket.gethostname()}-{os.getpid()}"
    port = args.master_port or DEFAULT_MASTER_PORT
    console.print(f"worker {name}: {cells} cell(s) of {scenario.name} for {args.master_host}:{port}")
    history_root = Path(args.out) / "workers" / name
    timeout_s = scenario.load.max_duration_s + WORKER_WAIT_S
    serve_as_worker(args.master_host, port, name, cells, history_root, timeout_s)
    console.print(f"worker {name}: done; histories shipped to the master, copies in {history_root}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    """Rebuild every report of a run folder from its evidence; exit by the gates, as the run would."""
    from harness.events import RunEvents
    from harness.listeners import subscribe_listeners
    from harness.report.rebuild import rebuild_result

    result = rebuild_result(args.run_dir)
    events = RunEvents()
    subscribe_listeners(events, console=console)
    events.run_finished.fire(result=result)
    return _exit_status(result, events, "a report could not be written")


def _exit_status(result: RunResult, events: RunEvents, failed: str) -> int:
    """Exit by the gates, or 2 where a listener failed: the result stands, but a report or a gate
    may be missing, so each failure is printed as ``failed: why``."""
    from harness.gate import exit_status

    for failure in events.failures:
        errors.print(f"[bold red]error:[/bold red] {failed}: {failure}", highlight=False)
    return max(exit_status(result), EXIT_COULD_NOT_RUN if events.failures else EXIT_OK)


def _cmd_gate(args: argparse.Namespace) -> int:
    from harness.listeners.baseline import compare_run_files

    return compare_run_files(args.run, args.baseline, console)


def _cmd_validate(args: argparse.Namespace) -> int:
    for path in map(_scenario_argument, args.scenarios):
        if is_catalogue(path):
            catalogue, files = load_catalogue(path)
            console.print(f"[green]✔[/green] {path}: catalogue {catalogue.name}: {len(files)} scenarios")
            continue
        scenario = load_scenario(path)
        console.print(
            f"[green]✔[/green] {path}: {scenario.name}: {len(scenario.target.variants)} variants × "
            f"{len(scenario.faults)} faults",
            highlight=False,
        )
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise HarnessError(f"{folder}: no such folder")
    table = Table(title=f"scenarios in {folder}")
    for column in ("file", "name", "variants", "faults"):
        table.add_column(column)
    for path in sorted(folder.glob("*.yaml")):
        try:
            if is_catalogue(path):
                catalogue, files = load_catalogue(path)
                names = ", ".join(file.name for file in files)
                table.add_row(path.name, catalogue.name, "(catalogue)", names)
                continue
            scenario = load_scenario(path)
        except HarnessError as error:
            table.add_row(path.name, "[red]invalid[/red]", "", str(error))
            continue
        table.add_row(
            path.name,
            scenario.name,
            ", ".join(scenario.target.variants),
            ", ".join(scenario.faults),
        )
    console.print(table)
    return EXIT_OK


def _cmd_proxy(args: argparse.Namespace) -> int:
    from harness.proxy import serve

    configure_logging(args.verbose)
    serve(args.host, args.port, args.allow_remote, args.config)
    return EXIT_OK


def _cmd_locustfile(args: argparse.Namespace) -> int:
    from harness.serve import LOCUSTFILE as path

    console.print(str(path), highlight=False)
    console.print(
        "[dim]watch the load in Locust's web UI: HARNESS_LOAD_CONFIG=<cell>/load.json "
        f"locust -f {path} --host http://127.0.0.1:PORT (or let `harness serve` set it all up)[/dim]",
        highlight=False,
    )
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    """One cell's target, proxy and fault with Locust's web UI on them, until Ctrl-C."""
    from harness.run import RunOptions
    from harness.serve import choose_cell, serve

    path = _scenario_argument(args.scenario)
    if is_catalogue(path):
        raise HarnessError("serve sets up one scenario's cell; give it that scenario's file")
    scenario = load_scenario(path)
    variant, fault = choose_cell(scenario, args.variant, args.fault)
    options = RunOptions(
        out_root=Path(args.out),
        runtime=args.runtime,
        seed=args.seed,
        operations=args.operations,
        faults=(fault,),
    )
    serve(scenario, str(path), variant, options, say=say_line, print_command=args.print_command)
    return EXIT_OK


def _cmd_conform(args: argparse.Namespace) -> int:
    from harness.conform import declare_resource, report_conformance, run_conformance, run_method_conformance
    from harness.conform.runner import DEFAULT_CONCURRENCY

    if not args.methods:
        _refuse_options(args, _METHOD_OPTIONS, "only with --methods")
        result = run_conformance(
            args.url,
            method=args.method or "POST",
            body=args.body,
            key_header=args.key_header,
            timeout_s=args.timeout,
            concurrency=args.concurrency or DEFAULT_CONCURRENCY,
            allow_remote=args.allow_remote,
        )
        return report_conformance(result, console, Path(args.out))
    _refuse_options(args, ("method", "body", "concurrency"), "not used with --methods (the method table)")
    if args.resource is None:
        raise HarnessError("--methods needs --resource PATH: its path with {id}, e.g. /orders/{id}")
    resource = declare_resource(
        args.resource,
        create=args.create,
        create_body=args.create_body,
        id_field=args.id_field or "id",
        put=args.put,
        put_body=args.put_body,
        patch_body=args.patch_body,
        ignore=[name for names in args.ignore or () for name in names],
        unsupported=[name for names in args.unsupported or () for name in names],
    )
    result = run_method_conformance(
        args.url,
        resource,
        key_header=args.key_header,
        timeout_s=args.timeout,
        allow_remote=args.allow_remote,
    )
    return report_conformance(result, console, Path(args.out))


_METHOD_OPTIONS = (
    "resource", "create", "create_body", "id_field", "put", "put_body", "patch_body", "ignore", "unsupported"
)
"""``harness conform``'s options that declare the resource of ``--methods``."""


def _refuse_options(args: argparse.Namespace, names: Sequence[str], reason: str) -> None:
    """A HarnessError naming the first of ``names`` the command line gave, as ``--name: reason``."""
    for name in names:
        if getattr(args, name) is not None:
            raise HarnessError(f"--{name.replace('_', '-')}: {reason}")


def _cmd_clean(args: argparse.Namespace) -> int:
    from harness.cleanup import clean_runs
    from harness.runtime.engine import clean_docker, engine_answers, labelled_runs

    engine = engine_answers()
    report = clean_runs(
        Path(args.out),
        args.run_id,
        docker=clean_docker if engine else None,
        docker_runs=labelled_runs() if engine else None,
    )
    console.print(f"ended {len(report.ended)} leftover process group(s)", highlight=False)
    for line in report.ended:
        console.print(f"  ended {line}", highlight=False)
    for line in report.removed:
        console.print(f"  removed {line}", highlight=False)
    for line in report.skipped:
        console.print(f"  left alone {line}", highlight=False)
    return EXIT_OK


def _cmd_image_build(args: argparse.Namespace) -> int:
    from harness.runtime.buildlog import RichBuildDisplay
    from harness.runtime.images import build_all

    with RichBuildDisplay(console) as display:
        tags = build_all(display)
    for tag in tags:
        console.print(f"[green]✔[/green] {tag}", highlight=False)
    return EXIT_OK


def _cmd_watch(args: argparse.Namespace) -> int:
    """Watch a service's ledger: the config is validated (exit 2 naming the field) before anything starts."""
    from harness.watch.config import load_watch_config
    from harness.watch.loop import watch

    config = load_watch_config(args.config)
    return watch(
        config,
        Path(args.out),
        metrics_port=args.metrics_port,
        polls=1 if args.once else args.polls,
        duration_s=args.duration,
        say=say_line,
        quiet=args.quiet,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Chaos-testing harness for idempotency: how often does a retried operation "
        "take effect twice?",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a scenario and write its reports")
    run.add_argument(
        "scenario",
        type=Path,
        help="a scenario file; a relative path not found here is looked up beside the harness, "
        "so scenarios/payments.yaml is a bundled one",
    )
    run.add_argument(
        "--out", type=writable_folder, default="reports", help="folder for run folders (default: reports)"
    )
    run.add_argument("--runtime", choices=("process", "docker", "auto"), help="override the scenario")
    run.add_argument("--proxy-url", help="a Toxiproxy-compatible server to use instead of the embedded one")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument(
        "--operations",
        type=whole_number(1, MAX_OPERATIONS),
        help=f"override load.operations (per cell, 1..{MAX_OPERATIONS})",
    )
    run.add_argument(
        "--fixed",
        action="store_true",
        help="every cell runs all its operations (load.stop: fixed), not only until its gates are decided",
    )
    run.add_argument(
        "--parallel",
        type=whole_number(1, MAX_PARALLEL_CELLS),
        metavar="N",
        help=f"run N cells at once (1..{MAX_PARALLEL_CELLS}; default: the scenario's parallel_cells, else 1)",
    )
    run.add_argument("--fault", action="append", help="run only this fault (repeatable)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument(
        "--metrics-port",
        type=whole_number(1, MAX_PORT),
        metavar="PORT",
        help="serve the run's live Prometheus metrics (harness_run_*) on 127.0.0.1:PORT/metrics "
        "while it runs; the port must be free",
    )
    run.add_argument(
        "--junit", type=Path, help="also write junit.xml here: one fixed file for a CI test report"
    )
    run.add_argument(
        "--baseline", type=Path, help="an earlier run.json (or run folder): fail on a regression against it"
    )
    distributed = run.add_argument_group("distributed load (Locust master and workers)")
    distributed.add_argument(
        "--workers",
        type=whole_number(0, MAX_WORKERS),
        default=0,
        help=f"Locust worker processes per cell (0..{MAX_WORKERS})",
    )
    distributed.add_argument(
        "--master", action="store_true", help="with --workers N: wait for N `--worker`s on other machines"
    )
    distributed.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        help="--master: listen address for the workers and for each cell's fault proxy they load",
    )
    distributed.add_argument(
        "--worker", action="store_true", help="be a worker of a --master run elsewhere (runs no target)"
    )
    distributed.add_argument(
        "--master-host", help="--worker: the machine running --master (its load goes there too)"
    )
    distributed.add_argument(
        "--master-port",
        type=whole_number(1, MAX_PORT),
        help=f"the master's port (default {DEFAULT_MASTER_PORT})",
    )
    run.set_defaults(handler=_cmd_run)

    report = commands.add_parser(
        "report", help="rebuild a run folder's reports (run.json, HTML, JUnit, summary.md) from its evidence"
    )
    report.add_argument("run_dir", type=Path, help="a run folder, e.g. reports/latest")
    report.set_defaults(handler=_cmd_report)

    gate = commands.add_parser("gate", help="compare a run with a baseline run: exit 1 when a cell regressed")
    gate.add_argument("run", type=Path, help="this run's run.json (or its folder)")
    gate.add_argument("--baseline", type=Path, required=True, help="the baseline's run.json (or its folder)")
    gate.set_defaults(handler=_cmd_gate)

    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("scenarios", nargs="+", type=Path)
    validate.set_defaults(handler=_cmd_validate)

    listing = commands.add_parser("list", help="list the scenarios in a folder")
    listing.add_argument("folder", nargs="?", default=str(SCENARIOS_DIR))
    listing.set_defaults(handler=_cmd_list)

    proxy = commands.add_parser("proxy", help="run the fault proxy (Toxiproxy's HTTP API) standalone")
    add_server_arguments(proxy)
    proxy.set_defaults(handler=_cmd_proxy)

    locustfile = commands.add_parser("locustfile", help="print the locustfile path for Locust's web UI")
    locustfile.set_defaults(handler=_cmd_locustfile)

    served = commands.add_parser(
        "serve", help="start one cell's target, proxy and fault with Locust's web UI on them, until Ctrl-C"
    )
    served.add_argument("scenario", type=Path)
    served.add_argument("--variant", help="the variant to serve (needed when the scenario has several)")
    served.add_argument("--fault", help="the fault to put on it (needed when the scenario has several)")
    served.add_argument(
        "--print-command", action="store_true", help="print the locust command instead of starting it"
    )
    served.add_argument(
        "--out", type=writable_folder, default="reports/serve", help="folder for session folders"
    )
    served.add_argument("--runtime", choices=("process", "docker", "auto"), help="override the scenario")
    served.add_argument("--seed", type=int, help="override the scenario's seed")
    served.add_argument(
        "--operations",
        type=whole_number(1, MAX_OPERATIONS),
        help=f"operations per start in the UI (1..{MAX_OPERATIONS}; default load.operations)",
    )
    served.set_defaults(handler=_cmd_serve)

    conform = commands.add_parser(
        "conform",
        help="check an endpoint against the IETF Idempotency-Key draft (400/409/422/replay), "
        "or with --methods a resource against the HTTP method table",
    )
    conform.add_argument(
        "url", help="the endpoint, e.g. http://127.0.0.1:8000/charges (with --methods: the base URL)"
    )
    conform.add_argument("--method", help="the endpoint's method (default POST)")
    conform.add_argument(
        "--body", type=json_object, help="JSON body to send, or @FILE (default: a payments charge)"
    )
    conform.add_argument("--key-header", default="Idempotency-Key")
    conform.add_argument("--timeout", type=positive_seconds, default=5.0, help="seconds per request")
    conform.add_argument(
        "--concurrency",
        type=whole_number(1, 64),
        help="clients sending one key at once (1..64, default 4)",
    )
    conform.add_argument("--allow-remote", action="store_true", help="allow a non-loopback URL")
    conform.add_argument(
        "--out", type=writable_folder, default="reports/conform", help="folder for conform.json and junit.xml"
    )
    table = conform.add_argument_group(
        "--methods", "check GET/HEAD safe, PUT/DELETE idempotent, PATCH with a key once, OPTIONS' Allow"
    )
    table.add_argument("--methods", action="store_true", help="check the HTTP method table on --resource")
    table.add_argument("--resource", metavar="PATH", help="the resource's path with {id}, e.g. /orders/{id}")
    table.add_argument(
        "--create", metavar="PATH", help="POST here to make a resource (default: --resource without /{id})"
    )
    table.add_argument(
        "--create-body", type=json_value, metavar="JSON", help="its body, or @FILE (default {})"
    )
    table.add_argument("--id-field", metavar="NAME", help="the create answer's id field (default id)")
    table.add_argument("--put", metavar="PATH", help="where PUT goes, with {id} (default: --resource)")
    table.add_argument(
        "--put-body", type=json_value, metavar="JSON",
        help="what PUT sends, or @FILE (default: GET's answer without the id and --ignore fields)",
    )
    table.add_argument("--patch-body", type=json_value, metavar="JSON", help="what PATCH sends, or @FILE")
    table.add_argument(
        "--ignore", type=name_list, action="append", metavar="FIELD",
        help="a field left out of comparisons (updated_at); repeat or comma-separate",
    )
    table.add_argument(
        "--unsupported", type=name_list, action="append", metavar="METHOD",
        help="a method the API does not offer (HEAD, PUT, PATCH, DELETE, OPTIONS): its check is skipped",
    )
    conform.set_defaults(handler=_cmd_conform)

    image = commands.add_parser("image", help="Docker images of the reference targets")
    image_commands = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    image_build = image_commands.add_parser(
        "build", help="build the base image (offline if no registry answers) and every target image"
    )
    image_build.set_defaults(handler=_cmd_image_build)

    watching = commands.add_parser(
        "watch",
        help="poll a service's own ledger and export its duplicate rate per window (Prometheus, JSON, HTML)",
        description="Poll the ledgers a watch file declares every interval_s; export per window the "
        "effects, operations, duplicated operations and duplicate rate (95% interval) on "
        "127.0.0.1:--metrics-port/metrics and in --out/watch.json and watch.html. Read-only. Without "
        "--polls, --duration or --once it runs until Ctrl-C or SIGTERM, then writes a last snapshot.",
    )
    watching.add_argument("config", type=Path, help="the watch file (watch.yaml)")
    watching.add_argument(
        "--metrics-port", type=whole_number(1, MAX_PORT), metavar="P", help="serve /metrics on 127.0.0.1:P"
    )
    watching.add_argument(
        "--out", type=writable_folder, default="reports/watch", help="folder for watch.json and watch.html"
    )
    watching.add_argument(
        "--quiet", action="store_true", help="no line per poll (errors still go to stderr)"
    )
    bounds = watching.add_mutually_exclusive_group()
    bounds.add_argument("--polls", type=whole_number(1, 10_000_000), metavar="N", help="stop after N polls")
    bounds.add_argument("--duration", type=positive_seconds, metavar="S", help="stop after S seconds")
    bounds.add_argument(
        "--once", action="store_true", help="poll once and stop (exit 2 when a ledger could not be read)"
    )
    watching.set_defaults(handler=_cmd_watch)

    clean = commands.add_parser(
        "clean", help="end processes and remove containers left behind by a killed run"
    )
    clean.add_argument("--out", default="reports", help="the reports folder whose runs to clean up")
    clean.add_argument("--run-id", help="clean only this run (a run folder's name)")
    clean.set_defaults(handler=_cmd_clean)
    return parser


def _print_partial_report(interrupt: KeyboardInterrupt) -> None:
    """Where an interrupted run's report of its finished cells is, when it got as far as making one."""
    from harness.report import report_paths
    from harness.run import RunInterrupted

    if not isinstance(interrupt, RunInterrupted):
        return
    cells = interrupt.result.verdict.cells
    finished = sum(not cell.interrupted for cell in cells)
    errors.print(
        f"partial report of the {finished} of {len(cells)} cells that finished: "
        f"{report_paths(interrupt.result.out_dir)['html']}",
        highlight=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except HarnessError as error:
        errors.print(f"[bold red]error:[/bold red] {escape(str(error))}", highlight=False)
        return error.exit_status
    except KeyboardInterrupt as interrupt:
        errors.print("[yellow]interrupted: everything the run started has been stopped[/yellow]")
        _print_partial_report(interrupt)
        return EXIT_COULD_NOT_RUN
    return status


if __name__ == "__main__":
    sys.exit(main())
