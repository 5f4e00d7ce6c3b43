"""What ``harness clean`` removes after a store server died by SIGKILL: its shared memory."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.pidfiles import PidRegistry
from harness.proctable import family, wait_gone
from harness.services import ServiceSet
from harness.shm import SYSV_TABLE, SharedMemory
from tests.services.conftest import require


def sysv_ids() -> set[int]:
    return {int(line.split()[1]) for line in SYSV_TABLE.read_text().splitlines()[1:]}


def recorded_memory(registry: PidRegistry, pid: int) -> SharedMemory:
    return SharedMemory.from_json(json.loads((registry.folder / f"{pid}.json").read_text())["shared_memory"])


@dataclass(frozen=True)
class Postmaster:
    """A real PostgreSQL server the harness started, with what its registry recorded of it."""

    registry: PidRegistry
    pid: int
    memory: SharedMemory
    family: list[int]


@pytest.fixture
def postmaster(tmp_path: Path) -> Iterator[Postmaster]:
    require("postgres")
    registry = PidRegistry(tmp_path / "pids")
    services = ServiceSet.start(["postgres"], tmp_path, registry)
    try:
        [pid] = services.pids()["postgres"][:1]
        yield Postmaster(registry, pid, recorded_memory(registry, pid), family(pid))
    finally:
        services.stop()


def assert_memory_gone(memory: SharedMemory) -> None:
    assert not {segment.shmid for segment in memory.segments} & sysv_ids()
    assert not any(Path(name).exists() for name in memory.files)


def test_clean_removes_the_shared_memory_of_a_postmaster_killed_by_sigkill(postmaster: Postmaster) -> None:
    memory = postmaster.memory
    assert memory.segments and memory.files  # the System V segment and the /dev/shm control segment
    for pid in postmaster.family:  # the OOM killer, or `kill -9` of the whole tree
        os.kill(pid, signal.SIGKILL)
    assert wait_gone(postmaster.family, timeout_s=10.0) == []
    assert {segment.shmid for segment in memory.segments} <= sysv_ids()  # left behind
    assert all(Path(name).exists() for name in memory.files)
    postmaster.registry.clean()
    assert_memory_gone(memory)


def test_clean_after_the_harness_was_killed_leaves_no_postgres_shared_memory(postmaster: Postmaster) -> None:
    assert postmaster.registry.clean() == [postmaster.pid]  # the harness is gone; its postmaster still runs
    assert wait_gone(postmaster.family, timeout_s=10.0) == []
    assert_memory_gone(postmaster.memory)
