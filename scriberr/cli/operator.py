"""What the operator commands that work on the database directly (`users`, `workers`) share:
the migrated database of the configured data dir, and their aligned text tables."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from scriberr.config import Config
from scriberr.persistence.database import Database
from scriberr.privacy import confine_to_data_dir


@contextmanager
def migrated_database(config: Config) -> Iterator[Database]:
    """The configured database, migrated, closed afterwards (writes stay in the data dir)."""
    confine_to_data_dir(config.data_dir)
    database = Database(config.database_url)
    try:
        database.migrate()
        yield database
    finally:
        database.close()


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Print `rows` (the first is the header) with every column padded to its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
