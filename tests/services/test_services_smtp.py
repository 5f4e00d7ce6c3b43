"""The SMTP sink: real SMTP in, per-namespace listing out, nothing acknowledged is lost."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage
from pathlib import Path

import httpx

from harness.runtime.base import Endpoint
from harness.services import ServiceSet
from harness.services.smtp_sink import MessageStore, Received


def _send(endpoint: Endpoint, namespace: str, reference: str, message_id: str) -> None:
    message = EmailMessage()
    message["From"] = "shop@example.test"
    message["To"] = "customer@example.test"
    message["Subject"] = "Your receipt"
    message["Message-ID"] = message_id
    message["X-Harness-Namespace"] = namespace
    message["X-Op-Ref"] = reference
    message.set_content("Thank you.")
    with smtplib.SMTP(endpoint.host, endpoint.port, timeout=5) as client:
        client.send_message(message)


def test_a_cell_lists_only_its_own_messages(stores: ServiceSet) -> None:
    env = stores.cell_env("mail-a")
    sink = Endpoint(env["HARNESS_SMTP_HOST"], int(env["HARNESS_SMTP_PORT"]))
    before = time.time()
    _send(sink, "mail-a", "op-1", "<m1@test>")
    _send(sink, "mail-b", "op-2", "<m2@test>")
    _send(sink, "mail-a", "op-1", "<m3@test>")
    after = time.time()
    listed = httpx.get(stores.smtp_effects_url("mail-a"), timeout=5).json()
    assert [(entry["reference"], entry["id"]) for entry in listed] == [
        ("op-1", "<m1@test>"),
        ("op-1", "<m3@test>"),
    ]
    assert all(before <= entry["created_at"] <= after for entry in listed)
    assert sorted(listed[0]) == ["created_at", "id", "reference"]
    assert httpx.get(stores.smtp_effects_url("mail-nobody"), timeout=5).json() == []


def test_the_listing_needs_a_namespace(stores: ServiceSet) -> None:
    url = stores.smtp_effects_url("x").split("?")[0]
    response = httpx.get(url, timeout=5)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "the namespace query parameter is required"},
    )


def test_addresses_override_where_the_target_sends(stores: ServiceSet) -> None:
    env = stores.cell_env("mail-proxied", {"smtp": Endpoint("127.0.0.1", 4323)})
    assert (env["HARNESS_SMTP_HOST"], env["HARNESS_SMTP_PORT"], env["HARNESS_NAMESPACE"]) == (
        "127.0.0.1",
        "4323",
        "mail-proxied",
    )


def test_the_store_is_read_back_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    first = MessageStore(path)
    first.add(Received("cell-1", "op-9", "<m9@test>", 1.5, "a@test", ["b@test"]))
    first.add(Received("cell-2", None, "<sink-2>", 2.5, "a@test", ["b@test"]))
    first.close()
    again = MessageStore(path)
    listed = [again.for_namespace("cell-1"), again.for_namespace("cell-2")]
    again.close()
    assert listed == [
        [{"reference": "op-9", "id": "<m9@test>", "created_at": 1.5}],
        [{"reference": None, "id": "<sink-2>", "created_at": 2.5}],
    ]
    assert len(path.read_text().splitlines()) == 2
