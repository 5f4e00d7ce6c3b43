"""What a run records in its folder at start, so its reports can be made again from the folder alone.

``run-record.json`` holds the run's settings (seed, the faults it runs, runtime, proxy, start time) and
the scenario as it was validated, paths already absolute, so ``harness report RUN_DIR`` rebuilds the
reports even after the scenario file has changed or moved. ``scenario.yaml`` is a copy of the file as
written, for a reader.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.errors import NotARunFolderError
from harness.scenario import Scenario

RECORD_NAME = "run-record.json"
SCENARIO_COPY_NAME = "scenario.yaml"
RECORD_VERSION = 1


@dataclass(frozen=True)
class RunRecord:
    """A run's settings, as chosen when it started."""

    run_id: str
    scenario_path: str
    seed: int
    runtime: str
    proxy: str
    started_at: float
    faults: tuple[str, ...]
    operations: int | None = None
    """``--operations``: the per-cell override, None for the scenario's own."""

    def write(self, out_dir: Path, scenario: Scenario) -> Path:
        """Write the record and a copy of the scenario file (when it is one) into the run folder."""
        document = {
            "record_version": RECORD_VERSION,
            "run": asdict(self),
            "scenario": scenario.model_dump(mode="json"),
        }
        path = out_dir / RECORD_NAME
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        source = Path(self.scenario_path)
        if self.scenario_path and source.is_file():
            (out_dir / SCENARIO_COPY_NAME).write_bytes(source.read_bytes())
        return path


def read_record(run_dir: Path) -> tuple[RunRecord, Scenario]:
    """The record and scenario of the run in ``run_dir``; NotARunFolderError if it holds none."""
    path = run_dir / RECORD_NAME
    if not run_dir.is_dir():
        raise NotARunFolderError(f"{run_dir}: not a folder")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotARunFolderError(f"{run_dir}: not a run folder (no {RECORD_NAME})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotARunFolderError(f"{path}: cannot read the run record: {error}") from None
    if not isinstance(document, dict) or document.get("record_version") != RECORD_VERSION:
        raise NotARunFolderError(f"{path}: not a run record of version {RECORD_VERSION}")
    try:
        run: dict[str, Any] = document["run"]
        record = RunRecord(**{**run, "faults": tuple(run["faults"])})
        scenario = Scenario.model_validate(document["scenario"])
    except (KeyError, TypeError, ValidationError) as error:
        raise NotARunFolderError(f"{path}: a damaged run record: {error}") from None
    return record, scenario
