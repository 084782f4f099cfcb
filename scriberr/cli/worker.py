"""`scriberr worker`: run transcription workers without HTTP against the configured database.

Several worker processes (and `scriberr serve`) can share one queue. SIGTERM or SIGINT stops
gracefully: claiming stops, running jobs are interrupted and put back to `queued`.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from scriberr.cli.runtime import add_fake_engine_flag, core_from_environment

STOP_TIMEOUT_S = 10.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run transcription workers only (no HTTP), sharing the configured database",
        description="Run TRANSCRIPTION_WORKERS workers against SCRIBERR_DATABASE_URL until "
        "SIGTERM/SIGINT.",
    )
    add_fake_engine_flag(parser)
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    core = core_from_environment(arguments, serves_clients=False)  # no SSE clients here
    try:
        core.start()
        while not stop.wait(3600):
            pass
    finally:
        core.close(STOP_TIMEOUT_S)
    return 0
