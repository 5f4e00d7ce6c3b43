"""Reading a YAML file a user gave us, bounded: its size, its nesting and what its aliases expand to.

YAML aliases share one node, so a few hundred bytes (``a: &a [x, x]``, ``b: &b [*a, *a]``, …) name a
document of billions of nodes that validating would walk. The composed node graph is measured before
anything is built from it, in time and memory proportional to the file, and every refusal is one
line naming the file and, where there is one, the line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from harness.errors import ScenarioError

MAX_DOCUMENT_BYTES = 1024 * 1024
"""A scenario is a few kilobytes; a file larger than this is not one."""

MAX_DEPTH = 64
"""Deeper nesting (counting what aliases expand to) is refused, far below Python's recursion limit."""

MAX_NODES = 100_000
"""Values in the document once every alias is expanded: a scenario has hundreds."""

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class _Refused(Exception):
    """The document is out of bounds: ``where`` is a line (or ``(file)``), ``problem`` says why."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem


def _line(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}" if mark is not None else "(file)"


class _DepthBoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting deeper than :data:`MAX_DEPTH` while it composes.

    Composing recurses once per level, so a 20,000-deep document would otherwise end in a
    RecursionError before any check could look at it.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(_line(mark), f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_yaml(path: Path) -> object:
    """The one YAML document in ``path``, or a ScenarioError naming the file (and line) and why."""
    shown = str(path)
    text = ""
    try:
        text = _text(path)
        loader = _DepthBoundedLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _measure(root)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except _Refused as refused:
        raise ScenarioError(shown, refused.where, refused.problem) from None
    except yaml.YAMLError as error:
        raise ScenarioError(shown, *_yaml_problem(error, text)) from None
    except (ValueError, OverflowError) as error:  # a tagged value PyYAML parses but Python refuses (a date)
        raise ScenarioError(shown, "(file)", f"not valid YAML: {error}") from None


def _yaml_problem(error: yaml.YAMLError, text: str) -> tuple[str, str]:
    """(line, one-line problem) of PyYAML's error, whose own text spans lines."""
    if isinstance(error, yaml.reader.ReaderError):  # a control character: a binary file, most often
        line = text.count("\n", 0, error.position) + 1
        return f"line {line}", f"not valid YAML: control character {error.character!r} is not allowed"
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return _line(getattr(error, "problem_mark", None)), f"not valid YAML: {problem}"


def _text(path: Path) -> str:
    """The file as text: UTF-8 (a BOM allowed), no NUL, at most :data:`MAX_DOCUMENT_BYTES`."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as error:
        raise _Refused("(file)", f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _Refused("(file)", f"larger than {MAX_DOCUMENT_BYTES // 1024} KiB: not a scenario file")
    if data.startswith(_UTF16_BOMS):
        raise _Refused("(file)", "UTF-16 text: save it as UTF-8")
    if b"\x00" in data:
        raise _Refused("(file)", "contains NUL bytes: a binary file, or text not in UTF-8 (save it as UTF-8)")
    try:
        return data.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        byte = data[error.start]
        raise _Refused(
            "(file)", f"not UTF-8 text (byte 0x{byte:02x} at offset {error.start}): save it as UTF-8"
        ) from None


def _measure(root: yaml.Node) -> None:
    """Refuse a graph that expands past :data:`MAX_NODES` values or :data:`MAX_DEPTH` levels, a
    recursive alias, or a NUL written as an escape; each node is visited once."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values it expands to, its height)
    open_nodes: set[int] = set()

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in measured:
            size, height = measured[key]
        elif key in open_nodes:
            raise _Refused(_line(node.start_mark), "an alias refers to a value that contains it")
        else:
            if depth > MAX_DEPTH:
                raise _Refused(
                    _line(node.start_mark), f"nested deeper than {MAX_DEPTH} levels (with aliases)"
                )
            open_nodes.add(key)
            size, height = _children_measured(node, depth, measure)
            open_nodes.discard(key)
            measured[key] = (size, height)
        if size > MAX_NODES:
            raise _Refused(_line(node.start_mark), f"expands to more than {MAX_NODES} values (aliases?)")
        if depth + height > MAX_DEPTH:
            raise _Refused(_line(node.start_mark), f"nested deeper than {MAX_DEPTH} levels (with aliases)")
        return size, height

    measure(root, 0)


def _children_measured(
    node: yaml.Node, depth: int, measure: Callable[[yaml.Node, int], tuple[int, int]]
) -> tuple[int, int]:
    """(values, height) of ``node`` from its children's, measured one level deeper."""
    if isinstance(node, yaml.ScalarNode):
        if "\x00" in node.value:
            raise _Refused(_line(node.start_mark), "a NUL character is not allowed")
        return 1, 0
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    else:
        children = list(node.value)
    sizes = [measure(child, depth + 1) for child in children]
    return 1 + sum(size for size, _ in sizes), 1 + max((height for _, height in sizes), default=0)
