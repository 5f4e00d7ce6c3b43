"""Fixtures for the target tests: real Postgres and Redis servers on loopback, and an in-process client.

The servers start once per session on free ports chosen now, run with durability off (tests need
their semantics, not their crash safety), and are ended by their own pid. Each test gets a database
and a key prefix of its own, the way the harness gives each run cell its own. When a server's program
is missing the test is skipped, except on CI (CI=true), where it fails: CI must run every test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from fastapi import FastAPI
from waiting import WAIT_S

from harness.runtime.process import target_command, target_env
from targets.orders.app import VARIANTS, create_app
from targets.targetkit import TargetConfig

POSTGRES_ROOT = Path("/usr/lib/postgresql")
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

AsgiClient = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]


def _missing(what: str) -> None:
    message = f"{what} is not installed"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}, and CI must run every test")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not become ready:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes], stop_signal: int) -> None:
    if process.poll() is None:
        os.kill(process.pid, stop_signal)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)


@dataclass(frozen=True)
class PostgresServer:
    port: int

    def dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"


def _postgres_bin() -> Path | None:
    candidates = sorted(POSTGRES_ROOT.glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return candidates[-1].parent if candidates else None


def _postgres_ready(server: PostgresServer) -> bool:
    try:
        psycopg.connect(server.dsn("postgres"), connect_timeout=1).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Postgres as the `postgres` OS user when run as root (it refuses root), in a world-traversable dir."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        _missing("postgresql (initdb, postgres)")
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="harness-test-pg-"))
    root.chmod(0o755)
    data, sockets, log = root / "data", root / "sockets", root / "postgres.log"
    user = "postgres" if os.geteuid() == 0 else None
    for folder in (data, sockets):
        folder.mkdir()
        if user is not None:
            shutil.chown(folder, user, pwd.getpwnam(user).pw_gid)
    server = PostgresServer(_free_port())
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], user=user, check=True, capture_output=True, timeout=120)
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data), "-k", str(sockets), "-h", "127.0.0.1",
                 "-p", str(server.port), "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=60"],
                user=user, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _wait_ready(process, lambda: _postgres_ready(server), log)
        yield server
    finally:
        if process is not None:
            _stop(process, signal.SIGINT)  # SIGINT: Postgres's "fast" shutdown
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.dsn(name)
    with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server with persistence off."""
    program = shutil.which("redis-server")
    if program is None:
        _missing("redis-server")
    assert program is not None
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    log = Path(tempfile.mkdtemp(prefix="harness-test-redis-")) / "redis.log"

    def ready() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_ready(process, ready, log)
        yield url
    finally:
        _stop(process, signal.SIGTERM)
        shutil.rmtree(log.parent, ignore_errors=True)


@pytest.fixture
def redis_env(redis_url: str) -> dict[str, str]:
    """The Redis environment of one cell: the server and a key prefix no other test uses."""
    return {"HARNESS_REDIS_URL": redis_url, "HARNESS_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:12]}:"}


@pytest.fixture
def asgi_client() -> AsgiClient:
    """Open an httpx client that calls a FastAPI app in-process (no sockets)."""
    @asynccontextmanager
    async def open_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://target") as client:
            yield client

    return open_client


OpenOrders = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def open_orders(request: pytest.FixtureRequest, tmp_path: Path, asgi_client: AsgiClient) -> OpenOrders:
    """`open_orders(variant, work=None)`: a client of a fresh orders app, on Postgres when it needs it.

    Opened twice in one test, both apps share the test's database, as a restarted target would.
    """
    @asynccontextmanager
    async def open_client(variant: str, work: Callable[[], None] | None = None
                          ) -> AsyncIterator[httpx.AsyncClient]:
        environ = ({"HARNESS_POSTGRES_DSN": request.getfixturevalue("postgres_dsn")}
                   if VARIANTS[variant].dialect == "postgres" else {})
        app = create_app(TargetConfig(variant=variant, db_path=tmp_path / "orders.db"), environ, work=work)
        async with asgi_client(app) as client:
            yield client

    return open_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


TARGET_START_TIMEOUT_S = WAIT_S


@dataclass(frozen=True)
class RunningTarget:
    """A target script running as the harness runs it: its own process on a free loopback port."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def effects(self) -> list[dict[str, object]]:
        response = httpx.get(f"{self.base_url}/effects", timeout=5)
        assert response.status_code == 200
        effects: list[dict[str, object]] = response.json()
        return effects


StartTarget = Callable[..., RunningTarget]


@pytest.fixture
def start_target(tmp_path: Path) -> Iterator[StartTarget]:
    """`start_target(name, variant, env={...}, incarnation=0)`: run targets.<name>.app, wait for health.

    Every process started is killed by its pid when the test ends, whatever happened.
    """
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, variant: str, env: dict[str, str] | None = None,
              incarnation: int = 0) -> RunningTarget:
        port = _free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
        environ.update(env or {}, HARNESS_INCARNATION=str(incarnation))
        log = tmp_path / f"{name}-{variant}-{incarnation}.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [*target_command(name), "--host", "127.0.0.1",
                 "--port", str(port), "--variant", variant, "--db", str(tmp_path / f"{name}.db")],
                cwd=tmp_path, env=target_env(environ), stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        started.append(process)
        target = RunningTarget(process, f"http://127.0.0.1:{port}", log)

        def healthy() -> bool:
            try:
                return httpx.get(f"{target.base_url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        deadline = time.monotonic() + TARGET_START_TIMEOUT_S
        while not healthy():
            assert process.poll() is None, f"target exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"target not healthy in time:\n{log.read_text()}"
            time.sleep(0.05)
        return target

    yield start
    for process in started:
        _stop(process, signal.SIGKILL)
