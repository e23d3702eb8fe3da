"""Take-downs on new media against the fake platforms, through the real runner: WeChat's
10 deletions a day (the rest queued, publishing goes on), a quota the platform says is
spent, failed deletions tried again, and a Weibo that keeps failing — none of which
holds back the other channels."""

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from channels.base import ChannelContext
from channels.newmedia.wechat.channel import WeChatChannel
from channels.newmedia.wechat.deletions import DeleteQueue, QueuedDeletion
from consumers.channel import Channel
from consumers.redrive import redrive
from consumers.retry import RetryPolicy
from govpub.app.channels import build_runner
from govpub.app.compliance_status import read_compliance_status
from govpub.bus import open_bus
from govpub.deliveries import DeliveryLog, DeliveryState
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from tests import factories
from tests.newmedia import events
from tests.newmedia.conftest import COVER, SITE, Clock, dead_letters, emit, routes_text, run
from tests.newmedia.fakes import FakeWeChat, FakeWeibo, Fault, WebhookReceiver

pytestmark = pytest.mark.usefixtures("store_location")

Settings_ = Callable[..., Settings]
DAY = 86_400.0


def penalty_routes(tmp_path: Path, server: HTTPServer) -> Path:
    """The test routing file, with penalty decisions posted to WeChat and Weibo too."""
    shutil.copy(COVER, tmp_path / "cover.png")
    path = tmp_path / "routes-penalty.toml"
    extra = '\n[[routes]]\nkinds = ["penalty"]\nwechat = ["city"]\nweibo = ["fabu"]\n'
    path.write_text(routes_text(server, extra=extra), encoding="utf-8")
    return path


def decision(number: int) -> dict[str, Any]:
    return factories.penalty(
        f"zzyj-cf-2023-{number:04d}",
        title=f"第{number}号行政处罚决定",
        decision_number=f"（株）应急罚〔2023〕{number}号",
        display_until="2024-05-04",
    )


def takedown(document_id: str) -> dict[str, Any]:
    event = factories.retract("penalty", document_id, 2, reason="公示期满")
    event["payload"]["display_ended_on"] = "2024-05-04"
    event["occurred_at"] = "2024-05-05T00:00:00+08:00"
    return event


def url(document_id: str) -> str:
    return f"{SITE}penalty/{document_id}.html"


def wechat_builder(clock: Callable[[], float]) -> Callable[[ChannelContext], Channel]:
    return lambda context: WeChatChannel.from_context(context, clock=clock)


def poll(channel: Channel) -> None:
    assert isinstance(channel, WeChatChannel)
    channel.poll_publishing()


def work_off(channel: Channel) -> None:
    assert isinstance(channel, WeChatChannel)
    channel.work_off_deletions()


def runner_record(settings: Settings, channel: str, event: dict[str, Any]) -> Any:
    with Store(settings.store) as store:
        return DeliveryLog(store).get(channel, event["event_id"])


def status(settings: Settings) -> Any:
    with Store(settings.store) as store:
        return read_compliance_status(settings, store, today=date(2024, 5, 5))


