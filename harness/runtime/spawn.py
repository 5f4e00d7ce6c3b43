"""How a process target's incarnations are started: a fresh process each, or forked from a fork server.

:class:`ProcessTarget <harness.runtime.process.ProcessTarget>` starts, kills and restarts a target
through a :class:`Spawner`, whatever makes the process: :class:`FreshProcesses` runs the command
anew each time (any command: a user's, a shell line); :class:`ForkServer` serves a Python module
whose imports cost more than its start, from ``harness/runtime/forkserver.py``. Each child it hands
back is the serving process itself, in a session of its own, so ending it (SIGKILL for a crash) ends
the server and everything it started, by process group, as for a fresh process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from harness.errors import TargetError
from harness.pidfiles import PidRegistry
from harness.processes import KILL_WAIT_S, POLL_S, end_group_by_id, end_process
from harness.proctable import process_info

FORK_SERVER_SCRIPT = Path(__file__).with_name("forkserver.py")
MESSAGE_BYTES = 1 << 20
ANSWER_SLICE_S = 0.25
"""How long one wait for the fork server's answer blocks (the whole wait is bounded by the start timeout)."""
LOST_SERVER_CODE = -1
"""What a forked child's exit status reads as once its fork server is gone and so is the child."""


def module_command(interpreter: str, module: str) -> list[str]:
    """``python -P -m module``: run as a module, the current folder kept off ``sys.path``."""
    return [interpreter, "-P", "-m", module]


class Child(Protocol):
    """One running incarnation: its pid (also its process group) and the pipe of its output."""

    pid: int
    command_line: list[str]
    """What ``/proc/<pid>/cmdline`` shows, for the pid registry's check that a pid is still ours."""
    output: IO[bytes]

    def poll(self) -> int | None:
        """Its exit status once it has ended (``-N`` for signal N), else None."""

    def end(self, first_signal: signal.Signals, grace_s: float) -> None:
        """End its process group: ``first_signal``, SIGKILL ``grace_s`` later; reaped on return."""


class Spawner(Protocol):
    """Starts incarnations of one target; closed once, when the target stops for good."""

    def spawn(self, env: Mapping[str, str]) -> Child:
        """Start one, with ``env`` over the target's environment; OSError or TargetError if it cannot."""

    def close(self) -> None:
        """Release what starting incarnations holds (a fork server). Safe to call twice."""


class FreshChild:
    """A child started with ``subprocess.Popen`` in a session of its own."""

    def __init__(self, process: subprocess.Popen[bytes], command: list[str]) -> None:
        assert process.stdout is not None
        self.process = process
        self.pid = process.pid
        self.command_line = command
        self.output: IO[bytes] = process.stdout

    def poll(self) -> int | None:
        return self.process.poll()

    def end(self, first_signal: signal.Signals, grace_s: float) -> None:
        end_process(self.process, first_signal, grace_s)


