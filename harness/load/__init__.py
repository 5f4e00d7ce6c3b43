"""The retrying load: logical operations sent through the fault proxy, every attempt in the history.

The orchestrator uses only what is exported here, none of which imports Locust (Locust patches its
process with gevent, so it lives in the driver process alone: ``driver.py``, ``user.py`` and
``locustfile.py``)::

    run_driver(config, config_path, on_progress, timeout_s) -> DriverSummary   # runs the driver process
    run_driver(..., distribution=Distribution(workers=N))      # a Locust master + N worker processes
    run_driver(..., link=LoadLink(holds=True))   # the load's start and in-flight, held until released
    serve_as_worker(master_host, master_port, name, cells, ...)  # a worker machine of a --master run
    LoadCellConfig                         # the driver's input: the scenario's LoadSpec + the cell's fields
    classify_status, classify_failure, should_retry, backoff_s, final_outcome   # pure retry decisions
"""

from harness.load.config import (
    Distribution,
    DriverSummary,
    LoadCellConfig,
    load_cell_config,
    run_driver,
    serve_as_worker,
)
from harness.load.link import LoadLink
from harness.load.operations import OperationRequest, build_request, idempotency_key, op_id_for
from harness.load.retry import (
    Classification,
    backoff_s,
    classify_failure,
    classify_status,
    final_outcome,
    should_retry,
)

__all__ = [
    "Classification",
    "Distribution",
    "DriverSummary",
    "LoadCellConfig",
    "LoadLink",
    "OperationRequest",
    "backoff_s",
    "build_request",
    "classify_failure",
    "classify_status",
    "final_outcome",
    "idempotency_key",
    "load_cell_config",
    "op_id_for",
    "run_driver",
    "serve_as_worker",
    "should_retry",
]
