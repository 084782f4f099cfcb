"""The simulated hosts of `tests/support/hosts.py`: own host name and PID namespace, reach the
root namespace's servers, lose them on `cut()` and get them back on `restore()`, forward SIGTERM,
and leave no namespace behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.support.hosts import (
    PartitionUnavailable,
    SimulatedHost,
    _ip,
    require_partitions,
    simulated_network,
)

PROBE = """
import os, socket, sys
print(socket.gethostname(), os.getpid(), flush=True)
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("connected", flush=True)
except OSError as error:
    print("unreachable", type(error).__name__, flush=True)
"""


def _listen(address: str) -> tuple[socket.socket, int]:
    server = socket.create_server((address, 0))
    server.settimeout(0.2)

    def accept() -> None:
        while server.fileno() != -1:
            try:
                server.accept()[0].close()
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


def _probe(host: SimulatedHost, address: str, port: int, timeout: float) -> list[str]:
    result = host.run(sys.executable, "-c", PROBE, address, str(port), str(timeout))
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.slow
def test_hosts_have_their_own_name_pid_namespace_and_link_that_can_be_cut() -> None:
    with simulated_network() as network:
        require_partitions(network)
        server, port = _listen(network.server_address)
        try:
            gpu_a, gpu_b = network.add_host("gpu-a"), network.add_host("gpu-b")
            assert gpu_a.address != gpu_b.address
            name, pid, outcome = _probe(gpu_a, network.server_address, port, 5)[:3]
            assert (name, pid, outcome) == ("gpu-a", "1", "connected")
            assert name != socket.gethostname()

            gpu_a.cut()
            assert _probe(gpu_a, network.server_address, port, 1)[2] == "unreachable"
            assert _probe(gpu_b, network.server_address, port, 5)[2] == "connected"
            gpu_a.restore()
            assert _probe(gpu_a, network.server_address, port, 5)[2] == "connected"
        finally:
            server.close()
        names = [host.namespace for host in network.hosts]
    listed = _ip("netns", "list").stdout
    assert all(f"{name} " not in listed and not listed.startswith(f"{name}\n") for name in names)
    assert f"scrv{names[0]}" not in _ip("link").stdout


def test_sigterm_reaches_the_process_on_the_host() -> None:
    with simulated_network() as network:
        require_partitions(network)
        host = network.add_host("gpu-term")
        waiter = (
            "import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n"
        )
        process = subprocess.Popen(
            [*host.wrapper, sys.executable, "-c", waiter], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 7
        assert time.monotonic() - started < 5


def test_without_namespaces_hosts_are_plain_processes_and_cannot_be_cut() -> None:
    with simulated_network(namespaces=False) as network:
        host = network.add_host("plain")
        assert host.wrapper == () and host.address == "127.0.0.1"
        assert network.server_address == "127.0.0.1"
        assert host.run(sys.executable, "-c", "print(1)").stdout.strip() == "1"
        with pytest.raises(PartitionUnavailable):
            host.cut()
