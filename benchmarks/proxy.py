"""``python -m benchmarks.proxy``: what our fault proxy costs, next to a direct link and mature C proxies.

A fault proxy sits on every request of a run, so its own latency and throughput bound what a scenario can
measure: if it added milliseconds, latency faults would be blurred and timeouts shifted. This benchmark
answers "how much does it add?" with numbers taken in one run on one machine, against the same upstream:

* ``direct``: the client talks to the upstream itself (the baseline);
* ``ours``: through ``python -m harness.proxy`` with no toxics;
* ``nginx``: through nginx's stream module (Debian ``nginx`` + ``libnginx-mod-stream``), one process;
* ``haproxy``: through haproxy in TCP mode, one thread, when it is installed or installable.

Per target: requests/s for small keep-alive HTTP requests (``wrk``), p50/p99 of sequential requests on
one keep-alive connection (our own loop, so every target pays the same client cost; the median over
rounds that alternate between targets), and MB/s (10**6 bytes/s, best round) for one large streamed
response. "Added" latency is the target's p50/p99 minus the
direct one. The upstream is nginx serving a 2-byte answer and a sparse file, since a Python upstream
would be the bottleneck. ``--quick`` (for the smoke test) needs none of that: a Python upstream in a
thread, the pure-Python load loop, direct and ours only, no apt, no wrk.

Every child process is started here, on loopback ports, and ended by its pid in a ``finally`` block;
every loop that sends traffic stops at a request count or a deadline, whichever comes first.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import re
import shutil
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.tables import machine_line, markdown_table, notes_lines, rich_table, write_result
from harness.ports import LOOPBACK, free_port
from harness.processes import end_process
from harness.proxy.client import ProxyClient
from harness.proxy.embedded import EmbeddedProxy
from harness.proxy.http1 import Http1Framer, Message

SMALL_PATH = "/small"
BIG_PATH = "/big"
SMALL_BODY = b"ok"
NGINX_STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
DEBIAN_PACKAGES = {"nginx": ["nginx", "libnginx-mod-stream"], "wrk": ["wrk"], "haproxy": ["haproxy"]}
TARGET_DESCRIPTIONS = {
    "direct": "client to upstream, no proxy",
    "ours": "python -m harness.proxy, no toxics",
    "nginx": "nginx stream module, 1 process",
    "haproxy": "haproxy mode tcp, 1 thread",
}
_IO_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class BenchSettings:
    """How hard and how long to push each target; ``quick`` picks the tiny pure-Python variant."""

    quick: bool
    rounds: int  # latency and stream runs alternate between targets, so load from elsewhere hits all alike
    latency_requests_per_round: int
    latency_warmup: int  # per round, on a fresh connection
    stream_bytes: int
    wrk_seconds: int
    wrk_connections: int
    time_limit_s: float  # per measurement loop

    @classmethod
    def for_mode(cls, quick: bool) -> BenchSettings:
        if quick:
            return cls(True, 1, 200, 20, 1024 * 1024, 0, 0, 10.0)
        return cls(False, 5, 2000, 200, 100 * 1024 * 1024, 5, 16, 30.0)


@dataclass
class TargetResult:
    """One row of the result: what a client sees through this target."""

    name: str
    description: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    mb_per_s: float
    added_p50_ms: float = 0.0
    added_p99_ms: float = 0.0
    load_generator: str = "python sequential keep-alive loop"


@dataclass
class BenchResult:
    """Everything written to the JSON file: rows, ours/nginx ratios, and where the numbers came from."""

    date: str
    mode: str
    machine: dict[str, object]
    settings: dict[str, object]
    targets: dict[str, TargetResult]
    ratios: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# -- processes and ports ---------------------------------------------------------------------------------


def wait_for_port(
    port: int, process: subprocess.Popen[bytes] | None, log: Path | None, timeout_s: float = 10.0
) -> None:
    """Block until something accepts on ``port``; fail early, with the log, if the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            shown = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"process {process.args!r} exited with {process.returncode}: {shown}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {LOOPBACK}:{port} after {timeout_s:.0f} s")


