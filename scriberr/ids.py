"""Opaque, prefixed identifiers (`file_…`, `tr_…`, `exec_…`, `key_…`, `wkey_…`, `profile_…`, `user_…`)."""

from __future__ import annotations

import secrets
from typing import Literal

IdPrefix = Literal["file", "tr", "exec", "key", "profile", "user", "req", "worker", "rt", "wkey"]


def new_id(prefix: IdPrefix) -> str:
    """A random, URL-safe ID such as `tr_3f9c2a7b1e0d4c6a8b5e2f1d`."""
    return f"{prefix}_{secrets.token_hex(12)}"
