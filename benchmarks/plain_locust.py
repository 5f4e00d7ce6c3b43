"""``python -m benchmarks.plain_locust``: the yardstick of ``benchmarks.load``, plain Locust ``FastHttpUser``.

Users post the same charges the retrying driver posts (a fresh Idempotency-Key each, no retries, no
history) until ``--requests`` have been sent or ``--max-seconds`` have passed. Like the driver, it
prints one JSON line when its users start and one when they are done, so the benchmark reads this
process's CPU time over the same stretch of work for both.

A separate process because importing Locust patches it with gevent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import uuid

import gevent
from locust import FastHttpUser, constant, task
from locust.env import Environment
from locust.exception import StopUser

CHARGES_PATH = "/charges"


class _Budget:
    """Hands out request numbers until ``total`` have been taken."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._numbers = itertools.count()

    def take(self) -> int | None:
        number = next(self._numbers)
        return number if number < self.total else None


def user_class(host: str, budget: _Budget) -> type[FastHttpUser]:
    class ChargePoster(FastHttpUser):
        wait_time = constant(0)

        @task
        def post_charge(self) -> None:
            number = budget.take()
            if number is None:
                raise StopUser()
            reference = f"plain-{number:06d}"
            body = {
                "amount": 100 + number % 100,
                "currency": "EUR",
                "customer": "cus_1",
                "reference": reference,
            }
            self.client.post(CHARGES_PATH, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})

    ChargePoster.host = host
    return ChargePoster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.plain_locust", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", required=True, help="the target's base URL")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    environment = Environment(user_classes=[user_class(args.host, _Budget(args.requests))], host=args.host)
    runner = environment.create_local_runner()
    print(json.dumps({"started": True}), flush=True)
    started = time.monotonic()
    runner.start(args.users, spawn_rate=100)
    deadline = started + args.max_seconds
    gevent.sleep(0.1)
    while runner.user_count > 0 and time.monotonic() < deadline:
        gevent.sleep(0.05)
    totals = environment.stats.total
    print(
        json.dumps(
            {
                "done": True,
                "requests": totals.num_requests,
                "failures": totals.num_failures,
                "duration_s": round(time.monotonic() - started, 3),
            }
        ),
        flush=True,
    )
    runner.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
