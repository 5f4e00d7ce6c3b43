"""The checks against in-memory servers (httpx.MockTransport): edge cases a real target rarely shows."""

from __future__ import annotations

import json
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from harness.conform import ConformResult, report_conformance, run_conformance
from harness.conform.checks import CONCURRENT, EXPIRY, REPLAY, different_payload
from harness.conform.client import check_url
from harness.errors import HarnessError
from harness.ports import free_port

URL = "http://127.0.0.1:9/charges"
"""Never contacted: every test here answers through a mock transport."""


class InstantServer:
    """An idempotent server that answers each key at once, so no request ever meets another in flight."""

    def __init__(self, extra_headers: dict[str, str] | None = None) -> None:
        self.keys: dict[str, tuple[bytes, httpx.Response]] = {}
        self.lock = threading.Lock()
        self.extra_headers = extra_headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return httpx.Response(400, json={"title": "Idempotency-Key is missing"})
        with self.lock:
            if key in self.keys:
                payload, response = self.keys[key]
                if payload != request.content:
                    return httpx.Response(422, json={"title": "Idempotency-Key reused"})
                return httpx.Response(response.status_code, content=response.content)
            created = httpx.Response(201, json={"id": uuid.uuid4().hex}, headers=self.extra_headers)
            self.keys[key] = (request.content, created)
            return created


def conform(handler: httpx.MockTransport | InstantServer, **options: Any) -> ConformResult:
    transport = handler if isinstance(handler, httpx.MockTransport) else httpx.MockTransport(handler)
    return run_conformance(URL, transport=transport, **options)


def outcomes(result: ConformResult) -> list[bool | None]:
    return [check.passed for check in result.checks]


def test_a_fast_server_leaves_the_in_flight_check_undecided() -> None:
    result = conform(InstantServer())

    assert outcomes(result) == [True, True, True, True, None, None]
    concurrent = result.checks[4]
    assert concurrent.name == CONCURRENT
    assert concurrent.message.endswith(
        "in-flight 409 not observed (the first request finished before the others arrived)"
    )
    assert result.passed is True


def test_expiry_header_and_documentation_links_are_reported() -> None:
    server = InstantServer({"Idempotency-Key-Expires": "Sun, 06 Nov 2044 08:49:37 GMT"})

    expiry = conform(server).checks[5]

    assert (expiry.name, expiry.passed) == (EXPIRY, True)
    assert expiry.message == "expiry hint found: Idempotency-Key-Expires: Sun, 06 Nov 2044 08:49:37 GMT"


def test_a_failing_server_fails_what_it_answers_and_cannot_tell_the_rest() -> None:
    result = conform(httpx.MockTransport(lambda request: httpx.Response(500, text="boom")))

    assert outcomes(result) == [False, False, None, None, False, None]
    assert result.checks[0].message == "answered HTTP 500; the draft asks for 400 when the key is missing"
    assert result.checks[2].message == (
        "could not tell: the first request with a key was not accepted (HTTP 500)"
    )
    assert result.checks[4].message == (
        "concurrent requests got HTTP 500; allowed are 2xx (one result) or 409 (in flight)"
    )
    assert result.passed is False


def test_a_replay_with_a_different_body_fails() -> None:
    counter = iter(range(1000))

    def handler(request: httpx.Request) -> httpx.Response:
        if "Idempotency-Key" not in request.headers:
            return httpx.Response(400)
        return httpx.Response(201, json={"id": "ch_1", "attempt": next(counter)})

    replay = conform(httpx.MockTransport(handler), concurrency=2).checks[2]

    assert (replay.name, replay.passed) == (REPLAY, False)
    assert replay.message == "the retry got HTTP 201 with a different body than the first response"


def test_the_body_is_sent_as_json_with_the_key_header_named() -> None:
    seen: list[tuple[str | None, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers.get("X-Key"), json.loads(request.content)))
        return httpx.Response(400)

    conform(httpx.MockTransport(handler), body={"sku": "a"}, key_header="X-Key", concurrency=2)

    assert seen[0] == (None, {"sku": "a"})
    assert seen[1][0] is not None and seen[1][0].startswith("conform-")


def test_different_payload_changes_exactly_one_value() -> None:
    body = {"flag": True, "amount": 5, "note": "x"}
    assert different_payload(body) == {"flag": True, "amount": 6, "note": "x"}
    assert different_payload({"note": "x"}) == {"note": "x-changed"}
    changed = different_payload({"flag": True})
    assert set(changed) == {"flag", "conformance_probe"}


@pytest.mark.parametrize(
    "url",
    ["http://example.com/charges", "http://10.0.0.1:8000/charges", "https://[2001:db8::1]/x"],
)
def test_a_remote_url_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(HarnessError, match="is not on a loopback address; .* pass --allow-remote"):
        run_conformance(url)
    check_url(url, allow_remote=True)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "127.0.0.1:8000/charges", "http:///charges"])
def test_a_url_without_http_scheme_or_host_is_refused(url: str) -> None:
    with pytest.raises(HarnessError, match="is not an http:// or https:// URL with a host"):
        run_conformance(url)


def test_loopback_names_are_accepted() -> None:
    for url in ("http://localhost:1/x", "http://127.0.0.2/x", "http://[::1]:8000/x"):
        check_url(url, allow_remote=False)


def test_an_unreachable_endpoint_is_one_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/charges"

    with pytest.raises(HarnessError) as caught:
        run_conformance(url, timeout_s=2)

    assert str(caught.value).startswith(f"POST {url}: could not reach the endpoint: ")
    assert "\n" not in str(caught.value)


def test_a_silent_endpoint_times_out_as_one_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(HarnessError, match=r"^POST http://127.0.0.1:9/charges: no answer within 0.5 s$"):
        conform(httpx.MockTransport(handler), timeout_s=0.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 1}, "concurrency must be at least 2 to send a key concurrently (got 1)"),
        ({"timeout_s": 0}, "timeout must be positive (got 0 s)"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(HarnessError, match=f"^{re.escape(message)}$"):
        conform(InstantServer(), **options)


def test_the_command_writes_reports_and_returns_the_exit_status(tmp_path: Path) -> None:
    console = Console(record=True, width=200, color_system=None)
    passing = run_conformance(URL, transport=httpx.MockTransport(InstantServer()))
    assert report_conformance(passing, console, out_dir=tmp_path) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["conform.json", "junit.xml"]

    failing = run_conformance(URL, transport=httpx.MockTransport(lambda request: httpx.Response(500)))
    assert report_conformance(failing, console) == 1
    last_line = console.export_text().splitlines()[-1]
    assert last_line == "Conformance: FAIL (6 checks, 3 failed, 3 could not tell)"
