"""transcript revisions, speaker names and full-text search

Revision ID: 0004
Revises: 0003

- `transcript_revisions`: every saved correction (revision 1, 2, …) as a whole transcript; revision
  0 stays the engine's output in `transcriptions.transcript` and is never modified.
- `speaker_names`: the user's name for a speaker label of one transcription.
- `search_segments`: one row per segment of the current revision (plus one `segment_id IS NULL`
  row for the title) of every completed transcription, with a full-text index: an external-content
  FTS5 table `search_fts` on SQLite, a generated `tsvector` column with a GIN index on PostgreSQL.
  Triggers on `transcriptions` keep it following new transcripts, title changes and deletes in the
  same transaction as the change; saving or reverting a revision re-indexes in its own
  transaction (`persistence.transcript_repository`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SQLITE_SEGMENTS = """
    SELECT {id}, {user}, json_extract(s.value, '$.id'), json_extract(s.value, '$.start'),
           json_extract(s.value, '$.text')
    FROM json_each(CASE WHEN json_valid({doc}) THEN {doc} ELSE '{{}}' END, '$.segments') AS s
    WHERE s.type = 'object' AND coalesce(json_extract(s.value, '$.text'), '') <> ''
"""
_INSERT = "INSERT INTO search_segments (transcription_id, user_id, segment_id, start, text)"

_SQLITE = [
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        text, content='search_segments', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER search_segments_ai AFTER INSERT ON search_segments BEGIN
        INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER search_segments_ad AFTER DELETE ON search_segments BEGIN
        INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER search_segments_au AFTER UPDATE ON search_segments BEGIN
        INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    f"""CREATE TRIGGER search_transcript_stored AFTER UPDATE OF transcript ON transcriptions
    WHEN NEW.transcript IS NOT OLD.transcript BEGIN
        DELETE FROM search_segments WHERE transcription_id = NEW.id;
        {_INSERT} SELECT NEW.id, NEW.user_id, NULL, NULL, NEW.title
            WHERE NEW.transcript IS NOT NULL AND coalesce(NEW.title, '') <> '';
        {_INSERT} {_SQLITE_SEGMENTS.format(id="NEW.id", user="NEW.user_id", doc="NEW.transcript")}
            AND NEW.transcript IS NOT NULL;
    END""",
    f"""CREATE TRIGGER search_title_changed AFTER UPDATE OF title ON transcriptions
    WHEN NEW.title IS NOT OLD.title AND NEW.transcript IS NOT NULL BEGIN
        DELETE FROM search_segments WHERE transcription_id = NEW.id AND segment_id IS NULL;
        {_INSERT} SELECT NEW.id, NEW.user_id, NULL, NULL, NEW.title
            WHERE coalesce(NEW.title, '') <> '';
    END""",
    """CREATE TRIGGER search_transcription_deleted AFTER DELETE ON transcriptions BEGIN
        DELETE FROM search_segments WHERE transcription_id = OLD.id;
    END""",
    # Index what is already there.
    f"""{_INSERT} SELECT id, user_id, NULL, NULL, title FROM transcriptions
        WHERE transcript IS NOT NULL AND coalesce(title, '') <> ''""",
    f"""{_INSERT} SELECT t.id, t.user_id, json_extract(s.value, '$.id'),
            json_extract(s.value, '$.start'), json_extract(s.value, '$.text')
        FROM transcriptions AS t,
             json_each(CASE WHEN json_valid(t.transcript) THEN t.transcript ELSE '{{}}' END,
                       '$.segments') AS s
        WHERE t.transcript IS NOT NULL AND s.type = 'object'
          AND coalesce(json_extract(s.value, '$.text'), '') <> ''""",
]

_POSTGRES = [
    """ALTER TABLE search_segments ADD COLUMN tsv tsvector
        GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED""",
    "CREATE INDEX ix_search_segments_tsv ON search_segments USING gin (tsv)",
    """CREATE FUNCTION scriberr_search_segments(tid text, uid text, title text, doc text)
    RETURNS void LANGUAGE plpgsql AS $$
    DECLARE parsed json;
    BEGIN
        DELETE FROM search_segments WHERE transcription_id = tid;
        IF doc IS NULL THEN RETURN; END IF;
        IF coalesce(title, '') <> '' THEN
            INSERT INTO search_segments (transcription_id, user_id, segment_id, start, text)
            VALUES (tid, uid, NULL, NULL, title);
        END IF;
        BEGIN
            parsed := doc::json;
        EXCEPTION WHEN others THEN
            RETURN;
        END;
        IF json_typeof(parsed) <> 'object' THEN
            RETURN;
        END IF;
        parsed := parsed -> 'segments';
        IF parsed IS NULL OR json_typeof(parsed) <> 'array' THEN
            RETURN;
        END IF;
        INSERT INTO search_segments (transcription_id, user_id, segment_id, start, text)
        SELECT tid, uid, s ->> 'id',
               CASE WHEN json_typeof(s -> 'start') = 'number' THEN (s ->> 'start')::float8 END,
               s ->> 'text'
        FROM json_array_elements(parsed) AS s
        WHERE json_typeof(s) = 'object' AND coalesce(s ->> 'text', '') <> '';
    END $$""",
    """CREATE FUNCTION scriberr_search_transcriptions() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM search_segments WHERE transcription_id = OLD.id;
            RETURN OLD;
        END IF;
        IF NEW.transcript IS DISTINCT FROM OLD.transcript THEN
            PERFORM scriberr_search_segments(NEW.id, NEW.user_id, NEW.title, NEW.transcript);
        ELSIF NEW.title IS DISTINCT FROM OLD.title AND NEW.transcript IS NOT NULL THEN
            DELETE FROM search_segments WHERE transcription_id = NEW.id AND segment_id IS NULL;
            IF coalesce(NEW.title, '') <> '' THEN
                INSERT INTO search_segments (transcription_id, user_id, segment_id, start, text)
                VALUES (NEW.id, NEW.user_id, NULL, NULL, NEW.title);
            END IF;
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER search_transcriptions AFTER UPDATE OF transcript, title OR DELETE
        ON transcriptions FOR EACH ROW EXECUTE FUNCTION scriberr_search_transcriptions()""",
    """SELECT scriberr_search_segments(id, user_id, title, transcript) FROM transcriptions
        WHERE transcript IS NOT NULL""",
]


def upgrade() -> None:
    op.create_table(
        "transcript_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transcription_id", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(length=40), nullable=True),
        sa.Column("reverted_from", sa.Integer(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["transcription_id"], ["transcriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transcription_id", "revision", name="uq_transcript_revision"),
    )
    op.create_table(
        "speaker_names",
        sa.Column("transcription_id", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["transcription_id"], ["transcriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("transcription_id", "label"),
    )
    op.create_table(
        "search_segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transcription_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("segment_id", sa.String(length=40), nullable=True),
        sa.Column("start", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_segments_transcription", "search_segments", ["transcription_id"])
    op.create_index("ix_search_segments_user", "search_segments", ["user_id", "id"])
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "search_transcription_deleted",
            "search_title_changed",
            "search_transcript_stored",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP TRIGGER IF EXISTS search_transcriptions ON transcriptions")
        op.execute("DROP FUNCTION IF EXISTS scriberr_search_transcriptions()")
        op.execute("DROP FUNCTION IF EXISTS scriberr_search_segments(text, text, text, text)")
    op.drop_index("ix_search_segments_user", table_name="search_segments")
    op.drop_index("ix_search_segments_transcription", table_name="search_segments")
    op.drop_table("search_segments")
    op.drop_table("speaker_names")
    op.drop_table("transcript_revisions")
