"""PostgreSQL search in id windows: one server-side function finds the newest hits of a query.

`ORDER BY id DESC LIMIT n` over a GIN match leaves the planner two bad choices: walk the id index
backwards until n rows match (slow for a rare word it guessed common) or fetch every match and
sort (slow for a frequent word or prefix, and it reads every user's matches). The function asks
for the newest hits in windows of ids below the cursor, 16,384 ids wide and four times wider each
round (sixteen after a window with no hit), planning each window on its own: a frequent term is
answered from the first window, a rare one from a few cheap index lookups, so neither pays for the
whole table. Hits, order and cursor are the same as the single query's. SQLite (FTS5) is unchanged.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_CREATE = """
CREATE FUNCTION scriberr_search_hits(uid text, query text, before integer, wanted integer)
RETURNS TABLE (id integer, transcription_id varchar, segment_id varchar, start float8, text text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    matcher tsquery := to_tsquery('simple', query);
    hi integer := coalesce(before, (SELECT max(s.id) + 1 FROM search_segments s WHERE s.user_id = uid));
    lowest integer := (SELECT min(s.id) FROM search_segments s WHERE s.user_id = uid);
    width bigint := 16384;
    found integer;
BEGIN
    WHILE wanted > 0 AND hi > lowest LOOP
        -- EXECUTE: each window gets a plan made for its own bounds (a cached generic plan cannot
        -- tell a narrow window from the whole table).
        RETURN QUERY EXECUTE
            'SELECT s.id, s.transcription_id, s.segment_id, s.start, s.text FROM search_segments s '
            'WHERE s.user_id = $1 AND s.tsv @@ $2 AND s.id >= $3 AND s.id < $4 '
            'ORDER BY s.id DESC LIMIT $5'
            USING uid, matcher, greatest(hi - width, lowest), hi, wanted;
        GET DIAGNOSTICS found = ROW_COUNT;
        wanted := wanted - found;
        hi := greatest(hi - width, lowest);
        -- Wider at once past a window with no hit: the term is rare, a few lookups will do.
        width := width * CASE WHEN found = 0 THEN 16 ELSE 4 END;
    END LOOP;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS scriberr_search_hits(text, text, integer, integer)")