class FreshProcesses:
    """Each incarnation is a new process running ``command``."""

    def __init__(self, command: list[str], env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.command = command
        self._env = dict(env)
        self._cwd = cwd

    def spawn(self, env: Mapping[str, str]) -> FreshChild:
        process = subprocess.Popen(
            self.command,
            env={**self._env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, ended as a whole
            cwd=self._cwd,
        )
        return FreshChild(process, self.command)

    def close(self) -> None:
        pass


class ForkedChild:
    """A child of the fork server: the server reaps it and tells its exit status.

    Whether it still runs is read from ``/proc`` first, and the server asked only once it does not:
    a question to the server is a round trip through its socket and its Python, and the nemesis asks
    fifty times a second per running cell. Only the server reaps the child, and only when asked, so
    until then its pid cannot be another process's; its start time tells it apart all the same.
    """

    def __init__(self, server: ForkServer, pid: int, output: IO[bytes]) -> None:
        self._server = server
        self.pid = pid
        self.command_line = server.server_command
        self.output = output
        self._code: int | None = None
        info = process_info(pid)
        self._started = None if info is None else info.started

    def poll(self) -> int | None:
        if self._code is None and not self._running():
            self._code = self._server.poll(self.pid)
        return self._code

    def _running(self) -> bool:
        info = process_info(self.pid)  # None once it exited (a zombie until the server reaps it)
        return info is not None and info.started == self._started

    def end(self, first_signal: signal.Signals, grace_s: float) -> None:
        if self.poll() is not None:
            return
        end_group_by_id(self.pid, first_signal, grace_s, self.poll)
        deadline = time.monotonic() + KILL_WAIT_S
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(POLL_S)  # the group is gone: the server reaps it at our next question


class ForkedModule:
    """One target's starts through a shared :class:`ForkServer`: its arguments, its environment."""

    def __init__(self, server: ForkServer, args: list[str], env: Mapping[str, str]) -> None:
        self.command = [*module_command(server.interpreter, server.module), *args]
        """What each start runs, as if started afresh (for the log's banner)."""
        self._server = server
        self._args = args
        self._env = dict(env)
        self._closed = False
        server.acquire()

    def spawn(self, env: Mapping[str, str]) -> ForkedChild:
        if self._closed:
            raise TargetError("the target was stopped; it is not started again")
        return self._server.spawn(self._args, {**self._env, **env})

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._server.release()


class ForkServer:
    """Children running ``python -m module``, forked from a server that imported the module's imports.

    One server serves every target of one module in a run (each :class:`ForkedModule` gives its own
    arguments and environment per start), so the imports are paid for once, not once per cell. It is
    started with the first start asked for (or ahead of it: :meth:`start`) and ended when its last
    user releases it, by
    ``harness clean`` from the pid registry, or on its own when the harness's end of its socket closes.
    """

    def __init__(
        self,
        interpreter: str,
        module: str,
        env: Mapping[str, str],
        *,
        start_timeout_s: float,
        registry: PidRegistry | None,
        log_path: Path,
    ) -> None:
        self.interpreter, self.module = interpreter, module
        self._env = dict(env)
        self._start_timeout_s = start_timeout_s
        self._registry = registry
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()
        self._users = 0
        self.server_command: list[str] = []

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        """One user less; the last one ends the server (it kills any child it still has)."""
        with self._lock:
            self._users -= 1
            if self._users <= 0:
                self._end_server()

    @property
    def pid(self) -> int | None:
        """The server's own pid while it runs."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the server now, not with the first start asked for: it imports while the caller
        goes on, and that first start waits only for what is left of its imports."""
        with self._lock:
            self._started()

    def spawn(self, args: list[str], env: Mapping[str, str], errors: IO[bytes] | None = None) -> ForkedChild:
        """A child running the module with ``args``, in exactly ``env``; its stderr goes to ``errors``
        if given, else with its stdout into the pipe of :attr:`ForkedChild.output`."""
        read_end, write_end = os.pipe()
        try:
            with self._lock:
                control = self._started()
                request = json.dumps({"op": "spawn", "args": args, "env": dict(env)}).encode()
                fds = [write_end] if errors is None else [write_end, errors.fileno()]
                socket.send_fds(control, [request], fds)
                answer = self._answer(control)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return ForkedChild(self, int(answer["pid"]), os.fdopen(read_end, "rb"))

    def poll(self, pid: int) -> int | None:
        """The exit status of child ``pid`` (None while it runs), as its server reaped it."""
        with self._lock:
            control = self._control
            if control is not None:
                try:
                    control.send(json.dumps({"op": "poll", "pid": pid}).encode())
                    code = self._answer(control)["code"]
                    return None if code is None else int(code)
                except (OSError, TargetError):
                    pass
        info = process_info(pid)  # the server is gone; so is its child unless something killed only it
        return None if info is not None and not info.zombie else LOST_SERVER_CODE

    def _end_server(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            end_process(self._process, signal.SIGTERM, KILL_WAIT_S)
            if self._registry is not None:
                self._registry.remove(self._process.pid)
            self._process = None

    def _started(self) -> socket.socket:
        """The server's socket, starting the server first if it is not running."""
        if self._control is not None:
            return self._control
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.server_command = [self.interpreter, "-P", str(FORK_SERVER_SCRIPT), str(theirs.fileno()),
                               self.module]  # fmt: skip
        try:
            with self._log_path.open("ab") as log:  # what the server itself says, should it fail
                self._process = subprocess.Popen(
                    self.server_command,
                    env=self._env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    pass_fds=[theirs.fileno()],
                )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        if self._registry is not None:
            self._registry.add(self._process.pid, self.server_command)
        ours.settimeout(ANSWER_SLICE_S)
        self._control = ours
        return ours

    def _answer(self, control: socket.socket) -> dict[str, Any]:
        """The server's answer, waited for in short slices: a cell on a thread of its own is stopped
        by an exception raised between two bytecodes, never inside one long ``recv``."""
        deadline = time.monotonic() + self._start_timeout_s
        while True:
            try:
                message = control.recv(MESSAGE_BYTES)
                break
            except TimeoutError:
                if time.monotonic() >= deadline:
                    waited = f"{self._start_timeout_s:.0f} s"
                    raise TargetError(f"the fork server did not answer within {waited}") from None
        if not message:
            code = None if self._process is None else self._process.poll()
            raise TargetError(f"the fork server ended (exit status {code}); see {self._log_path}")
        answer: dict[str, Any] = json.loads(message)
        return answer
