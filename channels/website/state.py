"""The website's state in the SQLite store: documents, list entries with their
positions, and the outputs still to render.

Pagination. Every list (a kind, a department) numbers its entries from the
oldest, ordered by ``(first publication time, document_id)``; page ``n`` holds
positions ``[(n-1)·P, n·P)``. A new document is normally the newest, so it only
touches the list's index and its last page; positions never depend on the order
events arrived in, only on the data, so a replay builds the same pages.

A withdrawn document keeps its position (a tombstone, not shown), so withdrawals
and scheduled take-downs of old items change one page, not every page after
them. Only a document whose first publication is older than documents already
listed (or one that moves to another kind or department) shifts the positions
after it; those are renumbered at the next flush, from the oldest changed key.

Outputs to render are kept in ``web_pending`` in the same transaction as the
change that needs them, so a crash between ``apply`` and ``flush`` loses no page.
Each mark bumps the target's version, and a flush forgets a target only at the
version it rendered: a mark made while it rendered (by this process after a
takeover, or by any other writer) stays for the next flush.

A penalty decision's take-down date (``display_until``), and the end of its display
when it was taken down (``display_ended_on``), are in ``web_display``: its JSON entries
carry the first, and a decision taken down at the end of its display period gets a
notice that no longer shows it.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from channels.website.paths import ListRef
from govpub.store import Connection, Schema, Store
from schemas.enums import DocClass

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_documents (
    document_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    department TEXT NOT NULL,
    title TEXT NOT NULL,
    subtitle TEXT NOT NULL,
    badge TEXT NOT NULL,
    version INTEGER NOT NULL,
    sort_key TEXT NOT NULL,
    published_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    withdrawn_at TEXT,
    withdrawn_reason TEXT,
    replaced_by TEXT,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS web_documents_latest
    ON web_documents (withdrawn, sort_key DESC, document_id DESC);
CREATE INDEX IF NOT EXISTS web_documents_withdrawn_kind
    ON web_documents (kind, withdrawn_at DESC, document_id) WHERE withdrawn = 1;
CREATE INDEX IF NOT EXISTS web_documents_withdrawn_department
    ON web_documents (department, withdrawn_at DESC, document_id) WHERE withdrawn = 1;
CREATE TABLE IF NOT EXISTS web_entries (
    list TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    document_id TEXT NOT NULL,
    position INTEGER,
    PRIMARY KEY (list, sort_key, document_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS web_entries_position ON web_entries (list, position);
CREATE TABLE IF NOT EXISTS web_lists (
    list TEXT PRIMARY KEY,
    entries INTEGER NOT NULL DEFAULT 0,
    listed INTEGER NOT NULL DEFAULT 0,
    pages INTEGER NOT NULL DEFAULT 0,
    renumber_from TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS web_pending (
    target TEXT PRIMARY KEY
) WITHOUT ROWID
"""
_DISPLAY = """
CREATE TABLE IF NOT EXISTS web_display (
    document_id TEXT PRIMARY KEY,
    display_until TEXT,
    display_ended_on TEXT
) WITHOUT ROWID
"""
# Version 3: versioned pending marks (issue 21).
_PENDING_VERSIONS = """
ALTER TABLE web_pending ADD COLUMN version INTEGER NOT NULL DEFAULT 0
"""
# Version 4: the library (文件库): every policy's class, validity, year (of written_on),
# place and successor, and the day each of its validities began, so that the library pages
# and a policy's revision chain are rendered from the website's own tables. ``seq`` numbers the
# 规章 and 行政规范性文件 of one validity and year in the order they joined it (0 for
# other classes): a document keeps its page (``seq`` // LIBRARY_PAGE_SIZE) while its
# validity stands, so one event re-renders one page of at most LIBRARY_PAGE_SIZE.
# ``web_library_counts`` counts the shown documents of each page, kept as documents come
# and go, so the library's index is rendered without reading the library. (Version 5
# replaces the order of joining and the counts per page.)
_LIBRARY = """
CREATE TABLE IF NOT EXISTS web_library (
    document_id TEXT PRIMARY KEY,
    doc_class TEXT NOT NULL,
    validity TEXT NOT NULL,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    superseded_by TEXT
);
CREATE INDEX IF NOT EXISTS web_library_superseded ON web_library (superseded_by);
CREATE INDEX IF NOT EXISTS web_library_page ON web_library (validity, year, seq);
CREATE TABLE IF NOT EXISTS web_library_counts (
    doc_class TEXT NOT NULL,
    validity TEXT NOT NULL,
    year INTEGER NOT NULL,
    page INTEGER NOT NULL,
    documents INTEGER NOT NULL,
    PRIMARY KEY (doc_class, validity, year, page)
);
CREATE TABLE IF NOT EXISTS web_validity (
    document_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    validity TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (document_id, version)
)
"""
# Version 5: the library's pages in the order of first publication (issue 22 follow-up).
# Numbered in the order documents joined a validity and year, the pages of a replay
# differed from the live ones whenever the bus delivered policies in another order
# (several partitions). A page now holds the shown documents of its validity and year
# ranked by ``(first publication time, document_id)``, as the other lists are, so it
# depends on the data alone; ``web_library_groups`` counts each class, validity and year.
# Pages rendered before this version keep the old order until their group changes:
# ``govpub replay --channel website`` renders them all at once.
_LIBRARY_ORDER = """
CREATE TABLE IF NOT EXISTS web_library_groups (
    doc_class TEXT NOT NULL,
    validity TEXT NOT NULL,
    year INTEGER NOT NULL,
    documents INTEGER NOT NULL,
    PRIMARY KEY (doc_class, validity, year)
);
INSERT INTO web_library_groups (doc_class, validity, year, documents)
    SELECT doc_class, validity, year, SUM(documents) FROM web_library_counts
    GROUP BY doc_class, validity, year;
DROP TABLE web_library_counts;
DROP INDEX web_library_page;
ALTER TABLE web_library DROP COLUMN seq;
CREATE INDEX IF NOT EXISTS web_library_group ON web_library (validity, year)
"""
LIBRARY_PAGE_SIZE = 100
"""Slots per library page (per validity and year of ``written_on``)."""
LIBRARY_CLASS_VALUES = (DocClass.REGULATION.value, DocClass.NORMATIVE.value)
"""The classes the library lists (规章库, 行政规范性文件库)."""
_LISTED = "doc_class IN (" + ", ".join(f"'{c}'" for c in LIBRARY_CLASS_VALUES) + ")"
_LIBRARY_KEY_OF_ROW = (
    f"CASE WHEN {_LISTED} THEN (SELECT d.sort_key || ' ' || d.document_id FROM web_documents d"
    " WHERE d.document_id = web_library.document_id) END"
)
"""``library_key`` since version 7: set while a policy is of a listed class, withdrawn or
not (a withdrawn policy keeps its slot)."""
_SHOWN_KEY_OF_ROW = _LIBRARY_KEY_OF_ROW.replace(") END", " AND d.withdrawn = 0) END")
"""Version 6's ``library_key``: set while a listed policy is shown."""
# Version 6: each listed, shown policy's place in its validity and year, in an index
# (issue 21). Ranking a document among the others of its group joined every row of the
# group to its document: at 10,000 documents that was half of a rebuild's time, and it
# grew with the square of a group. ``library_key`` is ``sort_key`` and ``document_id``
# (the library's order; ``sort_key`` has a fixed width) while the document is shown and
# of a listed class, else NULL. A document's place is counted on that index from the
# group's end (where documents join), and a page is found on it from the nearer end.
_LIBRARY_KEY = f"""
ALTER TABLE web_library ADD COLUMN library_key TEXT;
UPDATE web_library SET library_key = {_SHOWN_KEY_OF_ROW};
DROP INDEX web_library_group;
CREATE INDEX IF NOT EXISTS web_library_rank ON web_library (validity, year, library_key)
"""
# Version 7: a withdrawn policy keeps its slot in the library (issue 21), as it keeps its
# place in the other lists: a page holds LIBRARY_PAGE_SIZE slots and shows the documents
# of those that are not withdrawn. A withdrawal then changes one page, not every later
# page of its validity and year (a thousand pages at a million documents), and links to
# a page keep pointing at the same documents. ``library_key`` stays set while withdrawn;
# ``web_library_groups.slots`` counts the keys of each class, validity and year, and
# ``documents`` still counts the shown ones (the library's index shows those).
_LIBRARY_SLOTS = f"""
ALTER TABLE web_library_groups ADD COLUMN slots INTEGER NOT NULL DEFAULT 0;
UPDATE web_library SET library_key = {_LIBRARY_KEY_OF_ROW};
UPDATE web_library_groups SET slots = (
    SELECT COUNT(*) FROM web_library l WHERE l.doc_class = web_library_groups.doc_class
    AND l.validity = web_library_groups.validity AND l.year = web_library_groups.year
    AND l.library_key IS NOT NULL
)
"""
# Version 8: each slot's number in its validity and year (issue 21). A policy's page and
# a page's first slot were counts along the index, which grow with the group: 12 ms a
# policy event in a group of 40,000, 60 ms in one of 200,000. ``slot`` is numbered in
# the order of ``library_key`` (0 first) and renumbered from the smallest key that
# joined or left since the last flush (``web_library_years.renumber_from``), as
# ``web_entries.position`` is for the other lists: a policy joins a group's end in the
# normal course, so a batch renumbers the slots it added. ``pages`` is how many pages
# were rendered, so that a change in their number marks the pages that come or go.
_LIBRARY_SLOT_NUMBERS = f"""
ALTER TABLE web_library ADD COLUMN slot INTEGER;
CREATE INDEX IF NOT EXISTS web_library_slot ON web_library (validity, year, slot);
CREATE TABLE IF NOT EXISTS web_library_years (
    validity TEXT NOT NULL,
    year INTEGER NOT NULL,
    pages INTEGER NOT NULL DEFAULT 0,
    renumber_from TEXT,
    PRIMARY KEY (validity, year)
);
UPDATE web_library SET slot = numbered.n FROM (
    SELECT document_id,
    ROW_NUMBER() OVER (PARTITION BY validity, year ORDER BY library_key) - 1 AS n
    FROM web_library WHERE library_key IS NOT NULL
) AS numbered WHERE web_library.document_id = numbered.document_id;
INSERT INTO web_library_years (validity, year, pages)
    SELECT validity, year, (SUM(slots) + {LIBRARY_PAGE_SIZE - 1}) / {LIBRARY_PAGE_SIZE}
    FROM web_library_groups
    GROUP BY validity, year
"""
# Version 9: a library page links the previous and the next page, and the index a year's
# first and last pages instead of every page (issue 21: the index is rendered at every
# policy event). Every library page and the index are marked, to be rendered again at
# the next flush.
_LIBRARY_PAGER = """
WITH RECURSIVE numbered (validity, year, page, pages) AS (
    SELECT validity, year, 1, pages FROM web_library_years WHERE pages > 0
    UNION ALL SELECT validity, year, page + 1, pages FROM numbered WHERE page < pages
)
INSERT INTO web_pending (target, version)
    SELECT 'library|' || validity || '|' || year || '|' || page, 0 FROM numbered WHERE true
    ON CONFLICT (target) DO NOTHING;
INSERT INTO web_pending (target, version)
    SELECT 'library', 0 WHERE EXISTS (SELECT 1 FROM web_library_years)
    ON CONFLICT (target) DO NOTHING
"""
_SET_LIBRARY_KEY = f"UPDATE web_library SET library_key = {_LIBRARY_KEY_OF_ROW} WHERE document_id=?"
SCHEMA = Schema(
    "website",
    _SCHEMA,
    _DISPLAY,
    _PENDING_VERSIONS,
    _LIBRARY,
    _LIBRARY_ORDER,
    _LIBRARY_KEY,
    _LIBRARY_SLOTS,
    _LIBRARY_SLOT_NUMBERS,
    _LIBRARY_PAGER,
)
"""The tables of this component, as versioned migrations."""

