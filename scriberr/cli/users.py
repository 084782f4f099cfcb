"""`scriberr users list|create|reset-password`: manage accounts on the database directly, for an
operator (also one who is locked out of the web app). The server may keep running: every change
takes effect on its next request."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from scriberr.cli.operator import migrated_database, print_table
from scriberr.clock import rfc3339
from scriberr.config import load_config, resolve_secret_key
from scriberr.persistence.auth_repository import (
    ApiKeyRepository,
    LoginFailureRepository,
    RefreshTokenRepository,
    UserRepository,
)
from scriberr.persistence.database import Database
from scriberr.services.auth import (
    ROLE_ADMIN,
    ROLES,
    AuthService,
    LoginThrottle,
    UserUpdate,
    normalize_username,
)
from scriberr.services.errors import ServiceError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "users",
        help="list, create and reset accounts (works on the database directly)",
        description="Manage accounts without the web app. Passwords are read from a prompt, or "
        "one line of standard input with --password-stdin.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list every account")
    create = actions.add_parser("create", help="add an account")
    create.add_argument("username")
    create.add_argument("--role", choices=ROLES, default="member")
    create.add_argument("--password-stdin", action="store_true")
    reset = actions.add_parser(
        "reset-password", help="set a new password, enable the account and end its sessions"
    )
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true")
    reset.add_argument("--admin", action="store_true", help="also make the account an admin")
    parser.set_defaults(handler=run)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValueError("no terminal to prompt on: pass the password with --password-stdin")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise ValueError("the passwords do not match")
    return first


def _service(database: Database, secret: str) -> tuple[AuthService, UserRepository]:
    users = UserRepository(database)
    auth = AuthService(
        users,
        RefreshTokenRepository(database),
        ApiKeyRepository(database),
        secret,
        throttle=LoginThrottle(LoginFailureRepository(database)),
    )
    return auth, users


def run(arguments: argparse.Namespace) -> int:
    config = load_config(os.environ)
    try:
        with migrated_database(config) as database:
            auth, users = _service(database, resolve_secret_key(config))
            return _act(arguments, auth, users)
    except (ServiceError, ValueError) as error:
        message = error.message if isinstance(error, ServiceError) else str(error)
        print(f"scriberr users: {message}", file=sys.stderr)
        return 1


def _act(arguments: argparse.Namespace, auth: AuthService, users: UserRepository) -> int:
    if arguments.action == "list":
        rows = [("ID", "USERNAME", "ROLE", "STATUS", "CREATED")]
        for view in auth.list_users():
            status = "disabled" if view.disabled else "active"
            rows.append((view.id, view.username, view.role, status, rfc3339(view.created_at) or ""))
        print_table(rows)
        return 0
    password = _read_password(arguments.password_stdin)
    if arguments.action == "create":
        view = auth.create_user(arguments.username, password, arguments.role)
        print(f"created {view.role} {view.username} ({view.id})")
        return 0
    user = users.by_username(normalize_username(arguments.username))
    if user is None:
        raise ValueError(f"no account named {arguments.username!r}")
    update = UserUpdate(
        password=password, disabled=False, role=ROLE_ADMIN if arguments.admin else None
    )
    view = auth.update_user(user.id, update)
    print(f"reset the password of {view.username}; its sessions have ended")
    return 0
