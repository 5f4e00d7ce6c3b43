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
import json
import random
import re
import uuid
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii

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
    The stream is seeded, and the per-op values drawn, only when a placeholder first needs it:
    seeding costs more than the rest of a request, and templates of op ids and keys alone never
    need it. Drawing all three per-op values at once keeps every later draw where it always was.
    """

    def __init__(self, context: OpContext) -> None:
        self.context = context
        self._stream: random.Random | None = None
        self._amount = 0
        self._customer = ""
        self._uuid_bits = 0
        self._uuid: str | None = None

    def text(self, template: str) -> str:
        """A path or header value: always a string."""
        return self.joined(parse(template))

    def joined(self, parts: tuple[_Part, ...]) -> str:
        """The text of a template already parsed (:func:`parse`)."""
        return "".join([part if type(part) is str else str(self._value(part)) for part in parts])

    def json(self, template: object) -> object:
        """A JSON body: strings rendered (a lone numeric placeholder becomes a number), rest kept."""
        if isinstance(template, str):
            parts = parse(template)
            if len(parts) == 1 and isinstance(parts[0], Placeholder) and parts[0].numeric:
                return self._value(parts[0])
            return self.joined(parts)
        if isinstance(template, dict):
            return {key: self.json(item) for key, item in template.items()}
        if isinstance(template, list | tuple):
            return [self.json(item) for item in template]
        return template

    def json_text(self, template: JsonTemplate) -> str:
        """A compiled body's JSON text, as ``json.dumps(self.json(body), separators=(",", ":"))``."""
        return "".join([self._json_piece(piece) for piece in template.pieces])

    def _json_piece(self, piece: _JsonPiece) -> str:
        if type(piece) is str:
            return piece
        if type(piece) is tuple:
            return encode_basestring_ascii(self.joined(piece))
        assert isinstance(piece, Placeholder)
        return str(self._value(piece))

    def _resource(self) -> str:
        """The create step's id: it draws nothing, so the stream stays unseeded for it."""
        if self.context.resource is None:
            raise TemplateError(f"{{resource}} has no value yet for {self.context.op_id}")
        return self.context.resource

    def _value(self, part: _Part) -> str | int:
        if isinstance(part, str):
            return part
        name = part.name
        if name == "op_id":
            return self.context.op_id
        if name == "key":
            return self.context.key
        if name == "seq":
            return self.context.seq
        if name == "resource":
            return self._resource()
        rng = self._rng()
        if name == "amount":
            return self._amount
        if name == "customer":
            return self._customer
        if name == "uuid":
            if self._uuid is None:
                self._uuid = str(uuid.UUID(int=self._uuid_bits, version=4))
            return self._uuid
        if name == "int":
            return rng.randint(part.low, part.high)
        return rng.choice(part.options)

    def _rng(self) -> random.Random:
        """The op's stream, seeded (and the per-op values drawn from it) on first need."""
        if self._stream is None:
            context = self.context
            rng = random.Random(f"{context.seed}/{context.op_id}/template")
            self._amount = rng.randint(context.amount_min, context.amount_max)
            self._customer = f"cus_{rng.randrange(CUSTOMERS):04d}"
            self._uuid_bits = rng.getrandbits(128)
            self._stream = rng
        return self._stream


_JsonPiece = str | Placeholder | tuple[_Part, ...]
_JSON = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps(value, separators=(",", ":"))``'s own encoder."""


@dataclass(frozen=True)
class JsonTemplate:
    """A JSON body template compiled once, so that rendering one op's body is one join.

    ``pieces`` in order: JSON text as it is (brackets, keys, values without placeholders), a lone
    numeric placeholder (a JSON number), or a string's parsed parts (rendered, then JSON-encoded).
    String escaping works character by character, so encoding a rendered string equals encoding
    its parts' text: the join gives exactly the text ``json.dumps`` gives for the rendered body.
    """

    pieces: tuple[_JsonPiece, ...]


def compile_json(template: object) -> JsonTemplate:
    """Compile a JSON body template (see :class:`JsonTemplate`); raise TemplateError if malformed."""
    pieces: list[_JsonPiece] = []
    _compile_into(template, pieces)
    merged: list[_JsonPiece] = []
    for piece in pieces:
        if type(piece) is str and merged and type(merged[-1]) is str:
            merged[-1] = f"{merged[-1]}{piece}"
        else:
            merged.append(piece)
    return JsonTemplate(tuple(merged))


def _compile_into(template: object, pieces: list[_JsonPiece]) -> None:
    """Append ``template``'s pieces, walking it in the order :meth:`Renderer.json` renders it."""
    if isinstance(template, str):
        parts = parse(template)
        if len(parts) == 1 and isinstance(parts[0], Placeholder) and parts[0].numeric:
            pieces.append(parts[0])
        elif any(isinstance(part, Placeholder) for part in parts):
            pieces.append(parts)
        else:
            pieces.append(_JSON.encode("".join(part for part in parts if isinstance(part, str))))
    elif isinstance(template, dict):
        pieces.append("{")
        for index, (key, item) in enumerate(template.items()):
            pieces.append(f"{',' if index else ''}{_JSON.encode({key: None})[1:-6]}:")  # json's key text
            _compile_into(item, pieces)
        pieces.append("}")
    elif isinstance(template, list | tuple):
        pieces.append("[")
        for index, item in enumerate(template):
            if index:
                pieces.append(",")
            _compile_into(item, pieces)
        pieces.append("]")
    else:
        pieces.append(_JSON.encode(template))
