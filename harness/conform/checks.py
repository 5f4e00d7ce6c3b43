"""The six checks of the Idempotency-Key draft (draft-ietf-httpapi-idempotency-key-header).

Each check is a function of a :class:`Session` returning one :class:`ConformCheck`; they run in the
order of :data:`CHECKS` because later ones build on earlier answers (the replay resends the first
keyed request, the expiry check reads every header seen). What the draft asks, by section:

- Error Scenarios: a missing key on an operation that requires one → 400; a key reused with a different
  payload → 422; a retry while the original is still being processed → 409.
- Idempotency Enforcement Scenarios: a first request is processed normally; a retry after it completed
  gets the result of that completed operation.
- Idempotency Key Validity and Expiry: the server SHOULD publish its expiry policy (informational here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.conform.client import Prober, Reply, new_key
from harness.conform.model import ConformCheck

MISSING_KEY = "missing key → 400"
FIRST_REQUEST = "first request → 2xx"
REPLAY = "replay → same response"
PAYLOAD_MISMATCH = "different payload → 422"
CONCURRENT = "concurrent same key → one resource"
EXPIRY = "expiry documented"

REPLAYED_HEADERS = ("Idempotent-Replayed", "Idempotency-Replayed", "X-Idempotent-Replayed")
"""Headers servers use to mark a replayed answer (Stripe's is the first); never required by the draft."""

EXPIRY_HEADERS = ("Idempotency-Key-Expires", "Expires")


@dataclass
class Session:
    """What the checks share: the prober, the payload, and every reply so far."""

    prober: Prober
    body: dict[str, object]
    concurrency: int
    first_key: str = field(default_factory=new_key)
    first: Reply | None = None
    replies: list[Reply] = field(default_factory=list)

    def send(self, key: str | None, body: dict[str, object] | None = None) -> Reply:
        reply = self.prober.send(key, self.body if body is None else body)
        self.replies.append(reply)
        return reply


def _answer(reply: Reply) -> str:
    """``HTTP 201, resource ch_1``: a status with the resource it names, for messages."""
    resource = reply.resource_id
    return f"HTTP {reply.status}" + (f", resource {resource}" if resource else "")


def different_payload(body: dict[str, object]) -> dict[str, object]:
    """The same request with one value changed, the way a buggy client reuses a key for a new request.

    The first whole number is incremented (an amount), else the first string is extended, else a field
    is added: each keeps the payload valid for a typical schema, so a 4xx can only come from the key.
    """
    changed = dict(body)
    for name, value in body.items():
        if isinstance(value, int) and not isinstance(value, bool):
            changed[name] = value + 1
            return changed
    for name, value in body.items():
        if isinstance(value, str):
            changed[name] = value + "-changed"
            return changed
    changed["conformance_probe"] = new_key()
    return changed


def check_missing_key(session: Session) -> ConformCheck:
    reply = session.send(None)
    if reply.status == 400:
        passed, message = True, "refused with HTTP 400 as the draft asks"
    elif reply.ok:
        passed = False
        message = (
            f"accepted a request without {session.prober.key_header} ({_answer(reply)}): "
            "the key is not required, so a client that forgets it gets no protection from duplicates"
        )
    else:
        passed = False
        message = f"answered HTTP {reply.status}; the draft asks for 400 when the key is missing"
    return ConformCheck(MISSING_KEY, passed, message, (reply.exchange,))


def check_first_request(session: Session) -> ConformCheck:
    reply = session.send(session.first_key)
    session.first = reply
    if reply.ok:
        return ConformCheck(FIRST_REQUEST, True, f"processed: {_answer(reply)}", (reply.exchange,))
    message = f"answered HTTP {reply.status}; a first request with a fresh key must be processed normally"
    return ConformCheck(FIRST_REQUEST, False, message, (reply.exchange,))


def _first_accepted(session: Session, name: str) -> Reply | ConformCheck:
    """The accepted first reply, or the could-not-tell result for a check that needs one."""
    first = session.first
    if first is None or not first.ok:
        status = "no answer" if first is None else f"HTTP {first.status}"
        message = f"could not tell: the first request with a key was not accepted ({status})"
        return ConformCheck(name, None, message, () if first is None else (first.exchange,))
    return first


def _replay_marker(reply: Reply) -> str:
    for header in REPLAYED_HEADERS:
        if header in reply.headers:
            return f"; marked {header}: {reply.headers[header]}"
    return "; no replay marker header (informational)"


def check_replay(session: Session) -> ConformCheck:
    first = _first_accepted(session, REPLAY)
    if isinstance(first, ConformCheck):
        return first
    reply = session.send(session.first_key)
    evidence = (first.exchange, reply.exchange)
    first_id, replay_id = first.resource_id, reply.resource_id
    if reply.ok and first_id is not None and replay_id is not None and first_id != replay_id:
        message = (
            f"the retry created a second resource: {first_id} first, {replay_id} on the retry; "
            "the key does not deduplicate"
        )
        return ConformCheck(REPLAY, False, message, evidence)
    if reply.status != first.status:
        message = f"the retry got HTTP {reply.status} where the first request got HTTP {first.status}"
        return ConformCheck(REPLAY, False, message, evidence)
    if not reply.same_body(first):
        message = f"the retry got HTTP {reply.status} with a different body than the first response"
        return ConformCheck(REPLAY, False, message, evidence)
    same = f"resource id {first_id} in both" if first_id else "no resource id to compare"
    message = f"replayed HTTP {reply.status} with the same body ({same}){_replay_marker(reply)}"
    return ConformCheck(REPLAY, True, message, evidence)


def check_payload_mismatch(session: Session) -> ConformCheck:
    first = _first_accepted(session, PAYLOAD_MISMATCH)
    if isinstance(first, ConformCheck):
        return first
    reply = session.send(session.first_key, different_payload(session.body))
    evidence = (first.exchange, reply.exchange)
    if reply.status == 422:
        return ConformCheck(PAYLOAD_MISMATCH, True, "refused with HTTP 422 as the draft asks", evidence)
    if reply.ok and reply.resource_id is not None and reply.resource_id == first.resource_id:
        message = (
            f"replayed the first response ({_answer(reply)}) for a different payload instead of refusing "
            "it with 422: the client is told its changed request succeeded"
        )
    elif reply.ok:
        message = (
            f"accepted a different payload under a used key ({_answer(reply)}): the key is not bound to "
            "its payload"
        )
    else:
        message = (
            f"answered HTTP {reply.status}; the draft asks for 422 when a key is reused with another payload"
        )
    return ConformCheck(PAYLOAD_MISMATCH, False, message, evidence)


def _resources(replies: list[Reply]) -> list[str]:
    """Distinct resources the accepted replies name (their id, or their body when they carry none)."""
    seen: list[str] = []
    for reply in replies:
        if reply.ok:
            resource = reply.resource_id or reply.content.decode(errors="replace")
            if resource not in seen:
                seen.append(resource)
    return seen


def check_concurrent(session: Session) -> ConformCheck:
    key = new_key()
    burst = session.prober.burst(key, session.body, session.concurrency)
    session.replies.extend(burst)
    after = session.send(key)  # every burst request has ended: this one must replay the single result
    replies = [*burst, after]
    evidence = tuple(reply.exchange for reply in replies)
    resources = _resources(replies)
    conflicts = sum(1 for reply in burst if reply.status == 409)
    unexpected = sorted({reply.status for reply in burst if not reply.ok and reply.status != 409})
    accepted = sum(1 for reply in burst if reply.ok)
    if len(resources) > 1:
        shown = ", ".join(resources[:6]) + (" …" if len(resources) > 6 else "")
        sent = f"{session.concurrency} concurrent requests and 1 retry after them"
        message = f"{len(resources)} resources created for one key ({sent}): {shown}"
        return ConformCheck(CONCURRENT, False, message, evidence)
    if unexpected:
        codes = ", ".join(str(code) for code in unexpected)
        message = f"concurrent requests got HTTP {codes}; allowed are 2xx (one result) or 409 (in flight)"
        return ConformCheck(CONCURRENT, False, message, evidence)
    if not resources:
        message = f"no request with the key was accepted ({conflicts} × 409, then HTTP {after.status})"
        return ConformCheck(CONCURRENT, False, message, evidence)
    summary = f"one resource ({resources[0]}) from {session.concurrency} clients: {accepted} × 2xx"
    if conflicts == 0:
        message = (
            f"{summary}, but in-flight 409 not observed (the first request finished before the others "
            "arrived)"
        )
        return ConformCheck(CONCURRENT, None, message, evidence)
    return ConformCheck(CONCURRENT, True, f"{summary}, {conflicts} × 409 (in flight)", evidence)


def _expiry_hints(replies: list[Reply]) -> list[str]:
    """Headers and links that can tell a client how long a key is honoured."""
    hints: list[str] = []
    for reply in replies:
        for header in (*EXPIRY_HEADERS, "Link"):
            value = reply.headers.get(header)
            if value is not None:
                hints.append(f"{header}: {value}")
        document = reply.json()
        link = document.get("type") if isinstance(document, dict) else None
        if isinstance(link, str) and link.startswith(("http://", "https://")):
            hints.append(f"documentation link {link}")
    return list(dict.fromkeys(hints))


def check_expiry(session: Session) -> ConformCheck:
    hints = _expiry_hints(session.replies)
    if hints:
        return ConformCheck(EXPIRY, True, "expiry hint found: " + "; ".join(hints[:3]))
    message = (
        "no expiry hint in any answer (no Idempotency-Key-Expires, Expires or Link header, no documentation "
        "link): the draft asks servers to publish their key expiry policy"
    )
    return ConformCheck(EXPIRY, None, message)


CHECKS: tuple[Callable[[Session], ConformCheck], ...] = (
    check_missing_key,
    check_first_request,
    check_replay,
    check_payload_mismatch,
    check_concurrent,
    check_expiry,
)
"""Every check in running order; a new one is a function appended here."""
