"""The Docker runtime: a target runs as a container, crashes for real, and restarts on the same data.

Same seam as the process runtime (``harness/runtime/base.py``). What differs, and why:

- Loopback only: containers use the host's network and the target binds 127.0.0.1 on a port the
  harness chose, so no traffic is ever aimed at a bridge address and the fault proxy fronts it as it
  fronts a process.
- A kill is ``docker kill`` (SIGKILL to the container's main process); a restart is a NEW container on
  the same named volume (which holds the target's database) with HARNESS_INCARNATION incremented, as
  the failpoint seed depends on it. A failpoint's exit status (17) is the container's exit status.
- Each incarnation's logs are appended to the cell's ``target.log`` when it ends.
- Everything created carries ``harness.run=<run id>``; ``stop`` removes container and volume, a
  failed start removes what it made, and ``clean_docker`` finds whatever a killed harness left.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import docker.errors
from docker import DockerClient
from docker.models.containers import Container
from docker.models.volumes import Volume

from harness.errors import TargetError
from harness.paths import TARGETS_DIR
from harness.proctable import family
from harness.runtime.base import Endpoint, launch_on_a_free_port
from harness.runtime.buildlog import BuildReporter
from harness.runtime.engine import RUN_LABEL, TARGET_LABEL, clean_docker, connect
from harness.runtime.health import LOG_TAIL_LINES, wait_healthy
from harness.runtime.images import ensure_target_image
from harness.runtime.logcap import CappedLog

__all__ = ["DATA_DIR", "DockerRuntime", "DockerTarget", "clean_docker", "exit_status"]

DATA_DIR = "/data"
DB_PATH = f"{DATA_DIR}/target.db"
STOP_GRACE_S = 3
VARIANT_LABEL = "harness.variant"


def exit_status(docker_code: int) -> int:
    """Docker reports death by signal N as 128 + N; report it as ``Popen`` does (-N), like the
    process runtime, so a SIGKILL reads -9 under both runtimes and a failpoint's 17 stays 17."""
    return -(docker_code - 128) if docker_code > 128 else docker_code


class DockerTarget:
    """One target's containers (one per incarnation) on one host port, with its data mounted.

    ``mounts`` maps a named volume or a host folder to its place in the container (Docker SDK's
    ``volumes`` shape); ``volume``, when given, is the named volume this target owns and removes.
    """

    def __init__(
        self,
        client: DockerClient,
        image: str,
        command: list[str] | None,
        env: dict[str, str],
        labels: dict[str, str],
        endpoint: Endpoint,
        log_path: Path,
        start_timeout_s: float,
        *,
        name: str,
        mounts: dict[str, dict[str, str]],
        volume: Volume | None = None,
        health_path: str = "/health",
    ) -> None:
        self.endpoint = endpoint
        self.incarnation = 0
        self._client = client
        self._image = image
        self._command = command
        self._env = env
        self._labels = labels
        self._name = name
        self._mounts = mounts
        self._volume = volume
        self._health_path = health_path
        self._log_path = log_path
        self._start_timeout_s = start_timeout_s
        self._container: Container | None = None
        self._last_exit: int | None = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------------
    def launch(self) -> float:
        """Start a container for this incarnation and wait for health; returns seconds until healthy."""
        started = time.monotonic()
        assert not self._stopped, "launch after stop"
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
                volumes=self._mounts,
                init=False,
            )
        except docker.errors.DockerException as error:
            raise TargetError(f"could not start a container of {self._image}: {error}") from None
        self._wait_healthy()
        return time.monotonic() - started

    def _wait_healthy(self) -> None:
        wait_healthy(self, f"{self.endpoint.base_url}{self._health_path}", self._start_timeout_s,
                     what="target container", log_path=self._log_path, give_up=self._give_up,
                     serving_pids=self._serving_pids)

    def _serving_pids(self) -> list[int]:
        """The container's processes as the host sees them (it shares the host's network, so the
        host's list of listeners shows its sockets): its first process and its descendants."""
        pid = int(self._state().get("Pid") or 0)
        return list(family(pid)) if pid > 0 else []

    def _give_up(self, timed_out: bool) -> str:
        """A start that failed: the container's last lines (read while it exists), then retire it."""
        tail = self._logs_tail()
        self._retire(kill=timed_out)
        return tail

    def kill(self) -> None:
        self._retire(kill=True)

    def restart(self) -> float:
        self._retire(kill=True)
        self.incarnation += 1
        return self.launch()

    def is_alive(self) -> bool:
        return self._state().get("Running") is True

    def exit_code(self) -> int | None:
        if self._container is None:
            return self._last_exit
        state = self._state()
        if state.get("Running") or state.get("Status") == "created":
            return None
        return exit_status(int(state.get("ExitCode", 0)))

    def stop(self) -> None:
        """Stop the container gracefully, keep its logs, remove it and its own volume. Safe to call twice."""
        self._stopped = True
        try:
            self._retire(kill=False)
        finally:
            volume, self._volume = self._volume, None
            if volume is not None:
                _quietly_remove(volume)

    # -- internals -------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        if self._container is None:
            return {}
        try:
            state: dict[str, Any] = self._client.api.inspect_container(self._container.id)["State"]
        except docker.errors.NotFound:
            return {}
        return state

    def _retire(self, kill: bool = False) -> None:
        """End the current incarnation (SIGKILL, or SIGTERM with a grace period), append its logs to
        the cell's log, remember its exit status, and remove the container."""
        container, self._container = self._container, None
        if container is None:
            return
        try:
            if kill:
                container.kill()
            else:
                container.stop(timeout=STOP_GRACE_S)
        except docker.errors.APIError:
            pass  # already ended (a failpoint), or gone
        try:
            result = self._client.api.wait(container.id, timeout=STOP_GRACE_S + 5)
            self._last_exit = exit_status(int(result.get("StatusCode", 0)))
            self._append_logs(container)
        except docker.errors.DockerException:
            pass
        finally:
            _quietly_remove(container)

    def _append_logs(self, container: Container) -> None:
        log = CappedLog(self._log_path)
        try:
            log.write(f"--- harness: container {container.name} (incarnation {self.incarnation})\n".encode())
            log.write(container.logs(stdout=True, stderr=True))
            log.write(f"--- harness: exit status {self._last_exit}\n".encode())
        finally:
            log.close()

    def _logs_tail(self) -> str:
        if self._container is None:
            return "(no container)"
        try:
            raw: bytes = self._container.logs(stdout=True, stderr=True, tail=LOG_TAIL_LINES)
        except docker.errors.DockerException as error:
            return f"(no logs: {error})"
        return raw.decode(errors="replace").strip() or "(log is empty)"


