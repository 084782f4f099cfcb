"""`scriberr serve`: the HTTP API and the transcription workers in one process.

Startup: load the configuration (a bad value is one line and exit 2), build the Core, start the
workers, serve HTTP with uvicorn on SCRIBERR_HOST:SCRIBERR_PORT. Shutdown on SIGINT/SIGTERM, in
order: stop HTTP (in-flight requests get a few seconds), stop the workers (running jobs are
interrupted and requeued), close the engine, close the database.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Any

from scriberr.cli.runtime import add_fake_engine_flag, core_from_environment
from scriberr.logging_setup import log_event

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
    add_fake_engine_flag(parser)
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    core = core_from_environment(arguments)
    config = core.config
    import uvicorn

    from scriberr.api.app import create_app

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
                # X-Forwarded-For is trusted only from SCRIBERR_FORWARDED_ALLOW_IPS (api/deps.py),
                # never by uvicorn's own default (which trusts loopback).
                proxy_headers=False,
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
