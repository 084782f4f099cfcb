"""Is the process that owns a claim still alive? Heartbeat age, plus a pid check on this host.

A process counts as gone when its row is marked dead (a clean stop, or another process found it
dead before and it has not heartbeaten since), when its heartbeat is older than the timeout, or when it ran in this
same host and pid namespace (`host_identity()`) and its pid no longer exists (or is a zombie).
The pid check is what lets a restart right after `kill -9` recover the dead process's jobs at
once instead of waiting for its heartbeat to lapse; it is only trusted inside one pid namespace,
so containers sharing a database never judge each other by pid.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

from scriberr.clock import utcnow
from scriberr.hosts import HOST_SEPARATOR, MAX_HOST_CHARS, this_host
from scriberr.persistence.queue_repository import ProcessRecord


def host_identity() -> str:
    """`<hostname>#<pid namespace>`: stored as the process's hostname in the heartbeat table."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "nons"
    return f"{this_host()}{HOST_SEPARATOR}{namespace}"[:MAX_HOST_CHARS]


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[-1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


class LivenessJudge:
    """`judge(record) -> bool`: True while the process behind a heartbeat row looks alive."""

    def __init__(
        self,
        *,
        own_process_id: str,
        heartbeat_timeout_s: float,
        host: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        pid_check: Callable[[int], bool] = pid_running,
    ) -> None:
        self._own = own_process_id
        self._timeout = timedelta(seconds=heartbeat_timeout_s)
        self._host = host or host_identity()
        self._now = clock
        self._pid_check = pid_check

    def __call__(self, record: ProcessRecord) -> bool:
        if record.id == self._own:
            return True
        if record.dead_at is not None:  # stopped cleanly, or already found dead
            return False
        if self._now() - record.heartbeat_at > self._timeout:
            return False
        return record.hostname != self._host or self._pid_check(record.pid)
