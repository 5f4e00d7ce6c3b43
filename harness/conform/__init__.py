"""``harness conform URL``: check any HTTP endpoint against the IETF Idempotency-Key header draft.

Six checks, each a test case: a missing key is refused (400); a first keyed request is processed
(2xx); a retry after completion replays the same status and body; a key reused with another payload is
refused (422); a key sent by several clients at once creates one resource, the others told 409; the key
expiry is documented (informational). The public surface::

    result = run_conformance("http://127.0.0.1:8000/charges")
    print_conformance(result, console)
    paths = write_conformance(result, out_dir)     # {"json": conform.json, "junit": junit.xml}
    exit_status = 0 if result.passed else 1

``report_conformance`` writes, prints and returns that exit status, for the CLI.

``harness conform URL --methods`` checks the HTTP method table on a declared resource instead (GET
and HEAD change nothing, PUT and DELETE repeated act once, PATCH with one key twice applies once,
OPTIONS' Allow agrees with the answers), with the same reports and exit status::

    resource = declare_resource("/orders/{id}", create_body={"sku": "a"}, patch_body={...})
    result = run_method_conformance("http://127.0.0.1:8000", resource)
"""

from __future__ import annotations

from harness.conform.command import report_conformance
from harness.conform.model import ConformCheck, ConformResult, Contract, Exchange
from harness.conform.report import print_conformance, write_conformance
from harness.conform.resource import MethodResource, declare_resource
from harness.conform.runner import run_conformance, run_method_conformance

__all__ = [
    "ConformCheck",
    "ConformResult",
    "Contract",
    "Exchange",
    "MethodResource",
    "declare_resource",
    "print_conformance",
    "report_conformance",
    "run_conformance",
    "run_method_conformance",
    "write_conformance",
]
