"""The Runtime seam: what the run needs from anything that hosts a target service.

Small on purpose (as httpx's transport is one method): the process runtime, the Docker runtime and
in-memory fakes in unit tests all fit it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from harness.ports import LOOPBACK, on_free_port

FAILPOINT_EXIT_STATUS = 17
"""What a reference target exits with when one of its failpoints fires (``targetkit/failpoints.py``)."""


@dataclass(frozen=True)
class Endpoint:
    """Where a target listens; always a loopback address."""

    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"


class TargetInstance(Protocol):
    """One running target (one variant under one fault) that the run may crash and restart."""

    endpoint: Endpoint

    def kill(self) -> None:
        """Kill the target abruptly (SIGKILL): no clean shutdown, in-flight work is lost."""

    def restart(self) -> float:
        """Start it again on the same data and port; returns the seconds until healthy."""

    def is_alive(self) -> bool:
        """Whether the target process is still running (a failpoint may have ended it)."""

    def exit_code(self) -> int | None:
        """The exit status of the last incarnation if it has ended, else None."""

    def stop(self) -> None:
        """End it for good and release everything it holds. Safe to call twice."""


class Runtime(Protocol):
    """Starts targets. ``name`` is what the user sees (``process``, ``docker``)."""

    name: str

    def start(
        self,
        target: str,
        variant: str,
        data_dir: Path,
        log_path: Path,
        env: dict[str, str],
    ) -> TargetInstance:
        """Start ``targets/<target>`` as ``variant``, wait for health, or raise TargetError."""


class Launchable(Protocol):
    """A target not yet started: launched once, stopped whatever happens."""

    def launch(self) -> float: ...

    def stop(self) -> None: ...


_Target = TypeVar("_Target", bound=Launchable)


def launch_on_a_free_port(make: Callable[[Endpoint], _Target], *, port: int | None = None) -> _Target:
    """Launch what ``make`` builds for a loopback endpoint, on a free port unless ``port`` is fixed.

    :func:`~harness.ports.on_free_port` tries a new port when the start lost its port in a race;
    whatever ends a start (an error, Ctrl-C) first stops the half-started target, so nothing is
    left running.
    """

    def launch(chosen: int) -> _Target:
        instance = make(Endpoint(LOOPBACK, chosen))
        try:
            instance.launch()
        except BaseException:
            instance.stop()
            raise
        return instance

    return on_free_port(launch, port=port)
