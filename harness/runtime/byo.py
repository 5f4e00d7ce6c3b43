"""Your own service as the target: a command run as a process, a container, or a URL already listening.

The reference targets (``targets/<name>``) go through the run's ``Runtime``; a service the user
brings is started here, from its scenario's ``target`` block, behind the same ``TargetInstance``
seam, so the proxy, the nemesis and the probes cannot tell the difference:

- ``command``: a child process (``ProcessTarget``) on a free loopback port handed over as ``{port}``
  in its command or env; ``{data_dir}`` is the cell's data folder, ``{python}`` this interpreter.
- ``docker``: a container on the host's network (the Docker runtime's labels, so ``harness clean``
  finds it); the cell's data folder is mounted at ``/data``, which ``{data_dir}`` names inside it.
- ``url``: not started by the harness and not stopped by it; crashed and brought back only by the
  scenario's ``kill_command`` and ``restart_command`` (the scenario model refuses crashes otherwise).
"""

from __future__ import annotations

import functools
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harness.errors import PortInUseError, TargetError
from harness.pidfiles import PidRegistry
from harness.ports import LOOPBACK, is_port_free
from harness.runtime.base import Endpoint, Runtime, TargetInstance, launch_on_a_free_port
from harness.runtime.health import HEALTH_POLL_S, is_healthy, log_tail
from harness.runtime.process import ProcessTarget
from harness.scenario import TargetSpec

if TYPE_CHECKING:
    from harness.runtime.docker import DockerTarget

COMMAND_TIMEOUT_S = 60.0


def fill(word: str, *, port: int, data_dir: str, variant: str) -> str:
    """A command word or env value with the harness's placeholders filled in (nothing else touched)."""
    values = {"{port}": str(port), "{data_dir}": data_dir, "{python}": sys.executable, "{variant}": variant}
    for placeholder, value in values.items():
        word = word.replace(placeholder, value)
    return word


def start_target(
    runtime: Runtime,
    spec: TargetSpec,
    variant: str,
    *,
    data_dir: Path,
    log_path: Path,
    env: dict[str, str],
    registry: PidRegistry | None = None,
    run_id: str = "byo",
) -> TargetInstance:
    """Start the target ``spec`` names: a reference target through ``runtime``, any other here."""
    env = {**env, **spec.variant(variant).env}
    if spec.kind == "reference":
        assert spec.name is not None
        return runtime.start(spec.name, variant, data_dir=data_dir, log_path=log_path, env=env)
    data_dir.mkdir(parents=True, exist_ok=True)
    if spec.kind == "command":
        return _start_command(spec, variant, data_dir, log_path, env, registry)
    if spec.kind == "docker":
        return _start_container(spec, variant, data_dir, log_path, env, run_id)
    return UrlTarget.from_spec(spec, variant, log_path)


def _start_command(
    spec: TargetSpec,
    variant: str,
    data_dir: Path,
    log_path: Path,
    env: dict[str, str],
    registry: PidRegistry | None,
) -> ProcessTarget:
    words = spec.variant(variant).command or spec.command
    assert words is not None

    def make(endpoint: Endpoint) -> ProcessTarget:
        filled = functools.partial(fill, port=endpoint.port, data_dir=str(data_dir), variant=variant)
        return ProcessTarget(
            command=[filled(word) for word in words],
            env={**os.environ, **{key: filled(value) for key, value in env.items()}},
            endpoint=endpoint,
            log_path=log_path,
            start_timeout_s=spec.start_timeout_s,
            registry=registry,
            cwd=Path(spec.cwd) if spec.cwd else None,
            health_path=spec.health_path,
        )

    return launch_on_a_free_port(make)


