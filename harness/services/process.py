"""One store server as a child process: its own session, a log file, its group in the registry.

Unlike a target, a store has no ``/health`` URL: readiness is a caller's probe (a SQL connect, a
PING) polled in a bounded loop. A server that must not run as root (Postgres) is started as
another OS user by the child itself (``Popen(user=...)``), so the pid we hold is the server's own
and not that of a ``runuser`` wrapper that would outlive or orphan it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from harness.errors import ServiceError, ServicePortTakenError
from harness.pidfiles import PidRegistry, command_line
from harness.port_holders import lost_port
from harness.ports import looks_like_port_race
from harness.processes import end_process
from harness.proctable import family, kill_leftovers
from harness.runtime.base import Endpoint
from harness.runtime.health import log_tail
from harness.shm import mapped_by

POLL_S = 0.05
STOP_GRACE_S = 5.0


def run_checked(what: str, command: Sequence[str], timeout_s: float, **options: Any) -> str:
    """Run a helper command (``initdb``, ``rabbitmqctl``) to its end: its output, or a ServiceError
    naming ``what`` with that output. ``options`` go to ``subprocess.run`` (user, cwd, env...)."""
    try:
        done = subprocess.run(list(command), capture_output=True, timeout=timeout_s, check=False, **options)
    except subprocess.TimeoutExpired:
        raise ServiceError(f"{what} did not finish within {timeout_s:.0f} s") from None
    output: str = (done.stdout + done.stderr).decode(errors="replace").strip()
    if done.returncode != 0:
        raise ServiceError(f"{what} failed with status {done.returncode}:\n{output}")
    return output


class ServerProcess:
    """A long-running server child, ended with its process group by pid (never by name)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        log_path: Path,
        registry: PidRegistry | None,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self._registry = registry
        self._env = dict(os.environ if env is None else env)
        self._user = user
        self._stop_signal = stop_signal
        self._cwd = cwd or log_path.parent
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def pids(self) -> list[int]:
        """The server and every helper it forked (descendants and process group), while alive."""
        return [] if self._process is None else list(family(self._process.pid))

    def launch(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"--- harness: start {' '.join(self.command)}\n".encode())
        self._log.flush()
        try:
            self._process = subprocess.Popen(
                self.command,
                env=self._env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=self._user,
                group=self._user,
                extra_groups=[] if self._user is not None else None,
                cwd=self._cwd,
            )
        except OSError as error:
            self._close_log()
            raise ServiceError(f"could not start {self.name} ({self.command[0]}): {error}") from None
        if self._registry is not None:
            self._registry.add(self._process.pid, self.command, stop_signal=self._stop_signal)

    def wait_ready(
        self, probe: Callable[[], bool], timeout_s: float, serves: Sequence[Endpoint] = ()
    ) -> float:
        """Poll ``probe`` until it is true; seconds taken, or ServiceError with the log's tail.

        Once it is, every port in ``serves`` must be listened on by this server alone: a probe
        answered by another process holding a port we chose (our server then fails to bind it) is a
        ServicePortTakenError naming the holder, so :func:`~harness.ports.on_free_port` tries another.
        """
        assert self._process is not None
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                self.stop()
                tail = log_tail(self.log_path)
                error = ServicePortTakenError if looks_like_port_race(tail) else ServiceError
                raise error(
                    f"{self.name} exited with status {code} while starting (log {self.log_path}):\n{tail}"
                )
            if probe():
                self._check_own_ports(serves)
                self._register_as_seen()
                return time.monotonic() - started
            time.sleep(POLL_S)
        self.stop()
        tail = log_tail(self.log_path)
        raise ServiceError(f"{self.name} not ready in {timeout_s:.0f} s (log {self.log_path}):\n{tail}")

    def _check_own_ports(self, serves: Sequence[Endpoint]) -> None:
        ours = self.pids()
        for endpoint in serves:
            lost = lost_port(self.name, endpoint.host, endpoint.port, ours, "the readiness probe")
            if lost is not None:
                self.stop()
                raise ServicePortTakenError(f"{lost} (log {self.log_path})")

    def _register_as_seen(self) -> None:
        """Record the command line /proc now shows (a server may have exec'd or renamed itself), so
        ``harness clean``, which matches recorded against seen commands, can still end it; and the
        shared memory it maps, which ``harness clean`` removes if the server dies by SIGKILL."""
        assert self._process is not None
        seen = command_line(self._process.pid)
        if self._registry is not None and seen is not None:
            memory = mapped_by([self._process.pid])
            self._registry.add(self._process.pid, seen, stop_signal=self._stop_signal, shared_memory=memory)

    def stop(self) -> None:
        """The server's own shutdown signal, SIGKILL after a grace period; safe twice.

        Helpers the server forked (Postgres backends, Erlang's port programs) are noted first and
        any still running afterwards are killed too: none may outlive the run.
        """
        process = self._process
        if process is not None:
            helpers = family(process.pid)
            end_process(process, self._stop_signal, STOP_GRACE_S)
            kill_leftovers(helpers)
            if self._registry is not None:
                self._registry.remove(process.pid)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
