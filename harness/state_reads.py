"""The cell's state reads: each operation's resource, and its twin, read directly after the load.

An operation with ``resource:`` made its resource first (its create step) and then acted on it, under
the cell's faults. Whether the act kept its method's contract shows in the resource: once the load
has drained and the effects have been read (so the twins' own effects are never counted), while the
target still runs, this module reads every resource whose create step was acknowledged, and beside
it a *twin*: a second resource made by the same create request (with a key of its own), the act's
own request applied to it exactly once (PUT, PATCH, DELETE, POST; not at all for GET and HEAD), then
read. Every request goes straight to the target (never through the fault proxy), and is sent once:
only a connection refused before anything was sent is tried again, a few times.

The requests are rebuilt from the cell's load config (:class:`~harness.load.operations.ResourceAct`),
a pure function of the seed and the op id, so the twin's act is byte for byte the load's (but for
its key and the resource's id). A cell has hundreds of such operations; a small thread pool reads
them side by side. The result is the cell's ``states.jsonl`` (:mod:`harness.resource_states`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from harness.load.config import LoadCellConfig
from harness.load.operations import (
    CREATE_SUFFIX,
    OperationRequest,
    ResourceAct,
    build_request,
    resource_id_at,
)
from harness.load.retry import classify_answer
from harness.records import OpFinish, read_records
from harness.resource_states import SAFE_METHODS, ResourceRead, ResourceState, write_states

READ_TIMEOUT_S = 5.0
"""Each direct request's bound: the load has drained, so a target that takes longer is broken."""
READ_THREADS = 8
CONNECT_TRIES = 3
"""How often a request refused before it was sent is tried (a target busy accepting), at most."""
CONNECT_PAUSE_S = 0.1


def has_resources(config: LoadCellConfig) -> bool:
    """Whether any operation kind of the cell makes a resource (otherwise there is nothing to read)."""
    return any(kind.resource is not None for kind in config.kinds)


def created_resources(history_paths: Sequence[Path]) -> dict[str, str]:
    """Each create step acknowledged with an id, by its op id (``<op_id>.create``): the resource's id."""
    created: dict[str, str] = {}
    for record in read_records(history_paths, sort_all=True).client:
        if not isinstance(record, OpFinish) or not record.op_id.endswith(CREATE_SUFFIX):
            continue
        if record.outcome == "acknowledged" and record.resource_id is not None:
            created[record.op_id] = record.resource_id
    return created


def act_of(config: LoadCellConfig, create_op_id: str) -> ResourceAct | None:
    """The act whose create step was ``create_op_id``, rebuilt from the config; ``None`` when the op
    id is not one of the config's (another prefix) or its kind makes no resource."""
    number_text = create_op_id.removesuffix(CREATE_SUFFIX).removeprefix(config.op_id_prefix)
    if not create_op_id.startswith(config.op_id_prefix) or not number_text.isdigit():
        return None
    request = build_request(config, config.op_id_prefix, int(number_text))
    return request.then if request.op_id == create_op_id else None


def read_resource_states(
    config: LoadCellConfig, base_url: str, history_paths: Sequence[Path], out_path: Path
) -> list[ResourceState] | None:
    """Read every acknowledged create's resource and its twin at ``base_url`` (the target itself),
    and write them to ``out_path``; ``None`` (and no file) when no kind of the cell makes a resource."""
    if not has_resources(config):
        return None
    acts = [
        (act, resource)
        for create_op_id, resource in sorted(created_resources(history_paths).items())
        if (act := act_of(config, create_op_id)) is not None
    ]
    direct = httpx.Client(base_url=base_url, timeout=READ_TIMEOUT_S, trust_env=False)  # no HTTP_PROXY either
    with direct as client, ThreadPoolExecutor(READ_THREADS) as pool:
        states = list(pool.map(lambda pair: StateReader(client, pair[0]).state(pair[1]), acts))
    write_states(out_path, states)
    return states


class StateReader:
    """Reads one act's resource and makes, applies and reads its twin, on a shared client."""

    def __init__(self, client: httpx.Client, act: ResourceAct) -> None:
        self.client = client
        self.act = act

    def state(self, resource: str) -> ResourceState:
        act = self.act
        path = act.state_path(resource)
        after = self.read(path)
        twin, twin_resource, applied = self.twin()
        id_field = act.resource.create.id_field  # left out when top-level: a dotted one names no field here
        ignored = ((id_field,) if "." not in id_field else ()) + act.resource.state.ignore
        return ResourceState(
            op_id=act.op_id,
            kind=act.kind.name,
            method=act.kind.method,
            resource=resource,
            path=path,
            after=after,
            twin=twin,
            twin_resource=twin_resource,
            twin_applied=applied,
            ignored=tuple(dict.fromkeys(ignored)),
        )

    def twin(self) -> tuple[ResourceRead, str | None, bool]:
        """The twin's read, its id, and whether the act was applied to it; a step that failed makes
        the read a failed one saying which step (a twin that is not what it should be compares to nothing)."""
        act = self.act
        create = act.create(twin=True)
        answer = self.send(create)
        if isinstance(answer, str):
            return ResourceRead(None, error=f"the twin's create: {answer}"), None, False
        twin_id = resource_id_at(_json(answer), create.resource_id_field) if _done(create, answer) else None
        if twin_id is None:
            problem = (
                f"the twin's create answered {answer.status_code} without an id at {create.resource_id_field}"
            )
            return ResourceRead(None, error=problem), None, False
        applied = act.kind.method not in SAFE_METHODS
        if applied:
            request = act.request(twin_id, twin=True)
            answer = self.send(request)
            if isinstance(answer, str) or not _done(request, answer):
                shown = answer if isinstance(answer, str) else f"answered {answer.status_code}"
                return ResourceRead(None, error=f"the twin's {request.method}: {shown}"), twin_id, False
        return self.read(act.state_path(twin_id)), twin_id, applied

    def read(self, path: str) -> ResourceRead:
        answer = self.send_raw("GET", path, {}, None)
        if isinstance(answer, str):
            return ResourceRead(None, error=answer)
        return ResourceRead(answer.status_code, _json(answer))

    def send(self, request: OperationRequest) -> httpx.Response | str:
        return self.send_raw(request.method, request.path, request.headers, request.body)

    def send_raw(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> httpx.Response | str:
        """The answer, or why none came; a connection refused is tried again, up to :data:`CONNECT_TRIES`."""
        tries = 0
        while True:
            tries += 1
            try:
                return self.client.request(method, path, headers=dict(headers), content=body)
            except httpx.ConnectError as error:  # nothing was sent
                if tries >= CONNECT_TRIES:
                    return f"connection failed: {error}"
            except httpx.HTTPError as error:
                return f"{type(error).__name__}: {error}"
            time.sleep(CONNECT_PAUSE_S)


def _done(request: OperationRequest, answer: httpx.Response) -> bool:
    """Whether ``answer`` says the request took effect, by the request's success rule (default 2xx)."""
    return classify_answer(answer.status_code, _json(answer), request.success).acknowledged


def _json(answer: httpx.Response) -> object:
    try:
        return answer.json() if answer.content else None
    except ValueError:  # not JSON (json's errors and UnicodeDecodeError are ValueErrors)
        return None
