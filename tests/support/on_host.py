"""Run a command as the only process tree of a simulated host (used by `hosts.py` as the
`wrapper` of a process, after `ip netns exec <namespace>`).

    python on_host.py <hostname> -- <command> [args...]

It enters new PID, UTS and mount namespaces, sets the host name, mounts a fresh `/proc`, and
runs the command as PID 1 of the new PID namespace. It stays in between as a thin parent that
forwards SIGTERM/SIGINT/SIGHUP to the command and exits with its status, so
`ScriberrProcess.stop()` (SIGTERM) works as for a plain process; if this parent is killed
(`kill -9`), the kernel kills the command too (parent-death signal), and with it every process
of the namespace.

`unshare --fork` is not used because it ignores SIGTERM while waiting for its child.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWPID = 0x20000000
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: on_host.py <hostname> -- <command> [args...]", file=sys.stderr)
        return 2
    hostname, command = argv[0], argv[2:]
    _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWNS), "unshare")
    # Mounts made here (the new /proc) must not leak back into the parent mount namespace.
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    socket.sethostname(hostname)
    child = os.fork()
    if child == 0:
        try:
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
            _check(
                _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
                "mount /proc",
            )
            os.execvp(command[0], command)
        except BaseException as error:  # never return into the parent's code
            print(f"on_host: {error}", file=sys.stderr, flush=True)
            os._exit(127)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        try:
            _, status = os.waitpid(child, 0)
        except InterruptedError:
            continue
        return os.waitstatus_to_exitcode(status) if status >= 0 else 1


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.exit(code if code >= 0 else 128 - code)
