"""Images for the Docker runtime, built without a container registry.

Many machines (this project's, air-gapped CI runners) cannot pull images. So the base image is
``python:3.11-slim`` when a registry answers within a few seconds, else one built offline from
Debian's own packages (debootstrap, then ``docker import``); either way it is tagged
``harness-base:bookworm`` and cached in the engine. Target images are built on it from one Dockerfile
template rendered per target (``harness.runtime.dockerfile``), with their Python packages coming from
a wheelhouse made on the host, and are tagged by a hash of everything that goes into them (the base,
the rendered Dockerfile, the kit and the target's files): a changed target or template rebuilds, an
unchanged one is reused without any work.

The build context staged here: the package ``targets/`` (its ``__init__.py``, ``targetkit/`` and
``<name>/``), ``wheelhouse/`` (wheels for ``<name>/requirements.txt``) and the rendered ``Dockerfile``.
The image installs with ``targetkit/install-requirements.sh`` (``pip install --no-index --find-links``
from the wheelhouse), keeps the package at ``/srv/targets``, runs ``python3 -m targets.<name>.app`` from
``/srv`` in exec form (so a failpoint's exit status is the container's), and accepts the harness's
arguments ``--host --port --variant --db /data/target.db``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import docker.errors
import requests.exceptions
from docker import DockerClient

from harness.errors import ImageBuildError
from harness.paths import TARGETS_DIR
from harness.runtime.buildlog import BuildReporter, StepLog, run_logged
from harness.runtime.dockerfile import BASE_TAG, KIT, render_dockerfile
from harness.runtime.engine import TARGET_LABEL, connect
from harness.runtime.wheelhouse import fill_wheelhouse

REGISTRY_BASE = "python:3.11-slim"
PULL_TIMEOUT_S = 20.0
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = "python3,python3-pip"
TARGET_REPOSITORY = "harness-target-{name}"
PACKAGE_MARKER = "__init__.py"
TARGET_APP = "app.py"
REQUIREMENTS = "requirements.txt"
IMAGE_LABEL = "harness.image"
HASH_LABEL = "harness.content-hash"
SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def cache_dir() -> Path:
    """Where wheels, build logs and the build lock live (HARNESS_CACHE_DIR overrides)."""
    configured = os.environ.get("HARNESS_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "idempotency-harness"


# -- the base image ----------------------------------------------------------------------------------


def build_base_image(
    progress: BuildReporter, *, client: DockerClient | None = None, force: bool = False
) -> str:
    """Make sure ``harness-base:bookworm`` exists: pulled if a registry answers, else debootstrapped."""
    with _client(client) as engine, _build_lock():
        if not force and _image_id(engine, BASE_TAG) is not None:
            return BASE_TAG
        log_path = cache_dir() / "logs" / "base-image.log"
        with StepLog(f"pulling {REGISTRY_BASE}", log_path, progress) as step:
            pulled = _pull(REGISTRY_BASE, step)
        if pulled:
            engine.images.get(REGISTRY_BASE).tag(BASE_TAG)
            return BASE_TAG
        with StepLog(
            f"no registry answers: building {BASE_TAG} offline with debootstrap (about a minute)",
            log_path,
            progress,
        ) as step:
            _debootstrap_and_import(engine, step)
        return BASE_TAG


def _pull(reference: str, step: StepLog) -> bool:
    """Try a pull with a short timeout; False (and the reason in the log) when no registry answers."""
    quick = connect(PULL_TIMEOUT_S)
    try:
        for event in quick.api.pull(reference, stream=True, decode=True):
            if "error" in event:
                step.line(f"pull failed: {event['error']}")
                return False
            step.line(str(event.get("status", event)))
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        step.line(f"pull failed: {error}")
        return False
    finally:
        quick.close()
    return True


def _debootstrap_and_import(engine: DockerClient, step: StepLog) -> None:
    if shutil.which("debootstrap") is None:
        raise step.fail("debootstrap is not installed: apt-get install debootstrap")
    work = Path(tempfile.mkdtemp(prefix="base-", dir=_ensured(cache_dir())))
    rootfs, tarball = work / "rootfs", work / "rootfs.tar"
    try:
        command = ["debootstrap", "--variant=minbase", f"--include={DEBIAN_PACKAGES}", DEBIAN_SUITE,
                   str(rootfs)]
        mirror = os.environ.get("HARNESS_DEBIAN_MIRROR")
        run_logged(command + ([mirror] if mirror else []), step)
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / leftover).glob("*"):
                if entry.is_file():
                    entry.unlink()
        step.line("packing the root file system")
        run_logged(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], step)
        step.line(f"importing it as {BASE_TAG}")
        repository, tag = BASE_TAG.split(":")
        changes = ["ENV LANG=C.UTF-8", 'CMD ["python3"]', f"LABEL {IMAGE_LABEL}=base"]
        try:
            engine.api.import_image_from_file(str(tarball), repository=repository, tag=tag, changes=changes)
        except docker.errors.DockerException as error:
            raise step.fail(f"docker import failed: {error}") from None
    finally:
        _remove_tree(work)


def _remove_tree(folder: Path) -> None:
    """Remove a debootstrap folder; an interrupted debootstrap may leave /proc or /sys mounted in it."""
    for point in sorted(_mounts_below(folder), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if _mounts_below(folder):
        return  # never delete through a live mount of the host's /proc or /sys
    shutil.rmtree(folder, ignore_errors=True)


def _mounts_below(folder: Path) -> list[str]:
    mounted = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [point for point in mounted if point.startswith(f"{folder}/")]


# -- target images -----------------------------------------------------------------------------------


def target_names(targets_dir: Path = TARGETS_DIR) -> list[str]:
    """The reference targets (folders with an ``app.py``), in name order."""
    return sorted(path.parent.name for path in targets_dir.glob(f"*/{TARGET_APP}"))


def target_dockerfile(target: str, targets_dir: Path = TARGETS_DIR) -> str:
    """The Dockerfile ``target`` is built from: the shared template, rendered for it."""
    has_requirements = (targets_dir / target / REQUIREMENTS).is_file()
    return render_dockerfile(target, package=targets_dir.name, installs_requirements=has_requirements)


def context_sources(target: str, targets_dir: Path = TARGETS_DIR) -> list[Path]:
    """What of ``targets_dir`` goes into a target's image: the package marker, the kit, the target."""
    marker = targets_dir / PACKAGE_MARKER
    return [*([marker] if marker.is_file() else []), targets_dir / KIT, targets_dir / target]


