"""Checkers by name: ``@register`` on a class makes every cell of every run go through it.

Every module of this package that is not part of the machinery is imported once (:func:`load_all`), so
adding a checker is adding one file. Names must be unique across the registry: a checker's name, its
metric names, its gate names and its anomaly kind are what scenarios, run.json and reports refer to.

The lookups (:func:`metric`, :func:`gate_rule`, :func:`anomaly_declaration`) are what the gates, the
baseline, the report writers and the pytest plugin read, instead of lists of their own.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from harness.checkers.base import AnomalyDeclaration, Checker, Column, GateRule, Metric

if TYPE_CHECKING:
    from harness.verdict import CellVerdict

_MACHINERY = frozenset(
    {"answers", "base", "evidence", "method_contract", "registry", "saga_conservation", "saga_story", "story"}
)
_REGISTRY: dict[str, Checker] = {}
_LOADED = False

C = TypeVar("C", bound=Callable[[], Checker])


def register(cls: C) -> C:
    """Class decorator: register an instance of ``cls`` (made with no arguments) as a checker."""
    add(cls())
    return cls


def add(checker: Checker) -> None:
    """Register ``checker``; a name that another checker already uses is refused."""
    taken = _names_in_use(exclude=checker.name)
    wanted = _names_of(checker)
    clash = sorted(taken & wanted)
    if clash:
        raise ValueError(f"checker {checker.name!r}: name(s) already taken: {', '.join(clash)}")
    existing = _REGISTRY.get(checker.name)
    if existing is not None and type(existing) is not type(checker):
        raise ValueError(f"checker {checker.name!r} registered twice")
    _REGISTRY[checker.name] = checker


def remove(name: str) -> None:
    """Unregister the checker ``name`` (tests that register a toy checker)."""
    _REGISTRY.pop(name, None)


@contextmanager
def registered(checker: Checker) -> Iterator[Checker]:
    """``checker`` registered for the ``with`` block only."""
    load_all()
    add(checker)
    try:
        yield checker
    finally:
        remove(checker.name)


def _names_of(checker: Checker) -> set[str]:
    names = {metric.name for metric in checker.metrics} | {gate.name for gate in checker.gates}
    if checker.anomaly is not None:
        names.add(checker.anomaly.kind)
    return names


def _names_in_use(exclude: str) -> set[str]:
    used: set[str] = set()
    for name, checker in _REGISTRY.items():
        if name != exclude:
            used |= _names_of(checker) | {name}
    return used


def load_all() -> None:
    """Import every checker module of this package (each registers itself)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    package = importlib.import_module("harness.checkers")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _MACHINERY and not module.name.startswith("_"):
            importlib.import_module(f"harness.checkers.{module.name}")


def checkers() -> tuple[Checker, ...]:
    """Every registered checker, in declared order."""
    load_all()
    return tuple(sorted(_REGISTRY.values(), key=lambda checker: (checker.order, checker.name)))


def metrics() -> tuple[Metric, ...]:
    return tuple(metric for checker in checkers() for metric in checker.metrics)


def metric(name: str) -> Metric | None:
    return next((candidate for candidate in metrics() if candidate.name == name), None)


def gate_rules() -> tuple[GateRule, ...]:
    return tuple(rule for checker in checkers() for rule in checker.gates)


def gate_rule(name: str) -> GateRule | None:
    return next((rule for rule in gate_rules() if rule.name == name), None)


def columns(cells: Iterable[CellVerdict] | None = None) -> tuple[Column, ...]:
    """Every checker's columns; given ``cells``, those a table of these cells shows: a column with
    ``shown_when`` only when some cell's number of that name is nonzero."""
    declared = tuple(column for checker in checkers() for column in checker.columns)
    if cells is None:
        return declared
    cells = list(cells)
    return tuple(
        column
        for column in declared
        if column.shown_when is None or any(_nonzero(cell.number(column.shown_when)) for cell in cells)
    )


def _nonzero(value: float) -> bool:
    return value == value and value != 0  # NaN: not computed (the checker did not run), nothing to show


def anomaly_declarations() -> tuple[AnomalyDeclaration, ...]:
    return tuple(checker.anomaly for checker in checkers() if checker.anomaly is not None)


def anomaly_declaration(kind: str) -> AnomalyDeclaration:
    """The declaration of ``kind``; an undeclared kind (a run.json from a newer harness) reads as itself."""
    found = next((item for item in anomaly_declarations() if item.kind == kind), None)
    return found or AnomalyDeclaration(kind, kind.replace("_", " "), f"were flagged {kind}")
