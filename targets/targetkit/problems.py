"""RFC 9457 problem details (`application/problem+json`) for every error a reference target returns.

One shape for all errors lets the harness and its users read any refusal the same way: `type` says which
problem it is (a `tag:` URI, which RFC 9457 suggests for types that need not resolve), `title` names it,
`detail` explains this occurrence, `status` repeats the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "tag:idempotency-harness,2025:problem:"


@dataclass(frozen=True)
class Problem:
    """One problem occurrence; `extensions` become extra members of the JSON object."""

    status: int
    title: str
    detail: str
    type: str = "about:blank"
    extensions: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail,
                **self.extensions}


class ProblemError(Exception):
    """Raise from a handler to answer with a problem; the installed handler renders it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_PREFIX + slug


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem.to_json(), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE,
                        headers=headers)


async def _on_problem_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.problem)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
              for error in exc.errors()]
    return problem_response(Problem(
        status=422, title="Invalid request", type=problem_type("validation"),
        detail=f"The request is invalid in {len(errors)} place(s); see errors.",
        extensions={"errors": errors},
    ))


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(Problem(status=exc.status_code, title=str(exc.detail), detail=str(exc.detail)),
                            headers=dict(exc.headers) if exc.headers else None)


def install_problem_handlers(app: FastAPI) -> None:
    """Render validation errors, HTTP errors (404, 405, ...) and `ProblemError` as problem+json."""
    app.add_exception_handler(ProblemError, _on_problem_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