def test_ten_deletions_a_day_the_rest_wait_and_publishing_goes_on(
    nm_settings: Settings_, wechat: FakeWeChat, server: HTTPServer, tmp_path: Path
) -> None:
    settings = nm_settings(newmedia_routes=penalty_routes(tmp_path, server))
    clock = Clock.morning()
    published = [decision(n) for n in range(1, 13)]
    emit(settings, published)
    run(settings, wechat_builder(clock), after=poll)
    assert sum(wechat.live_for(url(e["document_id"])) for e in published) == 12

    withdrawals = [takedown(e["document_id"]) for e in published]
    emit(settings, [*withdrawals, events.campaign()])
    stats = run(settings, wechat_builder(clock), after=poll)

    assert stats.dead_lettered == 0
    assert wechat.calls["freepublish/delete"] == 10  # never asked beyond the day's ten
    # Events reach the channel partition by partition: which two wait is not fixed.
    still_live = [e["document_id"] for e in published if wechat.live_for(url(e["document_id"]))]
    assert len(still_live) == 2
    # The channel was not parked: the campaign of the same batch is published.
    assert wechat.live_for(f"{SITE}campaign/theme-day-2023-river.html") == 1
    states = {w["document_id"]: runner_record(settings, "wechat", w).state for w in withdrawals}
    assert {d for d, state in states.items() if state is DeliveryState.SENT} == set(still_live)
    assert {d for d, s in states.items() if s is DeliveryState.RETRACTED} == {
        e["document_id"] for e in published
    } - set(still_live)
    waiting = [w for w in withdrawals if w["document_id"] in still_live]
    queued = runner_record(settings, "wechat", waiting[-1])
    assert "deletion queued on city (the platform's daily limit)" in queued.detail
    report = status(settings)
    [account] = report.wechat_queue
    assert (account.account, account.waiting, account.failing) == ("city", 2, 0)
    assert sorted(account.documents) == still_live
    assert report.unfinished_count == 4  # two withdrawals, each on the runner and the target
    assert report.as_json()["takedowns"]["wechat_delete_queue"][0]["waiting"] == 2

    # Later the same day nothing more is deleted; after midnight in Beijing the rest is.
    run(settings, wechat_builder(clock), after=work_off)
    assert wechat.calls["freepublish/delete"] == 10
    clock.now += DAY
    run(settings, wechat_builder(clock), after=work_off)
    assert wechat.calls["freepublish/delete"] == 12
    assert all(wechat.live_for(url(e["document_id"])) == 0 for e in published)
    assert wechat.posts_for(url(still_live[-1])) == 1
    assert runner_record(settings, "wechat", waiting[-1]).state is DeliveryState.RETRACTED
    with Store(settings.store) as store:
        assert DeleteQueue(store).waiting() == []
        rows = DeliveryLog(store).for_document(still_live[-1])
    assert {r.state for r in rows if r.channel == "wechat" and r.target} == {
        DeliveryState.RETRACTED
    }
    assert status(settings).unfinished_count == 0


def test_a_quota_the_platform_says_is_spent_queues_the_deletion(
    nm_settings: Settings_, wechat: FakeWeChat, server: HTTPServer, tmp_path: Path
) -> None:
    settings = nm_settings(newmedia_routes=penalty_routes(tmp_path, server))
    clock = Clock.morning()
    emit(settings, [decision(1), decision(2)])
    run(settings, wechat_builder(clock), after=poll)
    # Deletions made in the console used the day's quota: the platform answers 45009.
    wechat.quota_left["freepublish/delete"] = 0
    emit(settings, [takedown("zzyj-cf-2023-0001"), takedown("zzyj-cf-2023-0002")])

    def never_park(seconds: float) -> None:
        raise AssertionError(f"the channel parked for {seconds:.0f} s")

    stats = run(settings, wechat_builder(clock), sleep=never_park)
    assert (stats.delivered, stats.dead_lettered) == (2, 0)
    assert wechat.calls["freepublish/delete"] == 1  # the quota is remembered: asked once
    assert len(status(settings).wechat_queue[0].documents) == 2
    wechat.quota_left.pop("freepublish/delete")
    clock.now += DAY
    run(settings, wechat_builder(clock), after=work_off)
    assert wechat.live_for(url("zzyj-cf-2023-0001")) == 0
    assert wechat.live_for(url("zzyj-cf-2023-0002")) == 0
    assert status(settings).wechat_queue == []


def test_a_failed_deletion_is_tried_again_and_shows_until_it_succeeds(
    nm_settings: Settings_, wechat: FakeWeChat, server: HTTPServer, tmp_path: Path
) -> None:
    settings = nm_settings(newmedia_routes=penalty_routes(tmp_path, server))
    clock = Clock.morning()
    emit(settings, [decision(1)])
    run(settings, wechat_builder(clock), after=poll)
    wechat.fail("freepublish/delete", Fault(status=502), Fault(status=502))
    withdrawal = takedown("zzyj-cf-2023-0001")
    emit(settings, [withdrawal])
    stats = run(settings, wechat_builder(clock))
    assert stats.dead_lettered == 0
    [account] = status(settings).wechat_queue
    assert (account.waiting, account.failing) == (1, 1)
    with Store(settings.store) as store:
        [waiting] = DeleteQueue(store).waiting()
    assert waiting.last_error is not None
    assert "502" in waiting.last_error
    # Not before its time; then it fails once more and waits longer; then it is done.
    run(settings, wechat_builder(clock), after=work_off)
    assert wechat.calls["freepublish/delete"] == 1
    clock.now += 61
    run(settings, wechat_builder(clock), after=work_off)
    assert wechat.calls["freepublish/delete"] == 2
    assert wechat.live_for(url("zzyj-cf-2023-0001")) == 1
    clock.now += 121
    run(settings, wechat_builder(clock), after=work_off)
    assert wechat.live_for(url("zzyj-cf-2023-0001")) == 0
    assert runner_record(settings, "wechat", withdrawal).state is DeliveryState.RETRACTED
    assert status(settings).wechat_queue == []


