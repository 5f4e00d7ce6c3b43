"""What the harness tells a target about its surroundings, beyond `targetkit.config`'s knobs.

- `HARNESS_NAMESPACE`: a label for this run's traffic in shared services (an SMTP sink, a broker), so
  effects of one variant × fault cell are never mixed with another's.
- `HARNESS_SMTP_HOST`, `HARNESS_SMTP_PORT`: where a mail-sending target delivers.
- `HARNESS_AMQP_URL`: a RabbitMQ broker for a message-consuming target; unset means an embedded queue.

Bad values raise `ValueError` with the variable's name; `targetkit.launch` turns that into exit status 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"
_NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def namespace(environ: Mapping[str, str]) -> str:
    """HARNESS_NAMESPACE, restricted to characters safe in a mail header and a queue name."""
    value = environ.get("HARNESS_NAMESPACE", "").strip() or DEFAULT_NAMESPACE
    if not _NAMESPACE_PATTERN.match(value):
        raise ValueError(f"HARNESS_NAMESPACE={value!r} must be 1-128 of A-Z a-z 0-9 . _ - "
                         "and start with a letter or digit")
    return value


@dataclass(frozen=True)
class SmtpSettings:
    """Where to deliver mail; plain SMTP without TLS or authentication, as a local sink speaks it."""

    host: str
    port: int
    timeout_s: float = 5.0


def smtp_settings(environ: Mapping[str, str]) -> SmtpSettings:
    """HARNESS_SMTP_HOST (default 127.0.0.1) and HARNESS_SMTP_PORT (required: no sink listens on 25)."""
    host = environ.get("HARNESS_SMTP_HOST", "").strip() or "127.0.0.1"
    raw_port = environ.get("HARNESS_SMTP_PORT", "").strip()
    if not raw_port:
        raise ValueError("HARNESS_SMTP_PORT is not set: the port of the SMTP server to deliver to")
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise ValueError(f"HARNESS_SMTP_PORT={raw_port!r} is not a port number")
    return SmtpSettings(host, int(raw_port))


def amqp_url(environ: Mapping[str, str]) -> str | None:
    """HARNESS_AMQP_URL (`amqp://user:password@host:port/vhost`), or None for the embedded queue."""
    url = environ.get("HARNESS_AMQP_URL", "").strip()
    if url and not url.startswith(("amqp://", "amqps://")):
        raise ValueError(f"HARNESS_AMQP_URL={url!r} must start with amqp:// or amqps://")
    return url or None
