"""Benchmarks of the harness's parts, run with ``make bench`` from the repository root.

Kept out of the ``harness`` package: they install tools with apt-get and run for minutes, which no
user of the harness needs at run time.
"""
