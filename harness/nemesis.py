"""The nemesis carries out a fault plan while the load runs, and writes what it did to the history.

Jepsen's word for the fault-injecting actor. It switches the plan's toxics on, kills the target at the
planned times, notices when a failpoint made the target exit on its own, and restarts it on the same
data each time; every step becomes a fault, crash or restart event in the cell's history.

A crash must hit the load, or the cell proves nothing: the kill schedule is measured from the load's
first operation (told by :attr:`Nemesis.load`, which ``run_driver`` feeds), a due kill waits until
an attempt is in flight, and a load with kills planned is held past its budget until the last of
them is made. After the load the history gets how many kills were planned and made, and each
decision the fault proxy's per-request toxics took, with the op it hit; and each decision a saga
hop's proxy took, tagged with its link and the saga it hit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

from harness.errors import TargetError
from harness.faults import FaultPlan, ToxicCall
from harness.history import (
    CrashEvent,
    CrashPlanEvent,
    CrashReason,
    FaultEvent,
    HistoryWriter,
    RestartEvent,
    ToxicHit,
)
from harness.load.link import LoadLink
from harness.proxy.decisions import ToxicDecision
from harness.proxy.toxics.registry import per_request_types
from harness.runtime.base import FAILPOINT_EXIT_STATUS, TargetInstance
from harness.scenario import CLIENT_LINK

WATCH_INTERVAL_S = 0.02
INTERRUPTED_JOIN_S = 2.0
"""How long an interrupted or failed cell waits for the nemesis's thread before tearing down anyway."""
# A queue-backed target resumes its backlog as soon as it starts, so its failpoint can fire again
# before the health check passes: that is one more crash, not a target that cannot start.
MAX_CRASHES_WHILE_RESTARTING = 25
KILL_WAIT_FOR_FLIGHT_S = 10.0
"""How long a due kill waits for an attempt in flight; after that it is not made (and said so)."""

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

    def decisions(self, proxy: str) -> list[ToxicDecision]: ...


def toxic_hits(client: ToxicsApi, proxy_name: str, link: str = CLIENT_LINK) -> list[ToxicHit]:
    """Each per-request decision the proxy has made so far on ``proxy_name`` (on ``link``), as history
    events."""
    return [
        ToxicHit(
            t=decision.t,
            proxy=proxy_name,
            toxic=decision.toxic,
            op_id=decision.op_id,
            action=decision.action,
            detail=decision.detail,
            link=link,
            saga_id=decision.saga_id,
            path=decision.path,
        )
        for decision in client.decisions(proxy_name)
    ]


