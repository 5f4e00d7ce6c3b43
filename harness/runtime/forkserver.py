"""The fork server: imports a Python target's dependencies once, then forks one child per start.

    python -P forkserver.py CONTROL_FD MODULE

Run by path with the standard library only (it must not import the harness into every target). A
crash cell restarts its target about ten times, and a fresh interpreter spends over a second importing
FastAPI before it can bind; a child forked from a parent that already imported it starts in a tenth
of that. The child then runs ``MODULE`` as ``python -m MODULE ARG...`` would, in a session of its own,
so the harness kills the serving process itself, by its own pid and process group, with a real SIGKILL.
The arguments and the whole environment come with each start, so one server serves every cell of a
run whose target runs ``MODULE``.

Only what the module imports at its top level is imported ahead (and so, transitively, what those
modules import), never the module itself: its body may serve (a script with no ``__main__`` guard),
and each child must run it afresh anyway. What the children import only once they run (a library's
lazy imports) is learned from them and imported before the next fork (:class:`LearnedImports`).

The harness talks to it over a ``SOCK_SEQPACKET`` socket (``CONTROL_FD``), one JSON message each way:

- ``{"op": "spawn", "args": [...], "env": {...}}`` with one file descriptor attached (where the
  child's stdout and stderr go), or two (its stdout, its stderr) -> ``{"pid": PID}``;
- ``{"op": "poll", "pid": PID}`` -> ``{"code": null}`` while it runs, else its exit status as
  ``subprocess`` gives it (``-9`` for SIGKILL).

When the socket closes (the harness ended, however it ended) or on SIGTERM, the server kills every
child it still has, by process group, and exits: an interrupted run leaves nothing behind.

A module whose imports patch the process with gevent (the load driver: Locust patches on import) is
served too: the server forks and reaps with the functions ``os`` had before anything was imported
(gevent's work through an event loop the server never runs), and each child
re-initialises gevent's hub, as gevent's own ``fork`` does.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import json
import os
import runpy
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

MESSAGE_BYTES = 1 << 20
OUTPUT_FDS = 2
"""A start brings its stdout's file descriptor and, optionally, its stderr's."""

_fork, _waitpid, _close = os.fork, os.waitpid, os.close
"""The real ones, taken before a preloaded module may monkey-patch ``os``: gevent's ``close`` of a pipe
waits for its event loop, which never runs in the server, so the harness would never see a child's
output end."""


def imports_of(module: str) -> Iterator[str]:
    """The absolute names of the modules ``module``'s source imports at its top level (not inside a
    function: a store's client imported only when that store is used would cost every target)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read(), spec.origin)
    package = module if spec.submodule_search_locations is not None else module.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            relative = "." * node.level + (node.module or "")
            yield importlib.util.resolve_name(relative, package) if node.level else relative


def preload(module: str) -> None:
    """Import what ``module`` imports (and so what those import), never ``module`` itself; a failure
    is left for the child to meet and report in its own log, as a fresh interpreter would."""
    with contextlib.suppress(Exception):
        for name in imports_of(module):
            with contextlib.suppress(Exception):
                importlib.import_module(name)


def exit_code(status: int) -> int:
    """A ``waitpid`` status as ``subprocess.Popen.returncode`` says it: ``-N`` for signal N."""
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


class Children:
    """The children the server forked, and the exit codes of those it reaped."""

    def __init__(self) -> None:
        self.codes: dict[int, int | None] = {}

    def poll(self, pid: int) -> int | None:
        if self.codes.get(pid) is None and pid in self.codes:
            reaped, status = _waitpid(pid, os.WNOHANG)
            if reaped:
                self.codes[pid] = exit_code(status)
        return self.codes.get(pid)

    def kill_all(self) -> None:
        for pid, code in self.codes.items():
            if code is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    _waitpid(pid, 0)


def _reply(control: socket.socket, answer: dict[str, Any]) -> None:
    control.send(json.dumps(answer).encode())


