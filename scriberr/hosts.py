"""Host names as people see them: this machine's plain host name, and the plain name inside a
liveness identity (`<hostname>#<pid namespace>`, `queue.liveness.host_identity`)."""

from __future__ import annotations

import socket

HOST_SEPARATOR = "#"
MAX_HOST_CHARS = 255


def this_host() -> str:
    """This machine's plain host name (what executions and job-log lines record)."""
    return socket.gethostname()[:MAX_HOST_CHARS]


def shown_host(identity: str) -> str:
    """The plain host name of a liveness identity (`<hostname>#<pid namespace>`)."""
    return identity.split(HOST_SEPARATOR, 1)[0]
