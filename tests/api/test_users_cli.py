"""`scriberr users list|create|reset-password` on the database directly (a real subprocess)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import login, register, run_cli


def _users(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_cli(data_dir, "users", *args, stdin=stdin)


@pytest.mark.slow
def test_operator_creates_lists_and_resets_accounts(client: Any, core: Any, data_dir: Path) -> None:
    admin = register(client, "alice")
    created = _users(data_dir, "create", "bob", "--password-stdin", stdin="bob password 123\n")
    assert created.returncode == 0, created.stderr
    assert "created member bob" in created.stdout
    taken = _users(data_dir, "create", "BOB", "--password-stdin", stdin="another password\n")
    assert taken.returncode == 1 and "taken" in taken.stderr
    listed = _users(data_dir, "list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "USERNAME", "ROLE", "STATUS", "CREATED"]
    assert [line.split()[1:4] for line in lines[1:]] == [
        ["alice", "admin", "active"],
        ["bob", "member", "active"],
    ]
    bob = login(client, "bob", "bob password 123")
    # A locked-out admin: the operator resets the password; old sessions end at once.
    reset = _users(
        data_dir, "reset-password", "  ALICE ", "--password-stdin", stdin="rescued password\n"
    )
    assert reset.returncode == 0, reset.stderr
    assert client.get("/api/v1/auth/me", headers=admin.headers).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bob.headers).status_code == 200
    login(client, "alice", "rescued password")
    missing = _users(data_dir, "reset-password", "nobody", "--password-stdin", stdin="whatever1\n")
    assert missing.returncode == 1 and "nobody" in missing.stderr
    short = _users(data_dir, "create", "carol", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least" in short.stderr
