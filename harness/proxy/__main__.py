"""``python -m harness.proxy``: the fault proxy server on its own (Toxiproxy's API, default :8474)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import EXIT_COULD_NOT_RUN, HarnessError
from harness.proxy.options import add_server_arguments, configure_logging
from harness.proxy.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.proxy", description=__doc__)
    add_server_arguments(parser)
    parser.add_argument("--ready-file", type=Path, help="write the API URL here once it answers")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process exits")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
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
