"""Runtimes start, crash, restart and stop target services (processes now, containers later)."""

from harness.runtime.base import Endpoint, Runtime, TargetInstance

__all__ = ["Endpoint", "Runtime", "TargetInstance"]
