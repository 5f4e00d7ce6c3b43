"""``harness clean``: remove what killed runs recorded under one reports folder left behind, nothing else.

Scope is the pid registry under ``--out`` (``harness/pidfiles.py``), owner by owner. A harness
process that still runs owns its runs: they are left alone and said to be, so a clean on a shared CI
host never touches a concurrent run. For every other owner (optionally only the one that ran
``run_id``): its recorded process groups are ended, the shared memory its store servers left is
removed, and the Docker objects labelled with its run ids are removed. Docker objects of runs not
recorded under ``--out`` are listed as left alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.pidfiles import REGISTRY_FOLDER, clean_folder, owner_folders, read_owner


@dataclass
class CleanReport:
    """What ``harness clean`` did and what it left alone, each as a line for the user."""

    ended: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


DockerCleaner = Callable[[str], int]
"""Removes the Docker objects of one run id; returns how many (``harness.runtime.engine.clean_docker``)."""


def clean_runs(
    out_root: Path,
    run_id: str | None = None,
    docker: DockerCleaner | None = None,
    docker_runs: set[str] | None = None,
) -> CleanReport:
    """Clean what the runs recorded under ``out_root`` (or only ``run_id``) left, if their harness is gone.

    ``docker`` removes one run's objects when an engine answers; ``docker_runs`` (every run id labelling
    an object on the engine) lets the report name the runs it left alone because nothing here records them.
    """
    report = CleanReport()
    recorded: set[str] = set()
    for folder in owner_folders(out_root / REGISTRY_FOLDER):
        owner = read_owner(folder)
        runs = owner.runs if owner is not None else ()
        recorded.update(runs)
        if run_id is not None and run_id not in runs:
            continue
        named = ", ".join(runs) or "a run"
        if owner is not None and owner.is_alive():
            report.skipped.append(f"{named}: its harness (pid {owner.pid}) is still running")
            continue
        cleaned = clean_folder(folder)
        report.ended += cleaned.ended
        report.removed += cleaned.removed
        for run in runs:
            if docker is not None and (count := docker(run)):
                report.removed.append(f"{count} Docker object(s) of run {run}")
        if folder != out_root / REGISTRY_FOLDER:
            shutil.rmtree(folder, ignore_errors=True)
    if run_id is not None and run_id not in recorded:
        report.skipped.append(f"{run_id}: no run of that id is recorded under {out_root}")
    for stranger in sorted((docker_runs or set()) - recorded):
        if run_id is None or stranger == run_id:
            report.skipped.append(f"Docker objects of run {stranger}: not recorded under {out_root}")
    return report
