"""The resource ``harness conform --methods`` probes: where it lives, how one is made, what PUT and
PATCH send, and which methods the API does not offer.

Declared once from the command line's options and checked before any request, so a bad combination
is one line naming the option (exit 2) rather than a check that fails against a healthy API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.errors import HarnessError

PROBED_METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods the checks send to the resource, in the order the report lists them."""

DECLINABLE_METHODS = PROBED_METHODS[1:]
"""The methods a user may declare unsupported: every check reads the resource's state with GET."""

ID = "{id}"
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class MethodResource:
    """A declared resource. Paths are templates holding ``{id}``, the id the create answer gives.

    ``put_body`` None: PUT sends the representation GET answers, without the id and ignored fields
    (a whole replacement with what is there, so only a non-idempotent PUT changes it).
    ``patch_body`` None: no PATCH was declared, and the PATCH check cannot tell.
    """

    path: str
    create_path: str
    create_body: object
    id_field: str
    put_path: str
    put_body: object | None
    patch_body: object | None
    ignore: tuple[str, ...]
    unsupported: frozenset[str]

    @property
    def probed(self) -> tuple[str, ...]:
        """The methods the checks send on the resource: every probed one the API was not said to lack."""
        return tuple(method for method in PROBED_METHODS if method not in self.unsupported)


def _template(option: str, path: str, *, with_id: bool) -> str:
    """``path`` when it is an absolute path whose only placeholder is ``{id}`` (present iff ``with_id``)."""
    placeholders = _PLACEHOLDER.findall(path)
    if not path.startswith("/"):
        raise HarnessError(f"{option}: expected a path starting with / (got {path!r})")
    if any(placeholder != ID for placeholder in placeholders):
        raise HarnessError(f"{option}: the only placeholder a path may hold is {ID} (got {path!r})")
    if with_id and ID not in placeholders:
        raise HarnessError(f"{option}: expected a path holding {ID}, e.g. /orders/{ID} (got {path!r})")
    if not with_id and placeholders:
        raise HarnessError(f"{option}: the path that makes a resource cannot hold {ID} (got {path!r})")
    return path


def _create_path(path: str, create: str | None) -> str:
    """``--create``, else the resource path without its last ``/{id}``: ``/orders/{id}`` → ``/orders``."""
    if create is not None:
        return _template("--create", create, with_id=False)
    suffix = "/" + ID
    if path.endswith(suffix) and path.count(ID) == 1 and len(path) > len(suffix):
        return path[: -len(suffix)]
    raise HarnessError(f"--create: needed, as the resource path {path} does not end in a collection's /{ID}")


def _unsupported(methods: Iterable[str]) -> frozenset[str]:
    declared = frozenset(method.upper() for method in methods)
    if "GET" in declared:
        raise HarnessError("--unsupported GET: every check reads the resource's state with GET")
    unknown = sorted(declared.difference(DECLINABLE_METHODS))
    if unknown:
        raise HarnessError(
            f"--unsupported {unknown[0]}: expected one of {', '.join(DECLINABLE_METHODS)}"
        )
    return declared


def declare_resource(
    path: str,
    *,
    create: str | None = None,
    create_body: object | None = None,
    id_field: str = "id",
    put: str | None = None,
    put_body: object | None = None,
    patch_body: object | None = None,
    ignore: Iterable[str] = (),
    unsupported: Iterable[str] = (),
) -> MethodResource:
    """The resource the options declare, with the defaults filled in; a bad option is a HarnessError
    naming it. Keyword names follow the options: ``put_body`` is ``--put-body``."""
    path = _template("--resource", path, with_id=True)
    declined = _unsupported(unsupported)
    if not id_field.strip():
        raise HarnessError("--id-field: expected the name of the field the create answer holds the id in")
    declared = (("--put", "PUT", put), ("--put-body", "PUT", put_body), ("--patch-body", "PATCH", patch_body))
    for option, method, value in declared:
        if method in declined and value is not None:
            raise HarnessError(f"{option}: {method} is declared unsupported (--unsupported {method})")
    put_path = path if put is None else _template("--put", put, with_id=True)
    if put_path != path and put_body is None:
        raise HarnessError(f"--put {put_path} needs --put-body: what to send there")
    return MethodResource(
        path=path,
        create_path=_create_path(path, create),
        create_body={} if create_body is None else create_body,
        id_field=id_field.strip(),
        put_path=put_path,
        put_body=put_body,
        patch_body=patch_body,
        ignore=tuple(dict.fromkeys(name.strip() for name in ignore if name.strip())),
        unsupported=declined,
    )
