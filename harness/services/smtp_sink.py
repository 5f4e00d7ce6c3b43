"""An SMTP sink: accepts every message, keeps it, and lists them by namespace over HTTP.

The e-mail target sends real SMTP; the effects probe needs to know which messages arrived, per run
cell. Each message is appended to a JSONL store (flushed before ``250 OK`` is answered), so a sink
killed mid-run loses nothing it acknowledged and a restarted one lists what came before.

Run as ``python -m harness.services.smtp_sink --smtp-port P --http-port Q --store FILE``;
``GET /effects?namespace=NS`` answers ``[{"reference", "id", "created_at"}]`` for messages whose
``X-Harness-Namespace`` header is NS (``reference`` is the ``X-Op-Ref`` header, ``id`` the
``Message-ID``); ``GET /health`` answers 200 once both listeners are up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import IO, Any

from aiohttp import web
from aiosmtpd.smtp import SMTP

NAMESPACE_HEADER = "X-Harness-Namespace"
REFERENCE_HEADER = "X-Op-Ref"


@dataclass(frozen=True)
class Received:
    """One delivered message, as stored and as listed (without its namespace)."""

    namespace: str
    reference: str | None
    id: str
    created_at: float
    mail_from: str
    rcpt_tos: list[str]

    def listing(self) -> dict[str, object]:
        return {"reference": self.reference, "id": self.id, "created_at": self.created_at}


class MessageStore:
    """The received messages, in memory for listing and in a JSONL file for durability."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[Received] = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self.messages.append(Received(**json.loads(line)))
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def add(self, message: Received) -> None:
        self._file.write(json.dumps(asdict(message)) + "\n")
        self._file.flush()
        self.messages.append(message)

    def for_namespace(self, namespace: str) -> list[dict[str, object]]:
        return [message.listing() for message in self.messages if message.namespace == namespace]

    def close(self) -> None:
        self._file.close()


class SinkHandler:
    """aiosmtpd handler: every DATA becomes one stored message."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else str(content).encode()
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
        self.store.add(
            Received(
                namespace=str(headers.get(NAMESPACE_HEADER, "")),
                reference=None if headers.get(REFERENCE_HEADER) is None else str(headers[REFERENCE_HEADER]),
                id=str(headers.get("Message-ID") or f"<sink-{len(self.store.messages) + 1}>"),
                created_at=time.time(),
                mail_from=str(envelope.mail_from),
                rcpt_tos=[str(rcpt) for rcpt in envelope.rcpt_tos],
            )
        )
        return "250 OK"


def http_app(store: MessageStore) -> web.Application:
    async def effects(request: web.Request) -> web.Response:
        namespace = request.query.get("namespace")
        if namespace is None:
            return web.json_response({"error": "the namespace query parameter is required"}, status=400)
        return web.json_response(store.for_namespace(namespace))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"messages": len(store.messages)})

    app = web.Application()
    app.router.add_get("/effects", effects)
    app.router.add_get("/health", health)
    return app


async def serve(host: str, smtp_port: int, http_port: int, store_path: Path) -> None:
    store = MessageStore(store_path)
    loop = asyncio.get_running_loop()
    handler = SinkHandler(store)
    smtp_server = await loop.create_server(
        lambda: SMTP(handler, hostname="harness-smtp-sink"), host, smtp_port
    )
    runner = web.AppRunner(http_app(store), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, http_port).start()
    try:
        await asyncio.Event().wait()
    finally:
        smtp_server.close()
        await runner.cleanup()
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.smtp_port, args.http_port, args.store))


if __name__ == "__main__":
    main()
