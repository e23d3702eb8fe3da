"""The website's library (文件库): 规章 and 行政规范性文件 by validity with counts, the day each
validity began, each document's revision chain both ways, and ``api/library.json``."""

import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.website import render as website_render
from channels.website import state as website_state
from consumers.channel import Rebuild
from govpub.settings import Settings
from tests import factories
from tests.website_support import Site, at, tree


def _groups(api: dict[str, Any]) -> list[tuple[str, int, int, list[int]]]:
    """``(validity, year, documents shown, page numbers)`` of ``api/library.json``."""
    return [
        (g["validity"], g["year"], g["documents"], list(range(1, g["pages"] + 1)))
        for g in api["groups"]
    ]


@pytest.fixture
def site(make_settings: Callable[..., Settings]) -> Iterator[Site]:
    site = Site(make_settings(site_url="https://www.zhuzhou.gov.cn/zwgk/"))
    yield site
    site.close()


def test_the_library_counts_and_lists_documents_by_validity(site: Site) -> None:
    site.publish(
        at(factories.policy("gz-1", doc_class="规章", title="规章甲"), "2021-03-01T10:00:00+08:00"),
        at(factories.policy("gf-old", title="旧办法"), "2020-01-10T10:00:00+08:00"),
        at(factories.policy("gf-mid", title="中间办法"), "2022-02-01T10:00:00+08:00"),
        at(factories.policy("gf-new", title="新办法"), "2024-07-01T10:00:00+08:00"),
        at(
            factories.policy("other-1", doc_class="其他", title="其他文件"),
            "2023-01-01T10:00:00+08:00",
        ),
    )
    site.publish(
        at(
            factories.policy(
                "gf-old", 2, title="旧办法", validity="已修订", superseded_by="gf-mid"
            ),
            "2022-02-01T10:00:00+08:00",
        ),
        at(
            factories.policy(
                "gf-mid", 2, title="中间办法", validity="已废止", superseded_by="gf-new"
            ),
            "2024-07-01T10:00:00+08:00",
        ),
    )
    index = site.text("library/index.html")
    assert "规章和行政规范性文件库" in index
    assert 'href="in-force/2023/1.html"' in index  # factories write every policy in 2023
    api = json.loads(site.text("api/library.json"))
    assert api["counts"] == {
        "规章": {"现行有效": 1, "已修订": 0, "已废止": 0, "已失效": 0},
        "行政规范性文件": {"现行有效": 1, "已修订": 1, "已废止": 1, "已失效": 0},
    }
    assert _groups(api) == [
        ("现行有效", 2023, 2, [1]),
        ("已修订", 2023, 1, [1]),
        ("已废止", 2023, 1, [1]),
    ]
    repealed_api = json.loads(site.text("api/library/repealed/2023/1.json"))
    [mid] = repealed_api["documents"]
    assert (mid["id"], mid["validity_since"], mid["superseded_by"]) == (
        "gf-mid",
        "2024-07-01",
        "gf-new",
    )
    in_force = site.text("library/in-force/2023/1.html")
    assert "规章甲" in in_force
    assert "新办法" in in_force
    assert "旧办法" not in in_force
    assert "其他文件" not in in_force  # not a library class
    repealed = site.text("library/repealed/2023/1.html")
    assert "中间办法" in repealed
    assert "已废止自 <time" in repealed
    assert not site.exists("library/expired/2023/1.html")
    # The chain on each page, both ways, and the validity history.
    new = site.text("policy/gf-new.html")
    assert "本文件修订或替代了" in new
    assert new.index('href="gf-old.html"') < new.index('href="gf-mid.html"')
    mid = site.text("policy/gf-mid.html")
    assert 'href="gf-old.html"' in mid
    assert 'href="gf-new.html"' in mid
    assert "起：已废止" in mid
    assert "起：现行有效" in mid
    # A withdrawn document leaves the library's lists but keeps its slot: its page stays,
    # empty, and the year goes from the index while it shows nothing.
    site.publish(factories.retract("policy", "gf-mid", 3, department="zz-zfb"))
    assert "中间办法" not in site.text("library/repealed/2023/1.html")
    assert "暂无文件" in site.text("library/repealed/2023/1.html")
    assert json.loads(site.text("api/library/repealed/2023/1.json"))["documents"] == []
    api = json.loads(site.text("api/library.json"))
    assert _groups(api) == [("现行有效", 2023, 2, [1]), ("已修订", 2023, 1, [1])]
    assert "repealed/2023/1.html" not in site.text("library/index.html")
    # A policy that leaves the library classes gives its slot up: the empty page goes.
    site.publish(factories.policy("gf-mid", 4, doc_class="其他", validity="已废止"))
    assert not site.exists("library/repealed/2023/1.html")
    assert not site.exists("api/library/repealed/2023/1.json")
    assert 'href="library/index.html"' in site.text("index.html")  # in the navigation