@contextlib.contextmanager
def child_process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` with output to ``log``; end it by its pid (SIGTERM, then SIGKILL) whatever happens."""
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        yield process
    finally:
        end_process(process)


def ensure_tools(notes: list[str]) -> dict[str, bool]:
    """Which of nginx (with the stream module), wrk and haproxy are usable; install missing ones with apt."""

    def present(tool: str) -> bool:
        if tool == "nginx":
            return shutil.which("nginx") is not None and NGINX_STREAM_MODULE.exists()
        return shutil.which(tool) is not None

    missing = [tool for tool in DEBIAN_PACKAGES if not present(tool)]
    if missing and shutil.which("apt-get") and os.geteuid() == 0:
        packages = [package for tool in missing for package in DEBIAN_PACKAGES[tool]]
        notes.append(f"ran apt-get install {' '.join(packages)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, env=env, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", *packages],
            check=False,
            capture_output=True,
            env=env,
            timeout=600,
        )
    available = {tool: present(tool) for tool in DEBIAN_PACKAGES}
    notes.extend(f"{tool} not available: skipped" for tool, ok in available.items() if not ok)
    return available


# -- upstreams -------------------------------------------------------------------------------------------


def nginx_upstream_config(workdir: Path, port: int, big_file: Path) -> str:
    """nginx as the upstream: one process, a 2-byte answer and a file sent with sendfile."""
    return f"""
daemon off;
master_process off;
pid {workdir}/upstream.pid;
error_log {workdir}/upstream-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body; proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi; uwsgi_temp_path {workdir}/uwsgi; scgi_temp_path {workdir}/scgi;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 10000000; keepalive_timeout 120s;
    server {{
        listen {LOOPBACK}:{port};
        location = {SMALL_PATH} {{ default_type text/plain; return 200 "{SMALL_BODY.decode()}"; }}
        location = {BIG_PATH} {{ default_type application/octet-stream; alias {big_file}; }}
    }}
}}
"""


def nginx_stream_proxy_config(workdir: Path, port: int, upstream_port: int) -> str:
    """nginx as a plain TCP proxy, the same shape as ours: accept, connect upstream, copy bytes.

    The buffer is raised from nginx's 16k default to 256k, the size uvloop reads at a time, so the
    stream comparison is not decided by syscall count alone.
    """
    return f"""
load_module {NGINX_STREAM_MODULE};
daemon off;
master_process off;
pid {workdir}/stream.pid;
error_log {workdir}/stream-error.log warn;
events {{ worker_connections 4096; }}
stream {{
    proxy_buffer_size 256k;
    server {{ listen {LOOPBACK}:{port}; proxy_pass {LOOPBACK}:{upstream_port}; }}
}}
"""


def haproxy_config(port: int, upstream_port: int) -> str:
    """haproxy in TCP mode with one thread, so it gets the same single core our proxy can use."""
    return f"""
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend bench
    bind {LOOPBACK}:{port}
    default_backend upstream
backend upstream
    server upstream {LOOPBACK}:{upstream_port}
"""


class _PythonUpstreamHandler(socketserver.BaseRequestHandler):
    """Keep-alive HTTP/1.1 for the quick mode: ``/small`` answers "ok", ``/big`` streams ``stream_bytes``."""

    server: _PythonUpstream

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(_IO_TIMEOUT_S)
        framer = Http1Framer("request")
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for message in framer.feed(data):
                self._answer(sock, message)

    def _answer(self, sock: socket.socket, message: Message) -> None:
        if message.head.target == BIG_PATH:
            size = self.server.stream_bytes
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            block = bytes(64 * 1024)
            sent = 0
            while sent < size:
                piece = block[: min(len(block), size - sent)]
                sock.sendall(piece)
                sent += len(piece)
        else:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(SMALL_BODY), SMALL_BODY))


class _PythonUpstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stream_bytes: int) -> None:
        self.stream_bytes = stream_bytes
        super().__init__((LOOPBACK, 0), _PythonUpstreamHandler)


@contextlib.contextmanager
def python_upstream(stream_bytes: int) -> Iterator[int]:
    """The quick mode's upstream, in a thread of this process; yields its port."""
    server = _PythonUpstream(stream_bytes)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- measurements ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencySample:
    """Sequential request round trips on one keep-alive connection, in seconds."""

    round_trips_s: list[float]
    elapsed_s: float

    @property
    def requests_per_s(self) -> float:
        return len(self.round_trips_s) / self.elapsed_s

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.round_trips_s)
        index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[index] * 1000.0


def measure_latency(port: int, count: int, warmup: int, time_limit_s: float) -> LatencySample:
    """Send ``GET /small`` one at a time and time each full response; stop at ``count`` or the deadline."""
    request = f"GET {SMALL_PATH} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    framer = Http1Framer("response")
    round_trips: list[float] = []
    with socket.create_connection((LOOPBACK, port), timeout=min(_IO_TIMEOUT_S, time_limit_s)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        deadline = started + time_limit_s
        for index in range(warmup + count):
            if index == warmup:
                started = time.perf_counter()
            sent_at = time.perf_counter()
            if sent_at > deadline:
                break
            sock.sendall(request)
            framer.note_request_method("GET")
            messages: list[Message] = []
            while not messages:
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError(f"port {port} closed the connection after {index} requests")
                messages = framer.feed(data)
            if not messages[0].raw.endswith(SMALL_BODY) or messages[0].head.status != 200:
                raise RuntimeError(f"unexpected answer from port {port}: {messages[0].raw[:200]!r}")
            if index >= warmup:
                round_trips.append(time.perf_counter() - sent_at)
        elapsed = time.perf_counter() - started
    if not round_trips:
        raise RuntimeError(f"no request completed through port {port} within {time_limit_s} s")
    return LatencySample(round_trips, elapsed)


def measure_stream(port: int, expected_bytes: int, time_limit_s: float) -> float:
    """Fetch ``/big`` once and return MB/s (10**6 bytes/s) from request sent to last byte received."""
    buffer = bytearray(1024 * 1024)
    view = memoryview(buffer)
    with socket.create_connection((LOOPBACK, port), timeout=min(_IO_TIMEOUT_S, time_limit_s)) as sock:
        started = time.perf_counter()
        deadline = started + time_limit_s
        sock.sendall(f"GET {BIG_PATH} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = bytearray()
        while b"\r\n\r\n" not in head:
            if len(head) > 65536:
                raise RuntimeError(f"no response head from port {port}")
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"port {port} closed before the response head")
            head += chunk
        head_end = head.index(b"\r\n\r\n") + 4
        match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", bytes(head[:head_end]))
        if match is None or int(match.group(1)) != expected_bytes:
            raise RuntimeError(
                f"port {port} did not announce {expected_bytes} bytes: {bytes(head[:head_end])!r}"
            )
        received = len(head) - head_end
        while received < expected_bytes:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"stream through port {port} took over {time_limit_s} s")
            count = sock.recv_into(view)
            if count == 0:
                raise RuntimeError(f"port {port} closed after {received} of {expected_bytes} bytes")
            received += count
        elapsed = time.perf_counter() - started
    return expected_bytes / elapsed / 1e6


_WRK_RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_ERRORS = re.compile(r"(Socket errors:.*|Non-2xx or 3xx responses:.*)")


def measure_wrk(port: int, seconds: int, connections: int, notes: list[str], name: str) -> float:
    """Keep-alive requests/s with wrk (one thread: the other core is left to the server side)."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        f"http://{LOOPBACK}:{port}{SMALL_PATH}",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    match = _WRK_RATE.search(completed.stdout)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed on {name}: {completed.stdout[-500:]} {completed.stderr[-500:]}")
    notes.extend(f"wrk on {name}: {line}" for line in _WRK_ERRORS.findall(completed.stdout))
    return float(match.group(1))


def measure_targets(
    ports: dict[str, int], settings: BenchSettings, use_wrk: bool, notes: list[str]
) -> dict[str, TargetResult]:
    """Latency and stream rounds in turn over all targets, then wrk on each; one target at a time."""
    samples: dict[str, list[LatencySample]] = {name: [] for name in ports}
    throughputs: dict[str, list[float]] = {name: [] for name in ports}
    for _ in range(settings.rounds):
        for name, port in ports.items():
            samples[name].append(
                measure_latency(
                    port, settings.latency_requests_per_round, settings.latency_warmup, settings.time_limit_s
                )
            )
            throughputs[name].append(measure_stream(port, settings.stream_bytes, settings.time_limit_s))
    results: dict[str, TargetResult] = {}
    for name, port in ports.items():
        rounds = samples[name]
        if use_wrk:
            requests_per_s = measure_wrk(port, settings.wrk_seconds, settings.wrk_connections, notes, name)
            generator = f"wrk -t1 -c{settings.wrk_connections} -d{settings.wrk_seconds}s (keep-alive)"
        else:
            requests_per_s = statistics.median(sample.requests_per_s for sample in rounds)
            generator = "python sequential keep-alive loop"
        results[name] = TargetResult(
            name=name,
            description=TARGET_DESCRIPTIONS[name],
            requests_per_s=requests_per_s,
            # The median over rounds of each round's percentile: one round disturbed by another
            # process on this small machine does not decide the result.
            p50_ms=statistics.median(sample.percentile_ms(0.50) for sample in rounds),
            p99_ms=statistics.median(sample.percentile_ms(0.99) for sample in rounds),
            mb_per_s=max(throughputs[name]),  # best run: the least disturbed by the rest of the machine
            load_generator=generator,
        )
    return results


# -- the run ---------------------------------------------------------------------------------------------


def machine_info() -> dict[str, object]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
    }


Starter = Callable[[contextlib.ExitStack[bool | None], Path, int], int]
"""Starts one proxy in front of the upstream port, registers its clean-up, returns its listen port."""


def run_bench(
    settings: BenchSettings, workdir: Path, console: Console, skip: frozenset[str] = frozenset()
) -> BenchResult:
    """Start the upstream and every proxy, measure all targets, stop everything by pid."""
    notes: list[str] = []
    tools = {"nginx": False, "wrk": False, "haproxy": False} if settings.quick else ensure_tools(notes)
    starters: list[tuple[str, Starter, bool]] = [
        ("ours", _start_ours, True),
        ("nginx", _start_nginx_stream, tools["nginx"]),
        ("haproxy", _start_haproxy, tools["haproxy"]),
    ]
    with contextlib.ExitStack() as stack:
        upstream_port = _start_upstream(stack, settings, workdir, tools["nginx"], notes)
        ports = {"direct": upstream_port}
        for name, start, available in starters:
            if available and name not in skip:
                ports[name] = start(stack, workdir, upstream_port)
        console.print("measuring: " + ", ".join(f"{name} ({TARGET_DESCRIPTIONS[name]})" for name in ports))
        targets = measure_targets(ports, settings, tools["wrk"], notes)
    return _assemble(settings, targets, notes)


def _start_upstream(
    stack: contextlib.ExitStack[bool | None],
    settings: BenchSettings,
    workdir: Path,
    nginx: bool,
    notes: list[str],
) -> int:
    """nginx when available; otherwise the Python upstream, which then bounds every number."""
    if not nginx:
        if not settings.quick:
            notes.append("nginx missing: Python upstream used, which bounds every number")
        return stack.enter_context(python_upstream(settings.stream_bytes))
    big_file = workdir / "big.bin"
    with open(big_file, "wb") as handle:
        handle.truncate(settings.stream_bytes)  # sparse: the bench measures transport, not the disk
    return _start_nginx(
        stack, workdir, "upstream", lambda port: nginx_upstream_config(workdir, port, big_file)
    )


def _start_ours(stack: contextlib.ExitStack[bool | None], workdir: Path, upstream_port: int) -> int:
    proxy = stack.enter_context(EmbeddedProxy.start(workdir / "ours.log"))
    client = stack.enter_context(ProxyClient(proxy.url))
    info = client.create_proxy("bench", upstream=f"{LOOPBACK}:{upstream_port}", listen=f"{LOOPBACK}:0")
    wait_for_port(info.listen_port, proxy.process, workdir / "ours.log")
    return info.listen_port


def _start_nginx_stream(stack: contextlib.ExitStack[bool | None], workdir: Path, upstream_port: int) -> int:
    return _start_nginx(
        stack, workdir, "stream", lambda port: nginx_stream_proxy_config(workdir, port, upstream_port)
    )


def _start_haproxy(stack: contextlib.ExitStack[bool | None], workdir: Path, upstream_port: int) -> int:
    port = free_port()
    config = workdir / "haproxy.cfg"
    config.write_text(haproxy_config(port, upstream_port))
    return _start_listening(stack, port, ["haproxy", "-db", "-f", str(config)], workdir / "haproxy.log")


def _start_nginx(
    stack: contextlib.ExitStack[bool | None], workdir: Path, name: str, config_for: Callable[[int], str]
) -> int:
    """nginx in the foreground on a free port, configured by ``<name>.conf`` (``config_for(port)``)."""
    port = free_port()
    config = workdir / f"{name}.conf"
    config.write_text(config_for(port))
    log = workdir / f"{name}.log"
    command = ["nginx", "-e", str(log), "-p", str(workdir), "-c", str(config)]
    return _start_listening(stack, port, command, log)


def _start_listening(
    stack: contextlib.ExitStack[bool | None], port: int, command: list[str], log: Path
) -> int:
    """Run ``command`` until ``stack`` closes and wait until it listens on ``port``; returns the port."""
    process = stack.enter_context(child_process(command, log))
    wait_for_port(port, process, log)
    return port


def _assemble(settings: BenchSettings, targets: dict[str, TargetResult], notes: list[str]) -> BenchResult:
    direct = targets["direct"]
    for target in targets.values():
        target.added_p50_ms = target.p50_ms - direct.p50_ms
        target.added_p99_ms = target.p99_ms - direct.p99_ms
    ratios: dict[str, float | None] = {}
    if "ours" in targets and "nginx" in targets:
        ours, nginx = targets["ours"], targets["nginx"]
        ratios = {
            "ours_vs_nginx_added_p50": _ratio(ours.added_p50_ms, nginx.added_p50_ms),
            "ours_vs_nginx_added_p99": _ratio(ours.added_p99_ms, nginx.added_p99_ms),
            "ours_vs_nginx_requests_per_s": _ratio(ours.requests_per_s, nginx.requests_per_s),
            "ours_vs_nginx_mb_per_s": _ratio(ours.mb_per_s, nginx.mb_per_s),
        }
    if settings.quick:
        notes.append("quick mode: Python upstream and load loop; numbers show the machinery works, not speed")
    return BenchResult(
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        mode="quick" if settings.quick else "full",
        machine=machine_info(),
        settings=asdict(settings),
        targets=targets,
        ratios=ratios,
        notes=notes,
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    """None when the denominator is too close to zero (or noise made it negative) to mean anything."""
    return numerator / denominator if denominator > 1e-6 else None


# -- output ----------------------------------------------------------------------------------------------

_COLUMNS = [
    ("target", "name", "{}"),
    ("req/s", "requests_per_s", "{:,.0f}"),
    ("p50 ms", "p50_ms", "{:.3f}"),
    ("p99 ms", "p99_ms", "{:.3f}"),
    ("added p50 ms", "added_p50_ms", "{:+.3f}"),
    ("added p99 ms", "added_p99_ms", "{:+.3f}"),
    ("MB/s", "mb_per_s", "{:,.0f}"),
]


def render_table(result: BenchResult) -> Table:
    rows = [asdict(target) for target in result.targets.values()]
    return rich_table(f"proxy bench ({result.mode}, {result.date})", _COLUMNS, rows)


def render_markdown(result: BenchResult) -> str:
    lines = [
        "# Proxy benchmark",
        "",
        machine_line(result.date, result.mode, result.machine, str(result.machine["platform"])),
        "",
        *markdown_table(_COLUMNS, [asdict(target) for target in result.targets.values()]),
    ]
    if result.ratios:
        lines += ["", "Ours / nginx:", ""]
        lines += [f"- {key}: {_format_ratio(value)}" for key, value in result.ratios.items()]
    lines += ["", "Load: " + "; ".join(f"{t.name}: {t.load_generator}" for t in result.targets.values())]
    lines += notes_lines(result.notes)
    return "\n".join(lines) + "\n"


def _format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def write_outputs(result: BenchResult, out: Path) -> Path:
    """Write the JSON to ``out`` and the Markdown beside it; return the Markdown's path."""
    return write_result(asdict(result), render_markdown(result), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proxy", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports/bench/proxy.json"), help="result JSON path")
    parser.add_argument("--quick", action="store_true", help="tiny pure-Python run: direct and ours only")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["ours", "nginx", "haproxy"], help="leave a target out"
    )
    args = parser.parse_args(argv)
    console = Console()
    settings = BenchSettings.for_mode(args.quick)
    with tempfile.TemporaryDirectory(prefix="proxy-bench-") as tmp:
        result = run_bench(settings, Path(tmp), console, frozenset(args.skip))
    markdown = write_outputs(result, args.out)
    console.print(render_table(result))
    for key, value in result.ratios.items():
        console.print(f"{key}: {_format_ratio(value)}")
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]")
    console.print(f"wrote {args.out} and {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
