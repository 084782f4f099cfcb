"""`scriberr serve`: the HTTP API and the transcription workers in one process.

Startup: load the configuration (a bad value is one line and exit 2), build the Core, start the
workers, serve HTTP with uvicorn on SCRIBERR_HOST:SCRIBERR_PORT. Shutdown on SIGINT/SIGTERM, in
order: stop HTTP (in-flight requests get a few seconds), stop the workers (running jobs are
interrupted and requeued), close the engine, close the database.
`--fake-engine` is a hidden, test-only switch serving the fake models (see engine/fake.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from typing import Any

from scriberr.config import load_config
from scriberr.logging_setup import configure_logging, log_event

_log = logging.getLogger("scriberr")
STOP_TIMEOUT_S = 10.0
HTTP_GRACE_S = 5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP API and the transcription workers",
        description="Serve the API on SCRIBERR_HOST:SCRIBERR_PORT and run TRANSCRIPTION_WORKERS "
        "workers until SIGINT/SIGTERM.",
    )
    parser.add_argument("--fake-engine", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    config = load_config(os.environ)  # a ConfigError becomes one line and exit 2 in cli.main
    configure_logging(config.log_level, config.log_format)
    import uvicorn

    from scriberr.api.app import create_app
    from scriberr.bootstrap import build_core
    from scriberr.services.accounts import attach_account_services

    providers = None
    if getattr(arguments, "fake_engine", False):
        from scriberr.engine.fake import fake_registry

        providers = fake_registry()
    core = attach_account_services(build_core(config, providers=providers))
    try:
        core.files.fail_interrupted_imports()
        app = create_app(core)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=config.host,
                port=config.port,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=HTTP_GRACE_S,
                server_header=False,
            )
        )
        # uvicorn re-raises the signal that stopped it once it has shut down; with these
        # handlers in place that is a no-op, so the ordered shutdown below always runs.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _ignore_signal)
        core.start()
        threading.Thread(
            target=_announce, args=(server,), name="scriberr-announce", daemon=True
        ).start()
        server.run()  # returns after SIGINT/SIGTERM once HTTP has stopped
        log_event(_log, "shutdown.http_stopped")
    finally:
        files = getattr(core, "files", None)
        if files is not None:
            files.close()
        core.close(STOP_TIMEOUT_S)
    return 0


def _ignore_signal(_signum: int, _frame: Any) -> None:
    return None


def _announce(server: Any) -> None:
    """Log the bound address once uvicorn is listening (the port may have been 0)."""
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.05)
    else:
        return
    for listener in getattr(server, "servers", []):
        for sock in getattr(listener, "sockets", []):
            host, port = sock.getsockname()[:2]
            log_event(_log, "startup.listening", url=f"http://{host}:{port}")
