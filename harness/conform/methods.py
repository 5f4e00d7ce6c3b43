"""The HTTP method table (RFC 9110 §9.2), checked on one declared resource.

GET and HEAD are *safe*: reading must not change what is read. PUT and DELETE are *idempotent*: the
same request twice leaves the state as once, which is what lets a client retry them after a lost
answer. POST and PATCH are neither; a PATCH is safe to retry only when the server honours an
Idempotency-Key and replays the first answer. OPTIONS' ``Allow`` header tells a client which methods
the resource offers. Each check sends real requests to a resource it made first and compares what GET
reads before and after; a check whose method the user said the API lacks is skipped (could not tell).

The checks run in the order of :data:`METHOD_CHECKS`: the first makes the resource the others act on
(the DELETE check makes its own, so deleting leaves the others theirs), and the Allow check comes last
because it compares ``Allow`` with every answer the resource gave before it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from harness.conform.client import Reply, ResourceClient, new_key
from harness.conform.model import ConformCheck
from harness.conform.resource import MethodResource

CREATE = "create → 2xx with an id"
GET_SAFE = "GET → changes nothing"
HEAD_SAFE = "HEAD → no body, GET's status and type, changes nothing"
PUT_REPEATED = "PUT twice → same representation"
PATCH_KEYED = "PATCH twice with one key → same answer, one change"
DELETE_REPEATED = "DELETE twice → gone, never 5xx"
ALLOW = "OPTIONS → Allow lists the methods answered"

READS = 3
"""Reads in a row by the safety checks: one could hide a change made after answering; three do not."""

CHANGES_SHOWN = 4
VALUE_SHOWN = 40
REPEATED_DELETE_STATUSES = (404, 410)
"""Besides a 2xx: what a DELETE of a resource already deleted may answer."""
_ABSENT = object()


@dataclass
class MethodSession:
    """What the checks share: the client (with every answer so far), the resource and its id."""

    client: ResourceClient
    resource: MethodResource
    resource_id: str | None = None
    read_changes: dict[str, float | None] = field(default_factory=dict)
    """The fields GET alone changes (the GET check finds them), with how far one GET moves each number
    (None: not by a fixed number). Every check reads with GET, so the later ones leave these out rather
    than blame their own method for a change the reads made."""


class Finding(NamedTuple):
    """A check's outcome: passed (None: could not tell), why, and the answers that show it."""

    passed: bool | None
    message: str
    replies: Sequence[Reply] = ()


def created_id(reply: Reply, id_field: str) -> str | None:
    """The id a create answer gives: its body's ``id_field``, else the last segment of ``Location``."""
    document = reply.json()
    if isinstance(document, dict):
        identifier = document.get(id_field)
        if isinstance(identifier, str | int) and not isinstance(identifier, bool) and str(identifier):
            return str(identifier)
    location = reply.headers.get("location")
    if location:
        return str(location).rstrip("/").rsplit("/", 1)[-1] or None
    return None


def _create(session: MethodSession) -> tuple[Reply, str | None]:
    """POSTs the create body with a fresh key: an API that makes POST safe to retry refuses one without
    (400), and one that does not read the header ignores it."""
    resource = session.resource
    reply = session.client.send("POST", resource.create_path, body=resource.create_body, key=new_key())
    return reply, created_id(reply, resource.id_field) if reply.ok else None


def _read(session: MethodSession, resource_id: str) -> Reply:
    return session.client.send("GET", session.resource.path, resource_id)


def _shown(document: dict[str, object], name: str) -> str:
    if name not in document:
        return "(absent)"
    text = json.dumps(document[name], ensure_ascii=False)
    return text if len(text) <= VALUE_SHOWN else text[: VALUE_SHOWN - 1] + "…"


def _changed_fields(old: dict[str, object], new: dict[str, object], ignored: Sequence[str]) -> list[str]:
    return [
        name
        for name in dict.fromkeys([*old, *new])
        if name not in ignored and old.get(name, _ABSENT) != new.get(name, _ABSENT)
    ]


