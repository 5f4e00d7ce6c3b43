"""Every error a user can see, in one tree.

A user-facing failure is always one of these, so the CLI can print one line and pick the exit
status without a traceback::

    HarnessError                 exit 2 unless stated: the run could not be made
    ├── ScenarioError            a scenario file is malformed; names file, field and value
    ├── TargetError              a target would not start, or died and would not come back
    │   └── TargetPortTakenError its free port was taken before it bound it (retried on another)
    ├── ServiceError             a store (Postgres, Redis, RabbitMQ, SMTP sink) is missing or failed
    │   └── ServicePortTakenError its free port was taken before it bound it (retried on another)
    ├── DockerUnavailableError   the Docker runtime was asked for but no engine answers
    ├── ImageBuildError          an image could not be built (names the step, shows its last lines)
    ├── PortInUseError           a port the user asked for is taken
    ├── ProxyApiError            the fault proxy's HTTP API refused a call (names the call)
    ├── ProbeError               an effects probe could not read what the target did
    ├── LoadError                the load driver failed before finishing its operations
    │   └── LocustPortTakenError Locust's web UI port was taken before it bound it (retried)
    ├── HistoryError             a history file holds a line that is no event (names file and line)
    └── NotARunFolderError       `harness report` was given a folder no run of this harness wrote

A failed gate is not an error: it is a result, reported with exit status 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_COULD_NOT_RUN = 2


class HarnessError(Exception):
    """Base of every error the harness reports to a user in one line."""

    exit_status = EXIT_COULD_NOT_RUN


SHOWN_VALUE_CHARS = 120
"""A bad value is shown up to this long: a 300-character name or a whole file must not flood the line."""


def shown_value(value: object) -> str:
    """`` (got value)`` for a message about a bad value, or nothing when there is none to show.

    The value's ``repr``, so a NUL, a newline or a terminal escape is shown, never acted on.
    """
    if value is None:
        return ""
    shown = repr(value)
    if len(shown) > SHOWN_VALUE_CHARS:
        shown = f"{shown[:SHOWN_VALUE_CHARS]}… ({len(shown)} characters)"
    return f" (got {shown})"


def describe_invalid(
    error: Mapping[str, Any], *, unknown: str = "unknown field", top: str = "(top level)"
) -> tuple[str, str, object]:
    """One pydantic validation error as (dotted field, problem, value worth showing or None).

    The one wording of every "this field is wrong" message (scenarios, load cells, toxic
    attributes): validators' "Value error, " prefix dropped, an extra field called ``unknown``, and
    no value shown for a missing field, unparsable JSON, or a whole mapping.
    """
    field = ".".join(str(part) for part in error["loc"] if part != "[key]") or top  # a key: its own name
    problem = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        problem = unknown
    value = error.get("input")
    hidden = error["type"] in ("missing", "json_invalid") or isinstance(value, dict)
    return field, problem, None if hidden else value


class ScenarioError(HarnessError):
    """A scenario is malformed: the message names the file, the field and the value at fault."""

    def __init__(self, file: str, field: str, problem: str, value: object = None) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        self.value = value
        super().__init__(f"{file}: {field}: {problem}{shown_value(value)}")


class TargetError(HarnessError):
    """A target service would not start, became unhealthy, or could not be restarted."""


class PortRaceLost(Exception):
    """Mixed into a start error that means: the free port we chose was taken before the server
    bound it. :func:`harness.ports.on_free_port` tries another port on it; nothing else should."""


class TargetPortTakenError(TargetError, PortRaceLost):
    """A target exited (or never answered) because its port was taken between our probe and its bind."""


class ServiceError(HarnessError):
    """A store service is not installed, would not start, or refused to make a cell's resources."""


class ServicePortTakenError(ServiceError, PortRaceLost):
    """The port chosen for a store server was taken between our probe and its bind: try another."""


class DockerUnavailableError(HarnessError):
    """No Docker engine answers, yet the Docker runtime was asked for."""


class ImageBuildError(HarnessError):
    """An image could not be built; the message names the step and shows its last output lines."""


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


class LocustPortTakenError(LoadError, PortRaceLost):
    """Locust's web UI (``harness serve``) exited because its port was taken between our probe and its
    bind: try another."""


class HistoryError(HarnessError):
    """A line of a run's history is not an event the harness writes: the file was edited or damaged."""

    def __init__(self, path: object, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}, line {line}: not a history event: {problem}")


class NotARunFolderError(HarnessError):
    """The folder holds no run record a run of this harness wrote (exit 2)."""
