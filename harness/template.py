"""Request templates: placeholders in a declared operation's path, header values and JSON body.

A scenario declares each kind of operation as a template (``OperationSpec``); the load driver turns
it into the exact request of one logical operation. Rendering must be a pure function of the
cell's seed and the op id, because every retry of an operation resends the identical bytes (a
server that fingerprints requests would otherwise see a different request) and a rerun with the
same seed must send the same load. This module is pure and imports neither Locust nor the harness,
so the scenario model can validate templates at load time.

Placeholders (``{{`` and ``}}`` write literal braces)::

    {op_id}          the operation's id, e.g. "nai-drop-000017" (tie effects to operations)
    {key}            the operation's Idempotency-Key (also when the header is not sent)
    {seq}            the operation's number, 0-based                               (a number)
    {uuid}           a UUID4 drawn for the operation
    {amount}         an integer in load.amount_min..amount_max                     (a number)
    {customer}       "cus_0000".."cus_0999"
    {int:LO:HI}      an integer in LO..HI, drawn afresh at each occurrence         (a number)
    {choice:a|b|c}   one of the options, drawn afresh at each occurrence
    {resource}       the id the operation's create step answered with (only in an operation with
                     ``resource:``; it draws nothing, so the other values do not depend on it)

``{uuid}``, ``{amount}`` and ``{customer}`` are drawn once per operation, so a path and a body can
name the same resource. A string that is exactly one numeric placeholder becomes a JSON number.
"""

from __future__ import annotations

import functools
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

CUSTOMERS = 1000

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
"""An escaped brace, a placeholder (its inside as group 1), or a lone brace (an error)."""


class TemplateError(ValueError):
    """A template that cannot be rendered; the message says what and where."""


@dataclass(frozen=True)
class OpContext:
    """What one operation's placeholders stand for."""

    seed: int
    op_id: str
    seq: int
    key: str
    amount_min: int
    amount_max: int
    resource: str | None = None
    """What ``{resource}`` stands for; ``None`` until the operation's create step has named it."""


@dataclass(frozen=True)
class Placeholder:
    """One parsed ``{...}``: its name and, for ``int`` and ``choice``, its parameters."""

    written: str
    name: str
    low: int = 0
    high: int = 0
    options: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.name in _NUMERIC


_NUMERIC = frozenset({"seq", "amount", "int"})
_SIMPLE = frozenset({"op_id", "key", "seq", "uuid", "amount", "customer", "resource"})
_Part = str | Placeholder


def _placeholder(inside: str) -> Placeholder:
    written = "{" + inside + "}"
    if inside in _SIMPLE:
        return Placeholder(written, inside)
    name, colon, argument = inside.partition(":")
    if colon and name == "int":
        low, sep, high = argument.partition(":")
        try:
            bounds = (int(low), int(high)) if sep else None
        except ValueError:
            bounds = None
        if bounds is not None and bounds[0] <= bounds[1]:
            return Placeholder(written, "int", low=bounds[0], high=bounds[1])
    if colon and name == "choice" and argument:
        return Placeholder(written, "choice", options=tuple(argument.split("|")))
    raise TemplateError(f"unknown placeholder {written}")


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> tuple[_Part, ...]:
    """Split ``text`` into literal strings and placeholders; raise TemplateError if malformed."""
    parts: list[_Part] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif match.group(1) is not None:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_placeholder(match.group(1)))
        else:
            raise TemplateError(f"unmatched {token!r} (write {token}{token} for a literal brace)")
    literal.append(text[position:])
    if "".join(literal):
        parts.append("".join(literal))
    return tuple(part for part in parts if part != "")


def validate_template(value: object, where: str) -> None:
    """Raise ValueError naming ``where`` (a dotted path) if any string in ``value`` is malformed."""
    for text, location in _strings(value, where):
        try:
            parse(text)
        except TemplateError as error:
            raise ValueError(f"{error} in {location}") from None


def placeholder_used(value: object, where: str, name: str) -> str | None:
    """Where (a dotted path) the first string in ``value`` uses placeholder ``name``; ``None`` if none does.

    Call it on a template :func:`validate_template` accepted (it parses, and would raise otherwise).
    """
    for text, location in _strings(value, where):
        if any(isinstance(part, Placeholder) and part.name == name for part in parse(text)):
            return location
    return None


def _strings(value: object, where: str) -> list[tuple[str, str]]:
    """Every string value in a JSON-like value, with its dotted path (dict keys are literal)."""
    if isinstance(value, str):
        return [(value, where)]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _strings(item, f"{where}.{key}")]
    if isinstance(value, list | tuple):
        return [found for index, item in enumerate(value) for found in _strings(item, f"{where}[{index}]")]
    return []


class Renderer:
    """Renders the templates of one operation; use one renderer for its path, headers and body.

    The per-op values are drawn first and the per-occurrence draws follow in template order, all
    from one stream seeded by (seed, op id): rendering the same templates again gives equal output.
    """

    def __init__(self, context: OpContext) -> None:
        self.context = context
        self._rng = random.Random(f"{context.seed}/{context.op_id}/template")
        self._amount = self._rng.randint(context.amount_min, context.amount_max)
        self._customer = f"cus_{self._rng.randrange(CUSTOMERS):04d}"
        self._uuid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._values: dict[str, Callable[[Placeholder], str | int]] = {
            "op_id": lambda _: context.op_id,
            "key": lambda _: context.key,
            "seq": lambda _: context.seq,
            "uuid": lambda _: self._uuid,
            "amount": lambda _: self._amount,
            "customer": lambda _: self._customer,
            "int": lambda p: self._rng.randint(p.low, p.high),
            "choice": lambda p: self._rng.choice(p.options),
            "resource": lambda _: self._resource(),
        }

    def text(self, template: str) -> str:
        """A path or header value: always a string."""
        return "".join(str(self._value(part)) for part in parse(template))

    def json(self, template: object) -> object:
        """A JSON body: strings rendered (a lone numeric placeholder becomes a number), rest kept."""
        if isinstance(template, str):
            parts = parse(template)
            if len(parts) == 1 and isinstance(parts[0], Placeholder) and parts[0].numeric:
                return self._value(parts[0])
            return self.text(template)
        if isinstance(template, dict):
            return {key: self.json(item) for key, item in template.items()}
        if isinstance(template, list | tuple):
            return [self.json(item) for item in template]
        return template

    def _resource(self) -> str:
        if self.context.resource is None:
            raise TemplateError(f"{{resource}} has no value yet for {self.context.op_id}")
        return self.context.resource

    def _value(self, part: _Part) -> str | int:
        if isinstance(part, str):
            return part
        return self._values[part.name](part)
