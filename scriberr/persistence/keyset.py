"""Keyset pagination in SQL: order a select by (sort column, id) and start after a cursor.

Used by every repository that lists a collection; the cursor itself is built and parsed in
`scriberr.services.pagination`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

S = TypeVar("S", bound=Select[Any])


def keyset_page(
    statement: S,
    sort_column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[Any],
    *,
    descending: bool,
    after_value: Any = None,
    after_id: str | None = None,
    limit: int,
) -> S:
    """Order by (sort, id) in one direction, start strictly after (after_value, after_id), and
    fetch `limit + 1` rows so the caller can tell whether another page exists.

    The sort column must be non-null (e.g. `created_at`, `title`)."""
    if after_id is not None:
        if descending:
            condition = or_(
                sort_column < after_value, and_(sort_column == after_value, id_column < after_id)
            )
        else:
            condition = or_(
                sort_column > after_value, and_(sort_column == after_value, id_column > after_id)
            )
        statement = statement.where(condition)
    if descending:
        statement = statement.order_by(sort_column.desc(), id_column.desc())
    else:
        statement = statement.order_by(sort_column.asc(), id_column.asc())
    return statement.limit(limit + 1)
