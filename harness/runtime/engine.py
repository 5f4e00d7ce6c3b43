"""The Docker engine: connecting to it, asking whether one answers, and removing what a run left.

Every container, volume and network the harness creates carries the label ``harness.run=<run id>``;
that label is the whole clean-up contract, so ``clean_docker`` needs no other bookkeeping and also
finds what a killed harness left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import docker
import docker.errors
from docker import DockerClient

from harness.errors import DockerUnavailableError

RUN_LABEL = "harness.run"
TARGET_LABEL = "harness.target"
"""On target images and containers: which target (a reference target's name, or ``byo``)."""
CONNECT_TIMEOUT_S = 5.0
API_TIMEOUT_S = 120.0


HOW_TO_GET_AN_ENGINE = (
    "install one (apt-get install docker.io) and start it (dockerd, or `systemctl start docker`), "
    "or run `.ci/ensure-docker`; or use --runtime process"
)


def connect(timeout_s: float = API_TIMEOUT_S) -> DockerClient:
    """A client for the engine named by DOCKER_HOST (default: the local socket), checked with a ping."""
    try:
        client = docker.from_env(version="auto", timeout=int(timeout_s))
        client.ping()
    except (docker.errors.DockerException, OSError) as error:
        raise DockerUnavailableError(
            f"no Docker engine answers ({_first_line(error)}): {HOW_TO_GET_AN_ENGINE}"
        ) from None
    return client


def engine_answers() -> bool:
    """Whether a Docker engine answers right now (used by ``--runtime auto``)."""
    try:
        connect(CONNECT_TIMEOUT_S).close()
    except DockerUnavailableError:
        return False
    return True


def run_filter(run_id: str | None) -> dict[str, list[str]]:
    """The label filter for one run's objects, or for every run's when ``run_id`` is None."""
    return {"label": [RUN_LABEL if run_id is None else f"{RUN_LABEL}={run_id}"]}


def clean_docker(run_id: str | None = None, client: DockerClient | None = None) -> int:
    """Remove every container, volume and network labelled with ``run_id`` (any run when None).

    Containers go first (a volume in use cannot be removed). Returns how many objects were removed.
    """
    own_client = client is None
    client = client or connect()
    filters = run_filter(run_id)
    removed = 0
    try:
        for container in client.containers.list(all=True, filters=filters):
            removed += _removed(partial(container.remove, force=True, v=True))
        for volume in client.volumes.list(filters=filters):
            removed += _removed(partial(volume.remove, force=True))
        for network in client.networks.list(filters=filters):
            removed += _removed(network.remove)
    finally:
        if own_client:
            client.close()
    return removed


def labelled_runs(client: DockerClient | None = None) -> set[str]:
    """The run ids that label any container or volume on the engine (every run's, any owner's)."""
    own_client = client is None
    client = client or connect()
    try:
        everyone = run_filter(None)
        labels = [container.labels for container in client.containers.list(all=True, filters=everyone)]
        labels += [volume.attrs.get("Labels") or {} for volume in client.volumes.list(filters=everyone)]
        return {str(label[RUN_LABEL]) for label in labels if RUN_LABEL in label}
    finally:
        if own_client:
            client.close()


def _removed(remove: Callable[[], object]) -> int:
    try:
        remove()
    except docker.errors.NotFound:
        return 0  # removed meanwhile (auto-remove, a concurrent clean): not ours to count
    return 1


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]