def content_hash(target: str, base_image_id: str, targets_dir: Path = TARGETS_DIR) -> str:
    """A hash of everything an image is built from: the base image, its rendered Dockerfile, the kit
    and the target's files."""
    seed = f"{base_image_id}\0{target_dockerfile(target, targets_dir)}".encode()
    return files_digest(context_sources(target, targets_dir), targets_dir, seed=seed)


def files_digest(folders: Iterable[Path], relative_to: Path, seed: bytes = b"") -> str:
    """A hash of the build-context files in ``folders`` (or files): names (relative to ``relative_to``)
    and contents, caches and bytecode left out, so an image is rebuilt exactly when its sources change."""
    digest = hashlib.sha256(seed)
    for folder in folders:
        for path in _context_files(folder):
            digest.update(f"\0{path.relative_to(relative_to).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_target_image(
    target: str,
    progress: BuildReporter,
    *,
    client: DockerClient | None = None,
    targets_dir: Path = TARGETS_DIR,
) -> str:
    """The tag of an image of ``targets/<target>`` as it is now, building it (and the base) if needed."""
    app = targets_dir / target / TARGET_APP
    if not app.is_file():
        raise ImageBuildError(f"{target!r} is not a reference target (no {app}): it cannot run in Docker")
    with _client(client) as engine:
        build_base_image(progress, client=engine)
        base_id = _image_id(engine, BASE_TAG)
        assert base_id is not None
        content = content_hash(target, base_id, targets_dir)
        tag = f"{TARGET_REPOSITORY.format(name=target)}:{content}"
        with _build_lock():
            if _image_id(engine, tag) is not None:
                return tag
            log_path = cache_dir() / "logs" / f"target-{target}.log"
            with StepLog(f"building image {tag}", log_path, progress) as step:
                _build_target(engine, target, tag, content, targets_dir, step)
            _remove_older(engine, target, tag)
        return tag


