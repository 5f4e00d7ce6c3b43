"""The end of ``harness conform URL``: write and print a result, and turn it into the exit status."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.conform.model import ConformResult
from harness.conform.report import print_conformance, write_conformance
from harness.errors import EXIT_GATE_FAILED, EXIT_OK


def report_conformance(result: ConformResult, console: Console, out_dir: Path | None = None) -> int:
    """Write conform.json and junit.xml into ``out_dir`` (if given), print, and return the exit
    status: 0 when no check failed, 1 when one did."""
    paths = write_conformance(result, out_dir) if out_dir is not None else None
    print_conformance(result, console, paths)
    return EXIT_OK if result.passed else EXIT_GATE_FAILED