def _change(old: dict[str, object], new: dict[str, object], name: str) -> str:
    return f"{name} {_shown(old, name)} → {_shown(new, name)}"


def changes(before: Reply, after: Reply, ignored: Sequence[str]) -> list[str]:
    """How ``after`` differs from ``before``: the status, else each top-level field not ``ignored`` that
    changed (``views 1 → 2``), else the whole body; empty when they read the same."""
    if before.status != after.status:
        return [f"status {before.status} → {after.status}"]
    old, new = before.json(), after.json()
    if isinstance(old, dict) and isinstance(new, dict):
        return [_change(old, new, name) for name in _changed_fields(old, new, ignored)]
    return [] if before.same_body(after) else ["the body"]


def _moved(old: dict[str, object], new: dict[str, object], name: str) -> float | None:
    """How far a number field moved from ``old`` to ``new``; None when either is not a number."""
    first, second = old.get(name), new.get(name)
    if isinstance(first, bool) or isinstance(second, bool):
        return None
    if isinstance(first, int | float) and isinstance(second, int | float):
        return second - first
    return None


def read_changes(reads: Sequence[Reply], ignored: Sequence[str]) -> dict[str, float | None]:
    """The fields that changed between consecutive GETs of ``reads``, with the fixed step a number moved
    by (None: a text, or a number moving by different steps); empty unless every read is a 2xx object."""
    documents = [read.json() for read in reads]
    found: dict[str, float | None] = {}
    if not all(read.ok for read in reads):
        return found
    for old, new in zip(documents, documents[1:], strict=False):
        if not (isinstance(old, dict) and isinstance(new, dict)):
            return {}
        for name in _changed_fields(old, new, ignored):
            step = _moved(old, new, name)
            found[name] = step if found.get(name, step) == step else None
    return found


def _left_out(session: MethodSession) -> tuple[str, ...]:
    """The fields the comparisons after the GET check leave out: the ignored ones and those GET changes."""
    return (*session.resource.ignore, *session.read_changes)


def _listed(found: list[str]) -> str:
    shown = ", ".join(found[:CHANGES_SHOWN])
    return shown + (f" and {len(found) - CHANGES_SHOWN} more" if len(found) > CHANGES_SHOWN else "")


def _ignoring(resource: MethodResource) -> str:
    return f"; ignoring {', '.join(resource.ignore)}" if resource.ignore else ""


def _leaving_out(session: MethodSession) -> str:
    """What a comparison after the GET check left out, for its message."""
    by_get = (
        f"; leaving out {', '.join(session.read_changes)}, which GET alone changes (see the GET check)"
        if session.read_changes
        else ""
    )
    return _ignoring(session.resource) + by_get


def _unreadable(read: Reply, replies: Sequence[Reply]) -> Finding:
    return Finding(None, f"could not tell: GET of the resource answered HTTP {read.status}", replies)


def _not_allowed(method: str, replies: Sequence[Reply]) -> Finding:
    message = (
        f"could not tell: {method} answered 405 Method Not Allowed; if the API does not offer "
        f"{method} here, say so with --unsupported {method}"
    )
    return Finding(None, message, replies)


def _refused(method: str, reply: Reply, hint: str, replies: Sequence[Reply]) -> Finding | None:
    """The could-not-tell finding when the first ``method`` request was not accepted, else None."""
    if reply.ok:
        return None
    if reply.status == 405:
        return _not_allowed(method, replies)
    return Finding(None, f"could not tell: the first {method} answered HTTP {reply.status}{hint}", replies)


def check_create(session: MethodSession) -> Finding:
    resource = session.resource
    reply, identifier = _create(session)
    if not reply.ok:
        message = (
            f"POST {resource.create_path} answered HTTP {reply.status}: no resource to check "
            "(see --create and --create-body)"
        )
        return Finding(False, message, (reply,))
    if identifier is None:
        message = (
            f"the create answer holds no {resource.id_field!r} field and no Location header "
            "(name the id's field with --id-field)"
        )
        return Finding(False, message, (reply,))
    session.resource_id = identifier
    return Finding(True, f"created {identifier!r}: HTTP {reply.status}", (reply,))


