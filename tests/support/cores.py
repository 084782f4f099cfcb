"""`test_core`: `build_core` for in-process tests, without the two costs every test would repeat.

- Passwords use a cheap argon2 setting (`FAST_HASHER`): the product's default costs tens of
  milliseconds per hash (seconds on a loaded machine), and most API tests register and sign in.
- A fresh SQLite data dir starts from a copy of a database migrated once per test process, instead
  of running every migration again (`build_core` still runs `migrate`, which then has nothing to
  do). A data dir that already has a database, or a PostgreSQL URL, is left alone.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from scriberr.bootstrap import Core, build_core
from scriberr.config import Config
from scriberr.persistence.database import Database

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@functools.cache
def _migrated_template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="scriberr-template-")) / "scriberr.db"
    database = Database(f"sqlite:///{path}")
    try:
        database.migrate()
        with database.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.close()
    return path


def seed_database(config: Config) -> None:
    """Copy the migrated template into `config`'s data dir when it uses the default SQLite file
    and has none yet."""
    target = config.layout.database_file
    if config.database_url != f"sqlite:///{target}" or target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_template(), target)


def test_core(config: Config, **options: Any) -> Core:
    """`build_core(config, **options)` with the cheap hasher and a pre-migrated database."""
    seed_database(config)
    options.setdefault("password_hasher", FAST_HASHER)
    return build_core(config, **options)


test_core.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
