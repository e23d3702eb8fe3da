"""The website has one writer at a time, and its list of outputs to render never loses
a mark: two processes on one state store (SQLite, then PostgreSQL)."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from channels.website import state as website_state
from channels.website.state import HOME_TARGET, WebsiteState
from channels.website.state import SCHEMA as WEBSITE
from consumers.lease import Lease
from govpub.errors import LeaseLost
from govpub.settings import Settings
from govpub.store import Connection, Schema, Store
from tests import factories
from tests.website_support import Site, at


@pytest.fixture
def two_states(store_location: str) -> Iterator[tuple[WebsiteState, WebsiteState]]:
    with Store(store_location) as first, Store(store_location) as second:
        yield WebsiteState(first, page_size=20), WebsiteState(second, page_size=20)


def test_a_mark_made_while_another_process_renders_is_kept(
    two_states: tuple[WebsiteState, WebsiteState],
) -> None:
    """The lost update of issue 21: process A reads what to render, process B applies a
    document (marking the home page, already pending), A finishes and forgets what it
    rendered. B's mark must survive: A rendered the home page without B's document."""
    a, b = two_states
    with a.store.transaction() as conn:
        a.mark(conn, HOME_TARGET)
    rendering = a.pending()  # A starts its flush
    with b.store.transaction() as conn:
        b.mark(conn, HOME_TARGET)  # B's document touches the home page too
    with a.store.transaction() as conn:
        a.done(conn, rendering)  # A is done with what it read
    assert HOME_TARGET in b.pending()  # the next flush renders B's document
    with b.store.transaction() as conn:
        b.done(conn, b.pending())
    assert b.pending() == {}


def test_marks_of_one_flush_are_forgotten_once_rendered(
    two_states: tuple[WebsiteState, WebsiteState],
) -> None:
    a, _ = two_states
    with a.store.transaction() as conn:
        a.mark_many(conn, ["home", "index|policy", "home"])
    pending = a.pending()
    assert list(pending) == ["home", "index|policy"]
    with a.store.transaction() as conn:
        a.done(conn, pending)
    assert a.pending() == {}


def _ids(site: Site, path: str) -> list[str]:
    return [item["id"] for item in json.loads(site.text(path))["items"]]


def test_a_second_writer_without_the_lease_commits_nothing(
    make_settings: Callable[..., Settings], store_location: str, tmp_path: Path
) -> None:
    """Two website channels on one store and one output tree: only the lease holder's
    batches are committed and rendered; the other's batch is undone (its events are
    delivered again, to whoever holds the lease then)."""
    settings = make_settings(store=store_location, output_dir=tmp_path / "site")
    first, second = Site(settings), Site(settings)
    try:
        holder = Lease(first.store, "channel:website", ttl=30, holder="first")
        standby = Lease(second.store, "channel:website", ttl=30, holder="second")
        first.channel.hold(holder)
        second.channel.hold(standby)
        assert holder.acquire()
        first.publish(at(factories.penalty("pen-1"), "2023-05-01T10:00:00+08:00"))
        with pytest.raises(LeaseLost, match="first"):
            second.apply(at(factories.penalty("pen-2"), "2023-05-02T10:00:00+08:00"))
        assert not second.exists("penalty/pen-2.html")
        assert second.channel.state.document("pen-2") is None  # undone, not half-written
        first.publish(at(factories.penalty("pen-3"), "2023-05-03T10:00:00+08:00"))
        assert _ids(first, "api/penalty.json") == ["pen-3", "pen-1"]
        holder.release()
        assert standby.acquire()
        second.publish(at(factories.penalty("pen-2"), "2023-05-02T10:00:00+08:00"))
        assert _ids(second, "api/penalty.json") == ["pen-3", "pen-2", "pen-1"]
        assert second.channel.state.pending() == {}
        with pytest.raises(LeaseLost):  # the old holder finds out before it writes
            first.publish(at(factories.penalty("pen-4"), "2023-05-04T10:00:00+08:00"))
    finally:
        first.close()
        second.close()


def test_a_store_from_before_versioned_marks_is_migrated_with_its_marks(
    store_location: str,
) -> None:
    """Version 3 of the website's schema adds the version of each mark: a store at
    version 2 (before issue 21) keeps what it had pending, and its marks count from there."""
    before = Schema("website", *WEBSITE.migrations[:2])
    with Store(store_location) as store:
        store.ensure_schema(before)
        with store.transaction() as conn:
            conn.execute("INSERT INTO web_pending (target) VALUES (?)", (HOME_TARGET,))
    with Store(store_location) as store:
        state = WebsiteState(store, page_size=20)
        assert store.schema_versions()["website"] == WEBSITE.version == 9
        assert state.pending() == {HOME_TARGET: 0}
        with store.transaction() as conn:
            state.mark(conn, HOME_TARGET)
        assert state.pending() == {HOME_TARGET: 1}


def test_a_store_at_version_3_gains_the_library_and_keeps_its_marks(
    store_location: str,
) -> None:
    """Version 4 adds the library's tables (issue 22) to a store at version 3 (issue 21's
    versioned marks, what deployments have): its pending marks and their versions stay,
    and the library starts empty, filled as policies come."""
    before = Schema("website", *WEBSITE.migrations[:3])
    with Store(store_location) as store:
        store.ensure_schema(before)
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO web_pending (target, version) VALUES (?, ?)", (HOME_TARGET, 7)
            )
    with Store(store_location) as store:
        state = WebsiteState(store, page_size=20)
        assert store.schema_versions()["website"] == WEBSITE.version == 9
        assert state.pending() == {HOME_TARGET: 7}
        assert state.library_counts() == []
        assert state.library_row("pol-1") is None


def _insert_policy_document(
    conn: Connection, document_id: str, published: str, *, withdrawn: int = 0
) -> None:
    """A policy's row in ``web_documents`` as an older version of the schema left it,
    first published at ``published`` (a ``sort_key``)."""
    conn.execute(
        "INSERT INTO web_documents (document_id, kind, department, title, subtitle,"
        " badge, version, sort_key, published_at, updated_at, withdrawn, event)"
        " VALUES (?, 'policy', 'zz-zfb', ?, '', '', 1, ?, ?, ?, ?, '{}')",
        (
            document_id,
            document_id,
            published,
            published[:19] + "+00:00",
            published[:19] + "+00:00",
            withdrawn,
        ),
    )


def test_a_store_at_version_4_keeps_its_library_counts_and_orders_by_publication(
    store_location: str,
) -> None:
    """Version 5 ranks the library by first publication instead of by arrival: the counts
    a store at version 4 kept per page become counts per class, validity and year, and its
    pages list the documents in their new order."""
    before = Schema("website", *WEBSITE.migrations[:4])
    with Store(store_location) as store:
        store.ensure_schema(before)
        with store.transaction() as conn:
            for n, (document_id, published) in enumerate(
                [
                    ("gf-late", "2023-06-01T00:00:00.000000Z"),
                    ("gf-early", "2023-02-01T00:00:00.000000Z"),
                ]
            ):
                _insert_policy_document(conn, document_id, published)
                conn.execute(
                    "INSERT INTO web_library (document_id, doc_class, validity, year, seq)"
                    " VALUES (?, '行政规范性文件', '现行有效', 2023, ?)",
                    (document_id, 99 + n),  # the first on page 1, the second on page 2
                )
            conn.execute(
                "INSERT INTO web_library_counts (doc_class, validity, year, page, documents)"
                " VALUES ('行政规范性文件', '现行有效', 2023, 1, 1),"
                " ('行政规范性文件', '现行有效', 2023, 2, 1)"
            )
    with Store(store_location) as store:
        state = WebsiteState(store, page_size=20)
        assert store.schema_versions()["website"] == WEBSITE.version == 9
        assert state.library_counts() == [("行政规范性文件", "现行有效", 2023, 2, 2)]
        page = state.library_page("现行有效", 2023, 1)
        assert page is not None
        assert [e.doc.document_id for e in page] == ["gf-early", "gf-late"]
        assert state.library_page("现行有效", 2023, 2) is None


def test_a_store_at_version_5_gains_the_library_keys(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 6 keeps each listed, shown policy's place in an index, version 7 each
    withdrawn one's too (its slot), and version 8 numbers the slots: a store at version 5
    gets all three for the policies it has, other classes left out, so its pages list
    what they did."""
    before = Schema("website", *WEBSITE.migrations[:5])
    rows = [
        # (document_id, first published, withdrawn, class)
        ("gf-c", "2023-03-01T00:00:00.000000Z", 0, "行政规范性文件"),
        ("gf-a", "2023-01-01T00:00:00.000000Z", 0, "规章"),
        ("gf-gone", "2023-02-01T00:00:00.000000Z", 1, "行政规范性文件"),
        ("gf-other", "2023-02-15T00:00:00.000000Z", 0, "其他文件"),
        ("gf-b", "2023-02-01T00:00:00.000000Z", 0, "行政规范性文件"),
    ]
    with Store(store_location) as store:
        store.ensure_schema(before)
        with store.transaction() as conn:
            for document_id, published, withdrawn, doc_class in rows:
                _insert_policy_document(conn, document_id, published, withdrawn=withdrawn)
                conn.execute(
                    "INSERT INTO web_library (document_id, doc_class, validity, year)"
                    " VALUES (?, ?, '现行有效', 2023)",
                    (document_id, doc_class),
                )
            conn.execute(
                "INSERT INTO web_library_groups (doc_class, validity, year, documents)"
                " VALUES ('规章', '现行有效', 2023, 1), ('行政规范性文件', '现行有效', 2023, 2)"
            )
    with Store(store_location) as store:
        state = WebsiteState(store, page_size=20)
        assert store.schema_versions()["website"] == WEBSITE.version == 9
        page = state.library_page("现行有效", 2023, 1)
        assert page is not None
        assert [e.doc.document_id for e in page] == ["gf-a", "gf-b", "gf-c"]
        monkeypatch.setattr(website_state, "LIBRARY_PAGE_SIZE", 1)  # a page per document
        with store.transaction() as conn:
            places = {
                document_id: state.library_place(conn, document_id) for document_id, *_ in rows
            }
        # A withdrawn document keeps its slot; other classes have none.
        assert places == {
            "gf-a": website_state.library_target("现行有效", 2023, 1),
            "gf-b": website_state.library_target("现行有效", 2023, 2),
            "gf-gone": website_state.library_target("现行有效", 2023, 3),
            "gf-c": website_state.library_target("现行有效", 2023, 4),
            "gf-other": None,
        }
        pages = [state.library_page("现行有效", 2023, n) for n in (1, 2, 3, 4, 5)]
        assert [None if p is None else [e.doc.document_id for e in p] for p in pages] == [
            ["gf-a"],
            ["gf-b"],
            [],  # gf-gone's slot
            ["gf-c"],
            None,
        ]


