"""The nemesis carries out a fault plan while the load runs, and writes what it did to the history.

Jepsen's word for the fault-injecting actor. It switches the plan's toxics on, kills the target at the
planned times, notices when a failpoint made the target exit on its own, and restarts it on the same
data each time; every step becomes a fault, crash or restart event in the cell's history.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

from harness.errors import TargetError
from harness.faults import FaultPlan, ToxicCall
from harness.history import CrashEvent, CrashReason, FaultEvent, HistoryWriter, RestartEvent
from harness.runtime.base import FAILPOINT_EXIT_STATUS, TargetInstance

WATCH_INTERVAL_S = 0.02
# A queue-backed target resumes its backlog as soon as it starts, so its failpoint can fire again
# before the health check passes: that is one more crash, not a target that cannot start.
MAX_CRASHES_WHILE_RESTARTING = 25

NemesisEvent = FaultEvent | CrashEvent | RestartEvent
"""What the nemesis records in a cell's history."""


class ToxicsApi(Protocol):
    """The two Toxiproxy API calls the nemesis needs (``ProxyClient`` has them)."""

    def add_toxic(
        self,
        proxy: str,
        type: str,
        stream: str = ...,
        toxicity: float = ...,
        attributes: dict[str, Any] | None = ...,
        name: str | None = ...,
    ) -> Any: ...

    def remove_toxic(self, proxy: str, name: str) -> Any: ...

    def set_enabled(self, name: str, enabled: bool) -> Any: ...


class Nemesis:
    """Runs one plan against one proxy and one target; use as a context manager around the load."""

    def __init__(
        self,
        plan: FaultPlan,
        client: ToxicsApi,
        proxy_name: str,
        target: TargetInstance,
        history: HistoryWriter,
        store_toxics: Sequence[tuple[str, ToxicCall]] = (),
        on_event: Callable[[NemesisEvent], None] | None = None,
    ) -> None:
        self.plan = plan
        self.toxics = [*((proxy_name, toxic) for toxic in plan.toxics), *store_toxics]
        """Each toxic with the proxy it goes on: the target's, or a store's (store latency)."""
        self.client = client
        self.proxy_name = proxy_name
        self.target = target
        self.history = history
        self.on_event = on_event
        """Told each event as it is recorded (the run fires its ``fault`` hook from it)."""
        self.crashes = 0
        self.restart_error: Exception | None = None
        self._stop = threading.Event()
        self._target_lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="nemesis", daemon=True)
        self._started_at = 0.0

    def __enter__(self) -> Nemesis:
        for proxy, toxic in self.toxics:
            self.client.add_toxic(
                proxy,
                type=toxic.type,
                stream=toxic.stream,
                toxicity=toxic.toxicity,
                attributes=toxic.attributes,
                name=toxic.name,
            )
            self._record(
                FaultEvent(t=time.time(), name=toxic.name, action="on", detail=_describe(toxic.attributes))
            )
        self._started_at = time.monotonic()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        for proxy, toxic in self.toxics:
            try:
                self.client.remove_toxic(proxy, toxic.name)
            finally:
                self._record(FaultEvent(t=time.time(), name=toxic.name, action="off"))
        if exc_type is None:
            self.ensure_target_alive()

    def ensure_target_alive(self) -> None:
        """After the load: a target a failpoint ended must be back up for the effects probe."""
        with self._target_lock:
            if not self.target.is_alive():
                self._record_exit()
                self._restart()
        if self.restart_error is not None:
            raise self.restart_error

    def _watch(self) -> None:
        pending_kills = list(self.plan.kill_times_s)
        while not self._stop.wait(WATCH_INTERVAL_S):
            elapsed = time.monotonic() - self._started_at
            with self._target_lock:
                if pending_kills and elapsed >= pending_kills[0]:
                    pending_kills.pop(0)
                    if self.target.is_alive():
                        self.target.kill()
                        self._record_crash("kill", f"SIGKILL at {elapsed:.2f} s")
                        self._restart()
                elif not self.target.is_alive():
                    self._record_exit()
                    self._restart()
            if self.restart_error is not None:
                return

    def _record_exit(self) -> None:
        code = self.target.exit_code()
        reason: CrashReason = "failpoint" if code == FAILPOINT_EXIT_STATUS else "unexpected"
        self._record_crash(reason, f"exit status {code}")

    def _record_crash(self, reason: CrashReason, detail: str) -> None:
        self.crashes += 1
        self._record(CrashEvent(t=time.time(), reason=reason, detail=detail))

    def _restart(self) -> None:
        # Like a load balancer that routes nothing to an instance before its health check passes:
        # while the target restarts its port stays closed to the load, so retries cannot reach it
        # (and fire its failpoints) before it is healthy.
        try:
            self.client.set_enabled(self.proxy_name, False)
            try:
                downtime = self._restart_through_failpoints()
            finally:
                self.client.set_enabled(self.proxy_name, True)
        except Exception as error:  # noqa: BLE001 - reported after the load, not lost in a thread
            self.restart_error = error
            return
        self._record(RestartEvent(t=time.time(), downtime_s=round(downtime, 3)))

    def _record(self, event: NemesisEvent) -> None:
        self.history.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _restart_through_failpoints(self) -> float:
        """Restart until healthy; the downtime counts the tries that crashed on their way up."""
        failed_tries_s = 0.0
        for _ in range(MAX_CRASHES_WHILE_RESTARTING):
            started = time.monotonic()
            try:
                return failed_tries_s + self.target.restart()
            except TargetError:
                failed_tries_s += time.monotonic() - started
                if self.target.exit_code() != FAILPOINT_EXIT_STATUS:
                    raise
                self._record_crash("failpoint", f"exit status {FAILPOINT_EXIT_STATUS} while restarting")
        raise TargetError(
            f"the target's failpoints fired {MAX_CRASHES_WHILE_RESTARTING} times in a row while it "
            "restarted; lower the failpoint probability"
        )


def _describe(attributes: dict[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(attributes.items()))
