"""One log line per bad API request: aiohttp logs a request head it cannot parse with a traceback.

A caller that sends garbage (a fuzzer, a port scanner, a client of another protocol) is not an
error of this server; a traceback per request buried the real log under thousands of lines.
"""

from __future__ import annotations

import logging

SERVER_LOGGER = "aiohttp.server"
"""The logger aiohttp's request handler reports unparsable requests to."""


class OneLineErrors(logging.Filter):
    """Folds a record's exception into its message on one line and drops the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            detail = " ".join(str(exc).split()) or type(exc).__name__
            record.msg = f"{record.getMessage()}: {detail}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    """Put the filter on aiohttp's server logger, once per process."""
    logger = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(f, OneLineErrors) for f in logger.filters):
        logger.addFilter(OneLineErrors())
