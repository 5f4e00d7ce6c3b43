"""Idempotency-Key handling in Redis, while the effect itself lives in another store (a SQL database).

`RedisIdempotentExecutor`, the pattern as commonly done right:
1. `SET key {in_flight, fingerprint, token} NX PX lock_ttl`: exactly one request claims a key; others
   get the in-flight verdict (409), or 422 if their payload differs.
2. The winner runs the work and commits the effect, then swaps the marker for the stored response
   (status + body) with the key's TTL, only if the marker is still its own (a Lua compare-and-set).
3. Later requests with the key replay the stored response.
A request that raises removes its marker (compare-and-delete), so a retry may run again.

What it cannot do, and the harness can show: Redis and the effect's store never commit together. A crash
after the effect's commit and before step 2 leaves the in-flight marker: retries get 409 until it
expires, and a retry after that acts again. `lock_ttl_s` (30 s) is therefore chosen longer than a
client's whole retry budget; it also bounds how long a crash before the commit blocks the key.

`KeyAfterEffectExecutor` is the broken variant people ship: `GET` the key, act, and only then `SET` the
response. A retry racing the first attempt, or a crash between the effect and the `SET`, duplicates.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from targets.targetkit.check_then_act import check_then_act
from targets.targetkit.failpoints import Failpoints
from targets.targetkit.idempotency import Outcome, Verdict
from targets.targetkit.keystore import DEFAULT_TTL_S, StoredResponse
from targets.targetkit.replay import KeyedResponse, replay_or_refuse
from targets.targetkit.stores import RedisHandle

DEFAULT_LOCK_TTL_S = 30.0
_CLAIM_ATTEMPTS = 3  # SET NX failed, then GET found nothing: the holder just expired or released

# KEYS[1] = the key; ARGV[1] = our marker; ARGV[2] = the stored response; ARGV[3] = its TTL in ms.
_COMPLETE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return false
"""
_RELEASE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _encode(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _decode_done(raw: bytes | str) -> KeyedResponse | None:
    """The stored response in a value, or None if the value is an in-flight marker."""
    value = json.loads(raw)
    if value["state"] != "done":
        return None
    return KeyedResponse(value["fingerprint"], StoredResponse(int(value["status"]), value["body"]))


def _done_value(payload_fingerprint: str, response: StoredResponse) -> str:
    return _encode({"state": "done", "fingerprint": payload_fingerprint, "status": response.status,
                    "body": response.body})


class RedisIdempotentExecutor:
    """Runs one operation (`scope`, such as 'POST /charges') at most once per key, coordinated in Redis."""

    def __init__(self, redis_handle: RedisHandle, scope: str, ttl_s: float = DEFAULT_TTL_S,
                 lock_ttl_s: float = DEFAULT_LOCK_TTL_S) -> None:
        self._redis = redis_handle
        self._scope = scope
        self._ttl_ms = int(ttl_s * 1000)
        self._lock_ttl_ms = int(lock_ttl_s * 1000)
        self._complete = redis_handle.client.register_script(_COMPLETE_IF_OURS)
        self._release = redis_handle.client.register_script(_RELEASE_IF_OURS)

    def redis_key(self, key: str) -> str:
        return self._redis.key("idempotency", self._scope, key)

    def execute(self, key: str, payload_fingerprint: str, work: Callable[[], None],
                act: Callable[[], StoredResponse]) -> Outcome:
        """Replay, refuse, or claim the key, run `work` and `act` (it commits), store the answer."""
        redis_key = self.redis_key(key)
        client = self._redis.client
        marker = _encode({"state": "in_flight", "fingerprint": payload_fingerprint,
                          "token": uuid.uuid4().hex})
        for _ in range(_CLAIM_ATTEMPTS):
            if client.set(redis_key, marker, nx=True, px=self._lock_ttl_ms):
                return self._run(redis_key, marker, payload_fingerprint, work, act)
            existing = client.get(redis_key)
            if existing is None:
                continue
            if json.loads(existing)["fingerprint"] != payload_fingerprint:
                return Outcome(Verdict.PAYLOAD_MISMATCH)
            found = _decode_done(existing)
            if found is None:
                return Outcome(Verdict.IN_FLIGHT)
            return replay_or_refuse(found, payload_fingerprint)
        return Outcome(Verdict.IN_FLIGHT)

    def _run(self, redis_key: str, marker: str, payload_fingerprint: str, work: Callable[[], None],
             act: Callable[[], StoredResponse]) -> Outcome:
        try:
            work()
            response = act()
        except BaseException:
            self._release(keys=[redis_key], args=[marker])
            raise
        self._complete(keys=[redis_key], args=[marker, _done_value(payload_fingerprint, response),
                                               self._ttl_ms])
        return Outcome(Verdict.FRESH, response)


class KeyAfterEffectExecutor:
    """BROKEN on purpose: look the key up, act, and store the response only afterwards (no claim)."""

    def __init__(self, redis_handle: RedisHandle, scope: str, failpoints: Failpoints,
                 ttl_s: float = DEFAULT_TTL_S) -> None:
        self._redis = redis_handle
        self._scope = scope
        self._failpoints = failpoints
        self._ttl_ms = int(ttl_s * 1000)

    def execute(self, key: str, payload_fingerprint: str, work: Callable[[], None],
                act: Callable[[], StoredResponse]) -> Outcome:
        redis_key = self._redis.key("idempotency", self._scope, key)
        client = self._redis.client

        def find() -> KeyedResponse | None:
            raw = client.get(redis_key)
            return None if raw is None else _decode_done(raw)

        def act_then_store() -> StoredResponse:
            response = act()
            client.set(redis_key, _done_value(payload_fingerprint, response), px=self._ttl_ms)
            return response

        return check_then_act(payload_fingerprint, find, work, self._failpoints, act_then_store)
