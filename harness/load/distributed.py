"""One cell's load spread over several processes or machines with Locust's own master and workers.

The master (``driver --master``) runs no users: it waits for its workers, sends each the cell's
config, hands out operation numbers one at a time (so ``operations`` logical ops run in total,
each exactly once, whichever worker is free), counts the ends, prints the progress and done lines
of :mod:`harness.load.config`, and stops everyone when every op ended or ``max_duration_s`` passed.
Each worker (``driver --worker``) runs users as the local driver does and writes its own history
``history.<worker name>.jsonl``; a worker on another machine ships that file to the master at the
end (``--ship-history``), which writes it into the cell folder, where the run merges every
``history*.jsonl`` by time.

The protocol is Locust's custom messages over its ZeroMQ link (worker → master: ``hello``,
``take``, ``finished``, ``bye``; master → worker: ``config``, ``op``, ``finish``), all prefixed
``harness_``. Like the driver, this module imports Locust: driver processes only.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from locust.env import Environment
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner

from harness.history import HistoryWriter
from harness.load.addresses import reachable_base_url
from harness.load.config import (
    EXIT_DRIVER_ERROR,
    EXIT_FINISHED,
    EXIT_INTERRUPTED,
    LoadCellConfig,
    history_file,
)
from harness.load.drive import ProgressPrinter, emit_done, fail, run_until_done
from harness.load.operations import OperationQueue
from harness.load.user import DEFAULT_STOP_REASON, Workload, make_user_class

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30.0
"""How long the master waits for all its workers, and a worker for its config."""
HELLO_INTERVAL_S = 2.0
"""How often a worker repeats its hello until a master sends it the config."""
TAKE_TIMEOUT_S = 30.0
"""How long a worker's user waits for the master to hand it an op number (then it stops)."""
FINISH_WAIT_S = 15.0
"""How long the master waits for every worker's goodbye (its users ended, its history closed)."""
WORKER_GRACE_S = 120.0
"""A worker ends by itself this long after ``max_duration_s`` if no master told it to."""

HELLO, CONFIG, TAKE, OP, FINISHED, FINISH, BYE = (
    f"harness_{name}" for name in ("hello", "config", "take", "op", "finished", "finish", "bye")
)


@dataclass
class _WorkerSeen:
    name: str
    ships: bool
    said_bye: bool = False
    errors: list[str] = field(default_factory=list)


