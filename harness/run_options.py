"""What a user overrides on the command line (or a pytest fixture's arguments) for one run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunOptions:
    """Overrides a user gives on the command line; ``None`` keeps the scenario's own value."""

    out_root: Path = Path("reports")
    runtime: str | None = None
    proxy_url: str | None = None
    seed: int | None = None
    operations: int | None = None
    faults: tuple[str, ...] = ()  # run only these faults of the scenario (all when empty)
    fixed: bool = False  # every cell runs its whole budget, whatever the scenario's load.stop says
    parallel_cells: int | None = None  # cells run at once (the scenario's parallel_cells when None)
    workers: int = 0  # Locust worker processes per cell; 0: one driver process, no master
    master: bool = False  # the workers run on other machines (`harness run --worker` there)
    master_bind_host: str = "127.0.0.1"  # where the master listens for workers
    master_port: int = 0  # 0: a free port (local workers only)


DEFAULT_OPTIONS = RunOptions()
"""No override: the scenario's own values, reports under ``reports/``."""
