"""The mailer target in-process: what each variant sends, driven step by step with a recording sender."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from factories import SimulatedCrash, simulated_crash

from targets.mailer.app import FAILPOINTS, VARIANTS, create_app
from targets.mailer.delivery import AFTER_SEND_BEFORE_ACK
from targets.targetkit import Failpoints, TargetConfig
from targets.targetkit.smtp_send import OutgoingMail
from targets.targetkit.worker import run_until_idle

EMAIL = {"to": "ada@example.org", "subject": "Your receipt", "reference": "op-1"}

pytestmark = pytest.mark.anyio


@dataclass
class Outbox:
    """A recording `send`; `refuse` makes the next sends fail as a refusing SMTP server would."""

    sent: list[OutgoingMail] = field(default_factory=list)
    refuse: int = 0

    def send(self, mail: OutgoingMail) -> None:
        if self.refuse:
            self.refuse -= 1
            raise OSError("connection refused")
        self.sent.append(mail)


@dataclass
class Mailer:
    client: httpx.AsyncClient
    step: Callable[[], bool]

    async def post(self, key: str | None = None, body: dict[str, str] = EMAIL) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return await self.client.post("/emails", json=body, headers=headers)

    async def stats(self) -> dict[str, int]:
        response = await self.client.get("/stats")
        assert response.status_code == 200
        stats: dict[str, int] = response.json()
        return stats


@asynccontextmanager
async def _mailer(db_path: Path, variant: str, outbox: Outbox, *,
                  crash_after_send: bool = False) -> AsyncIterator[Mailer]:
    failpoints = Failpoints({AFTER_SEND_BEFORE_ACK: 1.0 if crash_after_send else 0.0}, crash=simulated_crash)
    app = create_app(TargetConfig(variant=variant, db_path=db_path), send=outbox.send, namespace="cell-7",
                     failpoints=failpoints)
    app.state.mail_worker.jobs.recover()  # what the lifespan does at start-up
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mailer") as client:
        yield Mailer(client, app.state.mail_worker.step)


def test_variants_and_failpoints_are_the_documented_ones() -> None:
    assert VARIANTS == ("naive", "idempotent", "broken-record-after-send")
    assert set(FAILPOINTS) == {"before_commit", "after_commit_before_response", "after_send_before_ack"}


async def test_a_queued_email_is_sent_once_with_the_correlation_headers(tmp_path: Path) -> None:
    outbox = Outbox()
    async with _mailer(tmp_path / "m.db", "idempotent", outbox) as mailer:
        accepted = await mailer.post("k-1")
        before = await mailer.stats()
        busy_steps = run_until_idle(mailer.step)
        after = await mailer.stats()

    job_id = accepted.json()["id"]
    assert (accepted.status_code, set(accepted.json())) == (202, {"id"})
    assert (before, busy_steps, after) == ({"pending": 1, "done": 0}, 1, {"pending": 0, "done": 1})
    [mail] = outbox.sent
    message = mail.to_message()
    assert (message["Message-ID"], message["To"], message["Subject"]) == (
        f"<{job_id}@mailer.harness.invalid>", "ada@example.org", "Your receipt")
    assert (message["X-Op-Ref"], message["X-Harness-Namespace"]) == ("op-1", "cell-7")


async def test_naive_ignores_the_key_and_sends_a_retried_post_twice(tmp_path: Path) -> None:
    outbox = Outbox()
    async with _mailer(tmp_path / "m.db", "naive", outbox) as mailer:
        first, second = await mailer.post("k-1"), await mailer.post("k-1")
        run_until_idle(mailer.step)
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]
    assert [m.headers["X-Op-Ref"] for m in outbox.sent] == ["op-1", "op-1"]


@pytest.mark.parametrize("variant", ["idempotent", "broken-record-after-send"])
async def test_keyed_variants_replay_a_retried_post_and_send_once(tmp_path: Path, variant: str) -> None:
    outbox = Outbox()
    async with _mailer(tmp_path / "m.db", variant, outbox) as mailer:
        missing_key = await mailer.post()
        first, retry = await mailer.post("k-1"), await mailer.post("k-1")
        run_until_idle(mailer.step)
    assert missing_key.status_code == 400
    assert (first.status_code, retry.status_code, retry.headers["Idempotent-Replayed"]) == (202, 202, "true")
    assert retry.json() == first.json()
    assert len(outbox.sent) == 1


@pytest.mark.parametrize(("variant", "sends"), [
    ("naive", 2), ("idempotent", 1), ("broken-record-after-send", 2),
])
async def test_a_crash_after_send_before_ack_then_a_restart(tmp_path: Path, variant: str, sends: int) -> None:
    outbox = Outbox()
    db = tmp_path / "m.db"
    async with _mailer(db, variant, outbox, crash_after_send=True) as mailer:
        await mailer.post("k-1")
        with pytest.raises(SimulatedCrash):
            mailer.step()
    async with _mailer(db, variant, outbox) as restarted:
        run_until_idle(restarted.step)
        stats = await restarted.stats()
    assert [m.headers["X-Op-Ref"] for m in outbox.sent] == ["op-1"] * sends
    assert len({m.message_id for m in outbox.sent}) == 1  # the same job, the same Message-ID
    assert stats == {"pending": 0, "done": 1}


async def test_idempotent_forgets_its_record_when_smtp_refuses_and_sends_on_the_next_try(
        tmp_path: Path) -> None:
    outbox = Outbox(refuse=1)
    async with _mailer(tmp_path / "m.db", "idempotent", outbox) as mailer:
        await mailer.post("k-1")
        with pytest.raises(OSError, match="connection refused"):
            mailer.step()
        after_refusal = await mailer.stats()
        run_until_idle(mailer.step)
        after_retry = await mailer.stats()
    assert after_refusal == {"pending": 1, "done": 0}
    assert (len(outbox.sent), after_retry) == (1, {"pending": 0, "done": 1})


@pytest.mark.parametrize("body", [
    {**EMAIL, "to": "not an address"}, {**EMAIL, "subject": "two\r\nlines"}, {**EMAIL, "reference": ""},
])
async def test_invalid_emails_are_refused_before_anything_is_queued(tmp_path: Path,
                                                                    body: dict[str, str]) -> None:
    async with _mailer(tmp_path / "m.db", "naive", Outbox()) as mailer:
        response = await mailer.post(body=body)
        stats = await mailer.stats()
    assert (response.status_code, response.headers["content-type"]) == (422, "application/problem+json")
    assert stats == {"pending": 0, "done": 0}
