"""A new toxic is one class with ``@register``: the API accepts it and connections run it."""

from __future__ import annotations

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics import Attributes, Toxic, register, toxic_types
from proxy.proxy_helpers import ProxyHandle, recv_exactly


class _ShoutAttributes(Attributes):
    times: int = Field(1, ge=1, le=3)


@register("test_shout")
class _ShoutToxic(Toxic[_ShoutAttributes]):
    """Upper-cases and repeats every chunk: a visible, byte-level effect."""

    model = _ShoutAttributes

    async def pipe(self, stub: ToxicStub) -> None:
        while (chunk := await stub.read()) is not None:
            stub.write(chunk.upper() * self.attrs.times)
        stub.write_eof()


def test_toxiproxy_types_are_all_registered() -> None:
    assert {"latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"} <= set(
        toxic_types()
    )
    assert {"drop_response", "http_latency", "http_error"} <= set(toxic_types())


def test_a_registered_toxic_is_usable_through_the_api(echo_proxy: ProxyHandle) -> None:
    response = echo_proxy.api.post(
        "/proxies/echo/toxics", json={"type": "test_shout", "attributes": {"times": 2}}
    )
    assert response.status_code == 200
    assert response.json()["attributes"] == {"times": 2}
    with echo_proxy.connect() as sock:
        sock.sendall(b"hey")
        assert recv_exactly(sock, 6) == b"HEYHEY"
    bad = echo_proxy.api.post(
        "/proxies/echo/toxics", json={"type": "test_shout", "name": "b", "attributes": {"times": 9}}
    )
    assert bad.status_code == 400 and "times" in bad.json()["error"]
