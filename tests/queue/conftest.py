"""Fixtures for queue tests: a migrated SQLite database in a temp data dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scriberr.persistence.database import Database
from tests.queue.helpers import config_for


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def database(data_dir: Path) -> Iterator[Database]:
    config = config_for(data_dir)
    database = Database(config.database_url)
    database.migrate()
    yield database
    database.close()
