"""`scriberr worker`: run transcription workers without HTTP against the configured database.

Several worker processes (and `scriberr serve`) can share one queue. SIGTERM or SIGINT stops
gracefully: claiming stops, running jobs are interrupted and put back to `queued`.
`--fake-engine` is a hidden, test-only switch that serves the fake models instead of the real
engine (see scriberr/engine/fake.py); it is not part of the product.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any

from scriberr.config import load_config
from scriberr.logging_setup import configure_logging

STOP_TIMEOUT_S = 10.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run transcription workers only (no HTTP), sharing the configured database",
        description="Run TRANSCRIPTION_WORKERS workers against SCRIBERR_DATABASE_URL until "
        "SIGTERM/SIGINT.",
    )
    parser.add_argument("--fake-engine", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    config = load_config(os.environ)  # a ConfigError becomes one line and exit 2 in cli.main
    configure_logging(config.log_level, config.log_format)
    from scriberr.bootstrap import build_core

    providers = None
    if arguments.fake_engine:
        from scriberr.engine.fake import fake_registry

        providers = fake_registry()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    core = build_core(config, providers=providers)
    try:
        core.start()
        while not stop.wait(3600):
            pass
    finally:
        core.close(STOP_TIMEOUT_S)
    return 0
