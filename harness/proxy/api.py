"""The control API: Toxiproxy 2.x's paths, JSON shapes and status codes, served by aiohttp.

Every refusal is ``{"error": message, "status": code}``; nothing a caller sends can take the server
down or disturb other proxies. One path is ours alone, beside Toxiproxy's and changing none of them:
``GET /proxies/{proxy}/decisions``, what the per-request toxics did, with the op each hit
(:mod:`harness.proxy.decisions`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from harness import __version__
from harness.proxy.apierror import ApiError
from harness.proxy.collection import ProxyCollection
from harness.proxy.jsonbody import parse_json
from harness.proxy.proxy import Proxy
from harness.proxy.toxics.registry import toxic_types

log = logging.getLogger(__name__)

TOXIPROXY_API_VERSION = "2.12.0"
"""The Toxiproxy release whose API this server follows."""

HEAD_TIMEOUT_S = 5.0
"""A connection must complete each request head this soon after it opens or after its last answer,
else it is closed: held-open half requests (slowloris) cannot pile up."""

BODY_TIMEOUT_S = 10.0
"""A request body must arrive this soon after its head; a 408 otherwise."""

COLLECTION_KEY = web.AppKey("collection", ProxyCollection)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def version_document() -> dict[str, object]:
    """``GET /version``: Toxiproxy's ``{"version": ...}`` plus what sets this server apart."""
    ours = sorted(name for name, cls in toxic_types().items() if cls.per_request)
    return {
        "version": TOXIPROXY_API_VERSION,
        "server": f"idempotency-harness fault proxy {__version__}",
        "http_toxics": ours,
    }


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


def _error(exc: ApiError) -> web.Response:
    return _json(exc.to_json(), exc.status)


async def _body(request: web.Request) -> object:
    try:
        raw = await asyncio.wait_for(request.read(), BODY_TIMEOUT_S)
    except TimeoutError:
        raise ApiError(408, f"request body not received within {BODY_TIMEOUT_S:g} s") from None
    return parse_json(raw)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals, unknown routes and unexpected failures into Toxiproxy-shaped JSON errors."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(ApiError(exc.status, exc.reason.lower()))
    except Exception as exc:
        # one line per request in the log; the traceback only when debugging
        log.error("API %s %s failed: %s: %s", request.method, request.path, type(exc).__name__, exc)
        log.debug("API %s %s failed", request.method, request.path, exc_info=True)
        return _error(ApiError(500, f"internal error: {exc}"))


def build_app(collection: ProxyCollection) -> web.Application:
    app = web.Application(middlewares=[_errors])
    app[COLLECTION_KEY] = collection

    def coll(request: web.Request) -> ProxyCollection:
        return request.app[COLLECTION_KEY]

    async def proxy_index(request: web.Request) -> web.Response:
        return _json({name: p.to_json() for name, p in coll(request).proxies.items()})

    async def proxy_create(request: web.Request) -> web.Response:
        body = await _body(request)
        async with coll(request).lock:
            proxy = await coll(request).create(body)
        return _json(proxy.to_json(), 201)

    async def populate(request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, dict) and "proxies" in body:
            body = body["proxies"]  # also accept the shape this endpoint answers with
        done: list[Proxy] = []
        try:
            async with coll(request).lock:
                await coll(request).populate(body, done)
        except ApiError as exc:  # Toxiproxy answers the error with the proxies made before it
            return _json({**exc.to_json(), "proxies": [p.to_json() for p in done]}, exc.status)
        return _json({"proxies": [p.to_json() for p in done]}, 201)

    async def reset(request: web.Request) -> web.Response:
        async with coll(request).lock:
            await coll(request).reset()
        return web.Response(status=204)

    async def proxy_show(request: web.Request) -> web.Response:
        return _json(coll(request).get(request.match_info["proxy"]).to_json())

    async def proxy_update(request: web.Request) -> web.Response:
        body = await _body(request)
        async with coll(request).lock:
            proxy = await coll(request).update(request.match_info["proxy"], body)
        return _json(proxy.to_json())

    async def proxy_delete(request: web.Request) -> web.Response:
        async with coll(request).lock:
            await coll(request).remove(request.match_info["proxy"])
        return web.Response(status=204)

    async def toxic_index(request: web.Request) -> web.Response:
        proxy = coll(request).get(request.match_info["proxy"])
        return _json([entry.to_json() for entry in proxy.toxics.values()])

    async def toxic_create(request: web.Request) -> web.Response:
        body = await _body(request)
        async with coll(request).lock:
            entry = await coll(request).add_toxic(request.match_info["proxy"], body)
        return _json(entry.to_json())

    async def toxic_show(request: web.Request) -> web.Response:
        entry = coll(request).get_toxic(request.match_info["proxy"], request.match_info["toxic"])
        return _json(entry.to_json())

    async def toxic_update(request: web.Request) -> web.Response:
        body = await _body(request)
        async with coll(request).lock:
            entry = await coll(request).update_toxic(
                request.match_info["proxy"], request.match_info["toxic"], body
            )
        return _json(entry.to_json())

    async def toxic_delete(request: web.Request) -> web.Response:
        async with coll(request).lock:
            await coll(request).remove_toxic(request.match_info["proxy"], request.match_info["toxic"])
        return web.Response(status=204)

    async def decisions(request: web.Request) -> web.Response:
        return _json(coll(request).get(request.match_info["proxy"]).decisions.to_json())

    async def version(request: web.Request) -> web.Response:
        return _json(version_document())

    r = app.router
    r.add_post("/reset", reset)
    r.add_get("/proxies", proxy_index, allow_head=False)
    r.add_post("/proxies", proxy_create)
    r.add_post("/populate", populate)
    r.add_get("/proxies/{proxy}", proxy_show, allow_head=False)
    r.add_post("/proxies/{proxy}", proxy_update)
    r.add_patch("/proxies/{proxy}", proxy_update)
    r.add_delete("/proxies/{proxy}", proxy_delete)
    r.add_get("/proxies/{proxy}/toxics", toxic_index, allow_head=False)
    r.add_post("/proxies/{proxy}/toxics", toxic_create)
    r.add_get("/proxies/{proxy}/toxics/{toxic}", toxic_show, allow_head=False)
    r.add_post("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    r.add_patch("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    r.add_delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete)
    r.add_get("/proxies/{proxy}/decisions", decisions, allow_head=False)
    r.add_get("/version", version, allow_head=False)
    return app
