"""What ``harness conform URL`` does, as one call, so the CLI only parses arguments and returns a status."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.conform.report import print_conformance, write_conformance
from harness.conform.runner import DEFAULT_CONCURRENCY, run_conformance
from harness.errors import EXIT_GATE_FAILED, EXIT_OK


def conform_command(
    url: str,
    console: Console,
    *,
    out_dir: Path | None = None,
    method: str = "POST",
    body: dict[str, object] | None = None,
    key_header: str = "Idempotency-Key",
    timeout_s: float = 5.0,
    concurrency: int = DEFAULT_CONCURRENCY,
    allow_remote: bool = False,
) -> int:
    """Probe ``url``, write conform.json and junit.xml into ``out_dir`` (if given), print, and return
    the exit status: 0 when no check failed, 1 when one did (HarnessError propagates: exit 2)."""
    result = run_conformance(
        url,
        method=method,
        body=body,
        key_header=key_header,
        timeout_s=timeout_s,
        concurrency=concurrency,
        allow_remote=allow_remote,
    )
    paths = write_conformance(result, out_dir) if out_dir is not None else None
    print_conformance(result, console, paths)
    return EXIT_OK if result.passed else EXIT_GATE_FAILED