def check_get_safe(session: MethodSession, resource_id: str) -> Finding:
    reads = [_read(session, resource_id) for _ in range(READS + 1)]
    first = reads[0]
    if not first.ok:
        return _unreadable(first, reads)
    for later in reads[1:]:
        found = changes(first, later, session.resource.ignore)
        if found:
            session.read_changes = read_changes(reads, session.resource.ignore)
            message = f"the resource changed while only GET was sent to it: {_listed(found)}; GET is not safe"
            return Finding(False, message, reads)
    same = f"{len(reads)} GETs read the same representation (HTTP {first.status})"
    return Finding(True, same + _ignoring(session.resource), reads)


def _media_type(reply: Reply) -> str:
    value = reply.headers.get("content-type")
    return "(none)" if value is None else str(value).split(";", 1)[0].strip().lower()


def _moved_by_heads(session: MethodSession, before: Reply, after: Reply) -> tuple[list[str], list[str]]:
    """For each field GET alone changes: a problem when it moved across the HEADs and the GET after them
    by more than that one GET moves it; the fields whose move cannot be told apart (not a fixed number)."""
    old, new = before.json(), after.json()
    if not (isinstance(old, dict) and isinstance(new, dict)) or before.status != after.status:
        return [], []
    problems: list[str] = []
    untold: list[str] = []
    for name, step in session.read_changes.items():
        moved = _moved(old, new, name)
        if step is None or moved is None:
            untold.append(name)
        elif moved != step:
            problems.append(
                f"{_change(old, new, name)} across {READS} HEADs and the GET after them, where one GET "
                f"alone moves it by {step:g}"
            )
    return problems, untold


def check_head_safe(session: MethodSession, resource_id: str) -> Finding:
    resource = session.resource
    before = _read(session, resource_id)
    if not before.ok:
        return _unreadable(before, (before,))
    heads = [session.client.send("HEAD", resource.path, resource_id) for _ in range(READS)]
    if heads[0].status == 405:
        return _not_allowed("HEAD", (before, heads[0]))
    after = _read(session, resource_id)
    replies = (before, *heads, after)
    problems: list[str] = []
    for head in heads:
        if head.status != before.status:
            problems.append(f"HEAD answered HTTP {head.status} where GET answered HTTP {before.status}")
        if head.content:
            problems.append(f"HEAD answered with a body ({len(head.content)} bytes)")
        if _media_type(head) != _media_type(before):
            problems.append(f"HEAD's Content-Type is {_media_type(head)}, GET's {_media_type(before)}")
    found = changes(before, after, _left_out(session))
    if found:
        problems.append(f"the resource changed across {READS} HEADs: {_listed(found)}")
    moved, untold = _moved_by_heads(session, before, after)
    problems += moved
    if problems:
        return Finding(False, "; ".join(dict.fromkeys(problems)), replies)
    if untold:
        message = (
            f"could not tell whether HEAD changes {', '.join(untold)}: GET alone changes it, and not by a "
            "fixed number (see the GET check)"
        )
        return Finding(None, message, replies)
    message = (
        f"{READS} HEADs answered HTTP {before.status}, no body, Content-Type {_media_type(before)} as GET; "
        f"the resource read the same before and after{_leaving_out(session)}"
    )
    return Finding(True, message, replies)


def _put_body(session: MethodSession, resource_id: str) -> tuple[object | None, list[Reply]]:
    """The declared PUT body, else what GET reads without the id, the ignored fields and those GET alone
    changes (None: no object)."""
    resource = session.resource
    if resource.put_body is not None:
        return resource.put_body, []
    current = _read(session, resource_id)
    document = current.json()
    if not current.ok or not isinstance(document, dict):
        return None, [current]
    left_out = {resource.id_field, *_left_out(session)}
    return {name: value for name, value in document.items() if name not in left_out}, [current]


