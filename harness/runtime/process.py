"""The process runtime: a target runs as a child process on a free loopback port.

The default where no Docker engine runs. Each target is started in its own session so a Ctrl-C in the
terminal reaches only the harness, which then ends the child's whole process group (a command wrapped
in ``sh -c`` leaves no server behind); the groups are also written to a registry folder so
``harness clean`` can end what a killed harness left behind. The target's output goes through a pipe
into a size-capped ``target.log`` (``harness/runtime/logcap.py``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from harness.errors import TargetError
from harness.paths import TARGETS_DIR
from harness.pidfiles import PidRegistry
from harness.proctable import family
from harness.runtime.base import Endpoint, launch_on_a_free_port
from harness.runtime.health import log_tail, wait_healthy
from harness.runtime.logcap import PUMP_JOIN_S, CappedLog, pump
from harness.runtime.spawn import Child, ForkedModule, ForkServer, FreshProcesses, Spawner, module_command

STOP_GRACE_S = 3.0


class ProcessTarget:
    """One target process; survives crashes by being restarted on the same port and data.

    Each incarnation comes from ``spawner``: by default a fresh process running ``command`` with
    ``env`` in ``cwd``; the process runtime forks its Python targets from a fork server instead.
    """

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        endpoint: Endpoint,
        log_path: Path,
        start_timeout_s: float,
        registry: PidRegistry | None,
        cwd: Path | None = None,
        health_path: str = "/health",
        *,
        spawner: Spawner | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._health_path = health_path
        self._command = command
        self._spawner = spawner or FreshProcesses(command, env, cwd)
        self._log_path = log_path
        self._start_timeout_s = start_timeout_s
        self._registry = registry
        self._child: Child | None = None
        self._log: CappedLog | None = None
        self._pump: threading.Thread | None = None
        self.incarnation = 0

    @property
    def pid(self) -> int | None:
        """The serving process of the current incarnation (its process group too), once started."""
        return None if self._child is None else self._child.pid

    # -- lifecycle -------------------------------------------------------------------------------
    def launch(self) -> float:
        """Start the process and wait for health; returns seconds until healthy."""
        started = time.monotonic()
        self._log = log = self._log or CappedLog(self._log_path)
        banner = f"--- harness: start incarnation {self.incarnation}: {' '.join(self._command)}\n"
        log.write(banner.encode())
        try:
            self._child = child = self._spawner.spawn({"HARNESS_INCARNATION": str(self.incarnation)})
        except OSError as error:
            raise TargetError(f"could not start target {' '.join(self._command)}: {error}") from None
        self._pump = pump(child.output, log)
        if self._registry is not None:
            self._registry.add(child.pid, child.command_line)
        self._wait_healthy()
        return time.monotonic() - started

    def _wait_healthy(self) -> None:
        url = f"{self.endpoint.base_url}{self._health_path}"
        wait_healthy(self, url, self._start_timeout_s, what="target", log_path=self._log_path,
                     give_up=self._give_up, serving_pids=self._serving_pids)

    def _serving_pids(self) -> list[int]:
        """The current incarnation's processes: the child, what it forked, and its process group."""
        return [] if self._child is None else list(family(self._child.pid))

    def _give_up(self, timed_out: bool) -> str:
        """A start that failed: kill a target that never answered; the log's tail, for the error."""
        if timed_out:
            self._end(signal.SIGKILL)
        else:
            self._drain_log()
        return log_tail(self._log_path)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def restart(self) -> float:
        self._end(signal.SIGKILL)
        self.incarnation += 1
        return self.launch()

    def is_alive(self) -> bool:
        return self._child is not None and self._child.poll() is None

    def exit_code(self) -> int | None:
        return None if self._child is None else self._child.poll()

    def stop(self) -> None:
        try:
            self._end(signal.SIGTERM)
        finally:
            self._spawner.close()

    def _end(self, first_signal: signal.Signals) -> None:
        child = self._child
        if child is not None:
            child.end(first_signal, STOP_GRACE_S)
            if self._registry is not None:
                self._registry.remove(child.pid)
        self._drain_log()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _drain_log(self) -> None:
        """Wait, bounded, until the ended child's last output is in the log (a grandchild that left
        the process group may hold the pipe open; it is not waited for)."""
        if self._pump is not None:
            self._pump.join(timeout=PUMP_JOIN_S)
            self._pump = None


