"""The load driver process: ``python -m harness.load.driver --config cell.json``.

Runs one cell's logical operations with Locust as a library (an ``Environment`` and a local
runner, headless), writes every operation and attempt to the history, prints progress as JSON
lines (see :mod:`harness.load.config` for the protocol and exit statuses), and ends by itself
when every operation has ended or ``max_duration_s`` has passed, whichever comes first.

With ``--master`` it runs no users but a Locust master that hands the ops to ``--expect-workers``
worker processes (``--worker``), each writing ``history.<name>.jsonl``: see
:mod:`harness.load.distributed`.

It imports Locust, so it patches its process with gevent: run it as a subprocess
(:func:`harness.load.config.run_driver`), never import it into the orchestrator.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
import types
from collections.abc import Iterator, Sequence
from pathlib import Path

import locust.runners
from locust.env import Environment

from harness.errors import LoadError
from harness.history import HistoryWriter
from harness.load.config import (
    EXIT_BAD_CONFIG,
    EXIT_DRIVER_ERROR,
    EXIT_FINISHED,
    EXIT_INTERRUPTED,
    LoadCellConfig,
    load_cell_config,
)
from harness.load.distributed import Master, Worker
from harness.load.drive import ProgressPrinter, emit_done, fail, run_until_done
from harness.load.user import Workload, make_user_class

CONFIG_POLL_S = 0.01


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.load.driver", description="Run one cell's retrying load (see harness.load)."
    )
    parser.add_argument("--config", type=Path, help="a LoadCellConfig JSON file (not for --worker)")
    parser.add_argument(
        "--wait-for-config", type=float, default=0.0, metavar="S", help="wait up to S s for --config to exist"
    )
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--master", action="store_true", help="run no users: hand ops to --expect-workers")
    role.add_argument("--worker", action="store_true", help="run users for the master at --master-host")
    parser.add_argument("--expect-workers", type=int, default=1, help="master: workers to wait for")
    parser.add_argument("--bind-host", default="127.0.0.1", help="master: address workers connect to")
    parser.add_argument("--bind-port", type=int, default=5557, help="master: port workers connect to")
    parser.add_argument("--master-host", default="127.0.0.1", help="worker: the master's address")
    parser.add_argument("--master-port", type=int, default=5557, help="worker: the master's port")
    parser.add_argument("--name", default="w0", help="worker: its name, in history.<name>.jsonl")
    parser.add_argument("--history-dir", type=Path, help="worker: its history's folder")
    parser.add_argument("--connect-timeout", type=float, default=30.0, help="worker: wait for the config")
    parser.add_argument("--ship-history", action="store_true", help="worker: send its history to the master")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.worker:
        worker = Worker(
            args.master_host,
            args.master_port,
            args.name,
            args.history_dir,
            args.ship_history,
            args.connect_timeout,
        )
        return worker.run()
    if args.config is None:
        return fail(EXIT_BAD_CONFIG, "--config is required (except with --worker)")
    if not _appears(args.config, args.wait_for_config):
        return fail(EXIT_BAD_CONFIG, f"{args.config}: not written within {args.wait_for_config:g} s")
    try:
        config = load_cell_config(args.config)
    except LoadError as error:
        return fail(EXIT_BAD_CONFIG, str(error))
    if args.master:
        return Master(config, args.expect_workers, args.bind_host, args.bind_port).run()
    try:
        history = HistoryWriter(Path(config.history_path))
    except OSError as error:
        return fail(EXIT_BAD_CONFIG, f"history_path: cannot write {config.history_path}: {error.strerror}")
    with history:
        return _Drive(config, history).run()


def _appears(path: Path, wait_s: float) -> bool:
    """Whether ``path`` exists, or comes to within ``wait_s``: a driver started early (Locust imported
    while the cell's target starts) waits here for the config the orchestrator writes whole at once."""
    deadline = time.monotonic() + wait_s
    while not path.exists():
        if time.monotonic() >= deadline:
            return wait_s <= 0  # without a wait, a missing file is load_cell_config's error to report
        time.sleep(CONFIG_POLL_S)
    return True


def _no_stack(*args: object, **kwargs: object) -> list[object]:
    raise LookupError("the caller of Runner.stop is not looked up")


@contextlib.contextmanager
def caller_lookup_skipped() -> Iterator[None]:
    """Within the block, Locust's ``Runner.stop`` does not look up who called it.

    It calls ``inspect.stack()`` for a debug line the driver never logs, whatever the log level: that
    walks every frame and, for each, every loaded module (over 700 here, Locust, gevent and Flask among
    them) resolving its file's real path: 30-150 ms of CPU per driver, on the cell's way to its check.
    Its own fallback (a failed lookup) logs a fixed line instead, which costs nothing.
    """
    names = vars(locust.runners)
    real = names.get("inspect")
    if real is None:  # a Locust that no longer looks it up
        yield
        return
    names["inspect"] = types.SimpleNamespace(stack=_no_stack, getframeinfo=real.getframeinfo)
    try:
        yield
    finally:
        names["inspect"] = real


class _Drive:
    """One run of the driver: start the users, watch the clock and the queue, stop, summarise."""

    def __init__(self, config: LoadCellConfig, history: HistoryWriter) -> None:
        self.config = config
        self.workload = Workload(config, history)
        self.environment = Environment(
            user_classes=[make_user_class(self.workload, config.base_url)], host=config.base_url
        )
        self.user_errors: list[str] = []
        self.environment.events.user_error.add_listener(self._on_user_error)  # type: ignore[no-untyped-call]

    def _on_user_error(self, user_instance: object, exception: BaseException, tb: object) -> None:
        self.user_errors.append(f"{type(exception).__name__}: {exception}")

    def run(self) -> int:
        runner = self.environment.create_local_runner()
        progress = ProgressPrinter(self.workload.queue, lambda: self.workload.attempts_in_flight)
        started = time.monotonic()
        progress()

        def tick() -> None:
            progress()
            self.workload.history.flush_if_due()  # ends written before a quiet spell reach the watch

        try:
            ending = run_until_done(runner, self.config, self.workload.queue, tick=tick,
                                    broken=lambda: bool(self.user_errors), stop=self._stop)  # fmt: skip
        finally:
            with caller_lookup_skipped():
                runner.quit()  # kills users still running; each writes its attempt's and op's end
        progress()
        emit_done(self.workload.queue, self.environment.stats, time.monotonic() - started, ending)
        if ending == "interrupted":
            return fail(EXIT_INTERRUPTED, "interrupted")
        if self.user_errors:
            return fail(
                EXIT_DRIVER_ERROR,
                f"{len(self.user_errors)} error(s) inside users; first: {self.user_errors[0]}",
            )
        return EXIT_FINISHED

    def _stop(self, reason: str) -> None:
        self.workload.stop_reason = reason


if __name__ == "__main__":
    sys.exit(main())
