"""The Locust user that runs logical operations with retries, shared by the driver and the locustfile.

Importing this module imports Locust, which patches the process with gevent: only the driver
process (``driver.py``) and ``locust -f locustfile.py`` may import it.

Why ``HttpUser`` (requests) rather than ``FastHttpUser``: requests takes a timeout per call, and
urllib3 throws a connection away after any error, so a reset or a timeout never poisons the next
attempt. On top of that each attempt runs under a ``gevent.Timeout`` (a hard deadline that also
covers a server trickling bytes), and after a timeout or a connection error the user drops its
whole pool, so the retry opens a fresh connection.
"""

from __future__ import annotations

import http.cookiejar
import time
from dataclasses import dataclass
from typing import ClassVar, cast

import gevent
import requests
from gevent import GreenletExit
from locust import HttpUser, constant, task
from locust.exception import StopUser

from harness.history import AttemptEnd, AttemptStart, HistoryWriter, OpEnd, OpStart
from harness.load.config import LoadCellConfig
from harness.load.operations import OperationQueue, OperationRequest, build_request, operation_rng
from harness.load.retry import Classification, RetryPolicy, classify_failure, classify_status
from harness.load.transport import describe_error, timeout_text

REQUEST_TIMEOUT_GRACE_S = 0.5
"""requests' own timeout sits this much past the hard deadline, which therefore decides."""

DEFAULT_STOP_REASON = "stopped before an answer"


class AttemptCutShort(Exception):
    """Reported to Locust's statistics for an attempt that ended without any HTTP answer."""


class Workload:
    """One cell's operations, policy and history, shared by every user of a run."""

    def __init__(
        self, config: LoadCellConfig, history: HistoryWriter, op_id_prefix: str | None = None
    ) -> None:
        self.config = config
        self.policy = RetryPolicy.from_spec(config.retry)
        self.history = history
        self.queue = OperationQueue(config.operations)
        self.op_id_prefix = config.op_id_prefix if op_id_prefix is None else op_id_prefix
        self.stop_reason = DEFAULT_STOP_REASON
        """Written as the error of attempts cut short when the run is stopped (set by the runner)."""

    def request(self, number: int) -> OperationRequest:
        config = self.config
        return build_request(
            seed=config.seed,
            prefix=self.op_id_prefix,
            number=number,
            amount_min=config.amount_min,
            amount_max=config.amount_max,
            send_key=config.send_idempotency_key,
        )


@dataclass(frozen=True)
class AttemptResult:
    classification: Classification
    latency_s: float
    resource_id: str | None = None
    error: str | None = None


class RetryingUser(HttpUser):
    """Takes the next operation from the shared queue and runs it to its end, until none are left."""

    abstract = True
    workload: ClassVar[Workload | None] = None
    wait_time = constant(0)

    def on_start(self) -> None:
        # A cookie set by one answer would change the headers of the retry: refuse them all.
        self.client.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    @task
    def run_next_operation(self) -> None:
        workload = type(self).workload
        number = None if workload is None else workload.queue.take()
        if workload is None or number is None:
            raise StopUser()
        _OperationRun(self, workload, workload.request(number)).run()

    def attempt(self, request: OperationRequest, path: str, timeout_s: float) -> AttemptResult:
        """Send the operation's request once, under a hard deadline of ``timeout_s``."""
        start_time = time.time()
        started = time.perf_counter()
        deadline = gevent.Timeout(timeout_s)
        deadline.start()
        try:
            response = self.client.request(
                "POST",
                path,
                name=path,
                data=request.body,
                headers=dict(request.headers),
                timeout=timeout_s + REQUEST_TIMEOUT_GRACE_S,
                allow_redirects=False,
            )
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise
            latency_s = time.perf_counter() - started
            self.drop_connections()
            text = timeout_text(timeout_s)
            self.report_unanswered(path, start_time, latency_s, text)
            return AttemptResult(classify_failure("timeout"), latency_s, error=text)
        finally:
            deadline.close()
        latency_s = time.perf_counter() - started
        if response.error is not None:  # HttpSession has reported it to Locust already
            self.drop_connections()
            described = describe_error(response.error, timeout_s)
            return AttemptResult(classify_failure(described.failure), latency_s, error=described.text)
        return AttemptResult(classify_status(response.status_code), latency_s, _resource_id(response))

    def drop_connections(self) -> None:
        """Close every pooled connection, so the next attempt cannot reuse a broken one."""
        self.client.close()

    def report_unanswered(self, path: str, start_time: float, latency_s: float, text: str) -> None:
        """Tell Locust's statistics about an attempt that its HttpSession could not report."""
        self.environment.events.request.fire(
            request_type="POST",
            name=path,
            response_time=latency_s * 1000,
            response_length=0,
            response=None,
            context=self.context(),
            exception=AttemptCutShort(text),
            start_time=start_time,
            url=f"{self.host}{path}",
        )


