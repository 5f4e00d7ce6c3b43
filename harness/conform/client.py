"""The probe's HTTP side: which URLs it may call, one keyed request, a burst of identical ones, and
requests on a declared resource for the method checks.

Every request goes through :class:`Prober` or :class:`ResourceClient`, so the checks never see httpx
and a transport failure is always the same one-line :class:`~harness.errors.HarnessError` naming the URL.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from harness.conform.model import Exchange
from harness.errors import HarnessError
from harness.ports import is_loopback

BODY_SHOWN = 160
"""Characters of a response body kept as evidence: enough for an id and a problem title."""


def check_url(url: str, *, allow_remote: bool) -> None:
    """Refuse what is not an http(s) URL, and a host off this machine unless remote calls are allowed.

    The probe sends real, state-changing requests (it creates resources), so pointing it at another
    machine must be a deliberate choice. Host names other than ``localhost`` are not resolved: a name
    is not known to be loopback without asking DNS, so it counts as remote.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarnessError(f"{url!r} is not an http:// or https:// URL with a host")
    if not allow_remote and not is_loopback(parts.hostname):
        raise HarnessError(
            f"{url} is not on a loopback address; the conformance check creates resources there, "
            "pass --allow-remote to probe another machine"
        )


def answer(client: httpx.Client, method: str, url: str, timeout_s: float, **request: Any) -> httpx.Response:
    """``client.request(method, url, **request)``, a transport failure turned into one line naming it."""
    try:
        return client.request(method, url, **request)
    except httpx.TimeoutException:
        raise HarnessError(f"{method} {url}: no answer within {timeout_s:g} s") from None
    except httpx.HTTPError as error:
        raise HarnessError(f"{method} {url}: could not reach the endpoint: {error}") from None


def new_key() -> str:
    """A fresh idempotency key, as the draft recommends (a UUID), marked as the probe's own."""
    return f"conform-{uuid.uuid4()}"


@dataclass(frozen=True)
class Reply:
    """An answer with what the checks compare: status, headers, body and the resource it names."""

    exchange: Exchange
    headers: httpx.Headers
    content: bytes

    @property
    def status(self) -> int:
        return self.exchange.status

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> object | None:
        """The body as JSON, or None when it is not JSON."""
        try:
            parsed: object = json.loads(self.content)
        except ValueError:
            return None
        return parsed

    @property
    def resource_id(self) -> str | None:
        """The created resource: the body's ``id`` member, else the ``Location`` header, else None."""
        document = self.json()
        if isinstance(document, dict):
            identifier = document.get("id")
            if isinstance(identifier, str | int) and not isinstance(identifier, bool):
                return str(identifier)
        location: str | None = self.headers.get("location")
        return location

    def same_body(self, other: Reply) -> bool:
        """Equal bodies: equal JSON values when both are JSON (key order and spacing aside), else bytes."""
        mine, theirs = self.json(), other.json()
        if mine is not None and theirs is not None:
            return mine == theirs
        return self.content == other.content


class Prober:
    """Sends the probe's requests to one URL with one method; a transport failure is a HarnessError."""

    def __init__(
        self,
        url: str,
        *,
        method: str,
        key_header: str,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.method = method.upper()
        self.key_header = key_header
        self.timeout_s = timeout_s
        self._transport = transport

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout_s, transport=self._transport)

    def _send(self, client: httpx.Client, key: str | None, body: object) -> Reply:
        headers = {} if key is None else {self.key_header: key}
        response = answer(client, self.method, self.url, self.timeout_s, json=body, headers=headers)
        exchange = Exchange(self.method, key, response.status_code, response.text[:BODY_SHOWN])
        return Reply(exchange, response.headers, response.content)

    def send(self, key: str | None, body: object) -> Reply:
        """One request carrying ``key`` in the key header (no header when None) and ``body`` as JSON."""
        with self._client() as client:
            return self._send(client, key, body)

    def burst(self, key: str, body: object, clients: int) -> list[Reply]:
        """``clients`` identical requests released together, each on its own connection.

        A barrier holds every thread until all have their client ready, so the requests reach the server
        within the first one's processing window: the moment a concurrent retry must meet a 409.
        """
        barrier = threading.Barrier(clients)

        def one() -> Reply:
            with self._client() as client:
                try:
                    barrier.wait(timeout=self.timeout_s)
                except threading.BrokenBarrierError:
                    raise HarnessError(f"could not start {clients} clients together") from None
                return self._send(client, key, body)

        with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="conform") as pool:
            futures = [pool.submit(one) for _ in range(clients)]
            return [future.result() for future in futures]


class ResourceClient:
    """Sends requests to the paths of one declared resource under a base URL, and keeps every answer.

    Paths are templates holding ``{id}``; the method checks read :attr:`sent` to learn which methods the
    resource answered (the Allow check). One HTTP client serves every request (a context manager closes
    it): a probe of the method table sends some thirty requests in a row.
    """

    def __init__(
        self,
        base_url: str,
        *,
        key_header: str,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_header = key_header
        self.timeout_s = timeout_s
        self._client = httpx.Client(timeout=timeout_s, transport=transport)
        self.sent: list[tuple[str, Reply]] = []
        """Every request so far as (its path template, its reply), in order."""

    def __enter__(self) -> ResourceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    def send(
        self,
        method: str,
        template: str,
        resource_id: str | None = None,
        *,
        body: object | None = None,
        key: str | None = None,
    ) -> Reply:
        """``method`` on ``template`` with ``{id}`` filled in; ``body`` as JSON when given, ``key`` in the
        key header when given."""
        path = template if resource_id is None else template.replace("{id}", quote(resource_id, safe=""))
        headers = {} if key is None else {self.key_header: key}
        content = None if body is None else json.dumps(body).encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
        url = self.url(path)
        response = answer(self._client, method, url, self.timeout_s, content=content, headers=headers)
        sent = None if content is None else content.decode()[:BODY_SHOWN]
        exchange = Exchange(method, key, response.status_code, response.text[:BODY_SHOWN], path, sent)
        reply = Reply(exchange, response.headers, response.content)
        self.sent.append((template, reply))
        return reply
