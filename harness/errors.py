"""Every error a user can see, in one tree.

A user-facing failure is always one of these, so the CLI can print one line and pick the exit
status without a traceback::

    HarnessError                 exit 2 unless stated: the run could not be made
    ├── ScenarioError            a scenario file is malformed; names file, field and value
    ├── TargetError              a target would not start, or died and would not come back
    │   └── TargetPortTakenError its free port was taken before it bound it (retried on another)
    ├── PortInUseError           a port the user asked for is taken
    ├── ProxyApiError            the fault proxy's HTTP API refused a call (names the call)
    ├── ProbeError               an effects probe could not read what the target did
    └── LoadError                the load driver failed before finishing its operations

A failed gate is not an error: it is a result, reported with exit status 1.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_COULD_NOT_RUN = 2


class HarnessError(Exception):
    """Base of every error the harness reports to a user in one line."""

    exit_status = EXIT_COULD_NOT_RUN


class ScenarioError(HarnessError):
    """A scenario is malformed: the message names the file, the field and the value at fault."""

    def __init__(self, file: str, field: str, problem: str, value: object = None) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        self.value = value
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"{file}: {field}: {problem}{shown}")


class TargetError(HarnessError):
    """A target service would not start, became unhealthy, or could not be restarted."""


class PortRaceLost(Exception):
    """Mixed into a start error that means: the free port we chose was taken before the server
    bound it. :func:`harness.ports.on_free_port` tries another port on it; nothing else should."""


class TargetPortTakenError(TargetError, PortRaceLost):
    """A target exited (or never answered) because its port was taken between our probe and its bind."""


class PortInUseError(HarnessError):
    """A port that was asked for explicitly is already taken."""

    def __init__(self, host: str, port: int, what: str = "listen address") -> None:
        self.host = host
        self.port = port
        super().__init__(f"{what} {host}:{port} is already in use")


class ProxyApiError(HarnessError):
    """The fault proxy's HTTP API refused a call; the message names the request."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        super().__init__(f"fault proxy refused {method} {path}: HTTP {status}: {message}")


class ProbeError(HarnessError):
    """An effects probe could not read what the target really did."""


class LoadError(HarnessError):
    """The load driver could not run its operations."""