def build_all(progress: BuildReporter, *, targets_dir: Path = TARGETS_DIR) -> list[str]:
    """Build the base image and every target's image that is missing; returns the target tags.

    For ``harness image build``: pass a ``RichBuildDisplay`` for a spinner with the latest line.
    """
    with _client(None) as engine:
        return [ensure_target_image(name, progress, client=engine, targets_dir=targets_dir)
                for name in target_names(targets_dir)]


def _build_target(
    engine: DockerClient, target: str, tag: str, content: str, targets_dir: Path, step: StepLog
) -> None:
    requirements = targets_dir / target / REQUIREMENTS
    with tempfile.TemporaryDirectory(prefix="context-", dir=_ensured(cache_dir())) as context_dir:
        context = Path(context_dir)
        for source in context_sources(target, targets_dir):
            _copy_context(source, context / targets_dir.name / source.name)
        (context / "Dockerfile").write_text(target_dockerfile(target, targets_dir))
        wheels = context / "wheelhouse"
        wheels.mkdir()
        if requirements.is_file():
            cached = cache_dir() / "wheelhouse" / target
            fill_wheelhouse(requirements, cached, step)
            for wheel in cached.glob("*.whl"):
                shutil.copy2(wheel, wheels / wheel.name)
        labels = {IMAGE_LABEL: "target", TARGET_LABEL: target, HASH_LABEL: content}
        try:
            events = engine.api.build(
                path=str(context), dockerfile="Dockerfile", tag=tag, rm=True, forcerm=True, decode=True,
                network_mode="host", labels=labels, pull=False,
            )
            for event in events:
                if "error" in event:
                    raise step.fail(f"docker build failed: {str(event['error']).strip()}")
                text = event.get("stream") or event.get("status")
                if text:
                    for line in str(text).splitlines():
                        step.line(line)
        except docker.errors.DockerException as error:
            raise step.fail(f"docker build failed: {error}") from None


def _remove_older(engine: DockerClient, target: str, keep: str) -> None:
    """Drop this target's images of older content, so rebuilds do not pile up; in-use ones stay."""
    for image in engine.images.list(filters={"label": f"{TARGET_LABEL}={target}"}):
        if keep not in image.tags:
            with suppress(docker.errors.APIError):
                engine.images.remove(image.id)


def _context_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file()
        and not SKIPPED_PARTS.intersection(path.parts)
        and path.suffix not in SKIPPED_SUFFIXES
    )


def _copy_context(source: Path, destination: Path) -> None:
    """Copy a folder's context files (or one file) from ``source`` to ``destination``."""
    for path in _context_files(source):
        copied = destination / path.relative_to(source) if source.is_dir() else destination
        copied.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copied)


# -- plumbing ----------------------------------------------------------------------------------------


def _image_id(engine: DockerClient, reference: str) -> str | None:
    try:
        return str(engine.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None


@contextmanager
def _client(client: DockerClient | None) -> Iterator[DockerClient]:
    """Use the caller's client, or open (and close) one."""
    if client is not None:
        yield client
        return
    own = connect()
    try:
        yield own
    finally:
        own.close()


@contextmanager
def _build_lock() -> Iterator[None]:
    """One build at a time on this machine (two runs starting together must not build twice)."""
    path = _ensured(cache_dir()) / "build.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensured(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m harness.runtime.images base|all``: for ``.ci/ensure-docker`` (no CLI needed)."""
    import sys

    from rich.console import Console

    from harness.errors import HarnessError
    from harness.runtime.buildlog import RichBuildDisplay

    what = (argv if argv is not None else sys.argv[1:]) or ["all"]
    console = Console(stderr=True)
    try:
        with RichBuildDisplay(console) as display:
            built = [build_base_image(display)] if what == ["base"] else build_all(display)
    except HarnessError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        return error.exit_status
    console.print("images: " + ", ".join(built), highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
