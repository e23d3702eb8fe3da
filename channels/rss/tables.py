"""The feeds' table, apart from the channel (:mod:`.channel`): bringing the store up to
date does not load feedgen."""

from govpub.store import Schema

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rss_items (
    document_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    department TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    categories TEXT NOT NULL,
    version INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    withdrawn_reason TEXT,
    sort_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rss_items_all ON rss_items (sort_at DESC, document_id);
CREATE INDEX IF NOT EXISTS rss_items_kind ON rss_items (kind, sort_at DESC, document_id);
CREATE INDEX IF NOT EXISTS rss_items_department
    ON rss_items (department, sort_at DESC, document_id)
"""
# Version 2: each feed's generation (bumped by every committed change of its items) and
# the generation its files were last written from, so that several processes of the
# channel render a feed outside the store's lock and skip a feed another process has
# already written from a state that holds their items.
_GENERATIONS = """
CREATE TABLE IF NOT EXISTS rss_feeds (
    feed TEXT PRIMARY KEY,
    changed INTEGER NOT NULL,
    rendered INTEGER NOT NULL DEFAULT 0
)
"""
# Version 3: when each feed was last written (milliseconds since the epoch), so that
# while a backlog is delivered the members of a group write a feed at most once an
# interval between them (GOVPUB_FEED_BACKLOG_INTERVAL), however many batches they make.
_RENDERED_AT = """
ALTER TABLE rss_feeds ADD COLUMN rendered_at_ms BIGINT NOT NULL DEFAULT 0
"""
SCHEMA = Schema("rss_items", _SCHEMA, _GENERATIONS, _RENDERED_AT)
"""The tables of this component, as versioned migrations."""
