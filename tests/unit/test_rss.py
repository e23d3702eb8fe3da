"""The RSS channel: valid feeds, stable guids, updates, withdrawals, per-department feeds."""

import html
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import feedparser
import pytest

from channels.base import ChannelContext
from channels.rss import RssChannel
from govpub.deliveries import DeliveryState
from govpub.settings import Settings
from govpub.store import Store
from schemas import parse_event
from tests import factories

pytestmark = pytest.mark.usefixtures("store_location")


@pytest.fixture
def setup(make_settings: Callable[..., Settings]) -> Iterator[tuple[RssChannel, Path]]:
    settings = make_settings(feed_items=3, site_url="https://www.example.gov.cn/zwgk/")
    with Store(settings.store) as store:
        yield RssChannel.from_context(ChannelContext(settings, store)), settings.output_dir


def deliver(channel: RssChannel, *events: dict[str, Any]) -> list[Any]:
    outcomes = [channel.apply(parse_event(e)) for e in events]
    channel.flush()
    return outcomes


def parse(path: Path) -> Any:
    feed = feedparser.parse(path.read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def _feed_links(output_dir: Path, feed: str = "all") -> set[str]:
    """The document pages a feed links to (file names)."""
    return {e.link.rsplit("/", 1)[-1] for e in parse(output_dir / f"feeds/{feed}.xml").entries}


def test_every_feed_parses_cleanly(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    deliver(channel, factories.policy(), factories.penalty())
    files = sorted((out / "feeds").rglob("*.*"))
    names = {str(p.relative_to(out)) for p in files}
    assert names == {
        "feeds/all.xml",
        "feeds/all.atom",
        "feeds/policy.xml",
        "feeds/policy.atom",
        "feeds/penalty.xml",
        "feeds/penalty.atom",
        "feeds/dept/zz-zfb.xml",
        "feeds/dept/zz-zfb.atom",
        "feeds/dept/zz-yjj.xml",
        "feeds/dept/zz-yjj.atom",
    }
    for path in files:
        feed = parse(path)
        assert feed.feed.language == "zh-CN" or path.suffix == ".atom"
    rss = parse(out / "feeds/all.xml")
    assert rss.version == "rss20"
    assert rss.feed.link == "https://www.example.gov.cn/zwgk/"
    atom = parse(out / "feeds/all.atom")
    assert atom.version == "atom10"


def test_items_link_to_their_stable_page_and_keep_their_guid(
    setup: tuple[RssChannel, Path],
) -> None:
    channel, out = setup
    deliver(channel, factories.policy(title="第一版"))
    (entry,) = parse(out / "feeds/policy.xml").entries
    assert entry.link == "https://www.example.gov.cn/zwgk/policy/doc-policy-1.html"
    assert entry.id == "urn:govpub:zhuzhou:policy:doc-policy-1"
    update = factories.policy(version=2, title="第二版")
    update["occurred_at"] = "2023-06-01T10:00:00+08:00"
    deliver(channel, update)
    (entry,) = parse(out / "feeds/policy.xml").entries
    assert entry.id == "urn:govpub:zhuzhou:policy:doc-policy-1"
    assert entry.title == "第二版"
    assert entry.summary.startswith("（更新于 2023-06-01）")
    (atom_entry,) = parse(out / "feeds/policy.atom").entries
    assert atom_entry.updated.startswith("2023-06-01")
    assert atom_entry.published.startswith("2023-05-01")


def test_withdrawal_removes_the_item_and_publishes_a_notice(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    deliver(channel, factories.penalty(facts="敏感的违法事实"))
    retraction = factories.retract("penalty", "doc-penalty-1", 2, reason="决定已被依法撤销")
    retraction["occurred_at"] = "2023-06-02T15:00:00+08:00"
    deliver(channel, retraction)
    for name in ("feeds/penalty.xml", "feeds/all.atom", "feeds/dept/zz-yjj.xml"):
        text = (out / name).read_text("utf-8")
        assert "敏感的违法事实" not in text
        (entry,) = parse(out / name).entries
        assert entry.id == "urn:govpub:zhuzhou:penalty:doc-penalty-1:withdrawn"
        assert entry.title.startswith("【已撤回】")
        assert "2023-06-02" in entry.summary
        assert "决定已被依法撤销" in entry.summary


def test_retracting_an_unknown_document_is_recorded(setup: tuple[RssChannel, Path]) -> None:
    channel, _ = setup
    (outcome,) = deliver(channel, factories.retract("policy", "never-published", 2))
    assert outcome.state is DeliveryState.RETRACTED


def test_feeds_are_in_publication_order_and_limited(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    events = []
    for day in (3, 1, 5, 2, 4):
        event = factories.policy(f"doc-{day}")
        event["occurred_at"] = f"2023-05-0{day}T09:00:00+08:00"
        events.append(event)
    deliver(channel, *events)
    entries = parse(out / "feeds/policy.xml").entries
    assert [e.id.rsplit(":", 1)[1] for e in entries] == ["doc-5", "doc-4", "doc-3"]


def test_exposure_candidates_wait_for_their_batch(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    candidate = factories.envelope(
        "exposure",
        "cand-1",
        1,
        {
            "title": "案例",
            "domain": "安全生产",
            "candidate_quarter": "2023Q2",
            "case_summary": "摘要",
            "decision_ref": "doc-penalty-1",
        },
    )
    (outcome,) = deliver(channel, candidate)
    assert outcome.state is DeliveryState.SKIPPED
    assert not (out / "feeds/exposure.xml").exists()


def test_moving_department_updates_both_department_feeds(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    deliver(channel, factories.policy())
    moved = factories.policy(version=2)
    moved["department"] = "zz-sfj"
    deliver(channel, moved)
    assert parse(out / "feeds/dept/zz-zfb.xml").entries == []
    assert len(parse(out / "feeds/dept/zz-sfj.xml").entries) == 1


def test_text_xml_cannot_carry_is_cleaned(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    deliver(
        channel, factories.policy(body="<p>正文\ufffe与\uffff内容<script>alert(1)</script></p>")
    )
    text = (out / "feeds/policy.xml").read_text("utf-8", errors="strict")
    assert "正文与内容" in text
    assert "alert" not in text
    parse(out / "feeds/policy.xml")


def test_rendering_again_changes_no_byte(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    event = factories.policy()
    deliver(channel, event)
    before = {p: p.read_bytes() for p in (out / "feeds").rglob("*.*")}
    deliver(channel, event)
    assert {p: p.read_bytes() for p in (out / "feeds").rglob("*.*")} == before


def test_markup_in_text_stays_text_in_both_formats(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    deliver(channel, factories.penalty(facts="事实<img src=x onerror=alert(1)>与<b>说明</b>"))
    (rss,) = parse(out / "feeds/penalty.xml").entries
    # Feed text carries nothing a reader could take for a tag, however it renders it: the
    # words stay, behind a full-width ＜ (channels.text.plain_text).
    assert "<img" not in rss.summary
    assert "＜img src=x onerror=alert(1)" in rss.summary
    raw = (out / "feeds/penalty.xml").read_text("utf-8")
    assert "&amp;lt;img" not in raw
    assert "&lt;img" not in raw
    (atom,) = parse(out / "feeds/penalty.atom").entries
    assert "＜img src=x onerror=alert(1)>" in atom.summary
    assert 'type="html"' not in (out / "feeds/penalty.atom").read_text("utf-8")


@pytest.mark.parametrize(
    "title", ["<img src=x onerror=alert(1)>通知", "&lt;img src=x onerror=alert(1)&gt;通知"]
)
def test_a_title_is_text_even_for_readers_that_render_it_as_html(
    setup: tuple[RssChannel, Path], title: str
) -> None:
    channel, out = setup
    deliver(channel, factories.policy(title=title))
    for name in ("policy.xml", "policy.atom"):
        root = ET.fromstring((out / "feeds" / name).read_bytes())
        titles = [t.text or "" for t in root.iter() if t.tag.rsplit("}", 1)[-1] == "title"]
        item_title = next(t for t in titles if t.endswith("通知"))
        # A reader that renders the title as HTML decodes it once more: still no tag.
        assert "<img" not in html.unescape(item_title)
        assert "＜img" in item_title


def test_feeds_are_written_under_the_lock_that_stores_their_items(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each feed file is replaced inside a transaction of the store's lock, where the
    process checks that no other has written it from a newer state."""
    import channels.rss.channel as module

    settings = make_settings()
    with Store(settings.store) as store:
        channel = RssChannel.from_context(ChannelContext(settings, store))
        locked: list[bool] = []
        write = module.atomic_write

        def watched(path: Path, data: bytes, *, durable: bool = True) -> bool:
            locked.append(store.conn.in_transaction)
            return write(path, data, durable=durable)

        monkeypatch.setattr(module, "atomic_write", watched)
        deliver(channel, factories.policy("p1"))
    assert locked
    assert all(locked)


@pytest.mark.parametrize("backlog", [False, True], ids=["batch by batch", "with a backlog"])
def test_two_processes_of_the_channel_lose_no_item(
    make_settings: Callable[..., Settings], backlog: bool
) -> None:
    """With a backlog, every batch but each process's last holds feeds back."""
    import threading

    settings = make_settings(feed_items=200)
    errors: list[BaseException] = []

    def process(prefix: str) -> None:
        try:
            with Store(settings.store) as store:
                channel = RssChannel.from_context(ChannelContext(settings, store))
                for batch in range(10):
                    for i in range(5):
                        channel.apply(parse_event(factories.policy(f"{prefix}-{batch}-{i}")))
                    channel.flush(backlog=backlog and batch < 9)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    workers = [threading.Thread(target=process, args=(name,)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert _feed_links(settings.output_dir) == {
        f"{p}-{b}-{i}.html" for p in "ab" for b in range(10) for i in range(5)
    }


def test_a_feed_rendered_outside_the_lock_never_replaces_a_newer_one(
    make_settings: Callable[..., Settings],
) -> None:
    """Process A stores its item, then renders outside the lock; process B stores its own
    and writes the feeds meanwhile, from a state that holds both. A's render, older, must
    not replace B's feed: A finds it written from a newer generation and leaves it."""
    settings = make_settings(feed_items=50)
    outside: list[bool] = []
    with Store(settings.store) as store_a, Store(settings.store) as store_b:
        other = RssChannel.from_context(ChannelContext(settings, store_b))

        class Overtaken(RssChannel):
            def _latest(self, feed: str) -> list[Any]:
                items = super()._latest(feed)
                if feed == "all" and not outside:
                    outside.append(not store_a.conn.in_transaction)
                    deliver(other, factories.policy("b-1"))
                return items

        deliver(Overtaken.from_context(ChannelContext(settings, store_a)), factories.policy("a-1"))
    assert outside == [True]
    assert _feed_links(settings.output_dir) == {"a-1.html", "b-1.html"}


def test_licensing_and_enforcement_decisions_have_their_own_feeds(
    setup: tuple[RssChannel, Path],
) -> None:
    channel, out = setup
    deliver(channel, factories.licence(), factories.enforcement(amount="1500"))
    licence = parse(out / "feeds/licence.xml")
    [entry] = licence.entries
    assert entry.title == "株洲示例化工有限公司危险化学品经营许可"
    assert "许可事项：危险化学品经营许可" in entry.description
    assert "决定：准予" in entry.description
    assert entry.link == "https://www.example.gov.cn/zwgk/licence/doc-licence-1.html"
    assert licence.feed.title.endswith("行政许可")
    [entry] = parse(out / "feeds/enforcement.atom").entries
    assert "强制类别：查封" in entry.summary
    assert "金额：1,500.00元" in entry.summary
    assert [t.term for t in entry.tags] == ["行政强制", "安全生产"]
    assert len(parse(out / "feeds/dept/zz-yjj.xml").entries) == 2


def test_a_take_down_removes_the_item_without_a_notice(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    deliver(channel, factories.penalty(facts="敏感的违法事实"), factories.policy())
    takedown = factories.retract("penalty", "doc-penalty-1", 2, reason="公示期满")
    takedown["payload"]["display_ended_on"] = "2024-05-04"
    (outcome,) = deliver(channel, takedown)
    assert outcome is None  # withdrawn
    for name in ("feeds/penalty.xml", "feeds/penalty.atom", "feeds/dept/zz-yjj.xml"):
        text = (out / name).read_text("utf-8")
        assert "doc-penalty-1" not in text, name
        assert "公示期满" not in text, name
        assert parse(out / name).entries == []
    assert [e.id for e in parse(out / "feeds/all.xml").entries] == [
        "urn:govpub:zhuzhou:policy:doc-policy-1"
    ]
    # Published again later, it is a new item.
    deliver(channel, factories.penalty(version=3))
    [entry] = parse(out / "feeds/penalty.xml").entries
    assert entry.id == "urn:govpub:zhuzhou:penalty:doc-penalty-1"


def test_an_annual_report_table_is_an_item_with_its_values(setup: tuple[RssChannel, Path]) -> None:
    channel, out = setup
    deliver(channel, factories.report())
    [entry] = parse(out / "feeds/report.xml").entries
    assert entry.title == "株洲市人民政府2023年政府信息公开工作年度报告（二、主动公开政府信息情况）"
    assert entry.link == "https://www.example.gov.cn/zwgk/report/annual-report-2023.html"
    assert "行政规范性文件：本年制发件数 12，本年废止件数 2，现行有效件数 130" in entry.description
    assert "行政事业性收费：本年收费金额（单位：万元） 1286.45" in entry.description
    assert len(parse(out / "feeds/dept/zz-zfb.xml").entries) == 1


def test_a_consultation_has_its_feed_with_its_stage_and_result(
    setup: tuple[RssChannel, Path],
) -> None:
    channel, out = setup
    deliver(channel, factories.consultation("zq-1"))
    [entry] = parse(out / "feeds" / "consultation.xml").entries
    assert entry.link.endswith("/consultation/zq-1.html")
    assert "征求意见期：2023-04-03 至 2023-05-02" in entry.summary
    assert {t.term for t in entry.tags} == {"征求意见", "征求意见中"}
    result = {"published_on": "2023-05-20", "received": 5, "adopted": 2}
    deliver(channel, factories.consultation("zq-1", 2, closed=True, result=result))
    [entry] = parse(out / "feeds" / "consultation.atom").entries
    assert "收到意见 5 条，采纳 2 条" in entry.summary
    assert "结果已公布" in {t.term for t in entry.tags}


def test_with_a_backlog_a_feed_written_within_the_interval_is_held_back_until_it_is_delivered(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(feed_items=50, feed_backlog_interval=60)
    with Store(settings.store) as store:
        channel = RssChannel.from_context(ChannelContext(settings, store))
        channel.apply(parse_event(factories.policy("p1")))
        channel.flush(backlog=True)  # never written yet: written now
        assert _feed_links(settings.output_dir) == {"p1.html"}
        channel.apply(parse_event(factories.policy("p2")))
        channel.flush(backlog=True)
        # Stored, not yet in the feed: the next batches would change it again.
        assert _feed_links(settings.output_dir) == {"p1.html"}
        assert store.conn.execute("SELECT COUNT(*) FROM rss_items").fetchone()[0] == 2
        channel.flush()  # the backlog is delivered: nothing new, the feed is written
        assert _feed_links(settings.output_dir) == {"p1.html", "p2.html"}


def test_with_a_backlog_a_feed_is_written_again_once_the_interval_has_passed(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import channels.rss.channel as module

    # The channel's clock, moved by the test: a loaded machine's pauses do not count.
    now = [1_800_000_000.0]
    monkeypatch.setattr(module, "time", SimpleNamespace(time=lambda: now[0]))
    settings = make_settings(feed_items=50, feed_backlog_interval=2)
    with Store(settings.store) as store:
        channel = RssChannel.from_context(ChannelContext(settings, store))
        channel.apply(parse_event(factories.policy("p0")))
        channel.flush(backlog=True)
        now[0] += 1.5
        channel.apply(parse_event(factories.policy("p1")))
        channel.flush(backlog=True)
        assert _feed_links(settings.output_dir) == {"p0.html"}
        now[0] += 0.5  # two seconds since the feed was written
        channel.apply(parse_event(factories.policy("p2")))
        channel.flush(backlog=True)
        assert _feed_links(settings.output_dir) == {"p0.html", "p1.html", "p2.html"}


def test_a_feed_written_by_another_process_within_the_interval_is_held_back(
    make_settings: Callable[..., Settings],
) -> None:
    """The interval is the group's: one process's write holds the feed back for all."""
    settings = make_settings(feed_items=50, feed_backlog_interval=60)
    with Store(settings.store) as store_a, Store(settings.store) as store_b:
        first = RssChannel.from_context(ChannelContext(settings, store_a))
        second = RssChannel.from_context(ChannelContext(settings, store_b))
        first.apply(parse_event(factories.policy("a1")))
        first.flush(backlog=True)
        second.apply(parse_event(factories.policy("b1")))
        second.flush(backlog=True)
        assert _feed_links(settings.output_dir) == {"a1.html"}
        second.flush()
        assert _feed_links(settings.output_dir) == {"a1.html", "b1.html"}


def test_without_an_interval_a_backlog_holds_nothing_back(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(feed_items=50, feed_backlog_interval=0)
    with Store(settings.store) as store:
        channel = RssChannel.from_context(ChannelContext(settings, store))
        for n in range(3):
            channel.apply(parse_event(factories.policy(f"p{n}")))
            channel.flush(backlog=True)
            assert len(_feed_links(settings.output_dir)) == n + 1


def test_a_feed_a_stopped_process_held_back_is_written_by_the_next_one(
    make_settings: Callable[..., Settings],
) -> None:
    """A process that stops (or dies) between a flush with a backlog and the next leaves
    its items stored and its feeds behind them: the next process writes those feeds at its
    first flush, even one that brings no item of theirs."""
    settings = make_settings(feed_items=50, feed_backlog_interval=60)
    with Store(settings.store) as store:
        stopped = RssChannel.from_context(ChannelContext(settings, store))
        deliver(stopped, factories.policy("p1"))
        stopped.apply(parse_event(factories.policy("p2")))
        stopped.flush(backlog=True)
        assert _feed_links(settings.output_dir) == {"p1.html"}
    with Store(settings.store) as store:
        RssChannel.from_context(ChannelContext(settings, store)).flush()
    assert _feed_links(settings.output_dir) == {"p1.html", "p2.html"}
    assert _feed_links(settings.output_dir, "policy") == {"p1.html", "p2.html"}


def test_a_flush_that_fails_while_writing_a_feed_writes_it_when_tried_again(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import channels.rss.channel as module

    settings = make_settings(feed_items=50)
    with Store(settings.store) as store:
        channel = RssChannel.from_context(ChannelContext(settings, store))
        write = module.atomic_write
        failures = [OSError("disk full")]

        def failing_once(path: Path, data: bytes, *, durable: bool = True) -> bool:
            if failures:
                raise failures.pop()
            return write(path, data, durable=durable)

        monkeypatch.setattr(module, "atomic_write", failing_once)
        channel.apply(parse_event(factories.policy("p1")))
        with pytest.raises(OSError, match="disk full"):
            channel.flush()
        channel.flush()  # as the runner tries a failed flush again
    assert _feed_links(settings.output_dir) == {"p1.html"}
    assert _feed_links(settings.output_dir, "policy") == {"p1.html"}