def check_put_repeated(session: MethodSession, resource_id: str) -> Finding:
    resource = session.resource
    body, replies = _put_body(session, resource_id)
    if body is None:
        message = (
            f"could not tell: GET answered HTTP {replies[0].status} without a JSON object to send back "
            "with PUT (declare the body with --put-body)"
        )
        return Finding(None, message, replies)
    first = session.client.send("PUT", resource.put_path, resource_id, body=body)
    refused = _refused("PUT", first, " (see --put-body)", (*replies, first))
    if refused is not None:
        return refused
    after_first = _read(session, resource_id)
    second = session.client.send("PUT", resource.put_path, resource_id, body=body)
    after_second = _read(session, resource_id)
    replies += [first, after_first, second, after_second]
    if not second.ok:
        message = (
            f"the same PUT sent again answered HTTP {second.status} where the first got HTTP {first.status}: "
            "a retried PUT must succeed as the first did"
        )
        return Finding(False, message, replies)
    if not after_first.ok:
        return _unreadable(after_first, replies)
    found = changes(after_first, after_second, _left_out(session))
    if found:
        message = (
            f"the same PUT sent twice changed the resource again: {_listed(found)}; PUT is not idempotent"
        )
        return Finding(False, message, replies)
    message = (
        f"the resource read the same after each of two identical PUTs (HTTP {first.status}, then "
        f"{second.status}){_leaving_out(session)}"
    )
    return Finding(True, message, replies)


def check_patch_keyed(session: MethodSession, resource_id: str) -> Finding:
    resource = session.resource
    if resource.patch_body is None:
        message = (
            "could not tell: no PATCH declared (--patch-body; an increment shows most), or say the API "
            "lacks it with --unsupported PATCH"
        )
        return Finding(None, message)
    before = _read(session, resource_id)
    if not before.ok:
        return _unreadable(before, (before,))
    key = new_key()
    first = session.client.send("PATCH", resource.path, resource_id, body=resource.patch_body, key=key)
    refused = _refused("PATCH", first, " (see --patch-body)", (before, first))
    if refused is not None:
        return refused
    after_first = _read(session, resource_id)
    second = session.client.send("PATCH", resource.path, resource_id, body=resource.patch_body, key=key)
    after_second = _read(session, resource_id)
    replies = (before, first, after_first, second, after_second)
    problems: list[str] = []
    left_out = _left_out(session)
    applied_again = changes(after_first, after_second, left_out)
    if applied_again:
        problems.append(
            f"the second PATCH with the same key changed the resource again: {_listed(applied_again)}"
        )
    answered_otherwise = changes(first, second, left_out)
    if answered_otherwise:
        problems.append(f"the replay answered differently: {_listed(answered_otherwise)}")
    if problems:
        problems.append(f"{session.client.key_header} does not make the PATCH apply once")
        return Finding(False, "; ".join(problems), replies)
    applied = changes(before, after_first, left_out)
    if not applied:
        message = (
            "could not tell: the first PATCH changed nothing, so a second application would not show "
            "(declare a --patch-body that changes the resource, e.g. an increment)"
        )
        return Finding(None, message, replies)
    message = (
        f"the replay answered HTTP {second.status} with the same body, and the resource changed once "
        f"({_listed(applied)}){_leaving_out(session)}"
    )
    return Finding(True, message, replies)


def check_delete_repeated(session: MethodSession, resource_id: str) -> Finding:
    """Deletes a resource of its own, made like ``resource_id``, so the checks after it keep theirs."""
    created, own_id = _create(session)
    if own_id is None:
        return Finding(None, f"could not tell: no resource to delete (create answered HTTP {created.status})",
                       (created,))
    resource = session.resource
    first = session.client.send("DELETE", resource.path, own_id)
    if first.status == 405:
        return _not_allowed("DELETE", (created, first))
    second = session.client.send("DELETE", resource.path, own_id)
    after = _read(session, own_id)
    replies = (created, first, second, after)
    problems: list[str] = []
    if not first.ok:
        problems.append(f"the first DELETE answered HTTP {first.status} where a 2xx was due")
    if second.status >= 500:
        problems.append(
            f"the repeated DELETE answered HTTP {second.status}: never a 5xx for a retried DELETE"
        )
    elif not (second.ok or second.status in REPEATED_DELETE_STATUSES):
        problems.append(f"the repeated DELETE answered HTTP {second.status}; expected 2xx, 404 or 410")
    if after.status not in REPEATED_DELETE_STATUSES:
        problems.append(f"GET after the DELETEs answered HTTP {after.status}: the resource is still there")
    if problems:
        return Finding(False, "; ".join(problems), replies)
    message = f"DELETE answered HTTP {first.status}, repeated HTTP {second.status}"
    return Finding(True, f"{message}; GET then HTTP {after.status}", replies)


