"""Chaos-testing harness for idempotency.

Answers one question: when requests are retried under real faults, how often does one logical
operation take effect twice? See ``DESIGN.md`` in the shared folder for the loop of one run.
"""

__version__ = "0.1.0"
