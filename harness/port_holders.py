"""Who holds a listening TCP port: a health check that answered proves only that *something* serves it.

The harness picks a free port, starts a server on it and waits until the port answers. Between the
pick and the server's bind another process (another run's target or proxy, another test's store) may
take the same port; our server then fails to bind, but the health check is answered by the stranger,
and every request of the cell goes to a service the harness did not start. A broken variant judged on
a correct stranger passes its gates: a green verdict on the wrong service. So once a port answers,
the sockets listening on it (asked of the kernel's socket diagnostics, as ``ss -lt`` does: it lists
only listeners, where ``/proc/net/tcp`` walks every connection of the machine) must all be held by
the server we started (its process family, their descriptors read in ``/proc/<pid>/fd``); one held
by any other process means the port was lost.

Where this cannot be told (not Linux, or another user's process whose descriptors cannot be read),
nothing is claimed: the check never fails a start it cannot judge.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from harness.ports import join_hostport

PROC = Path("/proc")
_SOCKET_LINK = "socket:["

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_LISTEN = 10
DIAG_TIMEOUT_S = 2.0
"""The kernel answers a dump of listeners at once; a bound, so a broken netlink never hangs a start."""
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_REQUEST = struct.Struct("=BBBBI48s")  # inet_diag_req_v2: family, protocol, ext, pad, states, sockid
_MESSAGE = struct.Struct("=BBBB2s2s16s16sI8sIIIII")
"""inet_diag_msg: family, state, timer, retrans; sockid (sport, dport, src, dst, if, cookie); expires,
rqueue, wqueue, uid, inode. Ports and addresses in network order."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _reaches(listening: Address, host: Address) -> bool:
    """Whether a connection to ``host`` can land on a socket listening on ``listening``."""
    if listening == host or listening.is_unspecified:  # 0.0.0.0, or :: (dual-stack unless V6ONLY)
        return True
    mapped = getattr(listening, "ipv4_mapped", None)
    return mapped is not None and mapped == host


def tcp_listeners(family: socket.AddressFamily) -> Iterator[tuple[Address, int, int]]:
    """Every listening TCP socket of ``family`` in this network namespace: address, port, inode."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(DIAG_TIMEOUT_S)
        request = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN, bytes(48))
        flags = NLM_F_REQUEST | NLM_F_DUMP
        diag.send(_HEADER.pack(_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, flags, 1, 0) + request)
        while True:
            data, offset = diag.recv(1 << 16), 0
            while offset + _HEADER.size <= len(data):
                length, kind = _HEADER.unpack_from(data, offset)[:2]
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR or length < _HEADER.size + _MESSAGE.size:
                    raise OSError("the kernel refused a dump of listening sockets")
                fields = _MESSAGE.unpack_from(data, offset + _HEADER.size)
                source: bytes = fields[6]
                address = ipaddress.ip_address(source[:4] if family == socket.AF_INET else source)
                yield address, int.from_bytes(fields[4], "big"), fields[14]
                offset += (length + 3) & ~3


def listening_inodes(host: str, port: int) -> set[int] | None:
    """The inodes of the sockets a connection to ``host:port`` could reach; None if it cannot be told."""
    try:
        wanted = ipaddress.ip_address(host)
    except ValueError:
        return None
    try:
        return {
            inode
            for family in (socket.AF_INET, socket.AF_INET6)
            for address, listening_port, inode in tcp_listeners(family)
            if listening_port == port and _reaches(address, wanted)
        }
    except OSError:  # no netlink (not Linux), or a kernel without socket diagnostics
        return None


def socket_inodes(pid: int) -> set[int] | None:
    """The sockets ``pid`` holds open; None when its descriptors cannot be read (another user's);
    empty once it has exited."""
    held: set[int] = set()
    folder = PROC / str(pid) / "fd"
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return held
    except OSError:
        return None
    for name in names:
        with contextlib.suppress(OSError):  # closed meanwhile
            link = os.readlink(folder / name)
            if link.startswith(_SOCKET_LINK):
                held.add(int(link[len(_SOCKET_LINK) : -1]))
    return held


def foreign_listener(host: str, port: int, ours: Iterable[int]) -> str | None:
    """Who else listens on ``host:port``, where the processes ``ours`` should be the only ones;
    None when only ours do, or when it cannot be told."""
    listening = listening_inodes(host, port)
    if not listening:
        return None
    held: set[int] = set()
    for pid in ours:
        sockets = socket_inodes(pid)
        if sockets is None:
            return None
        held |= sockets
    strangers = listening - held
    if not strangers:
        return None
    return _describe_holder(strangers)


def lost_port(what: str, host: str, port: int, ours: Iterable[int], answered: str) -> str | None:
    """Why ``what`` has lost ``host:port`` (another process listens there and answered ``answered``,
    the health check or readiness probe), in one sentence; None while only ``ours`` listen there, or
    when it cannot be told."""
    holder = foreign_listener(host, port, ours)
    if holder is None:
        return None
    return f"{what} lost its port {join_hostport(host, port)}: {holder} listens on it and answered {answered}"


def _describe_holder(inodes: set[int]) -> str:
    """``pid 123 (python3 -m app --port 8080)``: the first process found holding one of ``inodes``."""
    with os.scandir(PROC) as entries:
        for entry in entries:
            if entry.name.isdigit() and (socket_inodes(int(entry.name)) or set()) & inodes:
                return f"pid {entry.name} ({_command_line(entry.name)})"
    return "a process this harness cannot see"


def _command_line(pid: str) -> str:
    try:
        words = (PROC / pid / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except OSError:
        return "gone"
    return " ".join(word.decode(errors="replace") for word in words) or "no command line"