class LearnedImports:
    """What the children imported after they started (a library's lazy imports, the server's event
    loop, the web framework's first request), told over a pipe each; imported before the next fork.

    A module a target imports only once it serves is imported by every fresh child again; the server
    hears of it from the children (an audit hook on ``import``) and imports it before the next fork,
    so from the third incarnation on no child pays for it. A target never restarted costs nothing:
    the names wait in the pipe until a next start is asked for.
    """

    def __init__(self, module: str) -> None:
        self._module = module
        self._pipes: list[int] = []
        self._partial: dict[int, bytes] = {}

    def pipe_for_child(self) -> tuple[int, int]:
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        self._pipes.append(read_end)
        return read_end, write_end

    def close_in_child(self) -> None:
        for read_end in self._pipes:
            _close(read_end)

    def import_what_children_imported(self) -> None:
        for name in self._drain():
            if name not in sys.modules and name not in (self._module, "__main__"):
                with contextlib.suppress(Exception):
                    importlib.import_module(name)

    def _drain(self) -> list[str]:
        names: list[str] = []
        for read_end in list(self._pipes):
            text, ended = self._partial.pop(read_end, b""), False
            try:
                while chunk := os.read(read_end, MESSAGE_BYTES):
                    text += chunk
                ended = True  # the child is gone and everything it wrote has been read
            except BlockingIOError:
                pass
            *complete, rest = text.split(b"\n")
            if ended:
                self._pipes.remove(read_end)
                _close(read_end)
            else:
                self._partial[read_end] = rest
            names += [line.decode() for line in complete if line]
        return names


def report_imports(write_end: int) -> None:
    """In a child: tell the server each module imported from now on (dropped if the pipe is full)."""
    os.set_blocking(write_end, False)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "import":
            with contextlib.suppress(OSError):
                os.write(write_end, f"{args[0]}\n".encode())

    sys.addaudithook(hook)


def serve(control: socket.socket, module: str) -> tuple[list[str], dict[str, str], int] | None:
    """Answer requests until the socket closes (None); in a forked child, its arguments, its whole
    environment and the pipe its imports are told on."""
    server = os.getpid()
    children = Children()
    learned = LearnedImports(module)
    try:
        while True:
            message, fds, _, _ = socket.recv_fds(control, MESSAGE_BYTES, OUTPUT_FDS)
            if not message:
                return None
            request = json.loads(message)
            if request["op"] == "poll":
                _reply(control, {"code": children.poll(int(request["pid"]))})
                continue
            output, errors = fds[0], fds[-1]
            learned.import_what_children_imported()
            read_end, write_end = learned.pipe_for_child()
            session_made, session_told = os.pipe()
            pid = _fork()
            if pid == 0:
                _close(session_made)
                become_child(control, output, errors, session_told)
                learned.close_in_child()
                env = {str(key): str(value) for key, value in request["env"].items()}
                return [str(arg) for arg in request["args"]], env, write_end
            for fd in {output, errors, write_end, session_told}:
                _close(fd)
            # its process group exists before the harness hears its pid: a group killed at once is the
            # child's, not an empty group whose child then lives on (an empty read: it died first)
            os.read(session_made, 1)
            _close(session_made)
            children.codes[pid] = None
            _reply(control, {"pid": pid})
    finally:
        if os.getpid() == server:
            children.kill_all()


def become_child(control: socket.socket, output: int, errors: int, session_told: int) -> None:
    """The forked child: a session of its own (said on ``session_told`` once made), stdout to
    ``output``, stderr to ``errors`` (may be the same), nothing of the server's; gevent's hub, if a
    preloaded module made one, made anew."""
    os.setsid()
    os.write(session_told, b"s")
    _close(session_told)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    control.close()
    os.dup2(output, 1)
    os.dup2(errors, 2)
    for fd in {output, errors}:
        _close(fd)
    gevent = sys.modules.get("gevent")
    if gevent is not None:
        gevent.reinit()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> None:
    control_fd, module = int(argv[1]), argv[2]
    control = socket.socket(fileno=control_fd)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    preload(module)
    child = serve(control, module)
    if child is None:
        return
    args, env, imports_pipe = child
    os.environ.clear()
    os.environ.update(env)
    report_imports(imports_pipe)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv)