NEIGHBOURS = 2
"""Archive pages link to this many pages on each side of themselves, so a change in the
number of pages re-renders the pages that near the end."""

STATE_TABLES = (
    "web_documents",
    "web_entries",
    "web_lists",
    "web_pending",
    "web_display",
    "web_library",
    "web_library_groups",
    "web_library_years",
    "web_validity",
)
"""The tables that hold the website's state (replaced as a whole by a replay)."""
LOCK = "website"
"""The store lock of the website's tables (see :meth:`govpub.store.Store.transaction`)."""

_DOC_COLUMNS = (
    "document_id, kind, department, title, subtitle, badge, version, sort_key,"
    " published_at, updated_at, withdrawn, withdrawn_at, withdrawn_reason, replaced_by, event"
)
# Lists never need the event itself (the largest column), so they do not read it.
_LIST_COLUMNS = _DOC_COLUMNS.replace(", event", ", '' AS event")
_REPLACE_DOC = ", ".join(f"{c.strip()}=excluded.{c.strip()}" for c in _DOC_COLUMNS.split(",")[1:])
_LIST_COLUMNS_D = ", ".join(
    f"d.{c.strip()}" if c.strip() != "'' AS event" else c.strip() for c in _LIST_COLUMNS.split(",")
)
_DOC_COLUMNS_D = ", ".join(f"d.{c.strip()}" for c in _DOC_COLUMNS.split(","))


