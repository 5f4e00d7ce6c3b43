"""``python -m harness.proxy``: the fault proxy server on its own (Toxiproxy's API, default :8474)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from harness.errors import EXIT_COULD_NOT_RUN, HarnessError
from harness.proxy.server import DEFAULT_HOST, DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.proxy", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST, help="API address (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="API port, 0 for any (default %(default)s)"
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow non-loopback API and listen addresses"
    )
    parser.add_argument("--config", type=Path, help="JSON list of proxies to create at start")
    parser.add_argument("--ready-file", type=Path, help="write the API URL here once it answers")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process exits")
    parser.add_argument("--verbose", action="store_true", help="log each upstream failure")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        serve(args.host, args.port, args.allow_remote, args.config, args.ready_file, args.exit_with_parent)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
