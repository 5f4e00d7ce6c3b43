"""The Locust user that runs logical operations with retries, shared by the driver and the locustfile.

Importing this module imports Locust, which patches the process with gevent: only the driver
process (``driver.py``) and ``locust -f locustfile.py`` may import it.

Each user sends on its own :class:`~harness.load.connection.HttpConnection` (one keep-alive
connection that sends every request exactly once, and closes after any error, so a reset or a timeout
never poisons the next attempt; see there why not requests or ``FastHttpUser``). On top of that each
attempt runs under a ``gevent.Timeout`` (a hard deadline that also covers a server trickling bytes),
and after a timeout the user closes its connection, so the retry opens a fresh one. Cookies are never
stored nor sent: a cookie set by one answer would change the headers of the retry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, cast

import gevent
from gevent import GreenletExit
from locust import User, constant, task
from locust.env import Environment
from locust.exception import StopTest, StopUser

from harness.history import HistoryWriter, OpOutcome
from harness.imports import import_callable
from harness.load.client_history import ClientHistory
from harness.load.config import LoadCellConfig
from harness.load.connection import Answer, HttpConnection, encode_json
from harness.load.entries import report_operation_end
from harness.load.flow import FlowContext, FlowRequestError, FlowResponse
from harness.load.operations import (
    JSON_CONTENT_TYPE,
    OperationQueue,
    OperationRequest,
    RequestBuilder,
    ResourceAct,
    operation_rng,
    resource_id_at,
)
from harness.load.retry import (
    Classification,
    backoff_s,
    classify_answer,
    classify_failure,
    final_outcome,
    preference,
    should_retry,
)
from harness.load.transport import describe_error, timeout_text
from harness.opids import OP_HEADER
from harness.template import Renderer

REQUEST_TIMEOUT_GRACE_S = 0.5
"""The socket's own timeout sits this much past the hard deadline, which therefore decides."""

DEFAULT_STOP_REASON = "stopped before an answer"

TWIN_KILL_WAIT_S = 1.0
"""How long an op cut short waits for the twin of a double submit to die (it is killed, not awaited)."""


class AttemptCutShort(Exception):
    """Reported to Locust's statistics for an attempt that ended without any HTTP answer."""


class ErrorStatus(Exception):
    """Reported to Locust's statistics for an answer with a 4xx or 5xx status (a failed request there)."""


class Workload:
    """One cell's operations, policy and history, shared by every user of a run."""

    def __init__(
        self,
        config: LoadCellConfig,
        history: HistoryWriter,
        queue: OperationQueue | None = None,
    ) -> None:
        self.config = config
        self.policy = config.load.retry
        self.history = ClientHistory(history)
        self.requests = RequestBuilder(config, config.op_id_prefix)
        self.queue = OperationQueue(config.load.operations) if queue is None else queue
        """Hands out op numbers; a distributed worker's asks the master (``distributed.py``)."""
        self.stop_reason = DEFAULT_STOP_REASON
        """Written as the error of attempts cut short when the run is stopped (set by the runner)."""
        self.attempts_in_flight = 0
        """Attempts sent and not yet ended, over every user: the nemesis kills only while some are."""

    def request(self, number: int) -> OperationRequest:
        return self.requests.build(number)


@dataclass(frozen=True)
class AttemptResult:
    classification: Classification
    latency_s: float
    resource_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SentRequest:
    """One HTTP request's end: its ``response`` and decoded JSON ``body``, or else why none came."""

    latency_s: float
    response: Answer | None = None
    body: object = None
    failure: Classification = Classification("info")
    error: str = ""


