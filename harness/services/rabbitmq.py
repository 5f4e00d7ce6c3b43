"""A real RabbitMQ broker from the Debian package, one per run, a vhost per cell.

The node is private to the run: its own node name, ports, Erlang cookie, data and config files,
and its own ``epmd`` on a port of ours (``ERL_EPMD_PORT``), so nothing is shared with a system
broker and nothing is left running after ``stop``. Debian's ``/usr/sbin`` entries are wrappers that
``su`` to the ``rabbitmq`` user (whose pid we could not end); the real scripts under
``/usr/lib/rabbitmq/bin`` are used instead. Plugins are off (no management listener). Booting the
node takes seconds, so a run starts it once and gives cells vhosts, not brokers.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from harness.errors import ServiceError
from harness.ports import LOOPBACK, free_port, on_free_port
from harness.runtime.base import Endpoint
from harness.services.base import ServiceContext, ServiceKind, resource_name, start_or_clean_up
from harness.services.binaries import BinaryLookup, MissingBinary
from harness.services.process import ServerProcess, run_checked

NAME = "rabbitmq"
PACKAGE = "rabbitmq-server"
ERLANG_PACKAGE = "erlang-base"
REAL_SCRIPTS = (Path("/usr/lib/rabbitmq/bin"),)
USER = "guest"  # RabbitMQ lets guest in from loopback only, which is all we use
PASSWORD = "guest"
START_TIMEOUT_S = 90.0
CTL_TIMEOUT_S = 60.0
EPMD_TIMEOUT_S = 10.0


def missing(lookup: BinaryLookup) -> str | None:
    return lookup.missing(("rabbitmq-server", "rabbitmqctl"), PACKAGE, REAL_SCRIPTS) or lookup.missing(
        ("epmd",), ERLANG_PACKAGE
    )


def _accepts(endpoint: Endpoint) -> bool:
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=0.5):
            return True
    except OSError:
        return False


class RabbitMqService:
    """One broker node plus its epmd; ``cell_env`` adds a vhost per cell, once."""

    name = NAME

    def __init__(self, context: ServiceContext) -> None:
        try:
            self._server_script = context.lookup.find("rabbitmq-server", PACKAGE, REAL_SCRIPTS)
            self._ctl = context.lookup.find("rabbitmqctl", PACKAGE, REAL_SCRIPTS)
            self._epmd_binary = context.lookup.find("epmd", ERLANG_PACKAGE)
        except MissingBinary as error:
            raise ServiceError(str(error)) from None
        self._context = context
        self._folder = context.folder
        self.node = f"harness-{os.getpid()}-{secrets.token_hex(3)}@localhost"
        self._epmd: ServerProcess | None = None
        self._server: ServerProcess | None = None
        self._env: dict[str, str] = {}
        self._vhosts: dict[str, str] = {}
        self.endpoint = Endpoint(LOOPBACK, 0)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        home = self._folder / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(16))
            cookie.chmod(0o400)
        (self._folder / "rabbitmq-env.conf").write_text("")  # keep /etc/rabbitmq's out of our node
        (self._folder / "enabled_plugins").write_text("[].\n")
        (self._folder / "rabbitmq.conf").write_text("")
        self._env = {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_CONF_ENV_FILE": str(self._folder / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self._folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self._folder / "enabled_plugins"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_MNESIA_BASE": str(self._folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self._folder / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_PID_FILE": str(self._folder / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": LOOPBACK,
            # run the node in the foreground (``exec erl``) rather than under a waiting shell, so the
            # pid we hold and record is the Erlang VM's own; no input is read all the same
            "RABBITMQ_ALLOW_INPUT": "true",
            "RABBITMQ_SERVER_START_ARGS": "-noinput",
        }
        on_free_port(self._launch_epmd)
        on_free_port(self._launch_node)
        self._rabbitmqctl("await_startup", "--timeout", str(int(START_TIMEOUT_S)))

    def _launch_epmd(self, port: int) -> float:
        self._env["ERL_EPMD_PORT"] = str(port)
        epmd = ServerProcess(
            "epmd",
            [str(self._epmd_binary), "-port", str(port), "-address", LOOPBACK],
            log_path=self._folder / "epmd.log",
            registry=self._context.registry,
            env=self._env,
        )
        self._epmd = epmd
        epmd.launch()
        return epmd.wait_ready(
            lambda: _accepts(Endpoint(LOOPBACK, port)), EPMD_TIMEOUT_S, serves=[Endpoint(LOOPBACK, port)]
        )

    def _launch_node(self, port: int) -> float:
        self._env["RABBITMQ_NODE_PORT"] = str(port)
        self._env["RABBITMQ_DIST_PORT"] = str(free_port())
        server = ServerProcess(
            NAME,
            [str(self._server_script)],
            log_path=self._folder / "rabbitmq.log",
            registry=self._context.registry,
            env=self._env,
        )
        self._server = server
        self.endpoint = Endpoint(LOOPBACK, port)
        server.launch()
        return server.wait_ready(lambda: _accepts(self.endpoint), START_TIMEOUT_S, serves=[self.endpoint])

    def _rabbitmqctl(self, *args: str) -> str:
        command = [str(self._ctl), "-n", self.node, *args]
        return run_checked(f"rabbitmqctl {' '.join(args)}", command, CTL_TIMEOUT_S, env=self._env)

    def prepare(self, cell_ids: Sequence[str]) -> None:
        """A vhost (with guest's rights on it) for each cell not prepared yet, all in one ``rabbitmqctl``
        call: each call boots an Erlang VM, which costs about a second."""
        fresh = {cell_id: resource_name(cell_id) for cell_id in cell_ids if cell_id not in self._vhosts}
        if not fresh:
            return
        rights = {"configure": ".*", "write": ".*", "read": ".*"}
        definitions = {
            "vhosts": [{"name": vhost} for vhost in fresh.values()],
            "permissions": [{"user": USER, "vhost": vhost, **rights} for vhost in fresh.values()],
        }
        path = self._folder / f"vhosts-{len(self._vhosts)}.json"
        path.write_text(json.dumps(definitions))
        self._rabbitmqctl("import_definitions", str(path))
        self._vhosts.update(fresh)

    def cell_env(self, cell_id: str, address: Endpoint) -> dict[str, str]:
        self.prepare([cell_id])
        vhost = quote(self._vhosts[cell_id], safe="")
        return {"HARNESS_AMQP_URL": f"amqp://{USER}:{PASSWORD}@{address.host}:{address.port}/{vhost}"}

    def pids(self) -> list[int]:
        return [pid for server in (self._server, self._epmd) if server is not None for pid in server.pids()]

    def stop(self) -> None:
        for server in (self._server, self._epmd):
            if server is not None:
                server.stop()
        shutil.rmtree(self._folder / "mnesia", ignore_errors=True)


def start(context: ServiceContext) -> RabbitMqService:
    return start_or_clean_up(RabbitMqService(context))


KIND = ServiceKind(NAME, missing, start)
