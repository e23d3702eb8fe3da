"""Incremental rendering: what an event touches, pagination, updates, withdrawals,
the JSON index and the sitemaps."""

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from govpub.deliveries import DeliveryState
from govpub.errors import EventValidationError, PermanentDeliveryError
from govpub.settings import Settings
from schemas import parse_event
from tests import factories
from tests.website_support import (
    Site,
    at,
    campaign,
    changed,
    digests,
    exposure_batch,
    in_department,
    meeting,
    numbered,
    sitemap_locations,
    tree,
)

PAGE = 3


@pytest.fixture
def make_site(
    make_settings: Callable[..., Settings], tmp_path: Path, fresh_store: Callable[[str], str]
) -> Iterator[Callable[..., Site]]:
    sites: list[Site] = []

    def build(name: str = "site", page_size: int = PAGE) -> Site:
        settings = make_settings(
            store=fresh_store(name),
            output_dir=tmp_path / name,
            site_url="https://www.zhuzhou.gov.cn/",
        )
        site = Site(settings, page_size=page_size)
        sites.append(site)
        return site

    yield build
    for site in sites:
        site.close()


def titles_in(site: Site, path: str) -> list[str]:
    return [item["id"] for item in json.loads(site.text(path))["items"]]


def test_a_new_document_touches_only_its_page_and_the_lists_it_is_on(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    site.publish(*numbered("pen", 10), factories.policy("p1"))
    before = digests(site.root)
    site.publish(at(factories.penalty("pen-new"), "2023-12-01T10:00:00+08:00"))
    # 10 entries on pages of 3: the new one is the 11th, on page 4 (of kind and department).
    assert changed(before, digests(site.root)) == {
        "penalty/pen-new.html",
        "penalty/index.html",
        "penalty/page/4.html",
        "api/penalty.json",
        "api/penalty/page/4.json",
        "dept/zz-yjj/index.html",
        "dept/zz-yjj/page/4.html",
        "api/dept/zz-yjj.json",
        "api/dept/zz-yjj/page/4.json",
        "sitemaps/penalty-1.xml",
        "index.html",
    }


def test_a_new_page_relinks_its_neighbours_only(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(*numbered("pen", 9))  # exactly 3 full pages
    before = digests(site.root)
    site.publish(at(factories.penalty("pen-new"), "2023-12-01T10:00:00+08:00"))
    touched = changed(before, digests(site.root))
    assert "penalty/page/4.html" in touched  # created
    assert {"penalty/page/2.html", "penalty/page/3.html"} <= touched  # link to page 4 now
    assert "penalty/page/1.html" not in touched
    page3 = site.text("penalty/page/3.html")
    assert 'href="4.html">第 4 页</a>' in page3
    assert 'rel="prev" href="4.html">较新的信息' in page3


def test_pages_are_numbered_from_the_oldest(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(*numbered("pen", 7))
    assert titles_in(site, "api/penalty/page/1.json") == ["pen-003", "pen-002", "pen-001"]
    assert titles_in(site, "api/penalty/page/2.json") == ["pen-006", "pen-005", "pen-004"]
    assert titles_in(site, "api/penalty/page/3.json") == ["pen-007"]
    assert not site.exists("penalty/page/4.html")
    # The index shows the newest page-full and points at where older ones continue.
    assert titles_in(site, "api/penalty.json") == ["pen-007", "pen-006", "pen-005"]
    index = site.text("penalty/index.html")
    assert 'href="page/2.html">更早的信息（第 2 页）</a>' in index
    assert "共 7 条信息" in index
    page1 = site.text("penalty/page/1.html")
    assert "更早的信息" not in page1  # nothing older
    assert 'rel="prev" href="2.html">较新的信息' in page1
    page3 = site.text("penalty/page/3.html")
    assert 'rel="prev" href="../index.html">较新的信息' in page3  # the last page leads home


@pytest.mark.parametrize("count", [1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 2 * PAGE + 1])
def test_page_boundaries(make_site: Callable[..., Site], count: int) -> None:
    site = make_site()
    site.publish(*numbered("pen", count))
    pages = -(-count // PAGE)
    for n in range(1, pages + 1):
        ids = titles_in(site, f"api/penalty/page/{n}.json")
        expected = [f"pen-{i:03d}" for i in range(min(n * PAGE, count), (n - 1) * PAGE, -1)]
        assert ids == expected
    assert not site.exists(f"penalty/page/{pages + 1}.html")
    head = json.loads(site.text("api/penalty.json"))
    assert head["pages"] == pages
    assert head["total"] == count
    assert head["last_page"] == f"https://www.zhuzhou.gov.cn/api/penalty/page/{pages}.json"


def test_an_older_document_arriving_late_takes_its_place_by_date(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    events = list(numbered("pen", 6))
    site.publish(*events[1:])
    site.publish(events[0])  # the oldest arrives last
    assert titles_in(site, "api/penalty/page/1.json") == ["pen-003", "pen-002", "pen-001"]
    assert titles_in(site, "api/penalty/page/2.json") == ["pen-006", "pen-005", "pen-004"]


def test_update_rerenders_in_place_with_the_update_date(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(*numbered("pen", 4))
    first = factories.penalty("doc", title="原标题")
    site.publish(at(first, "2023-05-10T10:00:00+08:00"))
    before = digests(site.root)
    update = factories.penalty("doc", 2, title="更正后的标题", facts="更正后的事实。")
    site.publish(at(update, "2023-06-20T09:00:00+08:00"))
    html = site.text("penalty/doc.html")
    assert "更正后的标题" in html
    assert "更正后的事实。" in html
    assert "原标题" not in html
    assert '<dt>更新日期</dt><dd class="updated"><time datetime="2023-06-20">' in html
    assert '<dt>发布日期</dt><dd><time datetime="2023-05-10">' in html
    # Same URL, same place (page 2: it is the fifth by first publication), nothing else.
    assert changed(before, digests(site.root)) == {
        "penalty/doc.html",
        "penalty/index.html",
        "penalty/page/2.html",
        "api/penalty.json",
        "api/penalty/page/2.json",
        "dept/zz-yjj/index.html",
        "dept/zz-yjj/page/2.html",
        "api/dept/zz-yjj.json",
        "api/dept/zz-yjj/page/2.json",
        "sitemaps/penalty-1.xml",
        "index.html",
    }
    index = site.text("penalty/index.html")
    assert "更正后的标题" in index
    assert "更新 <time" in index


def test_withdrawal_replaces_the_page_and_leaves_the_indexes(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    site.publish(*numbered("pen", 7))
    before = digests(site.root)
    retraction = at(
        factories.retract("penalty", "pen-002", 2, reason="经行政复议被依法撤销"),
        "2023-08-03T15:00:00+08:00",
    )
    [outcome] = site.publish(retraction)
    assert outcome is None
    html = site.text("penalty/pen-002.html")
    assert "【已撤回】处罚决定 pen 第002号" in html
    assert '该信息已于 <time datetime="2023-08-03">2023-08-03</time> 撤回。' in html
    assert "经行政复议被依法撤销" in html
    assert "未按规定" not in html  # the decision's text is gone
    for path in (
        "penalty/index.html",
        "penalty/page/1.html",
        "dept/zz-yjj/page/1.html",
        "index.html",
    ):
        assert "pen-002.html" not in site.text(path), path
    # The withdrawn document keeps its slot: later pages do not move.
    touched = changed(before, digests(site.root))
    assert "penalty/page/2.html" not in touched
    assert "penalty/page/3.html" not in touched
    assert titles_in(site, "api/penalty/page/1.json") == ["pen-003", "pen-001"]
    page = json.loads(site.text("api/penalty/page/1.json"))
    assert page["withdrawn"] == [
        {
            "id": "pen-002",
            "kind": "penalty",
            "title": "处罚决定 pen 第002号",
            "url": "https://www.zhuzhou.gov.cn/penalty/pen-002.html",
            "withdrawn_at": "2023-08-03T15:00:00+08:00",
            "reason": "经行政复议被依法撤销",
            "department": "zz-yjj",
        }
    ]
    head = json.loads(site.text("api/penalty.json"))
    assert head["total"] == 6
    assert [w["id"] for w in head["withdrawn"]] == ["pen-002"]
    assert "共 6 条信息" in site.text("penalty/index.html")
    assert "https://www.zhuzhou.gov.cn/penalty/pen-002.html" not in site.text(
        "sitemaps/penalty-1.xml"
    )


def test_withdrawal_with_a_replacement_links_to_it(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(factories.policy("p1"))
    retraction = factories.retract("policy", "p1", 2, department="zz-zfb")
    retraction["payload"]["replaced_by"] = "p2"
    site.publish(retraction)
    assert 'href="p2.html">替代的信息</a>' in site.text("policy/p1.html")


def test_republication_after_withdrawal(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(*numbered("pen", 4))
    site.publish(factories.retract("penalty", "pen-002", 2))
    site.publish(at(factories.penalty("pen-002", 3, title="重新公开"), "2023-09-01T10:00:00+08:00"))
    assert "重新公开" in site.text("penalty/pen-002.html")
    assert "撤回" not in site.text("penalty/pen-002.html")
    assert titles_in(site, "api/penalty/page/1.json") == ["pen-003", "pen-002", "pen-001"]
    assert json.loads(site.text("api/penalty.json"))["total"] == 4


def test_retraction_of_an_unknown_document(make_site: Callable[..., Site]) -> None:
    site = make_site()
    [outcome] = site.publish(factories.retract("penalty", "never", 2))
    assert outcome is not None
    assert outcome.state is DeliveryState.RETRACTED
    assert not site.exists("penalty/never.html")


def test_moving_to_another_department_shrinks_the_old_list(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(*numbered("pen", 4))
    assert site.exists("dept/zz-yjj/page/2.html")
    moved = in_department(factories.penalty("pen-004", 2), "zz-scjgj")
    site.publish(at(moved, "2023-09-01T10:00:00+08:00"))
    assert not site.exists("dept/zz-yjj/page/2.html")
    assert not site.exists("api/dept/zz-yjj/page/2.json")
    assert titles_in(site, "api/dept/zz-scjgj.json") == ["pen-004"]
    assert "pen-004" not in titles_in(site, "api/dept/zz-yjj.json")
    assert titles_in(site, "api/penalty/page/2.json") == ["pen-004"]


def test_reserved_document_id_is_refused(make_site: Callable[..., Site]) -> None:
    """The schema refuses the id up front; an event built without validation is refused
    by the website too."""
    with pytest.raises(EventValidationError, match="'index' is reserved"):
        parse_event(factories.penalty("index"))
    site = make_site()
    event = parse_event(factories.penalty("pen-1"))
    with pytest.raises(PermanentDeliveryError, match="reserved"):
        site.channel.apply(event.model_copy(update={"document_id": "Index"}))


def test_every_kind_has_an_index_from_the_start(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(factories.penalty("pen-1"))
    for kind in ("policy", "penalty", "exposure", "meeting", "campaign"):
        assert site.exists(f"{kind}/index.html")
        assert site.exists(f"api/{kind}.json")
    assert "暂无信息" in site.text("meeting/index.html")


def test_api_index_fields(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(at(meeting("m-1"), "2023-06-16T18:00:00+08:00"))
    data = json.loads(site.text("api/meeting.json"))
    assert data["list"] == "meeting"
    assert data["title"] == "会议回放"
    assert data["kind"] == "meeting"
    assert data["items"] == [
        {
            "id": "m-1",
            "kind": "meeting",
            "title": "株洲市人民政府第12次常务会议",
            "url": "https://www.zhuzhou.gov.cn/meeting/m-1.html",
            "published_at": "2023-06-16T18:00:00+08:00",
            "updated_at": "2023-06-16T18:00:00+08:00",
            "department": "zz-zfb",
            "department_name": "株洲市人民政府办公室",
        }
    ]
    assert data["first_page"] == "https://www.zhuzhou.gov.cn/api/meeting/page/1.json"
    dept = json.loads(site.text("api/dept/zz-zfb.json"))
    assert dept["department"] == "zz-zfb"
    assert dept["kind"] is None
    assert [i["id"] for i in dept["items"]] == ["m-1"]


def test_sitemaps(make_site: Callable[..., Site]) -> None:
    site = make_site(page_size=2)  # 10 pages × 2 = 20 documents per sitemap file
    site.publish(*numbered("pen", 25), exposure_batch())
    index = sitemap_locations(site.text("sitemap.xml"))
    assert index == [
        "https://www.zhuzhou.gov.cn/sitemaps/sections.xml",
        "https://www.zhuzhou.gov.cn/sitemaps/penalty-1.xml",
        "https://www.zhuzhou.gov.cn/sitemaps/penalty-2.xml",
        "https://www.zhuzhou.gov.cn/sitemaps/exposure-1.xml",
    ]
    first = sitemap_locations(site.text("sitemaps/penalty-1.xml"))
    assert len(first) == 20
    assert "https://www.zhuzhou.gov.cn/penalty/pen-001.html" in first
    assert len(sitemap_locations(site.text("sitemaps/penalty-2.xml"))) == 5
    sections = sitemap_locations(site.text("sitemaps/sections.xml"))
    assert "https://www.zhuzhou.gov.cn/" in sections
    assert "https://www.zhuzhou.gov.cn/penalty/" in sections
    assert "https://www.zhuzhou.gov.cn/dept/zz-yjj/" in sections
    assert "<lastmod>" in site.text("sitemaps/penalty-1.xml")


def _shuffled_keeping_document_order(
    events: list[dict[str, Any]], seed: int
) -> list[dict[str, Any]]:
    # Partitions keep each document's events in order; nothing else is ordered.
    rng = random.Random(seed)
    queues: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        queues.setdefault(event["document_id"], []).append(event)
    order: list[dict[str, Any]] = []
    while queues:
        key = rng.choice(sorted(queues))
        order.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return order


def _history() -> list[dict[str, Any]]:
    events = list(numbered("pen", 14))
    events += [
        factories.penalty("pen-003", 2, title="更新"),
        factories.retract("penalty", "pen-005", 2, reason="撤销"),
        factories.retract("penalty", "pen-013", 2, reason="到期下线"),
        at(in_department(factories.penalty("pen-007", 2), "zz-scjgj"), "2023-10-01T10:00:00+08:00"),
        factories.policy("p1"),
        factories.policy("p1", 2, validity="已废止"),
        exposure_batch(),
        meeting(),
    ]
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_output_depends_on_the_data_not_on_arrival_order_or_batching(
    make_site: Callable[..., Site], seed: int
) -> None:
    events = _history()
    one_by_one = make_site("one")
    for event in events:
        one_by_one.publish(event)
    shuffled = make_site("shuffled")
    rng = random.Random(seed)
    pending = _shuffled_keeping_document_order(events, seed)
    while pending:
        size = rng.randint(1, 5)
        shuffled.publish(*pending[:size])
        pending = pending[size:]
    at_once = make_site("at-once")
    at_once.publish(*events)
    expected = tree(one_by_one.root)
    assert tree(shuffled.root) == expected
    assert tree(at_once.root) == expected


@pytest.mark.parametrize("page_size", [1, 2, 5])
def test_growing_lists_one_event_at_a_time_equal_one_build(
    make_site: Callable[..., Site], page_size: int
) -> None:
    # Many page counts are crossed one by one: nothing on an early page may depend on
    # how long the list was when that page was last written.
    events = list(numbered("pen", 23))
    events += [
        factories.retract("penalty", "pen-001", 2),
        at(factories.penalty("pen-000"), "2022-12-01T10:00:00+08:00"),
        at(in_department(factories.penalty("pen-021", 2), "zz-scjgj"), "2023-10-01T10:00:00+08:00"),
    ]
    one_by_one = make_site("one", page_size=page_size)
    for event in events:
        one_by_one.publish(event)
    at_once = make_site("at-once", page_size=page_size)
    at_once.publish(*events)
    assert tree(one_by_one.root) == tree(at_once.root)


def _random_history(rng: random.Random) -> list[dict[str, Any]]:
    """Publications, updates (some moving department or changing date), withdrawals,
    republications and backdated arrivals, in an order a partitioned log allows."""
    departments = ["zz-yjj", "zz-scjgj", "zz-sthjj"]
    versions: dict[str, int] = {}
    events: list[dict[str, Any]] = []
    for step in range(70):
        choice = rng.random()
        when = f"2023-{1 + step // 28:02d}-{1 + step % 28:02d}T{rng.randint(0, 23):02d}:00:00+08:00"
        if choice < 0.55 or not versions:
            doc = f"d{len(versions):03d}"
            if rng.random() < 0.15:
                when = f"2022-{rng.randint(1, 12):02d}-01T10:00:00+08:00"  # backdated
            event = factories.penalty(doc, title=f"决定 {doc}")
            event = in_department(at(event, when), rng.choice(departments))
            versions[doc] = 1
        else:
            doc = rng.choice(sorted(versions))
            versions[doc] += 1
            if choice < 0.75:
                event = factories.retract("penalty", doc, versions[doc], reason=f"原因 {step}")
            else:
                event = factories.penalty(doc, versions[doc], title=f"决定 {doc} 第{step}次更新")
                event = in_department(event, rng.choice(departments))
            event = at(event, when)
        events.append(event)
    return events


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_random_histories_build_the_same_site_however_they_arrive(
    make_site: Callable[..., Site], seed: int
) -> None:
    rng = random.Random(seed)
    events = _random_history(rng)
    page_size = rng.randint(1, 4)
    at_once = make_site("at-once", page_size=page_size)
    at_once.publish(*events)
    expected = tree(at_once.root)
    one_by_one = make_site("one", page_size=page_size)
    for event in events:
        one_by_one.publish(event)
    assert tree(one_by_one.root) == expected
    batched = make_site("batched", page_size=page_size)
    pending = _shuffled_keeping_document_order(events, seed)
    while pending:
        size = rng.randint(1, 6)
        batched.publish(*pending[:size])
        pending = pending[size:]
    assert tree(batched.root) == expected


def test_applying_the_same_event_twice_changes_nothing(make_site: Callable[..., Site]) -> None:
    site = make_site()
    events = list(numbered("pen", 5))
    site.publish(*events)
    before = tree(site.root)
    site.publish(*events)
    assert tree(site.root) == before


def test_a_crash_before_flush_loses_no_page(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.publish(*numbered("pen", 4))
    late = at(factories.penalty("pen-000"), "2022-12-01T10:00:00+08:00")  # shifts every page
    site.apply(late)  # applied, never flushed: the process dies here
    site.close()
    again = Site(site.settings, page_size=PAGE)
    try:
        again.publish(late)  # the runner delivers the uncommitted batch again
        assert titles_in(again, "api/penalty/page/1.json") == ["pen-002", "pen-001", "pen-000"]
        assert titles_in(again, "api/penalty/page/2.json") == ["pen-004", "pen-003"]
    finally:
        again.close()


def test_pages_rendered_from_the_stored_events_equal_those_rendered_on_arrival(
    make_site: Callable[..., Site],
) -> None:
    """The channel renders a batch's pages from the events it has just applied; a
    later re-render (another process, after a crash) reads them from the store."""
    from channels.website.state import LOCK, doc_target

    site = make_site()
    events = [
        factories.policy("pol-1"),
        factories.penalty("pen-1"),
        meeting("meeting-1"),
        exposure_batch("exposure-2023Q2"),
        campaign("campaign-1"),
    ]
    site.publish(*events)
    before = tree(site.root)
    site.close()
    for event in events:
        (site.root / event["kind"] / f"{event['document_id']}.html").unlink()
    again = Site(site.settings, page_size=PAGE)
    try:
        with again.store.transaction(LOCK) as conn:
            again.channel.state.mark_many(conn, (doc_target(e["document_id"]) for e in events))
        again.channel.flush()
        assert tree(again.root) == before
    finally:
        again.close()
