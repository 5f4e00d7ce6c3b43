"""The harness as a user gets it: a wheel built from this checkout, installed into a fresh venv.

The venv has pip, as a user's has; the dependencies come from this environment's site-packages through a
``.pth`` line (which loads no editable finder), so nothing is downloaded. Building takes a minute, so the
test processes of one session build it once between them (:func:`install_wheel_once`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "harness", "targets", "scenarios")
BUILD_TIMEOUT_S = 240


def run_outside(command: list[str], cwd: Path, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """``command`` in ``cwd``, without this checkout on ``PYTHONPATH``."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


@dataclass(frozen=True)
class InstalledHarness:
    wheel: Path
    bin_dir: Path
    """The venv's ``bin``: its ``python`` and the ``harness`` command."""


def install_wheel(root: Path) -> InstalledHarness:
    """Build the wheel of this checkout in ``root`` and install it (not editable) into a venv there."""
    source = root / "source"
    source.mkdir()
    for name in SOURCES:  # a copy: building in the checkout would leave build/ and egg-info there
        copy = shutil.copytree if (CHECKOUT / name).is_dir() else shutil.copy
        copy(CHECKOUT / name, source / name)
    pip = [sys.executable, "-m", "pip"]
    wheel_command = [*pip, "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(source)]
    built = run_outside(wheel_command, root, BUILD_TIMEOUT_S)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (root / "dist").glob("idempotency_harness-*.whl")
    venv = root / "venv"
    made = run_outside([sys.executable, "-m", "venv", str(venv)], root, BUILD_TIMEOUT_S)
    assert made.returncode == 0, made.stderr[-2000:]
    python = venv / "bin" / "python"
    install_command = [*pip, "--python", str(python), "install", "--no-deps", "-q", str(wheel)]
    done = run_outside(install_command, root, BUILD_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    purelib = run_outside([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], root)
    (Path(purelib.stdout.strip()) / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return InstalledHarness(wheel, venv / "bin")


def install_wheel_once(root: Path) -> InstalledHarness:
    """:func:`install_wheel` in ``root``, unless a process sharing ``root`` already did: then that install.

    The first process to take the lock builds; the others wait for it (the build's own steps are bounded)
    and read where it went. A build that failed leaves no record, so the next process tries afresh.
    """
    root.mkdir(parents=True, exist_ok=True)
    record = root / "installed.json"
    with (root / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its holder dies
        if record.is_file():
            made = json.loads(record.read_text())
            return InstalledHarness(Path(made["wheel"]), Path(made["bin_dir"]))
        build = root / "build"
        shutil.rmtree(build, ignore_errors=True)  # what a failed build left
        build.mkdir()
        installed = install_wheel(build)
        record.write_text(json.dumps({"wheel": str(installed.wheel), "bin_dir": str(installed.bin_dir)}))
        return installed
