"""Checkers: pure functions of one cell's evidence, each one module, composed into a cell's verdict.

The public surface::

    from harness.checkers import Checker, CellEvidence, Metric, GateRule, Column, AnomalyDeclaration
    from harness.checkers import register, registered, checkers

:mod:`harness.checker` composes them (Jepsen's ``compose``); :mod:`harness.checkers.base` says what a
checker declares; the built-in ones are :mod:`~harness.checkers.duplicate_effects`,
:mod:`~harness.checkers.lost_acknowledged` and :mod:`~harness.checkers.replay_mismatch`, and those of
the HTTP method contract (:mod:`~harness.checkers.method_contract`): :mod:`~harness.checkers.put_state`,
:mod:`~harness.checkers.patch_state`, :mod:`~harness.checkers.delete_outcome` and
:mod:`~harness.checkers.safe_methods`.
"""

from harness.checkers.base import AnomalyDeclaration, Checker, Column, GateRule, Metric
from harness.checkers.evidence import MAX_ANOMALIES_PER_KIND, CellEvidence, OpTrace
from harness.checkers.registry import checkers, register, registered

__all__ = [
    "MAX_ANOMALIES_PER_KIND",
    "AnomalyDeclaration",
    "CellEvidence",
    "Checker",
    "Column",
    "GateRule",
    "Metric",
    "OpTrace",
    "checkers",
    "register",
    "registered",
]