def test_a_library_page_holds_a_hundred_in_the_order_of_first_publication(
    site: Site,
) -> None:
    site.publish(*(factories.policy(f"gf-{n:03d}", title=f"办法第{n:03d}号") for n in range(101)))
    first = json.loads(site.text("api/library/in-force/2023/1.json"))["documents"]
    second = json.loads(site.text("api/library/in-force/2023/2.json"))["documents"]
    # Published at the same moment, they are ranked by id.
    assert len(first) == 100
    assert [d["id"] for d in first[:2]] == ["gf-000", "gf-001"]
    assert [d["id"] for d in second] == ["gf-100"]
    # An update that keeps the validity keeps the place; a repeal moves the document to
    # the pages of its new validity, and the documents after it move up one place.
    site.publish(factories.policy("gf-050", 2, title="办法第050号（修正）"))
    assert "办法第050号（修正）" in site.text("library/in-force/2023/1.html")
    site.publish(factories.policy("gf-050", 3, title="办法第050号", validity="已废止"))
    assert "办法第050号" not in site.text("library/in-force/2023/1.html")
    assert "办法第100号" in site.text("library/in-force/2023/1.html")
    assert not site.exists("library/in-force/2023/2.html")
    assert not site.exists("api/library/in-force/2023/2.json")
    assert "办法第050号" in site.text("library/repealed/2023/1.html")
    assert _groups(json.loads(site.text("api/library.json"))) == [
        ("现行有效", 2023, 100, [1]),
        ("已废止", 2023, 1, [1]),
    ]
    # A document first published before the others takes the first place; those after
    # it move down, onto a second page again.
    site.publish(at(factories.policy("gf-early", title="更早的办法"), "2023-01-02T10:00:00+08:00"))
    first = json.loads(site.text("api/library/in-force/2023/1.json"))["documents"]
    second = json.loads(site.text("api/library/in-force/2023/2.json"))["documents"]
    assert first[0]["id"] == "gf-early"
    assert [d["id"] for d in second] == ["gf-100"]