class RetryingUser(User):
    """Takes the next operation from the shared queue and runs it to its end, until none are left.

    ``client`` sends every attempt; ``twin_client`` (a second connection) sends only the duplicate
    of a double-submitted first attempt.
    """

    abstract = True
    workload: ClassVar[Workload | None] = None
    wait_time = constant(0)
    _twin: HttpConnection | None = None
    _message: tuple[OperationRequest, bytes] | None = None

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if self.host is None:
            raise StopTest("a RetryingUser needs the cell's base URL as its host (see make_user_class)")
        self.client = HttpConnection(self.host)

    @property
    def twin_client(self) -> HttpConnection:
        if self._twin is None:
            self._twin = HttpConnection(self.client.base_url)
        return self._twin

    @task
    def run_next_operation(self) -> None:
        workload = type(self).workload
        number = None if workload is None else workload.queue.take()
        if workload is None or number is None:
            raise StopUser()
        run_operation(self, workload, workload.request(number))

    def attempt(
        self,
        request: OperationRequest,
        timeout_s: float,
        session: HttpConnection | None = None,
        attempt: int = 1,
    ) -> AttemptResult:
        """Send the operation's request once on ``session`` (default ``client``), under a hard deadline.

        A flow kind runs its function once instead (``attempt`` is its ``ctx.attempt``).
        """
        session = self.client if session is None else session
        if request.flow is not None:
            return _FlowAttempt(self, request, timeout_s, session).run(attempt)
        sent = self.exchange(session, request, timeout_s, request.method, request.path, self.message(request))
        if sent.response is None:
            return AttemptResult(sent.failure, sent.latency_s, error=sent.error)
        classification = classify_answer(sent.response.status, sent.body, request.success)
        return AttemptResult(
            classification, sent.latency_s, resource_id_at(sent.body, request.resource_id_field)
        )

    def message(self, request: OperationRequest) -> bytes:
        """The bytes of ``request``, built on its first attempt and resent as they are by the others.

        Every request carries the op's id in ``OP_HEADER``, the same on every attempt, so the fault
        proxy can say which op each of its decisions hit. Both connections go to the user's host, so
        one message serves the twin of a double submit too.
        """
        if self._message is None or self._message[0] is not request:
            headers = {**request.headers, OP_HEADER: request.op_id}
            self._message = (
                request,
                self.client.message(request.method, request.path, headers, request.body),
            )
        return self._message[1]

    def send(
        self,
        session: HttpConnection,
        request: OperationRequest,
        timeout_s: float,
        method: str,
        path: str,
        headers: Mapping[str, str],
        *,
        data: bytes | None = None,
        json: object = None,
    ) -> SentRequest:
        """One HTTP request of ``request``'s operation on ``session``, under a hard deadline.

        The body is ``data`` (bytes as they are) or ``json`` (encoded as requests would, with its
        Content-Type unless ``headers`` has one). It carries the op's id in ``OP_HEADER`` too.
        """
        sent_headers = {**headers, OP_HEADER: request.op_id}
        if json is not None and data is None:
            data = encode_json(json)
            if not any(name.lower() == "content-type" for name in headers):
                sent_headers["Content-Type"] = JSON_CONTENT_TYPE
        message = session.message(method, path, sent_headers, data)
        return self.exchange(session, request, timeout_s, method, path, message)

    def exchange(
        self,
        session: HttpConnection,
        request: OperationRequest,
        timeout_s: float,
        method: str,
        path: str,
        message: bytes,
    ) -> SentRequest:
        """Send ``message`` (a request of ``request``'s operation) on ``session``, under a hard deadline.

        Without an answer (timeout, reset, refused) the connection is closed, so the next request
        cannot reuse one left mid-answer. Redirects are answers, not followed.
        """
        start_time = time.time()
        started = time.perf_counter()
        deadline = gevent.Timeout(timeout_s)
        deadline.start()
        try:
            answer = session.exchange(method, message, timeout_s + REQUEST_TIMEOUT_GRACE_S)
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise
            latency_s = time.perf_counter() - started
            session.close()
            text = timeout_text(timeout_s)
            self.report_unanswered(request, start_time, latency_s, text, method, path)
            return SentRequest(latency_s, failure=classify_failure("timeout"), error=text)
        except OSError as error:  # the connection has closed itself
            latency_s = time.perf_counter() - started
            described = describe_error(error, timeout_s)
            self.report_unanswered(request, start_time, latency_s, described.text, method, path)
            return SentRequest(latency_s, failure=classify_failure(described.failure), error=described.text)
        finally:
            deadline.close()
        latency_s = time.perf_counter() - started
        failed = ErrorStatus(f"{answer.status}") if answer.status >= 400 else None
        self.report(request, start_time, latency_s, method, path, failed, answer)
        return SentRequest(latency_s, response=answer, body=answer.json())

    def report_unanswered(
        self,
        request: OperationRequest,
        start_time: float,
        latency_s: float,
        text: str,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Tell Locust's statistics about an attempt that ended without an HTTP answer."""
        self.report(request, start_time, latency_s, method, path, AttemptCutShort(text))

    def report(
        self,
        request: OperationRequest,
        start_time: float,
        latency_s: float,
        method: str | None,
        path: str | None,
        exception: Exception | None,
        answer: Answer | None = None,
    ) -> None:
        """One request in Locust's statistics (a failure there when ``exception`` is set)."""
        self.environment.events.request.fire(
            request_type=method or request.method or "FLOW",
            name=request.kind,
            response_time=latency_s * 1000,
            response_length=0 if answer is None else len(answer.body),
            response=answer,
            context=self.context(),
            exception=exception,
            start_time=start_time,
            url=f"{self.host}{path if path is not None else request.path}",
        )


class _FlowAttempt:
    """One attempt of a flow kind: one run of its function, classified by its last request."""

    def __init__(
        self, user: RetryingUser, request: OperationRequest, timeout_s: float, session: HttpConnection
    ) -> None:
        self.user = user
        self.request = request
        self.timeout_s = timeout_s
        self.session = session
        self.last: Classification | None = None
        self.last_error: str | None = None

    def run(self, attempt: int) -> AttemptResult:
        request, template = self.request, self.request.template
        assert request.flow is not None and template is not None
        function = import_callable(request.flow, request.python_path)
        context = FlowContext(
            op_id=request.op_id,
            key=template.key,
            attempt=attempt,
            rng=operation_rng(template.seed, request.op_id, "flow"),
            renderer=Renderer(template),
            sender=self.send,
        )
        started = time.perf_counter()
        try:
            returned = function(context)
        except FlowRequestError as error:
            return AttemptResult(error.classification, time.perf_counter() - started, error=error.text)
        except Exception as error:  # noqa: BLE001 - the user's flow failing ends only this attempt
            text = f"flow {request.flow} raised {type(error).__name__}: {error}"
            return AttemptResult(Classification("info"), time.perf_counter() - started, error=text)
        latency_s = time.perf_counter() - started
        if self.last is None:
            text = f"flow {request.flow} sent no request"
            return AttemptResult(Classification("info"), latency_s, error=text)
        if self.last_error is not None:  # the flow swallowed its last request's failure
            return AttemptResult(self.last, latency_s, error=self.last_error)
        resource_id = None if returned is None else str(returned)
        return AttemptResult(self.last, latency_s, resource_id)

    def send(self, method: str, path: str, json: object, headers: Mapping[str, str] | None) -> FlowResponse:
        """``ctx.request``: one request on the attempt's session, under the attempt's hard deadline."""
        sent = self.user.send(
            self.session, self.request, self.timeout_s, method, path, headers or {}, json=json
        )
        if sent.response is None:
            raise self._failed(sent.failure, sent.error)
        self.last = classify_answer(sent.response.status, sent.body, self.request.success)
        self.last_error = None
        return FlowResponse(sent.response.status, sent.body, sent.response.headers)

    def _failed(self, classification: Classification, text: str) -> FlowRequestError:
        self.last, self.last_error = classification, text
        return FlowRequestError(classification, text)


class _OperationRun:
    """One logical operation: OpStart, attempts with backoff, and an OpEnd whatever happens.

    ``in_flight`` maps each attempt sent and not yet answered to when it was sent, so an op cut
    short (the run stopped, or a driver error) still ends every attempt it began in the history.
    """

    def __init__(
        self, user: RetryingUser, workload: Workload, request: OperationRequest, ends_number: bool = True
    ) -> None:
        self.user = user
        self.workload = workload
        self.request = request
        self.ends_number = ends_number
        """Whether its end is its op number's (``False``: a create step, which an act follows)."""
        self.ended: tuple[OpOutcome, str | None] | None = None
        """Its outcome and the resource id it answered with, once it has ended."""
        self.in_flight: dict[int, float] = {}
        self.attempts = 0
        """Attempts started so far: the number of the latest one."""
        self.twin: gevent.Greenlet[..., AttemptResult] | None = None

    def run(self) -> None:
        workload, request, policy = self.workload, self.request, self.workload.policy
        rng: random.Random | None = None  # seeding costs as much as a history line: only for a retry
        last: AttemptResult | None = None
        cut_short_by: str | None = None
        workload.history.op_start(request.op_id, request.kind, request.key)
        try:
            while True:
                if self.attempts == 0 and request.double_submit:
                    last = self._send_twice()
                else:
                    last = self._send(self._started(), self.user.client)
                if not should_retry(policy, self.attempts, last.classification):
                    break
                rng = rng or operation_rng(workload.config.seed, request.op_id, "backoff")
                gevent.sleep(backoff_s(policy, self.attempts, rng, refused=last.classification.refused))
        except GreenletExit:
            cut_short_by = workload.stop_reason
            raise
        except Exception as error:
            cut_short_by = f"driver error: {type(error).__name__}: {error}"
            raise
        finally:
            if self.twin is not None:
                self.twin.kill(block=True, timeout=TWIN_KILL_WAIT_S)
            unanswered = bool(self.in_flight)
            self._cut_short(cut_short_by or DEFAULT_STOP_REASON)
            self._end(self.attempts, None if unanswered else last, cut_short_by is None)

    def _send_twice(self) -> AttemptResult:
        """Attempts 1 and 2 at once, on two connections; the better answer decides what follows.

        Both starts are written first. The twin greenlet starts sending as soon as this one blocks
        on its own request, so the two reach the server a request's build time apart.
        """
        first_attempt = self._started()
        second_attempt = self._started(twin_of=first_attempt)
        self.twin = gevent.spawn(self._send, second_attempt, self.user.twin_client)
        first = self._send(first_attempt, self.user.client)
        second: AttemptResult = self.twin.get()
        self.twin = None
        policy = self.workload.policy
        return min((first, second), key=lambda result: preference(policy, result.classification))

    def _started(self, twin_of: int | None = None) -> int:
        """Record the next attempt as sent (``twin_of``: the attempt it doubles); its number."""
        self.attempts += 1
        attempt = self.attempts
        self.workload.history.attempt_start(self.request.op_id, attempt, twin_of)
        self.in_flight[attempt] = time.perf_counter()
        self.workload.attempts_in_flight += 1
        return attempt

    def _send(self, attempt: int, session: HttpConnection) -> AttemptResult:
        result = self.user.attempt(self.request, self.workload.policy.timeout_s, session, attempt)
        del self.in_flight[attempt]
        self.workload.attempts_in_flight -= 1
        classification = result.classification
        self.workload.history.attempt_end(
            self.request.op_id,
            attempt,
            classification.outcome,
            round(result.latency_s, 6),
            status=classification.status,
            resource_id=result.resource_id,
            error=result.error,
        )
        return result

    def _cut_short(self, text: str) -> None:
        """End every attempt still in flight as unknown, in the history and in Locust's statistics."""
        for attempt, since in sorted(self.in_flight.items()):
            latency_s = time.perf_counter() - since
            self.workload.history.attempt_end(self.request.op_id, attempt, "info", latency_s, error=text)
            self.user.report_unanswered(self.request, time.time() - latency_s, latency_s, text)
        self.workload.attempts_in_flight -= len(self.in_flight)
        self.in_flight.clear()

    def _end(self, attempts: int, last: AttemptResult | None, finished: bool) -> None:
        policy = self.workload.policy
        outcome = final_outcome(policy, last.classification if last else None) if finished else "unknown"
        status = last.classification.status if last else None
        resource_id = last.resource_id if last else None
        history = self.workload.history
        history.op_end(self.request.op_id, outcome, attempts, status=status, resource_id=resource_id)
        self.ended = (outcome, resource_id)
        if self.ends_number:
            self.workload.queue.finish()
        gave_up = finished and outcome == "unknown"  # after the history: a marker never costs an OpEnd
        report_operation_end(self.user.environment.events.request, self.request, attempts, gave_up=gave_up)


def run_operation(user: RetryingUser, workload: Workload, request: OperationRequest) -> None:
    """One operation to its end; for a kind with ``resource:``, its create step first, then its act.

    The act is sent only when the create was acknowledged with an id, and its request is built then
    (every retry resends it unchanged). Otherwise it is recorded as an operation that was never sent.
    """
    act = request.then
    if act is None:
        _OperationRun(user, workload, request).run()
        return
    create = _OperationRun(user, workload, request, ends_number=False)
    try:
        create.run()
    except BaseException:  # the run stopped, or the driver failed, during the create: its act never began
        _record_unsent(workload, act)
        raise
    outcome, resource = create.ended or ("unknown", None)
    if outcome == "acknowledged" and resource is not None:
        _OperationRun(user, workload, act.request(resource)).run()
    else:
        _record_unsent(workload, act)


def _record_unsent(workload: Workload, act: ResourceAct) -> None:
    """An act whose create step did not name its resource: ``rejected`` after 0 attempts (it certainly
    took no effect), so every op number still ends in one act in the history."""
    workload.history.op_start(act.op_id, act.kind.name, act.key)
    workload.history.op_end(act.op_id, "rejected", 0)
    workload.queue.finish()


def make_user_class(workload: Workload | None, host: str, name: str = "ChargeUser") -> type[RetryingUser]:
    """A concrete user class bound to one workload (Locust picks users by class, not instance)."""
    attributes = {"workload": workload, "host": host, "__module__": __name__}
    return cast("type[RetryingUser]", type(name, (RetryingUser,), attributes))