@dataclass(frozen=True)
class Document:
    """One document as the website knows it."""

    document_id: str
    kind: str
    department: str
    title: str
    subtitle: str
    badge: str
    version: int
    sort_key: str
    published_at: datetime
    updated_at: datetime
    withdrawn: bool
    withdrawn_at: datetime | None
    withdrawn_reason: str | None
    replaced_by: str | None
    event: str
    """The last content event as JSON; empty when read for a list."""

    @property
    def lists(self) -> frozenset[ListRef]:
        """The lists the document is an entry of."""
        return frozenset((ListRef.for_kind(self.kind), ListRef.for_department(self.department)))

    @property
    def updated(self) -> bool:
        """True when the document changed after its first publication."""
        return self.updated_at > self.published_at


@dataclass(frozen=True)
class DisplayDates:
    """A penalty decision's take-down date, and whether it was taken down (公示期满)."""

    display_until: date | None
    display_ended_on: date | None = None


@dataclass(frozen=True)
class ListInfo:
    """Counters of one list."""

    ref: ListRef
    entries: int
    listed: int
    pages: int


@dataclass(frozen=True)
class LibraryRow:
    """A policy as the library knows it."""

    document_id: str
    doc_class: str
    validity: str
    year: int
    superseded_by: str | None

    @property
    def listed(self) -> bool:
        """Whether the library lists it (a 规章 or 行政规范性文件)."""
        return self.doc_class in LIBRARY_CLASS_VALUES


@dataclass(frozen=True)
class LibraryEntry:
    """A shown policy in the library, with the day its validity began."""

    doc: Document
    doc_class: str
    validity: str
    superseded_by: str | None
    since: date | None


def _document(row: tuple[object, ...]) -> Document:
    return Document(
        document_id=str(row[0]),
        kind=str(row[1]),
        department=str(row[2]),
        title=str(row[3]),
        subtitle=str(row[4]),
        badge=str(row[5]),
        version=int(str(row[6])),
        sort_key=str(row[7]),
        published_at=datetime.fromisoformat(str(row[8])),
        updated_at=datetime.fromisoformat(str(row[9])),
        withdrawn=bool(row[10]),
        withdrawn_at=None if row[11] is None else datetime.fromisoformat(str(row[11])),
        withdrawn_reason=None if row[12] is None else str(row[12]),
        replaced_by=None if row[13] is None else str(row[13]),
        event=str(row[14]),
    )


