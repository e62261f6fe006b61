"""Checks of command-line numbers: each bad one is an InputError naming the option and the value.

The sane ranges are those of the files (`twin.bounds`) where an option means the same thing
(a quantity, a duration); the rest are stated here. An error reads
`plantwin: error: --port: got 99999, expected a port from 1 to 65535` and exits 2.
"""

from __future__ import annotations

import errno
import math
import socket
from urllib.parse import urlsplit

from twin import bounds as B
from twin.bounds import out_of_range
from twin.errors import InputError, Issue

MAX_SEED = 2**31 - 1
"""Seeds go to CP-SAT too, which takes a 32-bit signed one."""
MAX_REPLICATIONS = 10_000
MAX_WORKERS = 64
MAX_TIME_LIMIT = 86_400.0
"""A solver time limit or an interval between status lines: at most a day."""
MAX_WALL = 10 * B.YEAR
"""A wall-clock --duration."""
MAX_SPEED = 1e6
"""Plant seconds per wall second of a virtual plant."""


def number(
    option: str, value: float | None, lo: float, hi: float, *, lo_open: bool = False, what: str = "a number"
) -> None:
    """`value` (None: not given) must be finite and within [lo, hi] ((lo, hi] with `lo_open`).

    Raises:
        InputError: outside, naming `option` and the value.
    """
    if value is None:
        return
    inside = (lo < value if lo_open else lo <= value) and value <= hi
    if not inside or (isinstance(value, float) and not math.isfinite(value)):
        low = f"above {B.show(lo)}" if lo_open else f"from {B.show(lo)}"
        raise InputError(Issue(out_of_range(value, f"{what} {low} to {B.show(hi)}"), option))


def whole(option: str, value: int | None, lo: int, hi: int, what: str = "a whole number") -> None:
    """An int option within [lo, hi] (None: not given).

    Raises:
        InputError: outside, naming `option` and the value.
    """
    if value is not None and not lo <= value <= hi:
        raise InputError(Issue(out_of_range(value, f"{what} from {lo:,} to {hi:,}"), option))


def seed(option: str, value: int | None) -> None:
    """A seed: 0 to 2**31 - 1."""
    whole(option, value, 0, MAX_SEED, "a seed")


def port(option: str, value: int, *, any_free: bool = False) -> None:
    """A TCP port: 1..65535 (0 too with `any_free`: the system picks one).

    Raises:
        InputError: outside the range.
    """
    lo = 0 if any_free else 1
    if not lo <= value <= 65535:
        raise InputError(Issue(out_of_range(value, f"a port from {lo} to 65535"), option))


def port_free(option: str, host: str, value: int) -> None:
    """Fail early, with a clear line, when another process already listens on host:port.

    Raises:
        InputError: the port is taken, or the address is not one of this machine's.
    """
    if value == 0:
        return
    try:
        infos = socket.getaddrinfo(host, value, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(Issue(f"cannot resolve host {host!r}: {exc.strerror}", option)) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # SO_REUSEADDR as servers set it: a port in TIME_WAIT is free, a listening one is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise bind_error(option, host, value, exc) from None


def bind_error(option: str, host: str, value: int, exc: OSError) -> InputError:
    """The user's error for a failed bind (in use, not permitted, not an address of this host)."""
    if exc.errno == errno.EADDRINUSE:
        why = "is in use by another process: stop it or choose another port"
    elif exc.errno == errno.EACCES:
        why = "needs privileges (ports below 1024): choose a port above 1023"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"cannot be opened: {host} is not an address of this machine"
    else:
        why = f"cannot be opened: {exc.strerror or exc}"
    return InputError(Issue(f"port {value} on {host} {why}", option))


def endpoint(option: str, url: str) -> None:
    """An OPC UA endpoint URL: opc.tcp://host[:port][/path], port 1..65535.

    Raises:
        InputError: another scheme, no host, or a bad port.
    """
    try:
        parts = urlsplit(url)
        given = parts.port
    except ValueError:
        expected = "opc.tcp://HOST:PORT with a port from 1 to 65535"
        raise InputError(Issue(f"got {url!r}, expected {expected}", option)) from None
    if parts.scheme != "opc.tcp" or not parts.hostname:
        raise InputError(Issue(f"got {url!r}, expected opc.tcp://HOST:PORT", option))
    if given is not None:
        port(option, given)
