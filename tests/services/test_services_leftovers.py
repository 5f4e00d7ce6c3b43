"""What ``harness clean`` removes after a store server died by SIGKILL: its shared memory."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from harness.pidfiles import PidRegistry
from harness.proctable import family, wait_gone
from harness.services import ServiceSet
from harness.shm import SYSV_TABLE, SharedMemory
from tests.services.conftest import require


def sysv_ids() -> set[int]:
    return {int(line.split()[1]) for line in SYSV_TABLE.read_text().splitlines()[1:]}


def recorded_memory(registry: PidRegistry, pid: int) -> SharedMemory:
    return SharedMemory.from_json(json.loads((registry.folder / f"{pid}.json").read_text())["shared_memory"])


def test_clean_removes_the_shared_memory_of_a_postmaster_killed_by_sigkill(tmp_path: Path) -> None:
    require("postgres")
    registry = PidRegistry(tmp_path / "pids")
    services = ServiceSet.start(["postgres"], tmp_path, registry)
    try:
        [postmaster] = services.pids()["postgres"][:1]
        memory = recorded_memory(registry, postmaster)
        assert memory.segments and memory.files  # the System V segment and the /dev/shm control segment
        everything = family(postmaster)
        for pid in everything:  # the OOM killer, or `kill -9` of the whole tree
            os.kill(pid, signal.SIGKILL)
        assert wait_gone(everything, timeout_s=10.0) == []
        assert {segment.shmid for segment in memory.segments} <= sysv_ids()  # left behind
        assert all(Path(name).exists() for name in memory.files)
        registry.clean()
        assert not {segment.shmid for segment in memory.segments} & sysv_ids()
        assert not any(Path(name).exists() for name in memory.files)
    finally:
        services.stop()


def test_clean_after_the_harness_was_killed_leaves_no_postgres_shared_memory(tmp_path: Path) -> None:
    require("postgres")
    registry = PidRegistry(tmp_path / "pids")
    services = ServiceSet.start(["postgres"], tmp_path, registry)
    try:
        [postmaster] = services.pids()["postgres"][:1]
        memory = recorded_memory(registry, postmaster)
        everything = family(postmaster)
        assert registry.clean() == [postmaster]  # the harness is gone; its postmaster still runs
        assert wait_gone(everything, timeout_s=10.0) == []
        assert not {segment.shmid for segment in memory.segments} & sysv_ids()
        assert not any(Path(name).exists() for name in memory.files)
    finally:
        services.stop()
