"""How a reference target is configured: command-line arguments and `HARNESS_*` environment variables.

The harness's process runtime starts every target the same way
(`app.py --host H --port P --variant V --db PATH`) and steers faults through the environment, so one
parser serves all targets. Bad values end the process with status 2 and a message naming the culprit,
which the harness reports as "the run could not be made".
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from targets.targetkit.failpoints import STANDARD_FAILPOINTS, Failpoints, parse_failpoints

VARIANTS = ("naive", "idempotent")


@dataclass(frozen=True)
class TargetConfig:
    """Everything a target needs to build its app; tests construct it directly."""

    variant: str
    db_path: Path
    host: str = "127.0.0.1"
    port: int = 8000
    failpoints: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    incarnation: int = 0
    work_ms: int = 0

    def make_failpoints(self) -> Failpoints:
        return Failpoints(self.failpoints, seed=self.seed, incarnation=self.incarnation)


def _env_int(parser: argparse.ArgumentParser, environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        parser.error(f"{name}={raw!r} is not an integer")
    if value < 0:
        parser.error(f"{name}={raw!r} must not be negative")
    return value


def parse_config(argv: Sequence[str] | None, environ: Mapping[str, str], *, description: str,
                 variants: Sequence[str] = VARIANTS,
                 known_failpoints: Collection[str] = STANDARD_FAILPOINTS) -> TargetConfig:
    """Read the command line and HARNESS_FAILPOINTS, HARNESS_SEED, HARNESS_INCARNATION, HARNESS_WORK_MS."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--variant", choices=variants, required=True)
    parser.add_argument("--db", type=Path, required=True, help="SQLite file; created if missing")
    args = parser.parse_args(argv)
    try:
        failpoints = parse_failpoints(environ.get("HARNESS_FAILPOINTS", ""), known_failpoints)
    except ValueError as error:
        parser.error(f"HARNESS_FAILPOINTS: {error}")
    return TargetConfig(
        variant=args.variant, db_path=args.db, host=args.host, port=args.port, failpoints=failpoints,
        seed=_env_int(parser, environ, "HARNESS_SEED", 0),
        incarnation=_env_int(parser, environ, "HARNESS_INCARNATION", 0),
        work_ms=_env_int(parser, environ, "HARNESS_WORK_MS", 0),
    )
