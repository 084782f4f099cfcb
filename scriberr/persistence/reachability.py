"""Can this process reach the database? One round trip with a short connect timeout, for
startup checks that must end with one clear line instead of a traceback."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from scriberr.persistence.database import normalise_url


def database_problem(url: str, timeout_s: float = 5.0) -> str | None:
    """None when `SELECT 1` works; else the driver's first line of complaint (never the URL,
    which may hold a password)."""
    normalised = normalise_url(url)
    if normalised.startswith("sqlite"):
        return None  # a file next to (or in) the data dir: opened, and created, by the server
    engine = create_engine(normalised, connect_args={"connect_timeout": max(1, round(timeout_s))})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        detail = str(getattr(error, "orig", None) or type(error).__name__)
        first = detail.strip().splitlines()[0] if detail.strip() else type(error).__name__
        return first[:300]
    finally:
        engine.dispose()
    return None
