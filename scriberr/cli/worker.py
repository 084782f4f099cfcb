"""`scriberr worker`: run transcription workers without HTTP against the configured database.

Several worker processes (and `scriberr serve`) can share one queue. SIGTERM or SIGINT stops
gracefully: claiming stops, running jobs are interrupted and put back to `queued`.

At startup it checks that it can reach the database and read job audio — from the server's data
dir (an `uploads` folder in SCRIBERR_DATA_DIR) or from the server (SCRIBERR_SERVER_URL with an
accepted SCRIBERR_WORKER_KEY) — and otherwise exits 1 with one line saying what is missing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from scriberr.cli.runtime import add_fake_engine_flag, core_from_environment
from scriberr.config import Config
from scriberr.orchestrator.audio_source import RemoteAudio
from scriberr.persistence.reachability import database_problem

STOP_TIMEOUT_S = 10.0


class StartupProblem(Exception):
    """The worker cannot do its job with this setup (one line for the operator)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run transcription workers only (no HTTP), sharing the configured database",
        description="Run TRANSCRIPTION_WORKERS workers against SCRIBERR_DATABASE_URL until "
        "SIGTERM/SIGINT. Without the server's data dir, set SCRIBERR_SERVER_URL and "
        "SCRIBERR_WORKER_KEY (from `scriberr workers create-key`).",
    )
    add_fake_engine_flag(parser)
    parser.set_defaults(handler=run)


def startup_problem(config: Config) -> str | None:
    """What stops this worker from running jobs, in one line; None when nothing does."""
    if config.workers < 1:
        return "TRANSCRIPTION_WORKERS is 0; a worker process needs at least 1"
    problem = database_problem(config.database_url)
    if problem is not None:
        return f"cannot reach the database ({config.database_kind}): {problem}"
    has_uploads = config.layout.uploads.is_dir() and os.access(
        config.layout.uploads, os.R_OK | os.X_OK
    )
    if config.server_url and config.worker_key:
        refusal = RemoteAudio(config.server_url, config.worker_key, timeout_s=10).check()
        if refusal is None or has_uploads:
            return None
        return f"cannot fetch job audio: {refusal}"
    if has_uploads:
        return None
    return (
        "cannot read job audio: SCRIBERR_DATA_DIR has no uploads folder (it is not the "
        "server's data dir) and SCRIBERR_SERVER_URL/SCRIBERR_WORKER_KEY are not set"
    )


def _preflight(config: Config) -> None:
    problem = startup_problem(config)
    if problem is not None:
        raise StartupProblem(problem)


def run(arguments: argparse.Namespace) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        core = core_from_environment(arguments, worker_only=True, preflight=_preflight)
    except StartupProblem as problem:
        print(f"scriberr worker: {problem}", file=sys.stderr)
        return 1
    try:
        core.start()
        while not stop.wait(3600):
            pass
    finally:
        core.close(STOP_TIMEOUT_S)
    return 0
