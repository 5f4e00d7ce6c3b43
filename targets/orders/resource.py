"""The routes of one order: GET and HEAD, PUT of its address, PATCH of its quantity, DELETE.

By the HTTP method contract GET and HEAD are safe (they change nothing), PUT and DELETE are idempotent
(a repeat leaves the state of one call), and PATCH is neither: an increment sent twice adds twice, so
a keyed variant remembers the Idempotency-Key with its answer and replays it. Each broken variant gets
one method wrong (`Flaw`), the way services do:

- `PUT_APPENDS`: every PUT appends an address-history row and counts it, even one that repeats the last.
- `DELETE_500`: a DELETE of an order already cancelled fails with 500 instead of answering 404.
- `GET_COUNTS_VIEWS`: every GET (and HEAD) counts a view on the order, a write inside a read.

GET and DELETE carry no body, so the op reference of their effect rows comes from the `X-Reference`
header; without it a view or a cancellation still happens but records no row. Writes go through
`commit_in`, so the standard failpoints (`after_commit_before_response`) apply to them too.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import FastAPI, Header, Request, Response

from targets.orders.changes import (
    Cancellation,
    cancel_order,
    count_view,
    increment_quantity,
    read_order,
    replace_address,
)
from targets.orders.models import AddressRequest, IncrementRequest
from targets.targetkit.commit import commit_in
from targets.targetkit.http_idempotency import json_response, outcome_response
from targets.targetkit.idempotency import IdempotentExecutor, Outcome, Verdict
from targets.targetkit.keystore import StoredResponse
from targets.targetkit.problems import Problem, ProblemError, problem_response
from targets.targetkit.routes import Wiring, add_keyed_patch, add_naive_patch
from targets.targetkit.sql import Sql

ORDER_PATH = "/orders/{order_id}"
ADDRESS_PATH = "/orders/{order_id}/address"
PATCH_PATH = "/orders/{item_id}"  # the same path: targetkit's PATCH routes name the item `item_id`
PATCH_SCOPE = "PATCH /orders/{id}"
ORDER_METHODS = ("GET", "HEAD", "PATCH", "DELETE")
ADDRESS_METHODS = ("PUT",)
_OTHER_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

XReference = Annotated[str | None, Header(alias="X-Reference")]
T = TypeVar("T")


class Flaw(enum.Enum):
    """The one method a broken variant gets wrong on purpose."""

    PUT_APPENDS = "put_appends"
    DELETE_500 = "delete_500"
    GET_COUNTS_VIEWS = "get_counts_views"


def _not_found(order_id: str) -> ProblemError:
    return ProblemError(Problem(status=404, title="Order not found",
                                detail=f"There is no order {order_id}: never placed, or cancelled."))


def _order_or_404(sql: Sql, order_id: str) -> StoredResponse:
    order = read_order(sql, order_id)
    if order is None:
        raise _not_found(order_id)
    return json_response(200, order)


def _answer(response: StoredResponse) -> Response:
    return outcome_response(Outcome(Verdict.FRESH, response))


def _incremented(order_id: str, request: IncrementRequest) -> Callable[[Sql], StoredResponse]:
    def write(sql: Sql) -> StoredResponse:
        increment_quantity(sql, order_id, request.by, request.reference)
        return _order_or_404(sql, order_id)

    return write


def add_order_routes(app: FastAPI, wiring: Wiring, *, keyed_patch: bool, flaw: Flaw | None) -> None:
    """Register the routes of one order for a variant; `keyed_patch` False is the naive PATCH."""
    def commit(change: Callable[[Sql], T]) -> T:
        return commit_in(wiring.store.transaction(), wiring.failpoints, change)

    def write(change: Callable[[Sql], T]) -> T:
        """A change a client asked for: the HARNESS_WORK_MS pause first, as for every write."""
        wiring.work()
        return commit(change)

    def get_order(order_id: str, request: Request, x_reference: XReference = None) -> Response:
        if flaw is Flaw.GET_COUNTS_VIEWS:
            def view(sql: Sql) -> StoredResponse:
                count_view(sql, order_id, x_reference)
                return _order_or_404(sql, order_id)

            found = commit(view)
        else:
            with wiring.store.reading() as sql:
                found = _order_or_404(sql, order_id)
        if request.method == "HEAD":
            return Response(status_code=found.status, media_type="application/json",
                            headers={"content-length": str(len(found.body.encode()))})
        return _answer(found)

    def put_address(order_id: str, request: AddressRequest) -> Response:
        def replace(sql: Sql) -> StoredResponse:
            replace_address(sql, order_id, request.address(), request.reference,
                            every_call=flaw is Flaw.PUT_APPENDS)
            return _order_or_404(sql, order_id)

        return _answer(write(replace))

    def delete_order(order_id: str, x_reference: XReference = None) -> Response:
        cancellation = write(lambda sql: cancel_order(sql, order_id, x_reference))
        if cancellation is Cancellation.CANCELLED:
            return Response(status_code=204)
        if cancellation is Cancellation.ALREADY_CANCELLED and flaw is Flaw.DELETE_500:
            raise ProblemError(Problem(status=500, title="Internal Server Error",
                                       detail=f"Cancelling order {order_id} failed: it has no open state."))
        raise _not_found(order_id)

    app.api_route(ORDER_PATH, methods=["GET", "HEAD"])(get_order)
    app.put(ADDRESS_PATH)(put_address)
    app.delete(ORDER_PATH, status_code=204)(delete_order)
    if keyed_patch:
        executor = IdempotentExecutor(wiring.store, wiring.failpoints, PATCH_SCOPE)
        add_keyed_patch(app, PATCH_PATH, IncrementRequest,
                        lambda order_id, request, key, payload_fingerprint: executor.execute(
                            key, payload_fingerprint, wiring.work, _incremented(order_id, request)))
    else:
        add_naive_patch(app, PATCH_PATH, IncrementRequest,
                        lambda order_id, request: Outcome(Verdict.FRESH,
                                                          write(_incremented(order_id, request))))
    _add_allow(app, ORDER_PATH, ORDER_METHODS)
    _add_allow(app, ADDRESS_PATH, ADDRESS_METHODS)


def _add_allow(app: FastAPI, path: str, methods: tuple[str, ...]) -> None:
    """OPTIONS answers the methods `path` serves in `Allow`, and every other method is a 405 with the
    same list (left to the router, a 405 would list only the methods of the first route it tried)."""
    allow = {"Allow": ", ".join((*methods, "OPTIONS"))}

    def options() -> Response:
        return Response(status_code=204, headers=allow)

    def not_allowed(request: Request) -> Response:
        return problem_response(Problem(status=405, title="Method Not Allowed",
                                        detail=f"{request.method} is not served on {path}."), headers=allow)

    app.options(path)(options)
    refused = [method for method in _OTHER_METHODS if method not in methods]
    app.api_route(path, methods=refused, include_in_schema=False)(not_allowed)