def sort_key_of(moment: datetime) -> str:
    """The ``sort_key`` of a document first published at ``moment``: UTC, so that keys of
    any offset compare as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pages_for(entries: int, page_size: int) -> int:
    """How many pages ``entries`` entries fill."""
    return -(-entries // page_size)


class WebsiteState:
    """Queries and changes of the website's tables; every method is one short,
    indexed statement or a few of them (none scans all documents)."""

    def __init__(self, store: Store, *, page_size: int) -> None:
        self.store = store
        self.page_size = page_size
        store.ensure_schema(SCHEMA)

    @property
    def conn(self) -> Connection:
        """The store's connection."""
        return self.store.conn

    # documents -----------------------------------------------------------------

    def document(self, document_id: str, *, with_event: bool = True) -> Document | None:
        """The document, or ``None`` if the website never published it; without its
        event's JSON (a few KB a document) unless ``with_event``."""
        columns = _DOC_COLUMNS if with_event else _LIST_COLUMNS
        row = self.conn.execute(
            f"SELECT {columns} FROM web_documents WHERE document_id=?", (document_id,)
        ).fetchone()
        return None if row is None else _document(row)

    def save(self, conn: Connection, doc: Document) -> None:
        """Insert or replace ``doc`` (inside the caller's transaction)."""
        conn.execute(
            f"INSERT INTO web_documents ({_DOC_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT (document_id) DO UPDATE SET {_REPLACE_DOC}",
            (
                doc.document_id,
                doc.kind,
                doc.department,
                doc.title,
                doc.subtitle,
                doc.badge,
                doc.version,
                doc.sort_key,
                doc.published_at.isoformat(),
                doc.updated_at.isoformat(),
                int(doc.withdrawn),
                None if doc.withdrawn_at is None else doc.withdrawn_at.isoformat(),
                doc.withdrawn_reason,
                doc.replaced_by,
                doc.event,
            ),
        )
        # A policy shown or withdrawn moves in or out of its library group.
        conn.execute(_SET_LIBRARY_KEY, (doc.document_id,))

    def display_dates(self, document_ids: Iterable[str]) -> dict[str, DisplayDates]:
        """The take-down dates of those of ``document_ids`` that are penalty decisions."""
        ids = sorted(set(document_ids))
        if not ids:
            return {}
        rows = self.conn.execute(
            "SELECT document_id, display_until, display_ended_on FROM web_display"
            f" WHERE document_id IN ({','.join('?' * len(ids))})",
            ids,
        )
        return {
            str(row[0]): DisplayDates(
                None if row[1] is None else date.fromisoformat(str(row[1])),
                None if row[2] is None else date.fromisoformat(str(row[2])),
            )
            for row in rows
        }

    def save_display(self, conn: Connection, document_id: str, dates: DisplayDates | None) -> None:
        """Keep (or, with ``None``, forget) a document's take-down dates (in the caller's
        transaction)."""
        if dates is None:
            conn.execute("DELETE FROM web_display WHERE document_id=?", (document_id,))
            return
        conn.execute(
            "INSERT INTO web_display (document_id, display_until, display_ended_on)"
            " VALUES (?, ?, ?) ON CONFLICT (document_id) DO UPDATE SET"
            " display_until=excluded.display_until, display_ended_on=excluded.display_ended_on",
            (
                document_id,
                None if dates.display_until is None else dates.display_until.isoformat(),
                None if dates.display_ended_on is None else dates.display_ended_on.isoformat(),
            ),
        )

    def library_row(self, document_id: str) -> LibraryRow | None:
        """A policy's class, validity and successor, as last recorded."""
        row = self.conn.execute(
            "SELECT document_id, doc_class, validity, year, superseded_by FROM web_library"
            " WHERE document_id=?",
            (document_id,),
        ).fetchone()
        return None if row is None else LibraryRow(*row)

    def count_library(
        self, conn: Connection, row: LibraryRow | None, *, shown: int, slots: int
    ) -> None:
        """Add ``shown`` to the shown documents and ``slots`` to the slots (documents
        withdrawn or not) of ``row``'s class, validity and year (nothing for a document
        the library does not list)."""
        if row is None or not row.listed or (shown == 0 and slots == 0):
            return
        conn.execute(
            "INSERT INTO web_library_groups (doc_class, validity, year, documents, slots)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (doc_class, validity, year)"
            " DO UPDATE SET documents = web_library_groups.documents + excluded.documents,"
            " slots = web_library_groups.slots + excluded.slots",
            (row.doc_class, row.validity, row.year, shown, slots),
        )

    def library_slots(self, conn: Connection, validity: str, year: int) -> int:
        """How many slots the library's pages of ``validity`` and ``year`` hold: its
        listed policies, withdrawn or not."""
        slots = conn.execute(
            "SELECT SUM(slots) FROM web_library_groups WHERE validity=? AND year=?",
            (validity, year),
        ).fetchone()[0]
        return int(slots or 0)

    def library_targets(self, conn: Connection) -> list[str]:
        """Every page of the library (as targets), in every validity and year."""
        rows = conn.execute(
            "SELECT validity, year, SUM(slots) FROM web_library_groups"
            " GROUP BY validity, year ORDER BY validity, year"
        )
        return [
            library_target(str(validity), int(year), page)
            for validity, year, slots in rows
            for page in range(1, pages_for(int(slots or 0), LIBRARY_PAGE_SIZE) + 1)
        ]

    def library_pages(self, conn: Connection, validity: str, year: int) -> int:
        """How many library pages the slots of ``validity`` and ``year`` fill."""
        return pages_for(self.library_slots(conn, validity, year), LIBRARY_PAGE_SIZE)

    def library_place(self, conn: Connection, document_id: str) -> str | None:
        """The library page (as a target) of ``document_id``'s slot, as last numbered:
        ``None`` for a policy without a slot, or one that joined its validity and year
        since the last flush (the renumbering marks its page)."""
        row = _slot_row(conn, document_id)
        if row is None or row[3] is None:
            return None
        return library_target(str(row[0]), int(row[1]), int(row[3]) // LIBRARY_PAGE_SIZE + 1)

    def _slot_group(self, conn: Connection, document_id: str) -> tuple[str, int, str] | None:
        """``(validity, year, library_key)`` of the policy's slot, if it has one."""
        row = _slot_row(conn, document_id)
        if row is None or row[2] is None:
            return None
        return str(row[0]), int(row[1]), str(row[2])

    def renumber_library_from(self, conn: Connection, validity: str, year: int, key: str) -> None:
        """A slot with ``key`` joined or left ``validity`` and ``year``: the slots from it
        on are numbered again at the end of the batch."""
        conn.execute(
            "INSERT INTO web_library_years (validity, year, renumber_from) VALUES (?, ?, ?)"
            " ON CONFLICT (validity, year) DO UPDATE SET renumber_from = CASE"
            " WHEN web_library_years.renumber_from IS NULL"
            " OR excluded.renumber_from < web_library_years.renumber_from"
            " THEN excluded.renumber_from ELSE web_library_years.renumber_from END",
            (validity, year, key),
        )

    def renumber_library(self, conn: Connection) -> None:
        """Number the slots of every validity and year changed since the last flush, and
        mark each page whose slots changed, and the pages that come or go."""
        pending = conn.execute(
            "SELECT validity, year, renumber_from, pages FROM web_library_years"
            " WHERE renumber_from IS NOT NULL ORDER BY validity, year"
        ).fetchall()
        group = "FROM web_library WHERE validity=? AND year=? AND library_key"
        for validity, year, start_key, old_pages in pending:
            before = conn.execute(
                f"SELECT slot {group} < ? ORDER BY library_key DESC LIMIT 1",
                (validity, year, start_key),
            ).fetchone()
            next_slot = 0 if before is None or before[0] is None else int(before[0]) + 1
            rows = conn.execute(
                f"SELECT document_id, slot {group} >= ? ORDER BY library_key",
                (validity, year, start_key),
            ).fetchall()
            pages: set[int] = set()
            updates = []
            for document_id, slot in rows:
                if slot != next_slot:
                    updates.append((next_slot, document_id))
                    pages.add(next_slot // LIBRARY_PAGE_SIZE + 1)
                    if slot is not None:
                        pages.add(int(slot) // LIBRARY_PAGE_SIZE + 1)
                next_slot += 1
            conn.executemany("UPDATE web_library SET slot=? WHERE document_id=?", updates)
            new_pages = self.library_pages(conn, validity, year)
            if new_pages != int(old_pages):
                # The pages that come or go, and the last page that stays: it gains or
                # loses its link to the next.
                low = max(min(new_pages, int(old_pages)), 1)
                pages.update(range(low, max(new_pages, int(old_pages)) + 1))
                self.mark(conn, LIBRARY_TARGET)
            conn.execute(
                "UPDATE web_library_years SET renumber_from=NULL, pages=?"
                " WHERE validity=? AND year=?",
                (new_pages, validity, year),
            )
            self.mark_many(conn, (library_target(validity, year, n) for n in sorted(pages)))

    def save_library(
        self, conn: Connection, row: LibraryRow, *, version: int, occurred_on: date
    ) -> None:
        """Record a policy's class, validity, year and successor, and the day a new
        validity began (a version whose validity differs from the version before it)."""
        left = self._slot_group(conn, row.document_id)
        conn.execute(
            "INSERT INTO web_library (document_id, doc_class, validity, year, superseded_by)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (document_id) DO UPDATE SET"
            " doc_class=excluded.doc_class, validity=excluded.validity, year=excluded.year,"
            " superseded_by=excluded.superseded_by",
            (row.document_id, row.doc_class, row.validity, row.year, row.superseded_by),
        )
        conn.execute(_SET_LIBRARY_KEY, (row.document_id,))
        joined = self._slot_group(conn, row.document_id)
        if left != joined:
            # Its slot leaves one validity and year and joins another (or none).
            conn.execute("UPDATE web_library SET slot=NULL WHERE document_id=?", (row.document_id,))
            for group in (left, joined):
                if group is not None:
                    self.renumber_library_from(conn, *group)
        before = conn.execute(
            "SELECT validity FROM web_validity WHERE document_id=? AND version<?"
            " ORDER BY version DESC LIMIT 1",
            (row.document_id, version),
        ).fetchone()
        if before is None or before[0] != row.validity:
            conn.execute(
                "INSERT INTO web_validity (document_id, version, validity, since)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (document_id, version) DO NOTHING",
                (row.document_id, version, row.validity, occurred_on.isoformat()),
            )

    def forget_library(self, conn: Connection, document_id: str) -> None:
        """Remove a document that is no longer a policy from the library tables."""
        group = self._slot_group(conn, document_id)
        if group is not None:
            self.renumber_library_from(conn, *group)
        conn.execute("DELETE FROM web_library WHERE document_id=?", (document_id,))
        conn.execute("DELETE FROM web_validity WHERE document_id=?", (document_id,))

    def validity_history(self, document_id: str) -> list[tuple[str, date]]:
        """Each validity of a policy and the day it began, oldest first."""
        rows = self.conn.execute(
            "SELECT validity, since FROM web_validity WHERE document_id=? ORDER BY version",
            (document_id,),
        )
        return [(str(v), date.fromisoformat(since)) for v, since in rows]

    def superseded_of(self, document_id: str) -> list[str]:
        """The shown policies whose successor is ``document_id``."""
        # CROSS JOIN: SQLite takes the tables in the order written, so it looks the
        # successor up by its index. With a plain JOIN it read every shown document
        # (web_documents_latest covers withdrawn=0) and looked each up in the library:
        # a scan per call, half of a replay's time at 5,000 documents.
        rows = self.conn.execute(
            "SELECT l.document_id FROM web_library l CROSS JOIN web_documents d"
            " WHERE d.document_id = l.document_id AND l.superseded_by=? AND d.withdrawn=0"
            " ORDER BY l.document_id",
            (document_id,),
        )
        return [str(r[0]) for r in rows]

    def revision_chain(self, document_id: str) -> tuple[list[str], list[str]]:
        """The policies ``document_id`` replaced, oldest first, and those that replaced it
        in turn: the revision chain its page shows (a successor not published yet ends it;
        a withdrawn predecessor is not shown)."""
        later: list[str] = []
        seen = {document_id}
        row = self.library_row(document_id)
        while row is not None and row.superseded_by and row.superseded_by not in seen:
            seen.add(row.superseded_by)
            if self.document(row.superseded_by, with_event=False) is None:
                break
            later.append(row.superseded_by)
            row = self.library_row(row.superseded_by)
        earlier: list[str] = []
        frontier = [document_id]
        while frontier:
            found = [p for d in frontier for p in self.superseded_of(d) if p not in seen]
            seen.update(found)
            earlier = found + earlier
            frontier = found
        return earlier, later

    def library_counts(self) -> list[tuple[str, str, int, int, int]]:
        """``(doc_class, validity, year, documents, slots)`` of the 规章 and
        行政规范性文件: what the library's index counts (the shown documents), and the
        slots (withdrawn ones too) that number its pages."""
        rows = self.conn.execute(
            "SELECT doc_class, validity, year, documents, slots FROM web_library_groups"
            " WHERE slots > 0 ORDER BY doc_class, validity, year"
        )
        return [(str(c), str(v), int(y), int(n), int(k)) for c, v, y, n, k in rows]

    def library_page(self, validity: str, year: int, page: int) -> list[LibraryEntry] | None:
        """The shown 规章 and 行政规范性文件 on one library page, with their successor and
        the day their validity began, in the order of first publication; ``None`` when
        the page does not exist (an existing page may show nothing: every document in
        its slots is withdrawn). Read by slot number, on the library's index."""
        start = (page - 1) * LIBRARY_PAGE_SIZE
        if start >= self.library_slots(self.conn, validity, year):
            return None
        # CROSS JOIN: the page's rows are read from the slot index in order, and only
        # they are looked up.
        rows = self.conn.execute(
            f"SELECT {_LIST_COLUMNS_D}, l.doc_class, l.validity, l.superseded_by,"
            " (SELECT v.since FROM web_validity v WHERE v.document_id = l.document_id"
            "  ORDER BY v.version DESC LIMIT 1)"
            " FROM web_library l CROSS JOIN web_documents d"
            " WHERE d.document_id = l.document_id"
            " AND l.validity=? AND l.year=? AND l.slot BETWEEN ? AND ?"
            " ORDER BY l.slot",
            (validity, year, start, start + LIBRARY_PAGE_SIZE - 1),
        )
        found = []
        for row in rows:
            *columns, doc_class, row_validity, superseded_by, since = row
            doc = _document(tuple(columns))
            if doc.withdrawn:
                continue  # its slot stays, empty
            found.append(
                LibraryEntry(
                    doc,
                    doc_class,
                    row_validity,
                    superseded_by,
                    date.fromisoformat(since) if since else None,
                )
            )
        return found

    def latest(self, limit: int) -> list[Document]:
        """The newest listed documents of every kind."""
        rows = self.conn.execute(
            f"SELECT {_LIST_COLUMNS} FROM web_documents WHERE withdrawn=0"
            " ORDER BY sort_key DESC, document_id DESC LIMIT ?",
            (limit,),
        )
        return [_document(row) for row in rows]

    def newest_shown(
        self, kind: str, departments: Sequence[str] = (), *, until: datetime
    ) -> Document | None:
        """The shown document of ``kind`` (and of one of ``departments``, when given) whose
        first publication is the most recent at or before ``until``: what a visitor sees
        at the top of the column. ``None`` when the column shows nothing."""
        where = "kind=? AND withdrawn=0 AND sort_key<=?"
        params: list[object] = [kind, sort_key_of(until)]
        if departments:
            where += f" AND department IN ({','.join('?' * len(departments))})"
            params.extend(departments)
        row = self.conn.execute(
            f"SELECT {_LIST_COLUMNS} FROM web_documents WHERE {where}"
            " ORDER BY sort_key DESC, document_id DESC LIMIT 1",
            params,
        ).fetchone()
        return None if row is None else _document(row)

    def shown_of_kind(self, kind: str) -> list[Document]:
        """Every shown document of ``kind`` with its last event, oldest first. Reads the
        whole kind: for reports that look into every document, never for rendering."""
        rows = self.conn.execute(
            f"SELECT {_DOC_COLUMNS} FROM web_documents WHERE kind=? AND withdrawn=0"
            " ORDER BY sort_key, document_id",
            (kind,),
        )
        return [_document(row) for row in rows]

    def shown_with_badge(self, kind: str, badge: str) -> list[Document]:
        """Shown documents of ``kind`` whose list badge is ``badge``, with their last event
        (the consultations still open: read from the kind's list, whatever the number of
        documents of other kinds)."""
        # Read through the kind's list (every document is an entry of its kind's list),
        # CROSS JOIN keeping that order: SQLite would otherwise read every shown document
        # of every kind (by the ``withdrawn`` index).
        rows = self.conn.execute(
            f"SELECT {_DOC_COLUMNS_D} FROM web_entries e CROSS JOIN web_documents d"
            " WHERE e.list=? AND d.document_id = e.document_id AND d.kind=? AND d.badge=?"
            " AND d.withdrawn=0 ORDER BY d.sort_key, d.document_id",
            (ListRef.for_kind(kind).key, kind, badge),
        )
        return [_document(row) for row in rows]

    def recently_withdrawn(self, ref: ListRef, limit: int) -> list[Document]:
        """The list's most recent withdrawals, newest first."""
        column, value = ("department", ref.department) if ref.is_department else ("kind", ref.key)
        rows = self.conn.execute(
            f"SELECT {_LIST_COLUMNS} FROM web_documents WHERE withdrawn=1 AND {column}=?"
            " ORDER BY withdrawn_at DESC, document_id LIMIT ?",
            (value, limit),
        )
        return [_document(row) for row in rows]

    # lists ----------------------------------------------------------------------

    def list_info(self, ref: ListRef) -> ListInfo:
        """Counters of ``ref`` (zeros for a list that never had an entry)."""
        row = self.conn.execute(
            "SELECT entries, listed, pages FROM web_lists WHERE list=?", (ref.key,)
        ).fetchone()
        if row is None:
            return ListInfo(ref, 0, 0, 0)
        return ListInfo(ref, int(row[0]), int(row[1]), int(row[2]))

    def department_lists(self) -> list[ListInfo]:
        """Every department list that shows at least one document (a few dozen rows)."""
        rows = self.conn.execute(
            "SELECT list, entries, listed, pages FROM web_lists"
            " WHERE list >= 'dept/' AND list < 'dept0' AND listed > 0 ORDER BY list"
        )
        return [ListInfo(ListRef(str(r[0])), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def newest_in(self, ref: ListRef, limit: int, offset: int = 0) -> list[Document]:
        """The list's newest shown documents."""
        rows = self.conn.execute(
            f"SELECT {_LIST_COLUMNS_D} FROM web_entries e"
            " JOIN web_documents d ON d.document_id = e.document_id"
            " WHERE e.list=? AND d.withdrawn=0"
            " ORDER BY e.sort_key DESC, e.document_id DESC LIMIT ? OFFSET ?",
            (ref.key, limit, offset),
        )
        return [_document(row) for row in rows]

    def position_of_newest(self, ref: ListRef, offset: int) -> int | None:
        """Position of the ``offset``-th newest shown document (0 = the newest)."""
        row = self.conn.execute(
            "SELECT e.position FROM web_entries e"
            " JOIN web_documents d ON d.document_id = e.document_id"
            " WHERE e.list=? AND d.withdrawn=0"
            " ORDER BY e.sort_key DESC, e.document_id DESC LIMIT 1 OFFSET ?",
            (ref.key, offset),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def slice(self, ref: ListRef, first: int, last: int) -> list[Document]:
        """Documents at positions ``first..last`` of ``ref`` (withdrawn too), newest first."""
        rows = self.conn.execute(
            f"SELECT {_LIST_COLUMNS_D} FROM web_entries e"
            " JOIN web_documents d ON d.document_id = e.document_id"
            " WHERE e.list=? AND e.position BETWEEN ? AND ? ORDER BY e.position DESC",
            (ref.key, first, last),
        )
        return [_document(row) for row in rows]

    def sitemap_entries(
        self, ref: ListRef, first: int, last: int
    ) -> list[tuple[str, str, datetime]]:
        """``(kind, document_id, updated_at)`` of the shown documents at positions
        ``first..last`` of ``ref``, newest first: all a sitemap needs, without building
        whole documents (a sitemap file covers many pages)."""
        rows = self.conn.execute(
            "SELECT d.kind, d.document_id, d.updated_at FROM web_entries e"
            " JOIN web_documents d ON d.document_id = e.document_id"
            " WHERE e.list=? AND e.position BETWEEN ? AND ? AND d.withdrawn=0"
            " ORDER BY e.position DESC",
            (ref.key, first, last),
        )
        return [(str(k), str(i), datetime.fromisoformat(str(u))) for k, i, u in rows]

    def page(self, ref: ListRef, number: int) -> tuple[list[Document], list[Document]]:
        """``(shown, withdrawn)`` documents of page ``number``, newest first."""
        first = (number - 1) * self.page_size
        docs = self.slice(ref, first, first + self.page_size - 1)
        return [d for d in docs if not d.withdrawn], [d for d in docs if d.withdrawn]

    def position(self, ref: ListRef, doc: Document) -> int | None:
        """The document's position in ``ref`` (``None`` until numbered)."""
        row = self.conn.execute(
            "SELECT position FROM web_entries WHERE list=? AND sort_key=? AND document_id=?",
            (ref.key, doc.sort_key, doc.document_id),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def page_of(self, position: int) -> int:
        """The page a position is on (1-based)."""
        return position // self.page_size + 1

    def add_entry(self, conn: Connection, ref: ListRef, doc: Document) -> None:
        """Make ``doc`` an entry of ``ref``; it is numbered at the next flush."""
        conn.execute(
            "INSERT INTO web_entries (list, sort_key, document_id, position)"
            " VALUES (?, ?, ?, NULL) ON CONFLICT DO NOTHING",
            (ref.key, doc.sort_key, doc.document_id),
        )
        conn.execute(
            "INSERT INTO web_lists (list, entries, listed, renumber_from) VALUES (?, 1, ?, ?)"
            " ON CONFLICT (list) DO UPDATE SET entries = web_lists.entries + 1,"
            " listed = web_lists.listed + excluded.listed,"
            " renumber_from = CASE WHEN web_lists.renumber_from IS NULL"
            " OR excluded.renumber_from < web_lists.renumber_from"
            " THEN excluded.renumber_from ELSE web_lists.renumber_from END",
            (ref.key, int(not doc.withdrawn), doc.sort_key),
        )

    def remove_entry(self, conn: Connection, ref: ListRef, doc: Document) -> None:
        """Take ``doc`` out of ``ref``: the page it was on and those after it change."""
        position = self.position(ref, doc)
        conn.execute(
            "DELETE FROM web_entries WHERE list=? AND sort_key=? AND document_id=?",
            (ref.key, doc.sort_key, doc.document_id),
        )
        conn.execute(
            "UPDATE web_lists SET entries = entries - 1, listed = listed - ?,"
            " renumber_from = CASE WHEN renumber_from IS NULL OR ? < renumber_from"
            " THEN ? ELSE renumber_from END WHERE list=?",
            (int(not doc.withdrawn), doc.sort_key, doc.sort_key, ref.key),
        )
        if position is not None:
            self.mark(conn, page_target(ref, self.page_of(position)))

    def count_listed(self, conn: Connection, ref: ListRef, delta: int) -> None:
        """Adjust the number of shown documents of ``ref`` (withdrawal, republication)."""
        conn.execute("UPDATE web_lists SET listed = listed + ? WHERE list=?", (delta, ref.key))

    def renumber(self, conn: Connection) -> list[tuple[ListRef, int, int]]:
        """Number the entries of every list changed since the last flush.

        Marks each page whose entries changed; returns ``(list, old pages, new pages)``
        for each list renumbered.
        """
        changed = []
        pending = conn.execute(
            "SELECT list, renumber_from, entries, pages FROM web_lists"
            " WHERE renumber_from IS NOT NULL ORDER BY list"
        ).fetchall()
        for key, start_key, entries, old_pages in pending:
            ref = ListRef(str(key))
            before = conn.execute(
                "SELECT position FROM web_entries WHERE list=? AND sort_key < ?"
                " ORDER BY sort_key DESC, document_id DESC LIMIT 1",
                (ref.key, start_key),
            ).fetchone()
            next_position = 0 if before is None else int(before[0]) + 1
            rows = conn.execute(
                "SELECT sort_key, document_id, position FROM web_entries"
                " WHERE list=? AND sort_key >= ? ORDER BY sort_key, document_id",
                (ref.key, start_key),
            ).fetchall()
            pages: set[int] = set()
            updates = []
            for sort_key, document_id, position in rows:
                if position != next_position:
                    updates.append((next_position, ref.key, sort_key, document_id))
                    pages.add(self.page_of(next_position))
                    if position is not None:
                        pages.add(self.page_of(int(position)))
                next_position += 1
            conn.executemany(
                "UPDATE web_entries SET position=? WHERE list=? AND sort_key=? AND document_id=?",
                updates,
            )
            new_pages = pages_for(int(entries), self.page_size)
            old_pages = int(old_pages)
            if new_pages != old_pages:
                # Pages link to their neighbours, and pages that no longer exist are
                # removed: both change only near the end.
                low = max(1, min(old_pages, new_pages) - NEIGHBOURS)
                pages.update(range(low, max(old_pages, new_pages) + 1))
            conn.execute(
                "UPDATE web_lists SET renumber_from=NULL, pages=? WHERE list=?",
                (new_pages, ref.key),
            )
            self.mark_many(conn, (page_target(ref, n) for n in sorted(pages)))
            changed.append((ref, old_pages, new_pages))
        return changed

    # pending outputs --------------------------------------------------------------

    def mark(self, conn: Connection, target: str) -> None:
        """Remember that ``target`` must be rendered at the next flush."""
        conn.execute(_MARK, (target,))

    def mark_many(self, conn: Connection, targets: Iterable[str]) -> None:
        """:meth:`mark` for several targets."""
        conn.executemany(_MARK, ((t,) for t in targets))

    def pending(self) -> dict[str, int]:
        """Every target still to render, in a stable order, with the version of its mark."""
        rows = self.conn.execute("SELECT target, version FROM web_pending ORDER BY target")
        return {str(target): int(version) for target, version in rows}

    def done(self, conn: Connection, rendered: Mapping[str, int]) -> None:
        """Forget targets rendered at the version read by :meth:`pending`; one marked again
        since then stays pending."""
        conn.executemany("DELETE FROM web_pending WHERE target=? AND version=?", rendered.items())


_MARK = (
    "INSERT INTO web_pending (target, version) VALUES (?, 0)"
    " ON CONFLICT (target) DO UPDATE SET version = web_pending.version + 1"
)

# Targets are short strings so that they can be kept in one indexed column.
# "|" never occurs in a document id, a department code or a list key.


def doc_target(document_id: str) -> str:
    """The page of a document."""
    return f"doc|{document_id}"


def index_target(ref: ListRef) -> str:
    """A list's index (HTML and JSON)."""
    return f"index|{ref.key}"


def page_target(ref: ListRef, number: int) -> str:
    """Page ``number`` of a list (HTML and JSON; removed if the list is shorter)."""
    return f"page|{ref.key}|{number}"


def sitemap_target(ref: ListRef, chunk: int) -> str:
    """One sitemap file of a kind list."""
    return f"sitemap|{ref.key}|{chunk}"


def delete_target(path: str) -> str:
    """A file that is no longer part of the site."""
    return f"delete|{path}"


def _slot_row(conn: Connection, document_id: str) -> tuple[Any, ...] | None:
    """``(validity, year, library_key, slot)`` of a policy in the library, if it is."""
    row = conn.execute(
        "SELECT validity, year, library_key, slot FROM web_library WHERE document_id=?",
        (document_id,),
    ).fetchone()
    return None if row is None else tuple(row)


def library_target(validity: str, year: int, page: int) -> str:
    """Library page ``page`` of ``validity`` and ``year``."""
    return f"library|{validity}|{year}|{page}"


HOME_TARGET = "home"
LIBRARY_TARGET = "library"
"""The library's index (counts, and the list of its pages)."""
SECTIONS_TARGET = "sections"
SITEMAP_INDEX_TARGET = "sitemap-index"
ASSETS_TARGET = "assets"
"""The stylesheet: written by the first flush of every process (it may have changed)."""


def parse_target(target: str) -> tuple[str, ...]:
    """Split a target into its kind and arguments."""
    return tuple(target.split("|"))
