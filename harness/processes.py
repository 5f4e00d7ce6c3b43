"""Ending a child the harness started: its whole process group, a polite signal, then SIGKILL.

Every child the harness starts (targets, store servers, the load driver, the embedded fault proxy)
is started in a session of its own (``start_new_session=True``), so its pid is also its process
group's id. Ending the group, not only the pid, ends what the child started in turn: a target
command wrapped in ``sh -c "... app.py ...; echo done"`` leaves no server behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable

from harness.proctable import process_table

DEFAULT_GRACE_S = 3.0
KILL_WAIT_S = 3.0
POLL_S = 0.02


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of process group ``group``, from /proc.

    A group with no process at all, zombies included (the common answer once a child is ended and
    reaped), is told by the kernel at once (signal 0), not by reading every process of the machine."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return []
    except PermissionError:  # a group with someone else's processes in it: /proc tells which
        pass
    return sorted(pid for pid, info in process_table().items() if info.group == group and not info.zombie)


def signal_group(group: int, signum: signal.Signals) -> bool:
    """Send ``signum`` to every process of ``group``; False if the group is empty (or not ours)."""
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_group_gone(group: int, timeout_s: float, reap: Callable[[], object] | None = None) -> bool:
    """Wait, bounded, until no process of ``group`` runs; ``reap`` (the leader's parent reaping it, if
    it ended) is called before each look, so an ended group is told by the kernel, not read from /proc."""
    deadline = time.monotonic() + timeout_s
    while True:
        if reap is not None:
            reap()
        if not group_members(group):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def end_group_by_id(
    group: int,
    first_signal: signal.Signals,
    grace_s: float = DEFAULT_GRACE_S,
    reap: Callable[[], object] | None = None,
) -> bool:
    """End process group ``group``: ``first_signal``, SIGKILL to what is left ``grace_s`` later.

    For a group whose leader is not our child (``harness clean`` after the harness was killed), or is
    reaped by ``reap`` (a fork server's child); returns whether the group is gone.
    """
    if not group_members(group):
        return True
    if (
        first_signal != signal.SIGKILL
        and signal_group(group, first_signal)
        and wait_group_gone(group, grace_s, reap)
    ):
        return True
    signal_group(group, signal.SIGKILL)
    return wait_group_gone(group, KILL_WAIT_S, reap)


def end_process(
    process: subprocess.Popen[bytes],
    first_signal: signal.Signals = signal.SIGTERM,
    grace_s: float = DEFAULT_GRACE_S,
) -> None:
    """End ``process`` and, when it leads its own process group, everything in that group.

    ``first_signal`` first; SIGKILL to whatever still runs ``grace_s`` later. The leader is reaped
    before returning. No-op for a process already ended whose group is empty.
    """
    group = process.pid if _leads_own_group(process) else None
    if group is None:
        _end_one(process, first_signal, grace_s)
        return
    end_group_by_id(group, first_signal, grace_s, process.poll)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_WAIT_S)


def _leads_own_group(process: subprocess.Popen[bytes]) -> bool:
    """Whether the child was started in its own session (its group outlives it while members remain)."""
    if process.poll() is None:
        try:
            return os.getpgid(process.pid) == process.pid
        except ProcessLookupError:
            return False
    return bool(group_members(process.pid))


def _end_one(process: subprocess.Popen[bytes], first_signal: signal.Signals, grace_s: float) -> None:
    if process.poll() is not None:
        return
    try:
        os.kill(process.pid, first_signal)
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:  # it ended between the poll and the signal
        pass