class UrlTarget:
    """A service the user runs; the harness only fronts it, and crashes it with their commands."""

    def __init__(
        self,
        endpoint: Endpoint,
        log_path: Path,
        health_path: str = "/health",
        kill_command: tuple[str, ...] | None = None,
        restart_command: tuple[str, ...] | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        self.endpoint = endpoint
        self._log_path = log_path
        self._health_path = health_path
        self._kill_command = kill_command
        self._restart_command = restart_command
        self._start_timeout_s = start_timeout_s
        self._killed = False

    @classmethod
    def from_spec(cls, spec: TargetSpec, variant: str, log_path: Path) -> UrlTarget:
        url = spec.variant(variant).url or spec.url
        assert url is not None
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None  # the scenario model checked
        target = cls(
            Endpoint(parts.hostname, parts.port),
            log_path,
            spec.health_path,
            spec.kill_command,
            spec.restart_command,
            spec.start_timeout_s,
        )
        health_url = f"{target.endpoint.base_url}{spec.health_path}"
        if not is_healthy(health_url):
            raise TargetError(f"target.url: nothing healthy answers {health_url}")
        return target

    def kill(self) -> None:
        if self._kill_command is None:
            raise TargetError("target.kill_command: a url target cannot be crashed without it")
        self._run("kill_command", self._kill_command)
        self._killed = True

    def restart(self) -> float:
        if self._restart_command is None:
            raise TargetError("target.restart_command: a url target cannot be restarted without it")
        started = time.monotonic()
        if not self._killed and self._kill_command is not None:
            self.kill()
        self._run("restart_command", self._restart_command)
        url = f"{self.endpoint.base_url}{self._health_path}"
        deadline = started + self._start_timeout_s
        while time.monotonic() < deadline:
            if is_healthy(url):
                self._killed = False
                return time.monotonic() - started
            time.sleep(HEALTH_POLL_S)
        raise TargetError(
            f"target.restart_command ran but {url} was not healthy within {self._start_timeout_s:.0f} s"
        )

    def is_alive(self) -> bool:
        return not self._killed

    def exit_code(self) -> int | None:
        return -9 if self._killed else None

    def stop(self) -> None:
        """Nothing to do: the user started the service and keeps it."""

    def _run(self, field: str, command: tuple[str, ...]) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as log:
            log.write(f"--- harness: {field}: {' '.join(command)}\n".encode())
            log.flush()
            try:
                # the command must return (``docker start``, ``systemctl restart``, ``cmd &``)
                completed = subprocess.run(
                    list(command),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=COMMAND_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                raise TargetError(f"target.{field}: {error}") from None
        if completed.returncode != 0:
            raise TargetError(
                f"target.{field} exited with status {completed.returncode} (log {self._log_path}):\n"
                f"{log_tail(self._log_path)}"
            )


# -- containers -------------------------------------------------------------------------------------


def _start_container(
    spec: TargetSpec, variant: str, data_dir: Path, log_path: Path, env: dict[str, str], run_id: str
) -> DockerTarget:
    from harness.runtime.docker import DATA_DIR, DockerTarget  # noqa: PLC0415 - the SDK only when used
    from harness.runtime.engine import RUN_LABEL, TARGET_LABEL, connect

    assert spec.docker is not None
    client = connect()
    image = spec.docker.image or _built_image(client, spec.docker.build or "")
    words = spec.variant(variant).command or spec.command
    port = spec.docker.port
    if port is not None and not is_port_free(port):
        raise PortInUseError(LOOPBACK, port, "target.docker.port")
    name = f"harness-byo-{secrets.token_hex(4)}"
    mounts = {str(data_dir.resolve()): {"bind": DATA_DIR, "mode": "rw"}}

    def make(endpoint: Endpoint) -> DockerTarget:
        filled = functools.partial(fill, port=endpoint.port, data_dir=DATA_DIR, variant=variant)
        return DockerTarget(
            client,
            image,
            None if words is None else [filled(word) for word in words],
            {**{key: filled(value) for key, value in env.items()}, "PYTHONUNBUFFERED": "1"},
            {RUN_LABEL: run_id, TARGET_LABEL: "byo"},
            endpoint,
            log_path,
            spec.start_timeout_s,
            name=name,
            mounts=mounts,
            health_path=spec.health_path,
        )

    return launch_on_a_free_port(make, port=port)


def _built_image(client: Any, folder: str) -> str:
    """An image built from ``folder``'s Dockerfile, tagged by a hash of its files (reused if unchanged)."""
    import docker.errors

    from harness.runtime.images import files_digest  # noqa: PLC0415 - the SDK only when used

    tag = f"harness-byo-{Path(folder).name.lower()}:{files_digest([Path(folder)], Path(folder))}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        try:
            client.images.build(path=folder, tag=tag, rm=True)
        except docker.errors.DockerException as error:
            raise TargetError(f"target.docker.build: could not build {folder}: {error}") from None
    return tag