class DockerRuntime:
    """Starts ``targets/<name>`` from its image (built on first use) as containers on the host network."""

    name = "docker"

    def __init__(
        self,
        run_id: str,
        reporter: BuildReporter,
        start_timeout_s: float = 20.0,
        client: DockerClient | None = None,
        targets_dir: Path = TARGETS_DIR,
    ) -> None:
        self.run_id = run_id
        self.targets_dir = targets_dir
        self.start_timeout_s = start_timeout_s
        self.client = client or connect()
        self._reporter = reporter
        self._images: dict[str, str] = {}
        self._token = secrets.token_hex(3)
        self._started = itertools.count(1)  # next() is atomic: cells at once name containers apart

    def image_for(self, target: str) -> str:
        """The target's image tag, built once per runtime if missing."""
        if target not in self._images:
            self._images[target] = ensure_target_image(
                target, self._reporter, client=self.client, targets_dir=self.targets_dir
            )
        return self._images[target]

    def start(
        self,
        target: str,
        variant: str,
        data_dir: Path,
        log_path: Path,
        env: dict[str, str],
    ) -> DockerTarget:
        data_dir.mkdir(parents=True, exist_ok=True)  # the process runtime's place; kept for parity
        image = self.image_for(target)
        labels = {RUN_LABEL: self.run_id, TARGET_LABEL: target, VARIANT_LABEL: variant}
        container_env = {
            **{key: value for key, value in os.environ.items() if key.startswith("HARNESS_")},
            **env,
            "PYTHONUNBUFFERED": "1",
        }

        def make(endpoint: Endpoint) -> DockerTarget:
            name = f"harness-{target}-{variant}-{self._token}-{next(self._started)}"
            try:
                volume = self.client.volumes.create(name=name, labels=labels)
            except docker.errors.DockerException as error:
                raise TargetError(f"could not create volume {name}: {error}") from None
            command = ["--host", endpoint.host, "--port", str(endpoint.port), "--variant", variant,
                       "--db", DB_PATH]
            return DockerTarget(self.client, image, command, container_env, labels, endpoint, log_path,
                                self.start_timeout_s, name=name, volume=volume,
                                mounts={name: {"bind": DATA_DIR, "mode": "rw"}})

        return launch_on_a_free_port(make)

    def close(self) -> int:
        """Remove whatever this run still has in the engine (the run's last line of defence)."""
        return clean_docker(self.run_id, client=self.client)


def _quietly_remove(thing: Container | Volume) -> None:
    with suppress(docker.errors.APIError):  # NotFound included: already gone
        if isinstance(thing, Container):
            thing.remove(force=True, v=True)
        else:
            thing.remove(force=True)
