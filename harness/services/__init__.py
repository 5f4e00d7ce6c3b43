"""Real stores a run starts and stops itself: Postgres, Redis, RabbitMQ and an SMTP sink.

Public API (the rest of the package is private)::

    ServiceSet.start(names, run_dir, registry=None, progress=None, lookup=None, optional=()) -> ServiceSet
    ServiceSet.endpoints / .startup_s / .left_out
    ServiceSet.prepare(cell_ids)                 every cell's database / vhost in one go (optional)
    ServiceSet.cell_env(cell_id, addresses=None) the target's env for one cell, resources made once
    ServiceSet.smtp_effects_url(cell_id)         the sink's JSON listing of that cell's messages
    ServiceSet.pids() / .stop()                  (also a context manager)
    available_services(lookup=None) -> {name: None if usable else why not}
    ServiceError                                 a HarnessError: one line, exit status 2
    BinaryLookup(dirs=None)                      where programs are looked for
"""

from harness.errors import ServiceError
from harness.services.binaries import BinaryLookup
from harness.services.serviceset import KINDS, ServiceSet, available_services

__all__ = ["KINDS", "BinaryLookup", "ServiceError", "ServiceSet", "available_services"]
