"""A real PostgreSQL server from the Debian package, one per run, a fresh database per cell.

Targets use it for ``INSERT ... ON CONFLICT``, unique constraints and ``SELECT ... FOR UPDATE`` or
advisory locks, so the harness measures the database's guarantees rather than a stand-in's.
``initdb`` and ``postgres`` refuse to run as root: as root the harness starts them as the
``postgres`` OS user, in a data folder that user can reach (the run folder if every parent is
traversable by others, else a dedicated temporary folder removed on stop). ``fsync`` stays on so
crash tests see what a real deployment would keep.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg

from harness.errors import ServiceError
from harness.ports import LOOPBACK, on_free_port
from harness.runtime.base import Endpoint
from harness.services.base import ServiceContext, ServiceKind, resource_name, start_or_clean_up
from harness.services.binaries import BinaryLookup, MissingBinary, postgres_bin_dirs
from harness.services.process import ServerProcess, run_checked

NAME = "postgres"
PACKAGE = "postgresql"
OS_USER = "postgres"
SUPERUSER = "harness"
START_TIMEOUT_S = 30.0
INITDB_TIMEOUT_S = 120.0


def missing(lookup: BinaryLookup) -> str | None:
    return lookup.missing(("initdb", "postgres"), PACKAGE, postgres_bin_dirs())


def traversable_by_others(folder: Path) -> bool:
    """Whether another OS user can reach ``folder`` (every existing ancestor has o+x)."""
    for part in [folder, *folder.parents]:
        if part.exists() and not part.stat().st_mode & stat.S_IXOTH:
            return False
    return True


class PostgresService:
    """One postmaster on a loopback port; ``cell_env`` creates one database per cell, once."""

    name = NAME

    def __init__(self, context: ServiceContext) -> None:
        try:
            self._initdb = context.lookup.find("initdb", PACKAGE, postgres_bin_dirs())
            self._postgres = context.lookup.find("postgres", PACKAGE, postgres_bin_dirs())
        except MissingBinary as error:
            raise ServiceError(str(error)) from None
        self._context = context
        self._as_root = os.geteuid() == 0
        self._user = OS_USER if self._as_root else None
        self._base, self._temporary = self._data_base(context.folder)
        self._server: ServerProcess | None = None
        self._databases: dict[str, str] = {}
        self.endpoint = Endpoint(LOOPBACK, 0)

    def _data_base(self, folder: Path) -> tuple[Path, bool]:
        folder.mkdir(parents=True, exist_ok=True)
        if not self._as_root or traversable_by_others(folder):
            base, temporary = folder / "pgdata", False
            base.mkdir(exist_ok=True)
        else:
            base, temporary = Path(tempfile.mkdtemp(prefix="harness-postgres-")), True
        if self._as_root:
            try:
                account = pwd.getpwnam(OS_USER)
            except KeyError:
                raise ServiceError(f"no {OS_USER} OS user: install the Debian package {PACKAGE}") from None
            os.chown(base, account.pw_uid, account.pw_gid)
        return base, temporary

    @property
    def data_dir(self) -> Path:
        return self._base / "data"

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        data = self.data_dir
        command = [
            str(self._initdb),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
        ]
        run_checked(
            "initdb",
            command,
            INITDB_TIMEOUT_S,
            user=self._user,
            group=self._user,
            extra_groups=[] if self._user else None,
            cwd=self._base,
        )
        (self._base / "sockets").mkdir(exist_ok=True)
        if self._user is not None:
            shutil.chown(self._base / "sockets", self._user, self._user)
        on_free_port(self._launch)

    def _launch(self, port: int) -> float:
        server = ServerProcess(
            NAME,
            [
                str(self._postgres),
                "-D",
                str(self.data_dir),
                "-p",
                str(port),
                "-k",
                str(self._base / "sockets"),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=on",
            ],
            log_path=self._context.folder / "postgres.log",
            registry=self._context.registry,
            user=self._user,
            stop_signal=signal.SIGQUIT,  # immediate shutdown: the data is discarded, skip the checkpoint
            cwd=self._base,
        )
        self._server = server
        self.endpoint = Endpoint(LOOPBACK, port)
        server.launch()
        return server.wait_ready(self._accepts_connections, START_TIMEOUT_S, serves=[self.endpoint])

    def _dsn(self, database: str, address: Endpoint | None = None) -> str:
        where = address or self.endpoint
        return f"postgresql://{SUPERUSER}@{where.host}:{where.port}/{database}"

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self._dsn("postgres"), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def prepare(self, cell_ids: Sequence[str]) -> None:
        """A fresh database for each cell not prepared yet (one left by an earlier try is dropped)."""
        fresh = [cell_id for cell_id in dict.fromkeys(cell_ids) if cell_id not in self._databases]
        if not fresh:
            return
        try:
            with psycopg.connect(self._dsn("postgres"), autocommit=True, connect_timeout=5) as admin:
                for cell_id in fresh:
                    database = resource_name(cell_id)
                    admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                    admin.execute(f'CREATE DATABASE "{database}"')
                    self._databases[cell_id] = database
        except psycopg.Error as error:
            raise ServiceError(f"postgres: could not create the cell databases: {error}") from None

    def cell_env(self, cell_id: str, address: Endpoint) -> dict[str, str]:
        self.prepare([cell_id])
        return {"HARNESS_POSTGRES_DSN": self._dsn(self._databases[cell_id], address)}

    def pids(self) -> list[int]:
        return [] if self._server is None else self._server.pids()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._temporary:
            shutil.rmtree(self._base, ignore_errors=True)
        else:
            shutil.rmtree(self._base / "data", ignore_errors=True)


def start(context: ServiceContext) -> PostgresService:
    return start_or_clean_up(PostgresService(context))


KIND = ServiceKind(NAME, missing, start)
