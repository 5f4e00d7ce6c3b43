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
import hashlib
import os
import secrets
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness.errors import PortInUseError, TargetError
from harness.pidfiles import PidRegistry
from harness.ports import LOOPBACK, free_port, is_port_free
from harness.runtime.base import Endpoint, Runtime, TargetInstance
from harness.runtime.process import HEALTH_POLL_S, ProcessTarget, log_tail
from harness.scenario import TargetSpec

CONTAINER_DATA_DIR = "/data"
PORT_ATTEMPTS = 3
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
    last_error: TargetError | None = None
    for _ in range(PORT_ATTEMPTS):  # a free port can be taken between our probe and the service's bind
        endpoint = Endpoint(LOOPBACK, free_port())
        filled = functools.partial(fill, port=endpoint.port, data_dir=str(data_dir), variant=variant)
        instance = ProcessTarget(
            command=[filled(word) for word in words],
            env={**os.environ, **{key: filled(value) for key, value in env.items()}},
            endpoint=endpoint,
            log_path=log_path,
            start_timeout_s=spec.start_timeout_s,
            registry=registry,
            cwd=Path(spec.cwd) if spec.cwd else None,
            health_path=spec.health_path,
        )
        try:
            instance.launch()
            return instance
        except TargetError as error:
            instance.stop()
            if "address already in use" not in str(error).lower():
                raise
            last_error = error
    assert last_error is not None
    raise last_error


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
        if not _healthy(health_url):
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
            if _healthy(url):
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


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


# -- containers -------------------------------------------------------------------------------------
_BUILT: dict[str, str] = {}


def _start_container(
    spec: TargetSpec, variant: str, data_dir: Path, log_path: Path, env: dict[str, str], run_id: str
) -> ContainerTarget:
    from harness.runtime.engine import connect

    assert spec.docker is not None
    client = connect()
    image = spec.docker.image or _built_image(client, spec.docker.build or "", log_path)
    words = spec.variant(variant).command or spec.command
    for _ in range(PORT_ATTEMPTS):
        if spec.docker.port is not None:
            if not is_port_free(spec.docker.port):
                raise PortInUseError(LOOPBACK, spec.docker.port, "target.docker.port")
            endpoint = Endpoint(LOOPBACK, spec.docker.port)
        else:
            endpoint = Endpoint(LOOPBACK, free_port())
        filled = functools.partial(fill, port=endpoint.port, data_dir=CONTAINER_DATA_DIR, variant=variant)
        instance = ContainerTarget(
            client,
            image,
            None if words is None else [filled(word) for word in words],
            {**{key: filled(value) for key, value in env.items()}, "PYTHONUNBUFFERED": "1"},
            run_id,
            data_dir,
            endpoint,
            log_path,
            spec.health_path,
            spec.start_timeout_s,
        )
        try:
            instance.launch()
            return instance
        except TargetError as error:
            instance.stop()
            if "address already in use" not in str(error).lower() or spec.docker.port is not None:
                raise
        except BaseException:
            instance.stop()
            raise
    raise TargetError(f"target.docker: no free port after {PORT_ATTEMPTS} tries")


def _built_image(client: Any, folder: str, log_path: Path) -> str:
    """An image built from ``folder``'s Dockerfile, tagged by a hash of its files (reused if unchanged)."""
    import docker.errors

    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    tag = f"harness-byo-{Path(folder).name.lower()}:{digest.hexdigest()[:16]}"
    if tag in _BUILT:
        return tag
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        try:
            client.images.build(path=folder, tag=tag, rm=True)
        except docker.errors.DockerException as error:
            raise TargetError(f"target.docker.build: could not build {folder}: {error}") from None
    _BUILT[tag] = tag
    return tag


class ContainerTarget:
    """One container per incarnation, on the host's network, with the cell's data folder at /data."""

    def __init__(
        self,
        client: Any,
        image: str,
        command: list[str] | None,
        env: dict[str, str],
        run_id: str,
        data_dir: Path,
        endpoint: Endpoint,
        log_path: Path,
        health_path: str,
        start_timeout_s: float,
    ) -> None:
        from harness.runtime.engine import RUN_LABEL

        self.endpoint = endpoint
        self.incarnation = 0
        self._client = client
        self._image = image
        self._command = command
        self._env = env
        self._labels = {RUN_LABEL: run_id, "harness.target": "byo"}
        self._data_dir = data_dir
        self._log_path = log_path
        self._health_path = health_path
        self._start_timeout_s = start_timeout_s
        self._name = f"harness-byo-{secrets.token_hex(4)}"
        self._container: Any = None
        self._last_exit: int | None = None

    def launch(self) -> float:
        import docker.errors

        started = time.monotonic()
        self._last_exit = None
        try:
            self._container = self._client.containers.run(
                self._image,
                self._command,
                name=f"{self._name}-{self.incarnation}",
                detach=True,
                environment={**self._env, "HARNESS_INCARNATION": str(self.incarnation)},
                labels=self._labels,
                network_mode="host",
                volumes={str(self._data_dir.resolve()): {"bind": CONTAINER_DATA_DIR, "mode": "rw"}},
            )
        except docker.errors.DockerException as error:
            raise TargetError(f"could not start a container of {self._image}: {error}") from None
        url = f"{self.endpoint.base_url}{self._health_path}"
        deadline = started + self._start_timeout_s
        while time.monotonic() < deadline:
            if not self.is_alive():
                self._retire()
                raise TargetError(
                    f"target container exited with status {self._last_exit} before it was healthy "
                    f"(log {self._log_path}):\n{log_tail(self._log_path)}"
                )
            if _healthy(url):
                return time.monotonic() - started
            time.sleep(HEALTH_POLL_S)
        self._retire(kill=True)
        raise TargetError(
            f"target container did not answer {url} within {self._start_timeout_s:.0f} s "
            f"(log {self._log_path}):\n{log_tail(self._log_path)}"
        )

    def kill(self) -> None:
        self._retire(kill=True)

    def restart(self) -> float:
        self._retire(kill=True)
        self.incarnation += 1
        return self.launch()

    def is_alive(self) -> bool:
        return self._state().get("Running") is True

    def exit_code(self) -> int | None:
        from harness.runtime.docker import exit_status

        if self._container is None:
            return self._last_exit
        state = self._state()
        if state.get("Running") or state.get("Status") == "created":
            return None
        return exit_status(int(state.get("ExitCode", 0)))

    def stop(self) -> None:
        self._retire(kill=False)

    def _state(self) -> dict[str, Any]:
        import docker.errors

        if self._container is None:
            return {}
        try:
            state: dict[str, Any] = self._client.api.inspect_container(self._container.id)["State"]
        except docker.errors.NotFound:
            return {}
        return state

    def _retire(self, kill: bool = False) -> None:
        import docker.errors

        from harness.runtime.docker import exit_status

        container, self._container = self._container, None
        if container is None:
            return
        with suppress(docker.errors.APIError):
            if kill:
                container.kill()
            else:
                container.stop(timeout=3)
        try:
            result = self._client.api.wait(container.id, timeout=10)
            self._last_exit = exit_status(int(result.get("StatusCode", 0)))
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            with self._log_path.open("ab") as log:
                log.write(f"--- harness: container {container.name}\n".encode())
                log.write(container.logs(stdout=True, stderr=True))
                log.write(f"--- harness: exit status {self._last_exit}\n".encode())
        except docker.errors.DockerException:
            pass
        finally:
            with suppress(docker.errors.APIError):
                container.remove(force=True)