def _allowed(value: str) -> set[str]:
    return {method.strip().upper() for method in value.split(",") if method.strip()}


def _statuses(replies: Sequence[Reply]) -> str:
    return ", ".join(str(status) for status in sorted({reply.status for reply in replies}))


def check_allow(session: MethodSession, resource_id: str) -> Finding:
    resource = session.resource
    options = session.client.send("OPTIONS", resource.path, resource_id)
    allow = options.headers.get("allow")
    if allow is None:
        return Finding(None, f"could not tell: OPTIONS answered HTTP {options.status} with no Allow header",
                       (options,))
    listed = _allowed(str(allow))
    answers: dict[str, list[Reply]] = {}
    for template, reply in session.client.sent:
        if template == resource.path:
            answers.setdefault(reply.exchange.method, []).append(reply)
    offered = [method for method, replies in answers.items() if any(reply.status != 405 for reply in replies)]
    unlisted = [method for method in offered if method not in listed]
    refusing = [
        method
        for method, replies in answers.items()
        if method in listed and any(reply.status == 405 for reply in replies)
    ]
    problems = [
        f"{method} answered HTTP {_statuses(answers[method])} but Allow leaves it out" for method in unlisted
    ]
    problems += [f"Allow lists {method}, which answered 405" for method in refusing]
    evidence = (options, *(answers[method][0] for method in (*unlisted, *refusing)))
    if problems:
        return Finding(False, f"Allow: {allow}; " + "; ".join(problems), evidence)
    not_probed = sorted(listed.difference(answers))
    message = f"Allow: {allow} lists every method the resource answered ({', '.join(offered)}), none refused"
    if not_probed:
        message += f"; not probed: {', '.join(not_probed)}"
    return Finding(True, message, evidence)


@dataclass(frozen=True)
class MethodCheck:
    """A check of the table: its name, the method it is about, and what it does with the resource."""

    name: str
    method: str
    run: Callable[[MethodSession, str], Finding]


def _result(name: str, finding: Finding) -> ConformCheck:
    evidence = tuple(reply.exchange for reply in finding.replies)
    return ConformCheck(name, finding.passed, finding.message, evidence)


def run_method_check(session: MethodSession, check: MethodCheck) -> ConformCheck:
    """``check`` on the session's resource: skipped when its method is declared unsupported, could not
    tell when there is no resource."""
    if check.method in session.resource.unsupported:
        finding = Finding(None, f"skipped: declared unsupported (--unsupported {check.method})")
    elif session.resource_id is None:
        finding = Finding(None, "could not tell: no resource was created (see the create check)")
    else:
        finding = check.run(session, session.resource_id)
    return _result(check.name, finding)


def run_method_checks(session: MethodSession) -> tuple[ConformCheck, ...]:
    """The create check, then every check of :data:`METHOD_CHECKS` on the resource it made."""
    first = _result(CREATE, check_create(session))
    return (first, *(run_method_check(session, check) for check in METHOD_CHECKS))


METHOD_CHECKS = (
    MethodCheck(GET_SAFE, "GET", check_get_safe),
    MethodCheck(HEAD_SAFE, "HEAD", check_head_safe),
    MethodCheck(PUT_REPEATED, "PUT", check_put_repeated),
    MethodCheck(PATCH_KEYED, "PATCH", check_patch_keyed),
    MethodCheck(DELETE_REPEATED, "DELETE", check_delete_repeated),
    MethodCheck(ALLOW, "OPTIONS", check_allow),
)
"""The checks on the resource, in running order; a new one is a MethodCheck appended here."""
