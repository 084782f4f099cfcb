"""`scriberr workers create-key|list-keys|revoke-key`: manage the keys remote workers fetch job
audio with, on the database directly (the server may keep running). A new key is printed once,
alone on stdout, so it can be captured (`KEY=$(scriberr workers create-key gpu-1)`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from scriberr.cli.operator import migrated_database, print_table
from scriberr.clock import rfc3339
from scriberr.config import load_config
from scriberr.persistence.worker_key_repository import JobAudioRepository, WorkerKeyRepository
from scriberr.services.errors import ServiceError
from scriberr.services.worker_keys import WorkerKeyService


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "workers",
        help="create, list and revoke worker keys (for workers on other hosts)",
        description="Worker keys let a `scriberr worker` without the server's data dir fetch "
        "job audio from SCRIBERR_SERVER_URL (set the key as SCRIBERR_WORKER_KEY).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create-key", help="add a key and print it (shown only once)")
    create.add_argument("name", nargs="?", default="worker", help="what the key is for")
    actions.add_parser("list-keys", aliases=["list"], help="list every key (never the key itself)")
    revoke = actions.add_parser(
        "revoke-key", aliases=["revoke"], help="revoke a key by its ID (wkey_…)"
    )
    revoke.add_argument("key_id")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    config = load_config(os.environ)
    try:
        with migrated_database(config) as database:
            keys = WorkerKeyRepository(database)
            return _act(arguments, WorkerKeyService(keys, JobAudioRepository(database)))
    except ServiceError as error:
        print(f"scriberr workers: {error.message}", file=sys.stderr)
        return 1


def _act(arguments: argparse.Namespace, service: WorkerKeyService) -> int:
    if arguments.action == "create-key":
        created = service.create(arguments.name)
        print(created.key)
        print(
            f"created worker key {created.view.id} ({created.view.name}); it is shown only "
            "once: set it as SCRIBERR_WORKER_KEY on the worker host",
            file=sys.stderr,
        )
        return 0
    if arguments.action in ("revoke-key", "revoke"):
        service.revoke(arguments.key_id)
        print(f"revoked worker key {arguments.key_id}")
        return 0
    rows = [("ID", "NAME", "KEY", "STATUS", "CREATED", "LAST USED")]
    for view in service.list():
        status = "active" if view.active else "revoked"
        rows.append(
            (
                view.id,
                view.name,
                view.preview,
                status,
                rfc3339(view.created_at) or "",
                rfc3339(view.last_used_at) or "-",
            )
        )
    print_table(rows)
    return 0