def hop_proxies(toxics: Sequence[tuple[str, ToxicCall]], client_proxy: str) -> dict[str, str]:
    """The proxies other than the client's that carry a per-request toxic, each with its link (a saga
    hop's): the ones whose decisions go into the history besides the client proxy's."""
    return {
        proxy: toxic.link
        for proxy, toxic in toxics
        if proxy != client_proxy and toxic.type in per_request_types()
    }


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
        *,
        restart_proxy: str | None = None,
    ) -> None:
        self.plan = plan
        self.toxics = [*((proxy_name, toxic) for toxic in plan.toxics), *store_toxics]
        """Each toxic with the proxy it goes on: the target's, or a store's (store latency)."""
        self.client = client
        self.proxy_name = proxy_name
        self.target = target
        """The service killed, watched and restarted: the cell's target, or a saga participant."""
        self.restart_proxy = restart_proxy or proxy_name
        """The proxy in front of ``target``, closed while it restarts (default: ``proxy_name``)."""
        self.history = history
        self.on_event = on_event
        """Told each event as it is recorded (the run fires its ``fault`` hook from it)."""
        self.crashes = 0
        self.kills_made = 0
        self.restart_error: Exception | None = None
        self.load = LoadLink(holds=bool(plan.kill_times_s))
        """The load as it runs: hand it to ``run_driver``; held while kills are to be made."""
        self._pending_kills = list(plan.kill_times_s)
        self._missed_kills: list[str] = []
        self._stop = threading.Event()
        self._target_lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="nemesis", daemon=True)
        self._abandoned = False

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
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        # a restart in progress may take a health check's whole timeout; an interrupted cell must not
        # wait for it (the run ends the target, and anything a late restart started, by process group)
        self._thread.join(None if exc_type is None else INTERRUPTED_JOIN_S)
        self._abandoned = self._thread.is_alive()  # what it still does goes unrecorded: the cell is over
        self.load.release()
        for proxy, toxic in self.toxics:
            try:
                self.client.remove_toxic(proxy, toxic.name)
            finally:
                self._record(FaultEvent(t=time.time(), name=toxic.name, action="off"))
        self._record_crash_plan()
        if self.plan.http_toxics:
            self._record_toxic_hits(self.proxy_name, CLIENT_LINK)
        for proxy, link in hop_proxies(self.toxics, self.proxy_name).items():
            self._record_toxic_hits(proxy, link)
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
        while not self._stop.wait(WATCH_INTERVAL_S):
            with self._target_lock:
                if not self.target.is_alive():
                    self._record_exit()
                    self._restart()
                elif self._pending_kills:
                    self._next_kill()
            if self.restart_error is not None or not self._pending_kills:
                self.load.release()  # after the last kill's restart: the load goes on to meet it
            if self.restart_error is not None:
                return

    def _next_kill(self) -> None:
        """Kill now if the next planned kill is due and an attempt is in flight; give it up if it
        cannot be: the load ended first, or nothing was in flight for ``KILL_WAIT_FOR_FLIGHT_S``."""
        planned_s = self._pending_kills[0]
        elapsed = self.load.elapsed_s()
        if self.load.ended:
            self._miss_kill(planned_s, "the load ended first")
        elif elapsed is None or elapsed < planned_s:
            return
        elif self.load.in_flight > 0:
            self._pending_kills.pop(0)
            issued = time.time()
            self.target.kill()
            self.kills_made += 1
            after = f"{elapsed:.2f} s after the load's first operation"
            self._record_crash("kill", f"SIGKILL {after}", t=issued, planned_s=planned_s)
            self._restart()
        elif elapsed - planned_s > KILL_WAIT_FOR_FLIGHT_S:
            self._miss_kill(planned_s, f"nothing in flight for {KILL_WAIT_FOR_FLIGHT_S:g} s")

    def _miss_kill(self, planned_s: float, why: str) -> None:
        self._pending_kills.remove(planned_s)
        self._missed_kills.append(f"kill at {planned_s:g} s not made: {why}")

    def _record_crash_plan(self) -> None:
        """Planned against made kills, so a checker can tell a cell whose crashes never happened."""
        planned = len(self.plan.kill_times_s)
        if not planned:
            return
        for planned_s in list(self._pending_kills):
            self._miss_kill(planned_s, "the load ended first")
        self.history.append(
            CrashPlanEvent(
                t=time.time(),
                planned=planned,
                made=self.kills_made,
                load_started_t=self.load.first_op_at,
                detail="; ".join(self._missed_kills),
            )
        )

    def _record_toxic_hits(self, proxy: str, link: str) -> None:
        """Each per-request decision made on ``proxy``, with the op (or on a hop, the saga) it hit."""
        for hit in toxic_hits(self.client, proxy, link):
            self.history.append(hit)

    def _record_exit(self) -> None:
        code = self.target.exit_code()
        reason: CrashReason = "failpoint" if code == FAILPOINT_EXIT_STATUS else "unexpected"
        self._record_crash(reason, f"exit status {code}")

    def _record_crash(
        self, reason: CrashReason, detail: str, t: float | None = None, planned_s: float | None = None
    ) -> None:
        """Count and record a crash at ``t`` (default: now, when it was noticed)."""
        self.crashes += 1
        moment = time.time() if t is None else t
        self._record(CrashEvent(t=moment, reason=reason, detail=detail, planned_s=planned_s))

    def _restart(self) -> None:
        # Like a load balancer that routes nothing to an instance before its health check passes:
        # while the target restarts its port stays closed to the load, so retries cannot reach it
        # (and fire its failpoints) before it is healthy.
        try:
            self.client.set_enabled(self.restart_proxy, False)
            try:
                downtime = self._restart_through_failpoints()
            finally:
                self.client.set_enabled(self.restart_proxy, True)
        except Exception as error:  # noqa: BLE001 - reported after the load, not lost in a thread
            self.restart_error = error
            return
        self._record(RestartEvent(t=time.time(), downtime_s=round(downtime, 3)))

    def _record(self, event: NemesisEvent) -> None:
        if self._abandoned:
            return
        try:
            self.history.append(event)
        except ValueError:  # the history closed under a thread the interrupted cell stopped waiting for
            if self._abandoned:
                return
            raise
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
