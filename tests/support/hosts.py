"""Simulated hosts for multi-host tests: separate network, PID, UTS and mount namespaces.

    with simulated_network() as network:
        with postgres_server(tcp_host=network.server_address) as url:   # in the root namespace
            gpu = network.add_host("gpu-a")
            worker = start_process(data_dir, "worker", env=..., wrapper=gpu.wrapper)
            gpu.cut()       # the link between gpu-a and everything else is down
            gpu.restore()

As root (CI runs as root), each host is a network namespace `scr<N>` joined to the root
namespace by a veth pair: `10.213.N.1/30` on the root side (`scrv<N>`), `10.213.N.2/30` inside
(`scrp<N>`, default route via `.1`). Servers of the test run in the root namespace and listen on
`network.server_address`, a /32 on the root namespace's loopback interface (`10.213.M.1`) that
every host reaches through its default route and that stays up while any host is cut. `host.wrapper` runs a
process on the host: `ip netns exec scr<N>` plus `on_host.py`, which gives it its own PID
namespace (it is PID 1 there) and its own host name. `cut()` sets the root side of the veth down:
packets in both directions are dropped silently (no reset, no error), as in a real partition;
`restore()` sets it up again. Numbers are allocated by creating the namespace (atomic, so tests
of several engineers can run at once), and everything is deleted on exit, whatever happened.

Not root: hosts are plain processes on loopback (`wrapper` is empty, addresses are 127.0.0.1)
and `cut()` raises `PartitionUnavailable`; tests that need it call `require_partitions()`, which
skips, or fails when `CI=true` (CI must run them).
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ON_HOST = Path(__file__).with_name("on_host.py")
SUBNET = "10.213"
_NUMBERS = range(1, 255)


class PartitionUnavailable(RuntimeError):
    """Links cannot be cut here (not root, or `ip` is missing)."""


def namespaces_available() -> bool:
    return os.geteuid() == 0 and sys.platform.startswith("linux") and _ip_works()


def _ip_works() -> bool:
    try:
        return subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _allocate() -> int:
    """A number N whose namespace `scr<N>` this call created (so nobody else uses N)."""
    numbers = list(_NUMBERS)
    random.shuffle(numbers)
    for number in numbers:
        if _ip("netns", "add", f"scr{number}", check=False).returncode == 0:
            return number
    raise RuntimeError("no free simulated-host number (stale `scr*` namespaces? `ip netns`)")


@dataclass
class SimulatedHost:
    name: str
    number: int | None  # None: a plain process on loopback
    address: str  # how other hosts (and the root namespace) reach this one
    hostname: str  # what `socket.gethostname()` says inside
    wrapper: tuple[str, ...]
    cut_now: bool = False

    @property
    def namespace(self) -> str | None:
        return f"scr{self.number}" if self.number is not None else None

    @property
    def can_cut(self) -> bool:
        return self.number is not None

    def cut(self) -> None:
        """Drop every packet between this host and the rest (existing connections hang)."""
        if self.number is None:
            raise PartitionUnavailable("links can only be cut as root (network namespaces)")
        _ip("link", "set", f"scrv{self.number}", "down")
        self.cut_now = True

    def restore(self) -> None:
        if self.number is None:
            raise PartitionUnavailable("links can only be cut as root (network namespaces)")
        _ip("link", "set", f"scrv{self.number}", "up")
        self.cut_now = False

    def run(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a short command on the host and return its result (output as text)."""
        return subprocess.run(
            [*self.wrapper, *command], capture_output=True, text=True, timeout=timeout
        )


@dataclass
class SimulatedNetwork:
    namespaces: bool
    server_address: str = "127.0.0.1"
    hosts: list[SimulatedHost] = field(default_factory=list)
    _server_number: int | None = None

    @property
    def can_cut(self) -> bool:
        return self.namespaces

    def add_host(self, name: str) -> SimulatedHost:
        """A new host called `name` (its host name inside, when namespaces are available)."""
        if not self.namespaces:
            host = SimulatedHost(name, None, "127.0.0.1", socket.gethostname(), ())
            self.hosts.append(host)
            return host
        number = _allocate()
        host = SimulatedHost(
            name,
            number,
            f"{SUBNET}.{number}.2",
            name,
            ("ip", "netns", "exec", f"scr{number}", sys.executable, str(ON_HOST), name, "--"),
        )
        self.hosts.append(host)  # from here on, cleanup deletes it
        namespace, outside, inside = f"scr{number}", f"scrv{number}", f"scrp{number}"
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("addr", "add", f"{SUBNET}.{number}.1/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", namespace, "addr", "add", f"{SUBNET}.{number}.2/30", "dev", inside)
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "route", "add", "default", "via", f"{SUBNET}.{number}.1")
        return host

    def _start(self) -> None:
        if not self.namespaces:
            return
        number = _allocate()  # its namespace stays empty: it only reserves the number
        self._server_number = number
        self.server_address = f"{SUBNET}.{number}.1"
        _ip("addr", "add", f"{self.server_address}/32", "dev", "lo")

    def close(self) -> None:
        """Delete every namespace and interface this network created (idempotent)."""
        for host in self.hosts:
            if host.number is not None:
                _ip("link", "del", f"scrv{host.number}", check=False)
                _ip("netns", "del", f"scr{host.number}", check=False)
        self.hosts.clear()
        if self._server_number is not None:
            _ip("addr", "del", f"{self.server_address}/32", "dev", "lo", check=False)
            _ip("netns", "del", f"scr{self._server_number}", check=False)
            self._server_number = None


@contextmanager
def simulated_network(*, namespaces: bool | None = None) -> Iterator[SimulatedNetwork]:
    """A network of simulated hosts (namespaces when root, unless `namespaces=False`)."""
    use = namespaces_available() if namespaces is None else namespaces
    if use and not namespaces_available():
        raise PartitionUnavailable("network namespaces need root and iproute2")
    network = SimulatedNetwork(namespaces=use)
    try:
        network._start()
        yield network
    finally:
        network.close()


def require_partitions(network: SimulatedNetwork) -> None:
    """Skip a test that needs `cut()` where it is unavailable — or fail it under `CI=true`."""
    if network.can_cut:
        return
    import pytest

    reason = "cutting a host's link needs root (network namespaces)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run this test as root")
    pytest.skip(reason)
