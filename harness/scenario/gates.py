"""The ``gates`` block: thresholds a variant's cells must hold for the run to pass.

Which thresholds exist is not decided here: each checker module declares its own
(:class:`harness.checkers.GateRule`), and a scenario may set any of them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from harness.errors import describe_invalid, shown_value
from harness.scenario._base import _Strict


class GateSpec(_Strict):
    """Thresholds for one variant, checked on each of its fault cells (or only those in ``faults``).

    A scenario writes the thresholds beside ``faults`` (``max_duplicate_rate: 0``); each name must be a
    gate some checker module declares (:mod:`harness.checkers`), and its value fits that checker's
    metric: a rate within 0..1, a count a whole number >= 0. They are kept in ``thresholds``.

    ``resolution`` is what a zero rate threshold promises (``max_duplicate_rate: 0`` with
    ``resolution: 0.02``: the rate's always-valid upper bound fell below 2%), so that a running cell
    can stop once its clean operations show it (:mod:`harness.stopping`); without it such a gate
    never passes early, and its cell runs its whole budget unless a duplicate fails it first.
    """

    faults: tuple[str, ...] = ()
    thresholds: dict[str, float] = Field(default_factory=dict)
    resolution: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _thresholds_beside_faults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "thresholds" in data:
            return data
        from harness.checkers.registry import gate_rules

        order = [rule.name for rule in gate_rules()]
        set_here = {name: value for name, value in data.items() if name not in _BESIDE_THRESHOLDS}
        given = {name: _gate_threshold(name, value) for name, value in set_here.items()}
        thresholds = {name: given[name] for name in order if name in given}  # the registry's order
        beside = {name: data[name] for name in _BESIDE_THRESHOLDS if name in data}
        if "resolution" in data and not _zero_rate_gates(thresholds):
            # a resolution says how small a zero rate was shown to be: without one it means nothing
            raise ValueError("resolution: only beside a rate gate set to 0 (max_duplicate_rate: 0)")
        return {**beside, "thresholds": thresholds}


_BESIDE_THRESHOLDS = ("faults", "resolution")
"""The fields of a gate mapping that are not thresholds."""


_RATE_THRESHOLD: TypeAdapter[float] = TypeAdapter(Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)])
_COUNT_THRESHOLD: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=0)])


def _gate_threshold(name: str, value: Any) -> float:
    """``value`` as the threshold of the gate ``name``, or a ValueError naming the gate."""
    from harness.checkers.registry import gate_rule, gate_rules, metric

    rule = gate_rule(name)
    if rule is None:
        known = ", ".join([*_BESIDE_THRESHOLDS, *(rule.name for rule in gate_rules())])
        raise ValueError(f"{name}: no such gate (known: {known})")
    declared = metric(rule.metric)
    adapter = _RATE_THRESHOLD if declared is not None and declared.is_rate else _COUNT_THRESHOLD
    try:
        return float(adapter.validate_python(value))
    except ValidationError as error:
        problem = describe_invalid(error.errors()[0])[1]
        raise ValueError(f"{name}: {problem}{shown_value(value)}") from None


def _zero_rate_gates(thresholds: dict[str, float]) -> tuple[str, ...]:
    from harness.checkers.registry import gate_rule, metric

    names = []
    for name, limit in thresholds.items():
        rule = gate_rule(name)
        declared = metric(rule.metric) if rule is not None else None
        zero_rate = declared is not None and declared.is_rate and limit == 0
        if zero_rate and rule is not None and rule.direction == "max":
            names.append(name)
    return tuple(names)


def gate_specs(specs: GateSpec | tuple[GateSpec, ...]) -> tuple[GateSpec, ...]:
    """A variant's gates as a tuple, whether the file gave one mapping or a list of them."""
    return specs if isinstance(specs, tuple) else (specs,)
