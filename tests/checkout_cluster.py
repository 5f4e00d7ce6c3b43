"""The checkout saga as the harness will run it: four processes, each started by the process runtime.

Each process gets its own data folder (its own store) and log; the orchestrator is pointed at each
participant's base URL. Every process is ended by the runtime (its own process group, by pid) when the
block ends, whatever happened.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.runtime.process import ProcessRuntime, ProcessTarget

PARTICIPANTS = ("payments", "inventory", "shipping")
CHECKOUT_TIMEOUT_S = 30.0
FAST_ORCHESTRATOR = {"CHECKOUT_STEP_TIMEOUT_MS": "300", "CHECKOUT_RETRY_BACKOFF_MS": "100"}


def checkout_body(reference: str, *, amount: int = 700, quantity: int = 2) -> dict[str, Any]:
    return {"customer": "cus_1", "amount": amount, "sku": "sku_1", "quantity": quantity,
            "address": "1 Main St", "reference": reference}


@dataclass
class Cluster:
    processes: dict[str, ProcessTarget]

    @property
    def orchestrator(self) -> ProcessTarget:
        return self.processes["orchestrator"]

    def url(self, role: str) -> str:
        return self.processes[role].endpoint.base_url

    def checkout(self, body: Mapping[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return httpx.post(f"{self.url('orchestrator')}/checkouts", json=dict(body), headers=headers,
                          timeout=CHECKOUT_TIMEOUT_S)

    def get(self, role: str, path: str) -> Any:
        response = httpx.get(f"{self.url(role)}{path}", timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def sagas(self) -> list[dict[str, Any]]:
        sagas: list[dict[str, Any]] = self.get("orchestrator", "/sagas")
        return sagas

    def ledger(self, role: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.get(role, "/ledger")
        return rows

    def kinds(self, role: str) -> list[tuple[str, int]]:
        """The participant's ledger as (kind, amount) pairs, oldest first."""
        return [(row["kind"], row["amount"]) for row in self.ledger(role)]

    def level(self, role: str, item: str) -> int:
        state = self.get(role, "/state")
        level: int = state["levels"].get(item, state["initial_level"])
        return level


@contextmanager
def running_cluster(tmp_path: Path, variant: str, *, orchestrator_env: Mapping[str, str] | None = None,
                    participant_env: Mapping[str, Mapping[str, str]] | None = None) -> Iterator[Cluster]:
    """Start the three participants (at once), then the orchestrator pointed at them."""
    runtime = ProcessRuntime()
    processes: dict[str, ProcessTarget] = {}

    def start(role: str, env: Mapping[str, str]) -> ProcessTarget:
        target = runtime.start("checkout", variant, tmp_path / role, tmp_path / f"{role}.log",
                               {"CHECKOUT_ROLE": role, **env})
        processes[role] = target
        return target

    try:
        with ThreadPoolExecutor(len(PARTICIPANTS)) as pool:
            list(pool.map(lambda role: start(role, (participant_env or {}).get(role, {})), PARTICIPANTS))
        urls = {f"CHECKOUT_{role.upper()}_URL": processes[role].endpoint.base_url for role in PARTICIPANTS}
        start("orchestrator", {**FAST_ORCHESTRATOR, **urls, **(orchestrator_env or {})})
        yield Cluster(processes)
    finally:
        for target in processes.values():
            target.kill()