def target_module(target: str, targets_dir: Path = TARGETS_DIR) -> str:
    """The module a reference target runs as: ``targets.<name>.app``, with ``python -P -m``.

    ``-P`` keeps the current folder off ``sys.path``, so ``targets`` is found only where
    :func:`target_env` points PYTHONPATH, whatever folder the harness runs in.
    """
    return f"{targets_dir.name}.{target}.app"


def target_command(target: str, targets_dir: Path = TARGETS_DIR) -> list[str]:
    """How a reference target is started afresh: ``python -P -m targets.<name>.app``, this interpreter."""
    return module_command(sys.executable, target_module(target, targets_dir))


def target_env(env: Mapping[str, str], targets_dir: Path = TARGETS_DIR) -> dict[str, str]:
    """``env`` with the folder that holds ``targets_dir`` first on PYTHONPATH (the package's root)."""
    inherited = env.get("PYTHONPATH")
    root = str(targets_dir.resolve().parent)
    return {**env, "PYTHONPATH": root if not inherited else f"{root}{os.pathsep}{inherited}"}


class ProcessRuntime:
    """Starts ``targets.<name>.app`` as a module, with this interpreter, on a free loopback port.

    Each incarnation is forked from a fork server (``harness/runtime/spawn.py``) that imported the
    target's imports once, shared by the targets of one module: a restart after a crash then takes a
    fraction of a second, not the second and more a fresh interpreter spends importing FastAPI, and
    the cells of a run import it once between them.
    """

    name = "process"

    def __init__(
        self,
        start_timeout_s: float = 20.0,
        registry: PidRegistry | None = None,
        targets_dir: Path = TARGETS_DIR,
    ) -> None:
        self.start_timeout_s = start_timeout_s
        self.registry = registry
        self.targets_dir = targets_dir
        self._fork_servers: dict[tuple[str, str | None], ForkServer] = {}
        self._lock = threading.Lock()

    def start(
        self,
        target: str,
        variant: str,
        data_dir: Path,
        log_path: Path,
        env: dict[str, str],
    ) -> ProcessTarget:
        data_dir.mkdir(parents=True, exist_ok=True)
        target_environ = self._environ(env)
        server = self._fork_server(target_module(target, self.targets_dir), target_environ, log_path)

        def make(endpoint: Endpoint) -> ProcessTarget:
            args = ["--host", endpoint.host, "--port", str(endpoint.port),
                    "--variant", variant, "--db", str(data_dir / "target.db")]  # fmt: skip
            spawner = ForkedModule(server, args, target_environ)
            return ProcessTarget(
                command=spawner.command,
                env=target_environ,
                endpoint=endpoint,
                log_path=log_path,
                start_timeout_s=self.start_timeout_s,
                registry=self.registry,
                spawner=spawner,
            )

        return launch_on_a_free_port(make)

    @contextmanager
    def fork_server_started(self, target: str, env: Mapping[str, str], log_path: Path) -> Iterator[None]:
        """Within the block, the fork server of ``target`` runs from now on, not from the first start:
        it imports the target's imports while the run starts its proxy and its load's fork server, so
        the first cells' targets wait only for what is left of them; it ends with the block (or with
        its last target, if that comes later). ``env`` is the scenario's, as a start would add it."""
        environ = self._environ(env)
        server = self._fork_server(target_module(target, self.targets_dir), environ, log_path)
        server.acquire()
        try:
            server.start()
            yield
        finally:
            server.release()

    def _environ(self, env: Mapping[str, str]) -> dict[str, str]:
        return target_env({**os.environ, **env, "PYTHONUNBUFFERED": "1"}, self.targets_dir)

    def _fork_server(self, module: str, environ: Mapping[str, str], log_path: Path) -> ForkServer:
        """The fork server of ``module``, shared by every target of it that runs with the same
        PYTHONPATH (cells at once, and cells one after another while one is up); its own output, should
        it fail, goes to the log of the target that started it."""
        key = (module, environ.get("PYTHONPATH"))
        with self._lock:
            server = self._fork_servers.get(key)
            if server is None:
                server = ForkServer(sys.executable, module, environ, start_timeout_s=self.start_timeout_s,
                                    registry=self.registry, log_path=log_path)  # fmt: skip
                self._fork_servers[key] = server
            return server