def _resource_id(response: requests.Response) -> str | None:
    """The JSON body's ``id``, if the body is a JSON object that has one."""
    try:
        body: object = response.json()
    except ValueError:  # not JSON (requests' JSONDecodeError is a ValueError)
        return None
    if isinstance(body, dict) and body.get("id") is not None:
        return str(body["id"])
    return None


class _OperationRun:
    """One logical operation: OpStart, attempts with backoff, and an OpEnd whatever happens."""

    def __init__(self, user: RetryingUser, workload: Workload, request: OperationRequest) -> None:
        self.user = user
        self.workload = workload
        self.request = request

    def run(self) -> None:
        workload, request, policy = self.workload, self.request, self.workload.policy
        history = workload.history
        path = workload.config.path
        rng = operation_rng(workload.config.seed, request.op_id, "backoff")
        attempt = 0
        last: AttemptResult | None = None
        in_flight_since: float | None = None
        cut_short_by: str | None = None
        history.append(OpStart(t=time.time(), op_id=request.op_id, key=request.key))
        try:
            while True:
                attempt += 1
                history.append(AttemptStart(t=time.time(), op_id=request.op_id, attempt=attempt))
                in_flight_since = time.perf_counter()
                last = self.user.attempt(request, path, policy.timeout_s)
                in_flight_since = None
                history.append(_attempt_end(request.op_id, attempt, last))
                if not policy.should_retry(attempt, last.classification):
                    break
                gevent.sleep(policy.backoff_s(attempt, rng))
        except GreenletExit:
            cut_short_by = workload.stop_reason
            raise
        except Exception as error:
            cut_short_by = f"driver error: {type(error).__name__}: {error}"
            raise
        finally:
            if in_flight_since is not None:
                latency_s = time.perf_counter() - in_flight_since
                text = cut_short_by or DEFAULT_STOP_REASON
                history.append(
                    AttemptEnd(
                        t=time.time(),
                        op_id=request.op_id,
                        attempt=attempt,
                        outcome="info",
                        error=text,
                        latency_s=latency_s,
                    )
                )
                self.user.report_unanswered(path, time.time() - latency_s, latency_s, text)
            self._end(attempt, None if in_flight_since is not None else last, cut_short_by is None)

    def _end(self, attempts: int, last: AttemptResult | None, finished: bool) -> None:
        policy = self.workload.policy
        outcome = policy.final_outcome(last.classification if last else None) if finished else "unknown"
        self.workload.history.append(
            OpEnd(
                t=time.time(),
                op_id=self.request.op_id,
                outcome=outcome,
                attempts=attempts,
                status=last.classification.status if last else None,
                resource_id=last.resource_id if last else None,
            )
        )
        self.workload.queue.finish()


def _attempt_end(op_id: str, attempt: int, result: AttemptResult) -> AttemptEnd:
    return AttemptEnd(
        t=time.time(),
        op_id=op_id,
        attempt=attempt,
        outcome=result.classification.outcome,
        status=result.classification.status,
        resource_id=result.resource_id,
        error=result.error,
        latency_s=round(result.latency_s, 6),
    )


def make_user_class(workload: Workload | None, host: str, name: str = "ChargeUser") -> type[RetryingUser]:
    """A concrete user class bound to one workload (Locust picks users by class, not instance)."""
    attributes = {"workload": workload, "host": host, "__module__": __name__}
    return cast("type[RetryingUser]", type(name, (RetryingUser,), attributes))