class Master:
    """The cell's master: no users of its own; op numbers, progress and the summary come from here."""

    def __init__(self, config: LoadCellConfig, expect_workers: int, bind_host: str, bind_port: int) -> None:
        self.config = config
        self.expect_workers = expect_workers
        self.queue = OperationQueue(config.load.operations)
        self.environment = Environment(
            user_classes=[make_user_class(None, config.base_url)], host=config.base_url
        )
        self.runner: MasterRunner = self.environment.create_master_runner(bind_host, bind_port)
        self.workers: dict[str, _WorkerSeen] = {}
        self.stop_reason = DEFAULT_STOP_REASON
        self.closing = False
        for kind, listener in ((HELLO, self._on_hello), (TAKE, self._on_take)):
            self.runner.register_message(kind, listener)
        self.runner.register_message(FINISHED, self._on_finished)
        self.runner.register_message(BYE, self._on_bye)

    def _on_hello(self, environment: Environment, msg: Message, **_: Any) -> None:
        if self.closing:  # a worker already waiting for the next cell's master: it will say hello again
            return
        data: dict[str, Any] = msg.data
        self.workers[msg.node_id] = _WorkerSeen(name=str(data["name"]), ships=bool(data["ship"]))
        self.runner.send_message(CONFIG, {"config": self.config.model_dump_json()}, client_id=msg.node_id)

    def _on_take(self, environment: Environment, msg: Message, **_: Any) -> None:
        number = self.queue.take()
        self.runner.send_message(OP, {"id": msg.data["id"], "number": number}, client_id=msg.node_id)

    def _on_finished(self, environment: Environment, msg: Message, **_: Any) -> None:
        self.queue.finish()

    def _on_bye(self, environment: Environment, msg: Message, **_: Any) -> None:
        seen = self.workers.get(msg.node_id)
        if seen is None:
            return
        seen.said_bye = True
        seen.errors = [str(error) for error in msg.data.get("errors", [])]
        history = msg.data.get("history")
        if seen.ships and isinstance(history, str):
            target = history_file(Path(self.config.history_path).parent, seen.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(history, encoding="utf-8")

    def run(self) -> int:
        progress = ProgressPrinter(self.queue)
        progress()
        started = time.monotonic()
        try:
            if not self._wait_for_workers():
                self.runner.quit()
                return fail(
                    EXIT_DRIVER_ERROR,
                    f"only {len(self.workers)} of {self.expect_workers} worker(s) connected "
                    f"within {CONNECT_TIMEOUT_S:g} s",
                )
            started = time.monotonic()
            ending = run_until_done(self.runner, self.config, self.queue, tick=progress,
                                    broken=lambda: bool(self.runner.exceptions), stop=self._stop)  # fmt: skip
        except KeyboardInterrupt:  # while waiting for the workers
            self._stop("stopped: driver interrupted")
            ending = "interrupted"
        finally:
            self._finish_workers()
            self.runner.quit()  # the workers send their last statistics and exit
        progress()
        emit_done(self.queue, self.environment.stats, time.monotonic() - started, ending)
        if ending == "interrupted":
            return fail(EXIT_INTERRUPTED, "interrupted")
        errors = [error for seen in self.workers.values() for error in seen.errors]
        errors += [str(entry.get("msg")) for entry in self.runner.exceptions.values()]
        if errors:
            return fail(EXIT_DRIVER_ERROR, f"{len(errors)} error(s) inside users; first: {errors[0]}")
        silent = sorted(seen.name for seen in self.workers.values() if not seen.said_bye)
        if silent:
            late = ", ".join(silent)
            return fail(EXIT_DRIVER_ERROR, f"worker(s) {late} did not end within {FINISH_WAIT_S:g} s")
        return EXIT_FINISHED

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason

    def _wait_for_workers(self) -> bool:
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while len(self.workers) < self.expect_workers or self.runner.worker_count < self.expect_workers:
            if time.monotonic() > deadline:
                return False
            gevent.sleep(0.05)
        return True

    def _finish_workers(self) -> None:
        """Tell every worker to stop its users and close its history; wait (bounded) for each goodbye."""
        self.closing = True
        self.runner.send_message(FINISH, {"reason": self.stop_reason})
        deadline = time.monotonic() + FINISH_WAIT_S
        while not all(seen.said_bye for seen in self.workers.values()) and time.monotonic() < deadline:
            gevent.sleep(0.05)


class RemoteOperationQueue(OperationQueue):
    """A worker's view of the master's queue: ``take`` asks the master, ``finish`` tells it."""

    def __init__(self, runner: WorkerRunner, total: int) -> None:
        super().__init__(total)
        self.runner = runner
        self._ids = itertools.count()
        self._waiting: dict[int, AsyncResult] = {}
        runner.register_message(OP, self._on_op)

    def take(self) -> int | None:
        request_id = next(self._ids)
        answer: AsyncResult = AsyncResult()
        self._waiting[request_id] = answer
        try:
            self.runner.send_message(TAKE, {"id": request_id})
            number = answer.get(timeout=TAKE_TIMEOUT_S)
        except gevent.Timeout:
            return None
        finally:
            self._waiting.pop(request_id, None)
        return None if number is None else int(number)

    def finish(self) -> None:
        super().finish()
        self.runner.send_message(FINISHED, None)

    def _on_op(self, environment: Environment, msg: Message, **_: Any) -> None:
        answer = self._waiting.get(int(msg.data["id"]))
        if answer is not None:
            answer.set(msg.data["number"])


class Worker:
    """One worker: gets the config from the master, runs the users it is given, writes its history."""

    def __init__(
        self,
        master_host: str,
        master_port: int,
        name: str,
        history_dir: Path | None,
        ship_history: bool,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.master_host = master_host
        self.connect_timeout_s = connect_timeout_s
        self.history_dir = history_dir
        self.ship_history = ship_history
        self.user_class = make_user_class(None, "http://127.0.0.1")
        self.environment = Environment(user_classes=[self.user_class])
        self.user_errors: list[str] = []
        self.environment.events.user_error.add_listener(self._on_user_error)  # type: ignore[no-untyped-call]
        self.runner: WorkerRunner = self.environment.create_worker_runner(master_host, master_port)
        self.configured = Event()
        self.finished = Event()
        self.workload: Workload | None = None
        self.history: HistoryWriter | None = None
        self.runner.register_message(CONFIG, self._on_config)
        self.runner.register_message(FINISH, self._on_finish, concurrent=True)

    def _say_hello(self) -> bool:
        """Say hello until the master answers with the config (a master ending its cell does not)."""
        deadline = time.monotonic() + self.connect_timeout_s
        while time.monotonic() < deadline:
            self.runner.send_message(HELLO, {"name": self.name, "ship": self.ship_history})
            if self.configured.wait(timeout=min(HELLO_INTERVAL_S, max(0.0, deadline - time.monotonic()))):
                return True
        return False

    def _on_user_error(self, user_instance: object, exception: BaseException, tb: object) -> None:
        self.user_errors.append(f"{self.name}: {type(exception).__name__}: {exception}")

    def _on_config(self, environment: Environment, msg: Message, **_: Any) -> None:
        if self.configured.is_set():  # an answer to a repeated hello
            return
        config = LoadCellConfig.model_validate_json(msg.data["config"])
        base_url = reachable_base_url(config.base_url, self.master_host)
        if base_url != config.base_url:
            logger.warning("load goes to %s (the master's proxy at %s)", base_url, config.base_url)
            config = config.model_copy(update={"base_url": base_url})
        directory = self.history_dir or Path(config.history_path).parent
        self.history = HistoryWriter(history_file(directory, self.name))
        queue = RemoteOperationQueue(self.runner, config.load.operations)
        self.workload = Workload(config, self.history, queue=queue)
        self.user_class.workload = self.workload
        self.user_class.host = config.base_url
        self.configured.set()

    def _on_finish(self, environment: Environment, msg: Message, **_: Any) -> None:
        if self.workload is not None:
            self.workload.stop_reason = str(msg.data["reason"])
        self.runner.stop()  # kills users still running; each writes its attempt's and op's end
        self.runner.user_greenlets.join(timeout=FINISH_WAIT_S / 2)
        shipped: str | None = None
        if self.history is not None:
            self.history.close()
            if self.ship_history:
                shipped = self.history.path.read_text(encoding="utf-8")
        self.runner.send_message(BYE, {"history": shipped, "errors": self.user_errors})
        self.finished.set()

    def run(self) -> int:
        try:
            if not self._say_hello() or self.workload is None:
                return fail(
                    EXIT_DRIVER_ERROR, f"no config from the master within {self.connect_timeout_s:g} s"
                )
            bound_s = self.workload.config.load.max_duration_s + WORKER_GRACE_S
            self.runner.greenlet.join(timeout=bound_s)  # ends when the master says quit
            if len(self.runner.greenlet):  # a Group: empty once the master said quit
                self.runner.quit()
                return fail(EXIT_DRIVER_ERROR, f"no word from the master for {bound_s:g} s; quit")
        except KeyboardInterrupt:
            return fail(EXIT_INTERRUPTED, "interrupted")
        finally:
            if self.history is not None and not self.finished.is_set():
                self.history.close()
        if self.user_errors:
            return fail(EXIT_DRIVER_ERROR, f"{len(self.user_errors)} error(s) inside users")
        return EXIT_FINISHED