def test_a_weibo_that_keeps_failing_never_holds_back_the_other_channels(
    nm_settings: Settings_,
    weibo: FakeWeibo,
    receivers: dict[str, WebhookReceiver],
    server: HTTPServer,
    tmp_path: Path,
) -> None:
    settings = nm_settings(newmedia_routes=penalty_routes(tmp_path, server))
    published = decision(1)
    emit(settings, [published])
    for name in ("weibo", "webhook"):
        with Store(settings.store) as store:
            build_runner(settings, name, store).run(until_idle=True)
    assert weibo.live_for(url(published["document_id"])) == 1
    weibo.fail("statuses/destroy.json", *[Fault(status=503)] * 20)
    withdrawal = takedown(published["document_id"])
    emit(settings, [withdrawal])
    with Store(settings.store) as store:
        runner = build_runner(settings, "weibo", store)
        runner.policy = RetryPolicy(max_attempts=3, min_backoff=0.01, max_backoff=0.02)
        weibo_stats = runner.run(until_idle=True)
        webhook_stats = build_runner(settings, "webhook", store).run(until_idle=True)
    # Weibo retried, then dead-lettered; the webhooks were told all the same.
    assert weibo_stats.dead_lettered == 1
    assert weibo.calls["statuses/destroy.json"] >= 3
    assert webhook_stats.delivered == 1
    assert receivers["county-a"].types_for(published["document_id"])[-1] == "govpub.penalty.retract"
    [letter] = dead_letters(settings)
    assert letter["channel"] == "weibo"
    report = status(settings)
    stuck = {(r.channel, r.target): r for r in report.unfinished}
    assert stuck["weibo", ""].state is DeliveryState.DEAD_LETTERED
    # A 503 may hide a status that is gone: the account's record waits to be looked up.
    assert stuck["weibo", "fabu"].state is DeliveryState.PENDING
    assert report.unfinished_count == 2  # nothing on the webhook channel
    assert weibo.live_for(url(published["document_id"])) == 1

    # Weibo is back: a redrive takes the status down, and nothing is left unfinished.
    weibo.faults.clear()
    with Store(settings.store) as store:
        runner = build_runner(settings, "weibo", store)
        result = redrive(runner.channel, open_bus(settings), store, Topics(settings.topic_prefix))
    assert result.delivered == 1
    assert weibo.live_for(url(published["document_id"])) == 0
    assert status(settings).unfinished_count == 0


def test_a_due_deletion_is_claimed_by_one_worker_and_due_again_if_it_dies(
    store_location: str,
) -> None:
    # Two consumers of the wechat channel on two hosts: each its own connection.
    clock = Clock.morning()
    with Store(store_location) as first, Store(store_location) as second:
        queue, other = DeleteQueue(first, clock=clock), DeleteQueue(second, clock=clock)
        queue.add(
            QueuedDeletion(
                account="city",
                article_id="article-1",
                document_id="zzyj-cf-2023-0001",
                post_event_id="post-1",
                withdrawal_event_id="withdrawal-1",
                queued_at=clock.now - DAY,
                due_at=clock.now - 1,
            )
        )
        # Both read the queue before either deletes: only one may spend a deletion on it.
        assert [d.article_id for d in queue.due(10)] == ["article-1"]
        assert [d.article_id for d in other.due(10)] == ["article-1"]
        assert queue.claim("city", "article-1", lease=600) is True
        assert other.claim("city", "article-1", lease=600) is False
        assert other.due(10) == []
        assert other.is_queued("city", "article-1")  # still waiting, for the status
        # The first worker dies before deleting: after the lease the deletion is due again.
        clock.now += 601
        assert [d.article_id for d in other.due(10)] == ["article-1"]
        assert other.claim("city", "article-1", lease=600) is True
        other.finish("city", "article-1")
        assert queue.claim("city", "article-1", lease=600) is False
        assert queue.waiting() == []
