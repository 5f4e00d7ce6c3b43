"""Chaos-testing harness for idempotency.

Answers one question: when requests are retried under real faults, how often does one logical
operation take effect twice? The README's Architecture section maps the loop of one run to the
folders of this package.
"""

__version__ = "0.1.0"
