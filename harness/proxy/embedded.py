"""The fault proxy as a child process of the harness, for one run.

A separate process because the load driver (Locust) patches the harness process with gevent, which
breaks asyncio sharing it. The child is ended by its own pid (SIGTERM, then SIGKILL), on ``stop``,
on leaving the ``with`` block for any reason, and by itself if the parent disappears.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from harness.errors import HarnessError
from harness.processes import end_process

_START_TIMEOUT_S = 20.0
_STOP_GRACE_S = 5.0


class EmbeddedProxy:
    """A running ``python -m harness.proxy --port 0`` child; ``url`` is its API."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path

    @classmethod
    def start(
        cls, log_path: Path, timeout_s: float = _START_TIMEOUT_S, allow_remote: bool = False
    ) -> EmbeddedProxy:
        """Spawn the server, wait until its API answers, or raise HarnessError citing the log.

        ``allow_remote``: its proxies may listen beyond loopback (its API stays on 127.0.0.1).
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        ready_dir = Path(tempfile.mkdtemp(prefix="fault-proxy-"))
        ready_file = ready_dir / "url"
        command = [
            sys.executable, "-m", "harness.proxy",
            "--port", "0", "--ready-file", str(ready_file), "--exit-with-parent",
        ]  # fmt: skip
        if allow_remote:
            command.append("--allow-remote")
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=_repo_root(),
                start_new_session=True,  # the terminal's Ctrl-C reaches only us; we end its group
            )
        try:
            url = _wait_ready(process, ready_file, log_path, timeout_s)
        except BaseException:
            end_process(process, grace_s=_STOP_GRACE_S)
            raise
        finally:
            ready_file.unlink(missing_ok=True)
            ready_file.with_name("url.tmp").unlink(missing_ok=True)
            ready_dir.rmdir()
        return cls(process, url, log_path)

    def stop(self) -> None:
        """End the child by its pid; safe to call twice."""
        end_process(self.process, grace_s=_STOP_GRACE_S)

    def __enter__(self) -> EmbeddedProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _repo_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _wait_ready(process: subprocess.Popen[bytes], ready_file: Path, log_path: Path, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HarnessError(
                f"the embedded fault proxy exited with status {process.returncode} at start; see {log_path}"
            )
        if ready_file.exists():
            url = ready_file.read_text().strip()
            try:
                httpx.get(f"{url}/version", timeout=2.0, trust_env=False).raise_for_status()
            except httpx.HTTPError:
                pass
            else:
                return url
        time.sleep(0.02)
    raise HarnessError(f"the embedded fault proxy did not answer within {timeout_s:.0f} s; see {log_path}")
