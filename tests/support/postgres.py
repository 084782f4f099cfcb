"""Start a throwaway PostgreSQL server from the installed binaries (initdb, pg_ctl).

The server runs as the `postgres` OS user (the binaries refuse root) in a fresh temp dir, listens
on a unix socket inside that dir (and, with `tcp_host`, also on that address over TCP, trusting
every client: for tests whose processes sit on other simulated hosts), and is stopped and deleted
afterwards.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PORT = 54329


def unavailable_reason() -> str | None:
    for binary in ("initdb", "pg_ctl"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres OS user to run the server"
    return None


def _as_server_user(command: list[str]) -> list[str]:
    # The binary by its full path: `su` gives the command the server user's login PATH, which
    # need not hold the directory this process found it in.
    command = [shutil.which(command[0]) or command[0], *command[1:]]
    if os.geteuid() != 0:
        return command
    runner = shutil.which("runuser")
    return (
        [runner, "-u", "postgres", "--", *command]
        if runner
        else ["su", "postgres", "-c", shlex.join(command)]
    )


@contextmanager
def postgres_server(tcp_host: str | None = None, port: int = PORT) -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh, empty database served over a unix socket (or, with
    `tcp_host`, the URL `postgresql://postgres@<tcp_host>:<port>/postgres`)."""
    root = Path(tempfile.mkdtemp(prefix="scrpg", dir="/tmp"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    run = lambda command: subprocess.run(  # noqa: E731
        _as_server_user(command), check=True, capture_output=True, timeout=120
    )
    try:
        run(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        if tcp_host is not None:
            with (data / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 0.0.0.0/0 trust\n")
        listen = tcp_host or ""
        options = (
            f"-k {root} -p {port} -c listen_addresses='{listen}' -c fsync=off "
            "-c max_connections=200"
        )
        run(["pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"])
        try:
            if tcp_host is not None:
                yield f"postgresql://postgres@{tcp_host}:{port}/postgres"
            else:
                yield f"postgresql://postgres@/postgres?host={root}&port={port}"
        finally:
            run(["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
