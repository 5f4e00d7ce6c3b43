"""The seams a :class:`~harness.run.Run` is built from: small protocols, so a unit test passes fakes.

Each is what the run calls and nothing more (as httpx's transport is one method). The real ones:

    Runtime         harness.runtime (process, docker)        start a target, then kill / restart / stop it
    ProxyApi        harness.proxy.client.ProxyClient         create and delete proxies, add and remove toxics
    LoadDriver      harness.load.config.run_driver           run one cell's load, write its history
    ProbeFactory    harness.run.ScenarioProbes               the effects probe of one cell
    NemesisFactory  harness.nemesis.Nemesis                  carry out a fault plan around the load
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from harness.effects import EffectsProbe
from harness.faults import FaultPlan, ToxicCall
from harness.history import HistoryWriter
from harness.load.config import Distribution, LoadCellConfig
from harness.load.link import LoadLink
from harness.nemesis import NemesisEvent, ToxicsApi
from harness.proxy.client import ProxyInfo
from harness.runtime.base import Runtime, TargetInstance

__all__ = ["CellNemesis", "LoadDriver", "NemesisFactory", "ProbeFactory", "ProxyApi", "Runtime"]


class ProxyApi(ToxicsApi, Protocol):
    """The Toxiproxy API calls a run makes, on the server at ``url``."""

    url: str

    def version(self) -> str: ...

    def supports_http_toxics(self) -> bool: ...

    def create_proxy(self, name: str, upstream: str, listen: str = ...) -> ProxyInfo: ...

    def delete_proxy(self, name: str) -> None: ...


class LoadDriver(Protocol):
    """Runs one cell's load as ``config`` says, appending every attempt to ``config.history_path``.

    Calls ``on_progress(completed, total)`` as operations complete; returns once the load is over, or
    raises :class:`~harness.errors.LoadError` (or ``KeyboardInterrupt``) having stopped what it started.
    """

    def __call__(
        self,
        config: LoadCellConfig,
        config_path: Path,
        on_progress: Callable[[int, int], None],
        timeout_s: float,
        distribution: Distribution | None = None,
        link: LoadLink | None = None,
    ) -> object: ...


class ProbeFactory(Protocol):
    """The effects probe of one cell: ``base_url`` is its target's own address (never the proxy's)."""

    def __call__(self, variant: str, fault: str, base_url: str, data_dir: Path) -> EffectsProbe: ...


class CellNemesis(Protocol):
    """A nemesis at work: a context manager whose ``load`` link the load driver keeps informed."""

    load: LoadLink

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any: ...


class NemesisFactory(Protocol):
    """A context manager that carries out ``plan`` while the load runs inside it.

    It records each fault, crash and restart in ``history`` and tells ``on_event`` of each.
    ``target`` is the service it kills and restarts (the cell's target or a saga participant), and
    ``restart_proxy`` the proxy in front of it, closed while it restarts (None: ``proxy_name``).
    """

    def __call__(
        self,
        plan: FaultPlan,
        client: ToxicsApi,
        proxy_name: str,
        target: TargetInstance,
        history: HistoryWriter,
        store_toxics: Sequence[tuple[str, ToxicCall]],
        on_event: Callable[[NemesisEvent], None],
        *,
        restart_proxy: str | None = None,
    ) -> CellNemesis: ...
