"""Tests of the fault proxy (harness/proxy)."""
