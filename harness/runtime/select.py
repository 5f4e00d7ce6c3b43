"""Choosing the runtime for a run: ``process``, ``docker``, or ``auto`` (Docker when an engine answers).

``auto`` says which one it picked, so a report never leaves the reader guessing where targets ran.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable

from harness.errors import HarnessError
from harness.pidfiles import PidRegistry
from harness.runtime.base import Runtime
from harness.runtime.buildlog import BuildReporter, NoteReporter
from harness.runtime.engine import HOW_TO_GET_AN_ENGINE, connect, engine_answers

RUNTIMES = ("process", "docker", "auto")


def select_runtime(
    wanted: str,
    *,
    start_timeout_s: float,
    registry: PidRegistry,
    run_id: str,
    note: Callable[[str], None],
    reporter: BuildReporter | None = None,
) -> Runtime:
    """The runtime ``wanted`` names; images are built on first use, reported through ``reporter``
    (default: step titles through ``note``). Raises a one-line HarnessError for an unknown name or,
    for ``docker``, when no engine answers."""
    if wanted not in RUNTIMES:
        raise HarnessError(f"runtime {wanted!r} is unknown; choose one of {', '.join(RUNTIMES)}")
    registry.note_run(run_id)  # `harness clean` removes the Docker objects of this run only
    if wanted == "auto":
        if engine_answers():
            note("runtime auto: a Docker engine answers, targets run in containers")
            wanted = "docker"
        else:
            note(f"runtime auto: no Docker engine answers, targets run as processes ({HOW_TO_GET_AN_ENGINE})")
            wanted = "process"
    if wanted == "docker":
        from harness.runtime.docker import DockerRuntime  # imports the docker SDK only when used

        runtime = DockerRuntime(
            run_id, reporter or NoteReporter(note), start_timeout_s=start_timeout_s, client=connect()
        )
        # Cells remove their containers as they end, even on Ctrl-C; this catches anything else.
        atexit.register(runtime.close)
        return runtime
    from harness.runtime.process import ProcessRuntime

    return ProcessRuntime(start_timeout_s=start_timeout_s, registry=registry)