def test_a_store_at_version_6_gives_withdrawn_policies_their_slots(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 7: a store at version 6 had no key for a withdrawn policy and counted only
    shown ones; it gets the key and counts its slots, so a withdrawal changes one page."""
    before = Schema("website", *WEBSITE.migrations[:6])
    with Store(store_location) as store:
        store.ensure_schema(before)
        with store.transaction() as conn:
            for document_id, published, withdrawn in (
                ("gf-a", "2023-01-01T00:00:00.000000Z", 0),
                ("gf-gone", "2023-02-01T00:00:00.000000Z", 1),
                ("gf-c", "2023-03-01T00:00:00.000000Z", 0),
            ):
                _insert_policy_document(conn, document_id, published, withdrawn=withdrawn)
                key = None if withdrawn else f"{published} {document_id}"
                conn.execute(
                    "INSERT INTO web_library (document_id, doc_class, validity, year, library_key)"
                    " VALUES (?, '行政规范性文件', '现行有效', 2023, ?)",
                    (document_id, key),
                )
            conn.execute(
                "INSERT INTO web_library_groups (doc_class, validity, year, documents)"
                " VALUES ('行政规范性文件', '现行有效', 2023, 2)"
            )
    monkeypatch.setattr(website_state, "LIBRARY_PAGE_SIZE", 1)  # a page per document
    with Store(store_location) as store:
        state = WebsiteState(store, page_size=20)
        assert store.schema_versions()["website"] == WEBSITE.version == 9
        assert state.library_counts() == [("行政规范性文件", "现行有效", 2023, 2, 3)]
        pages = [state.library_page("现行有效", 2023, n) for n in (1, 2, 3, 4)]
        assert [None if p is None else [e.doc.document_id for e in p] for p in pages] == [
            ["gf-a"],
            [],
            ["gf-c"],
            None,
        ]


def test_a_store_at_version_8_renders_every_library_page_again(store_location: str) -> None:
    """Version 9: library pages link the previous and the next page, and the index a
    year's ends; every page a store at version 8 rendered, and the index, are marked, to be
    rendered again at the next flush (pages already pending keep their mark)."""
    before = Schema("website", *WEBSITE.migrations[:8])
    with Store(store_location) as store:
        store.ensure_schema(before)
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO web_library_years (validity, year, pages) VALUES"
                " ('现行有效', 2023, 3), ('已废止', 2021, 1), ('已失效', 2020, 0)"
            )
            conn.execute(
                "INSERT INTO web_pending (target, version) VALUES ('library|现行有效|2023|2', 4)"
            )
    with Store(store_location) as store:
        state = WebsiteState(store, page_size=20)
        assert store.schema_versions()["website"] == WEBSITE.version == 9
        assert state.pending() == {
            "library": 0,
            "library|已废止|2021|1": 0,
            "library|现行有效|2023|1": 0,
            "library|现行有效|2023|2": 4,
            "library|现行有效|2023|3": 0,
        }


def test_a_batch_that_takes_longer_than_the_lease_still_commits(
    make_settings: Callable[..., Settings], store_location: str, tmp_path: Path
) -> None:
    """Applying a large batch on a busy machine can outlast the lease (15 s by default):
    the holder renews it as it applies, so the commit is not refused and the batch is not
    retried for ever."""
    now = [1_000_000.0]
    settings = make_settings(store=store_location, output_dir=tmp_path / "site")
    site = Site(settings)
    try:
        lease = Lease(site.store, "channel:website", ttl=15, holder="busy", clock=lambda: now[0])
        site.channel.hold(lease)
        assert lease.acquire()
        for n in range(6):
            site.apply(at(factories.penalty(f"pen-{n}"), f"2023-05-0{n + 1}T10:00:00+08:00"))
            now[0] += 4.0  # 24 s for the batch: longer than the lease
        site.channel.flush()
        assert _ids(site, "api/penalty.json") == [f"pen-{n}" for n in reversed(range(6))]
        holder = lease.current()
        assert holder is not None
        assert holder.holder == "busy"
        assert holder.expires_at > now[0]
    finally:
        site.close()
