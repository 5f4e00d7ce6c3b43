"""Who holds a listening TCP port, read from /proc: a health check proves only that *something* answers.

The harness picks a free port, starts a server on it and waits until the port answers. Between the
pick and the server's bind another process (another run's target, another test's store) may take the
same port; our server then fails to bind, but the health check is answered by the stranger, and every
request of the cell goes to a service the harness did not start. A broken variant judged on a correct
stranger passes its gates: a green verdict on the wrong service. So once a port answers, the sockets
listening on it are looked up in ``/proc/net/tcp`` (and ``tcp6``) and must all be held by the server
we started (its process family); one held by any other process means the port was lost.

Where ``/proc`` cannot tell (not Linux, or another user's process whose descriptors cannot be read),
nothing is claimed: the check never fails a start it cannot judge.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import struct
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
LISTEN_STATE = "0A"
"""``st`` of a listening socket in ``/proc/net/tcp``."""
_SOCKET_LINK = "socket:["


def _address(hex_text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A ``/proc/net/tcp*`` address: 32-bit words as the kernel holds them, each printed as hex."""
    words = [int(hex_text[at : at + 8], 16) for at in range(0, len(hex_text), 8)]
    packed = b"".join(struct.pack("=I", word) for word in words)
    return ipaddress.ip_address(packed)


def _reaches(
    listening: ipaddress.IPv4Address | ipaddress.IPv6Address,
    host: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> bool:
    """Whether a connection to ``host`` can land on a socket listening on ``listening``."""
    if listening == host or listening.is_unspecified:  # 0.0.0.0, or :: (dual-stack unless V6ONLY)
        return True
    mapped = getattr(listening, "ipv4_mapped", None)
    return mapped is not None and mapped == host


def listening_inodes(host: str, port: int) -> set[int] | None:
    """The inodes of the sockets a connection to ``host:port`` could reach; None if /proc cannot say."""
    try:
        wanted = ipaddress.ip_address(host)
    except ValueError:
        return None
    inodes: set[int] = set()
    read_any = False
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        read_any = True
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != LISTEN_STATE:
                continue
            address, _, port_hex = fields[1].partition(":")
            if int(port_hex, 16) == port and _reaches(_address(address), wanted):
                inodes.add(int(fields[9]))
    return inodes if read_any else None


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
