"""A host-side wheelhouse: the Python packages a target image needs, downloaded once, reused offline.

Images are built where no container registry answers, and a build's ``pip install`` must not need the
network either, so wheels are fetched on the host (which reaches the package index, or has them
cached already) and copied into the build context. The base image's Python is Debian bookworm's
CPython 3.11 on glibc 2.36, so the wheels asked for are cp311 manylinux ones for this machine's
architecture, whatever Python the harness itself runs on.
"""

from __future__ import annotations

import platform
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.errors import ImageBuildError
from harness.runtime.buildlog import StepLog, run_logged

IMAGE_PYTHON = "3.11.2"  # bookworm's; environment markers such as python_full_version < "3.11.3" see it
IMAGE_GLIBC = (2, 36)
MARKER_ROUNDS = 3


def wheel_platforms(machine: str | None = None) -> list[str]:
    """pip ``--platform`` tags the image's Python accepts, newest manylinux first."""
    machine = machine or platform.machine()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    major, minor = IMAGE_GLIBC
    return [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 16, -1)] + [
        f"manylinux2014_{arch}",
        f"manylinux2010_{arch}",
        f"manylinux1_{arch}",
    ]


def download_command(requirements: Path, wheelhouse: Path, *, offline: bool) -> list[str]:
    """The pip command that fills ``wheelhouse`` for ``requirements``; offline reuses it alone."""
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet"]
    command += ["--dest", str(wheelhouse), "--requirement", str(requirements)]
    command += ["--only-binary=:all:", "--implementation", "cp", "--abi", "cp311", "--abi", "none"]
    command += ["--python-version", IMAGE_PYTHON]
    for tag in wheel_platforms():
        command += ["--platform", tag]
    if offline:
        command += ["--no-index", "--find-links", str(wheelhouse)]
    return command


def fill_wheelhouse(requirements: Path, wheelhouse: Path, step: StepLog) -> None:
    """Make sure every wheel ``requirements`` needs is in ``wheelhouse``: from it alone if it already
    has them (no network at all), else from the package index."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    for _ in range(MARKER_ROUNDS):
        _download(requirements, wheelhouse, step)
        extra = image_only_requirements(wheelhouse)
        if not extra:
            return
        # pip evaluates environment markers with the host's Python, not --python-version's, so a
        # dependency only bookworm's 3.11.2 needs (async-timeout for redis) must be asked for by name
        requirements = wheelhouse / "image-only-requirements.txt"
        requirements.write_text("\n".join(extra) + "\n")
        step.line(f"also for the image's Python {IMAGE_PYTHON}: {', '.join(extra)}")
    raise step.fail("the wheelhouse keeps needing more image-only dependencies")


def _download(requirements: Path, wheelhouse: Path, step: StepLog) -> None:
    try:
        run_logged(download_command(requirements, wheelhouse, offline=True), step)
        return
    except ImageBuildError:
        step.line("wheelhouse incomplete: downloading from the package index")
    run_logged(download_command(requirements, wheelhouse, offline=False), step)


def image_only_requirements(wheelhouse: Path) -> list[str]:
    """Dependencies of the wheels in ``wheelhouse`` whose markers hold for the image's Python but
    not for this one, and that no wheel there provides yet (as ``name specifier`` lines)."""
    image_env = {"python_full_version": IMAGE_PYTHON, "python_version": IMAGE_PYTHON.rsplit(".", 1)[0]}
    present = {canonicalize_name(wheel.name.split("-")[0]) for wheel in wheelhouse.glob("*.whl")}
    wanted: dict[str, str] = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        for line in _requires_dist(wheel):
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or marker.evaluate() or not marker.evaluate(image_env):
                continue
            name = canonicalize_name(requirement.name)
            if name not in present:
                wanted[name] = f"{requirement.name}{requirement.specifier}"
    return sorted(wanted.values())


def _requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        if metadata is None:
            return []
        text = archive.read(metadata).decode(errors="replace")
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