def test_the_library_pages_do_not_depend_on_the_order_events_arrive_in(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Policies from several partitions reach a live consumer in one order and a replay in
    another: both must build the same pages."""
    policies = [
        at(
            factories.policy(
                f"gz-{n}", doc_class="规章" if n % 3 == 0 else "行政规范性文件", title=f"办法{n}"
            ),
            f"2023-0{1 + n % 9}-1{n % 7}T10:00:00+08:00",
        )
        for n in range(12)
    ]
    repeal = factories.policy("gz-4", 2, validity="已废止")
    built = []
    for n, order in enumerate((policies, policies[::-1], policies[5:] + policies[:5])):
        site = Site(make_settings(store=tmp_path / f"{n}.db", output_dir=tmp_path / f"site-{n}"))
        try:
            for event in order:  # one event per batch, as a live consumer may see them
                site.publish(event)
            site.publish(repeal)
            built.append(
                {p: d for p, d in tree(site.root).items() if "library" in p and p.endswith("json")}
            )
        finally:
            site.close()
    assert built[0] == built[1] == built[2]
    assert len(built[0]) == 3  # the index, and one page of each validity


def test_the_library_counts_follow_withdrawals_republication_and_a_change_of_kind(
    site: Site,
) -> None:
    def pages() -> list[tuple[str, int]]:
        data = json.loads(site.text("api/library.json"))
        return [(validity, documents) for validity, _, documents, _ in _groups(data)]

    site.publish(factories.policy("gf-1"), factories.policy("gf-2"))
    assert pages() == [("现行有效", 2)]
    site.publish(factories.retract("policy", "gf-1", 2, department="zz-zfb"))
    site.publish(factories.retract("policy", "gf-1", 3, department="zz-zfb"))  # twice: once
    assert pages() == [("现行有效", 1)]
    site.publish(factories.policy("gf-1", 4))  # published again
    assert pages() == [("现行有效", 2)]
    site.publish(factories.penalty("gf-2", 2))  # the id now names a penalty decision
    assert pages() == [("现行有效", 1)]
    assert "gf-2" not in site.text("library/in-force/2023/1.html")
    site.publish(factories.policy("gf-3", doc_class="其他"))  # not a library class
    assert pages() == [("现行有效", 1)]


def test_every_page_of_a_revision_chain_follows_its_changes_whatever_the_order(
    site: Site,
) -> None:
    """Each page of a chain shows the whole chain: a successor that arrives after the
    policy naming it (another partition), a title changed in the middle, and a withdrawal
    in the middle re-render the pages at both ends, as a replay would render them."""
    site.publish(
        at(factories.policy("ch-a", title="甲办法"), "2020-01-10T10:00:00+08:00"),
        at(factories.policy("ch-b", title="乙办法"), "2021-01-10T10:00:00+08:00"),
        at(
            factories.policy("ch-a", 2, title="甲办法", validity="已修订", superseded_by="ch-b"),
            "2021-01-10T10:00:00+08:00",
        ),
        # ch-b names ch-c before ch-c has arrived.
        at(
            factories.policy("ch-b", 2, title="乙办法", validity="已修订", superseded_by="ch-c"),
            "2022-01-10T10:00:00+08:00",
        ),
    )
    assert "丙办法" not in site.text("policy/ch-a.html")
    site.publish(at(factories.policy("ch-c", title="丙办法"), "2022-01-10T10:00:00+08:00"))
    assert "丙办法" in site.text("policy/ch-a.html")
    assert "丙办法" in site.text("policy/ch-b.html")
    site.publish(
        at(
            factories.policy(
                "ch-b", 3, title="乙办法（修正）", validity="已修订", superseded_by="ch-c"
            ),
            "2022-02-10T10:00:00+08:00",
        )
    )
    assert "乙办法（修正）" in site.text("policy/ch-a.html")
    assert "乙办法（修正）" in site.text("policy/ch-c.html")
    site.publish(factories.retract("policy", "ch-b", 4, department="zz-zfb"))
    assert "甲办法" not in site.text("policy/ch-c.html")  # the chain stops at a withdrawal


def test_library_pages_stay_right_through_any_mix_of_changes(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document's place is counted from the end of its group (where documents join), so
    it relies on the group's count; whatever happens to the policies (backdated ones,
    repeals, a change of class, withdrawals, republication, a change of kind), the pages
    after each event list what they should, page by page (a withdrawn policy keeps its
    slot), and equal those of one batch at the end."""
    monkeypatch.setattr(website_state, "LIBRARY_PAGE_SIZE", 3)
    monkeypatch.setattr(website_render, "LIBRARY_PAGE_SIZE", 3)
    rng = random.Random(21)
    versions: dict[str, int] = {}
    first_published: dict[str, str] = {}
    slotted: dict[str, str] = {}  # document id → the validity of its slot
    withdrawn: set[str] = set()
    events = []

    def library(site: Site) -> dict[str, Any]:
        return {
            path: json.loads(data)
            for path, data in tree(site.root).items()
            if path.startswith("api/library")
        }

    def listed(site: Site) -> dict[str, list[list[str]]]:
        pages = library(site)
        return {
            validity: [
                [d["id"] for d in pages[f"api/library/{slug}/2023/{page}.json"]["documents"]]
                for page in range(1, 30)
                if f"api/library/{slug}/2023/{page}.json" in pages
            ]
            for validity, slug in (("现行有效", "in-force"), ("已废止", "repealed"))
        }

    one_by_one = Site(make_settings(store=tmp_path / "a.db", output_dir=tmp_path / "a"))
    in_one_batch = Site(make_settings(store=tmp_path / "b.db", output_dir=tmp_path / "b"))
    # A replay into a new tree marks every library page instead of placing each policy.
    rebuilt = Site(
        make_settings(store=tmp_path / "c.db", output_dir=tmp_path / "c"), rebuild=Rebuild.FRESH
    )
    try:
        for step in range(120):
            document_id = f"gf-{rng.randrange(14):02d}"
            version = versions.get(document_id, 0) + 1
            versions[document_id] = version
            moment = f"2023-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T10:00:00+08:00"
            first_published.setdefault(document_id, moment)
            choice = rng.random()
            if version > 1 and choice < 0.2:
                event = factories.retract("policy", document_id, version, department="zz-zfb")
                withdrawn.add(document_id)
            elif version > 1 and choice < 0.25:
                event = factories.penalty(document_id, version)
                slotted.pop(document_id, None)
                withdrawn.discard(document_id)
            else:
                doc_class = rng.choice(["规章", "行政规范性文件", "其他"])
                validity = rng.choice(["现行有效", "已废止"])
                event = factories.policy(
                    document_id,
                    version,
                    title=f"办法{step}",
                    doc_class=doc_class,
                    validity=validity,
                )
                if doc_class == "其他":
                    slotted.pop(document_id, None)
                else:
                    slotted[document_id] = validity
                withdrawn.discard(document_id)
            events.append(at(event, moment))
            one_by_one.publish(events[-1])
            in_order = sorted(slotted, key=lambda d: (first_published[d], d))
            expected = {}
            for validity in ("现行有效", "已废止"):
                slots = [d for d in in_order if slotted[d] == validity]
                expected[validity] = [
                    [d for d in slots[start : start + 3] if d not in withdrawn]
                    for start in range(0, len(slots), 3)
                ]
            assert listed(one_by_one) == expected, f"after event {step}: {events[-1]}"
            pages = library(one_by_one)
            for validity, slug in (("现行有效", "in-force"), ("已废止", "repealed")):
                count = len(expected[validity])
                for page in range(1, count + 1):
                    data = pages[f"api/library/{slug}/2023/{page}.json"]
                    assert (data["previous"] is None) == (page == 1), f"after event {step}"
                    assert (data["next"] is None) == (page == count), f"after event {step}"
        in_one_batch.publish(*events)
        rebuilt.publish(*events)
        assert library(one_by_one) == library(in_one_batch) == library(rebuilt)
    finally:
        one_by_one.close()
        in_one_batch.close()
        rebuilt.close()


def test_a_years_pages_link_each_other_and_the_index_links_its_ends(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index links a year's first three pages and its last (not every page: it is
    rendered at every policy event); each page links the first, the previous and the next
    page, and a page that comes after the last gives the last its link to it."""
    monkeypatch.setattr(website_state, "LIBRARY_PAGE_SIZE", 1)
    monkeypatch.setattr(website_render, "LIBRARY_PAGE_SIZE", 1)
    site.publish(
        *(at(factories.policy(f"gf-{n}"), f"2023-03-0{n}T10:00:00+08:00") for n in range(1, 7))
    )
    index = site.text("library/index.html")
    links = re.findall(r'href="in-force/2023/(\d+)\.html">第 \d+ 页', index)
    assert links == ["1", "2", "3", "6"]
    assert "（6 件，6 页）" in index
    assert "</a> … <a" in index  # pages 4 and 5 are left out
    [group] = json.loads(site.text("api/library.json"))["groups"]
    assert group["pages"] == 6
    base = "https://www.zhuzhou.gov.cn/zwgk/"
    assert group["first"] == {
        "url": f"{base}library/in-force/2023/1.html",
        "api": f"{base}api/library/in-force/2023/1.json",
    }
    assert group["last"]["url"] == f"{base}library/in-force/2023/6.html"

    fourth = site.text("library/in-force/2023/4.html")
    assert '<a href="1.html">第 1 页</a>' in fourth
    assert '<a rel="prev" href="3.html">上一页</a>' in fourth
    assert '<a rel="next" href="5.html">下一页</a>' in fourth
    first = site.text("library/in-force/2023/1.html")
    assert 'rel="prev"' not in first
    assert '<a rel="next" href="2.html">下一页</a>' in first
    assert 'rel="next"' not in site.text("library/in-force/2023/6.html")
    data = json.loads(site.text("api/library/in-force/2023/6.json"))
    assert data["previous"] == f"{base}api/library/in-force/2023/5.json"
    assert data["next"] is None

    site.publish(at(factories.policy("gf-7"), "2023-03-07T10:00:00+08:00"))
    assert '<a rel="next" href="7.html">下一页</a>' in site.text("library/in-force/2023/6.html")
    assert json.loads(site.text("api/library/in-force/2023/6.json"))["next"] == (
        f"{base}api/library/in-force/2023/7.json"
    )
    assert re.findall(
        r'href="in-force/2023/(\d+)\.html">第 \d+ 页', site.text("library/index.html")
    ) == [
        "1",
        "2",
        "3",
        "7",
    ]
    site.publish(factories.penalty("gf-7", 2))  # no longer a policy: page 7 goes
    assert not (site.root / "library/in-force/2023/7.html").exists()
    assert 'rel="next"' not in site.text("library/in-force/2023/6.html")
