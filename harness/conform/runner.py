"""``run_conformance``: probe one endpoint with every check of :mod:`harness.conform.checks`;
``run_method_conformance``: probe one declared resource with every check of :mod:`harness.conform.methods`."""

from __future__ import annotations

import httpx

from harness.conform.checks import CHECKS, Session
from harness.conform.client import Prober, ResourceClient, check_url, new_key
from harness.conform.methods import MethodSession, run_method_checks
from harness.conform.model import ConformResult, Contract
from harness.conform.resource import MethodResource
from harness.errors import HarnessError

DEFAULT_CONCURRENCY = 4


def default_body() -> dict[str, object]:
    """A payments charge (the shape of ``targets/payments``) with a fresh reference, so runs never collide."""
    return {"amount": 1250, "currency": "EUR", "customer": "cus_conformance", "reference": new_key()}


def _check_target(url: str, timeout_s: float, *, allow_remote: bool) -> None:
    """Refuse a URL the probe may not call and a timeout it cannot keep, before any request."""
    check_url(url, allow_remote=allow_remote)
    if timeout_s <= 0:
        raise HarnessError(f"timeout must be positive (got {timeout_s:g} s)")


def run_conformance(
    url: str,
    *,
    method: str = "POST",
    body: dict[str, object] | None = None,
    key_header: str = "Idempotency-Key",
    timeout_s: float = 5.0,
    concurrency: int = DEFAULT_CONCURRENCY,
    allow_remote: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> ConformResult:
    """Check ``url`` against the Idempotency-Key draft; every check becomes one result.

    The endpoint gets about ``concurrency + 6`` real requests that create resources. A bad argument, a
    URL off this machine (unless ``allow_remote``) or an endpoint that cannot be reached raises
    :class:`~harness.errors.HarnessError`; a check that fails is a result, not an error. ``transport``
    replaces the network (an ``httpx.MockTransport`` in tests).
    """
    _check_target(url, timeout_s, allow_remote=allow_remote)
    if concurrency < 2:
        raise HarnessError(f"concurrency must be at least 2 to send a key concurrently (got {concurrency})")
    prober = Prober(url, method=method, key_header=key_header, timeout_s=timeout_s, transport=transport)
    session = Session(prober, default_body() if body is None else body, concurrency)
    checks = tuple(check(session) for check in CHECKS)
    return ConformResult(url=url, method=prober.method, checks=checks)


def run_method_conformance(
    base_url: str,
    resource: MethodResource,
    *,
    key_header: str = "Idempotency-Key",
    timeout_s: float = 5.0,
    allow_remote: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> ConformResult:
    """Check the HTTP method table on ``resource`` (see :func:`~harness.conform.resource.declare_resource`)
    under ``base_url``; every check becomes one result.

    About 25 real requests: two resources are created, one of them deleted. Errors as for
    :func:`run_conformance`; the PATCH check sends its key in ``key_header``.
    """
    _check_target(base_url, timeout_s, allow_remote=allow_remote)
    with ResourceClient(base_url, key_header=key_header, timeout_s=timeout_s, transport=transport) as client:
        checks = run_method_checks(MethodSession(client, resource))
    return ConformResult(
        url=client.url(resource.path),
        method=",".join(resource.probed),
        checks=checks,
        contract=Contract.METHODS,
    )
