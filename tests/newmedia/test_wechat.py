"""The WeChat channel against the fake Official Account API, through the real runner:
every injected fault ends with each item published exactly once per account."""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from channels.base import ChannelContext
from channels.newmedia.wechat.api import WeChatClient
from channels.newmedia.wechat.callback import handle_publish_job_finish
from channels.newmedia.wechat.channel import WeChatChannel
from consumers.channel import Channel
from govpub.deliveries import DeliveryLog, DeliveryState
from govpub.errors import InvalidCallback
from govpub.settings import Settings
from govpub.store import Store
from tests import factories
from tests.newmedia import events
from tests.newmedia.conftest import SITE, Clock, Crash, dead_letters, emit, run, runner_for
from tests.newmedia.fakes import FakeWeChat, Fault

pytestmark = pytest.mark.usefixtures("store_location")

Settings_ = Callable[..., Settings]


def _url(kind: str, document_id: str) -> str:
    return f"{SITE}{kind}/{document_id}.html"


def _builder(clock: Callable[[], float] = time.time) -> Callable[[ChannelContext], Channel]:
    return lambda context: WeChatChannel.from_context(context, clock=clock)


def _poll(channel: Channel) -> None:
    assert isinstance(channel, WeChatChannel)
    channel.poll_publishing()


def _rows(settings: Settings, event: dict[str, Any]) -> dict[str, Any]:
    with Store(settings.store) as store:
        return {r.target: r for r in DeliveryLog(store).for_event(event["event_id"])}


def test_full_publish_flow_confirms_and_fits_the_limits(
    nm_settings: Settings_, wechat: FakeWeChat, server: Any
) -> None:
    settings = nm_settings()
    long_title = "株洲市2023年第二季度安全生产领域“非法违法”典型案例集中曝光暨隐患排查治理情况通报"
    batch = events.exposure_batch(
        title=long_title,
        cases=[
            {
                "title": f"案件{n}",
                "case_summary": f"<b>{n}</b> & " + "重大危险源管理不到位，" * 1500,
                "decision_ref": "zzyj-cf-2023-0012",
            }
            for n in range(3)
        ],
    )
    emit(settings, [batch, factories.penalty()])

    stats = run(settings, _builder(), after=_poll)

    assert stats.dead_lettered == 0
    url = _url("exposure", batch["document_id"])
    assert wechat.posts_for(url) == 1
    article = wechat.drafts_created[0]
    assert len(article["title"]) == 32
    assert article["title"].endswith("…")
    assert len(article["digest"]) <= 128
    assert len(article["author"]) <= 16
    assert len(article["content"]) < 20_000
    assert article["content_source_url"] == url
    assert f'<a href="{url}">' in article["content"]  # the portal link survives the cut
    assert "全文请点击" in article["content"]
    assert article["thumb_media_id"] in wechat.materials
    # The penalty decision is not routed to WeChat.
    assert wechat.posts_for(_url("penalty", "doc-penalty-1")) == 0

    rows = _rows(settings, batch)
    assert rows["city"].state is DeliveryState.CONFIRMED
    assert rows["city"].remote_ids["article_id"].startswith("ARTICLE-")
    assert rows["city"].remote_ids["article_url"].startswith("http://mp.weixin.qq.com/s/")
    assert {"media_id", "publish_id", "thumb_media_id"} <= set(rows["city"].remote_ids)
    assert rows[""].state is DeliveryState.CONFIRMED


def test_in_article_image_is_uploaded_and_becomes_the_cover(
    nm_settings: Settings_, wechat: FakeWeChat, server: Any
) -> None:
    settings = nm_settings()
    png = (settings.newmedia.routes.parent / "cover.png").read_bytes()
    server.expect_request("/images/river.png").respond_with_data(png, content_type="image/png")
    outside = "https://elsewhere.example/evil.png"
    campaign = events.campaign(
        body=f'<p>开幕。</p><img src="{server.url_for("/images/river.png")}"><img src="{outside}">'
    )
    emit(settings, [campaign])
    run(settings, _builder(), after=_poll)
    content = wechat.drafts_created[0]["content"]
    assert wechat.article_images[0] in content
    assert "elsewhere.example" not in content  # hosts not allowed are never fetched
    cover = wechat.drafts_created[0]["thumb_media_id"]
    assert wechat.materials[cover] == png


def test_token_expiring_mid_flow_is_refreshed_once(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    emit(settings, [events.campaign()])
    original = WeChatClient.add_draft

    def add_then_expire(self: WeChatClient, article: dict[str, Any]) -> str:
        media_id = original(self, article)
        wechat.expire_tokens()  # the platform ends the token between two calls
        return media_id

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WeChatClient, "add_draft", add_then_expire)
        stats = run(settings, _builder())
    assert stats.delivered == 1
    assert wechat.calls["freepublish/submit:refused"] == 1
    assert wechat.calls["freepublish/submit"] == 1
    assert len(wechat.issued) == 2
    assert wechat.forced == 0  # normal mode gave a new token: no forced refresh spent
    assert wechat.posts_for(_url("campaign", "theme-day-2023-river")) == 1


def test_refused_token_that_normal_mode_repeats_gets_one_forced_refresh(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    emit(settings, [events.campaign()])
    original = WeChatClient.add_draft

    def add_then_revoke(self: WeChatClient, article: dict[str, Any]) -> str:
        media_id = original(self, article)
        wechat.revoke_silently()
        return media_id

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WeChatClient, "add_draft", add_then_revoke)
        run(settings, _builder())
    assert wechat.forced == 1
    assert wechat.posts_for(_url("campaign", "theme-day-2023-river")) == 1


def test_workers_of_one_app_share_the_stored_token(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    with Store(settings.store) as one, Store(settings.store) as two:
        kwargs: dict[str, Any] = {
            "base_url": str(settings.wechat.api_base),
            "timeout": 2.0,
        }
        secret = settings.wechat.app_secrets["city"]
        first = WeChatClient("city", wechat.app_id, secret, store=one, **kwargs)
        second = WeChatClient("city", wechat.app_id, secret, store=two, **kwargs)
        with first, second:
            assert first.access_token() == second.access_token()
    assert wechat.calls["stable_token"] == 1


def test_quota_45009_parks_until_the_next_day_and_alerts_without_dead_letters(
    nm_settings: Settings_, wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    settings = nm_settings()
    emit(settings, [events.campaign(), events.exposure_batch()])
    wechat.quota_left["freepublish/submit"] = 0
    clock = Clock()
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the runner's park wait: the day passes
        waits.append(seconds)
        clock.now += seconds + 1
        wechat.quota_left.pop("freepublish/submit")

    caplog.set_level(logging.ERROR)
    stats = run(settings, _builder(clock), sleep=sleep)

    assert stats.delivered == 2
    assert stats.dead_lettered == 0
    assert dead_letters(settings) == []
    assert len(waits) == 1
    assert 0 < waits[0] <= 86_400 + 120  # until midnight in Beijing (plus a margin)
    assert wechat.calls["freepublish/submit"] == 3  # one refusal, then one per document
    assert any("ALERT" in r.getMessage() and "45009" in r.getMessage() for r in caplog.records)
    assert wechat.posts_for(_url("campaign", "theme-day-2023-river")) == 1
    assert wechat.posts_for(_url("exposure", "exposure-2023Q2-work-safety")) == 1


def test_a_spent_quota_is_remembered_across_restarts(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    emit(settings, [events.campaign()])
    wechat.quota_left["freepublish/submit"] = 0
    clock = Clock()

    def give_up(seconds: float) -> None:
        raise Crash  # the process stops while parked

    with pytest.raises(Crash):
        run(settings, _builder(clock), sleep=give_up)
    calls = wechat.calls["freepublish/submit"]
    with pytest.raises(Crash):
        run(settings, _builder(clock), sleep=give_up)
    assert wechat.calls["freepublish/submit"] == calls  # no call before the quota resets


def test_48001_is_permanent_and_says_the_account_must_be_verified(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    emit(settings, [events.campaign()])
    wechat.fail("draft/add", *[Fault(errcode=48001)] * 5)
    stats = run(settings, _builder())
    assert stats.dead_lettered == 1
    (letter,) = dead_letters(settings)
    assert "verified" in letter["reason"]
    assert wechat.calls["draft/add"] == 1  # permanent: not retried


def test_bursts_of_5xx_are_retried_and_post_once(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    emit(settings, [events.campaign(), events.exposure_batch()])
    wechat.fail("draft/add", Fault(status=503), Fault(status=502))
    wechat.fail("freepublish/submit", Fault(status=500, process=True))  # done, answer lost
    wechat.fail("freepublish/get", Fault(status=503), Fault(status=503))  # urllib3 retries reads
    stats = run(settings, _builder(), after=_poll)
    assert stats.dead_lettered == 0
    assert wechat.posts_for(_url("campaign", "theme-day-2023-river")) == 1
    assert wechat.posts_for(_url("exposure", "exposure-2023Q2-work-safety")) == 1
    assert len(wechat.drafts_created) == 2
    confirmed = [
        r
        for e in ("theme-day-2023-river", "exposure-2023Q2-work-safety")
        for r in _document_rows(settings, e)
        if r.target == "city"
    ]
    assert [r.state for r in confirmed] == [DeliveryState.CONFIRMED] * 2


def _document_rows(settings: Settings, document_id: str) -> list[Any]:
    with Store(settings.store) as store:
        return DeliveryLog(store).for_document(document_id)


def test_timeouts_and_slow_answers_never_make_a_second_post(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings(newmedia_timeout=0.5)
    emit(settings, [events.campaign()])
    wechat.fail("draft/add", Fault(delay=1.2, process=True))  # the draft is made, the answer late
    wechat.fail("freepublish/submit", Fault(delay=1.2, process=True))  # published, answer late
    wechat.fail("draft/batchget", Fault(delay=1.2))  # a slow read: retried by urllib3
    stats = run(settings, _builder())
    assert stats.dead_lettered == 0
    assert len(wechat.drafts_created) == 1  # the late draft was found and used
    assert wechat.posts_for(_url("campaign", "theme-day-2023-river")) == 1
    (row,) = [r for r in _document_rows(settings, "theme-day-2023-river") if r.target == "city"]
    assert row.state is DeliveryState.CONFIRMED  # found among published articles
    assert row.attempts >= 2


@pytest.mark.parametrize("step", ["add_draft", "submit"])
def test_crash_between_the_remote_call_and_the_record_then_restart(
    nm_settings: Settings_, wechat: FakeWeChat, step: str
) -> None:
    settings = nm_settings()
    emit(settings, [events.exposure_batch()])
    original = getattr(WeChatClient, step)

    def call_then_die(self: WeChatClient, *args: Any) -> str:
        original(self, *args)
        raise Crash  # killed after the platform acted, before the record was written

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WeChatClient, step, call_then_die)
        with pytest.raises(Crash):
            run(settings, _builder())
    with Store(settings.store) as store:
        (pending,) = [r for r in DeliveryLog(store).for_document("exposure-2023Q2-work-safety")]
    assert pending.target == "city"
    assert pending.state is DeliveryState.PENDING  # the record the restart must reconcile
    assert ("media_id" in pending.remote_ids) is (step == "submit")
    stats = run(settings, _builder(), after=_poll)  # the restart gets the event again
    assert stats.delivered == 1
    url = _url("exposure", "exposure-2023Q2-work-safety")
    assert wechat.posts_for(url) == 1
    assert len(wechat.drafts_created) == 1
    assert wechat.calls["freepublish/submit"] == 1


def test_retraction_deletes_the_article_everywhere_it_was_published(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    batch = events.exposure_batch()
    emit(settings, [batch])
    run(settings, _builder(), after=_poll)
    url = _url("exposure", batch["document_id"])
    assert wechat.live_for(url) == 1
    withdrawal = factories.retract("exposure", batch["document_id"], 2, reason="案件信息有误")
    emit(settings, [withdrawal])
    run(settings, _builder())
    assert wechat.live_for(url) == 0
    assert wechat.posts_for(url) == 1
    rows = {(r.event_id, r.target): r for r in _document_rows(settings, batch["document_id"])}
    assert rows[(batch["event_id"], "city")].state is DeliveryState.RETRACTED
    assert rows[(withdrawal["event_id"], "city")].state is DeliveryState.RETRACTED
    assert rows[(withdrawal["event_id"], "")].state is DeliveryState.RETRACTED


def test_retraction_of_a_post_whose_record_was_lost_in_a_crash(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    batch = events.exposure_batch()
    emit(settings, [batch])
    original = WeChatClient.submit

    def submit_then_die(self: WeChatClient, media_id: str) -> str:
        original(self, media_id)
        raise Crash

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WeChatClient, "submit", submit_then_die)
        with pytest.raises(Crash):
            run(settings, _builder())
    emit(settings, [factories.retract("exposure", batch["document_id"], 2)])
    run(settings, _builder())  # publish (found, not reposted), then withdraw
    url = _url("exposure", batch["document_id"])
    assert wechat.posts_for(url) == 1
    assert wechat.live_for(url) == 0


def test_update_with_replace_posts_the_new_version_and_deletes_the_old(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    emit(settings, [events.meeting(), events.meeting(version=2)])
    run(settings, _builder(), after=_poll)
    url = _url("meeting", "zzzf-cwh-2023-12")
    assert wechat.posts_for(url) == 2
    assert wechat.live_for(url) == 1
    assert wechat.drafts_created[1]["title"].startswith("【更新】")


def test_update_with_skip_keeps_the_first_post(nm_settings: Settings_, wechat: FakeWeChat) -> None:
    settings = nm_settings()
    emit(settings, [events.campaign(), events.campaign(version=2)])
    run(settings, _builder())
    assert wechat.posts_for(_url("campaign", "theme-day-2023-river")) == 1


def test_publishjobfinish_callback_confirms_or_fails_the_record(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    settings = nm_settings()
    wechat.publish_async = True
    emit(settings, [events.campaign(), events.exposure_batch()])
    run(settings, _builder())
    by_url = {job["articles"][0]["content_source_url"]: pid for pid, job in wechat.jobs.items()}
    jobs = [
        by_url[_url("campaign", "theme-day-2023-river")],
        by_url[_url("exposure", "exposure-2023Q2-work-safety")],
    ]
    article_id = wechat.finish(jobs[0])
    wechat.finish(jobs[1], status=4)
    ok = f"""<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>
<FromUserName><![CDATA[oFake]]></FromUserName><CreateTime>1686900000</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[PUBLISHJOBFINISH]]></Event>
<PublishEventInfo><publish_id>{jobs[0]}</publish_id><publish_status>0</publish_status>
<article_id><![CDATA[{article_id}]]></article_id><article_detail><count>1</count>
<item><idx>1</idx><article_url><![CDATA[http://mp.weixin.qq.com/s/{article_id}]]></article_url></item>
</article_detail></PublishEventInfo></xml>""".encode()
    refused = ok.replace(f"<publish_id>{jobs[0]}".encode(), f"<publish_id>{jobs[1]}".encode())
    refused = refused.replace(b"<publish_status>0", b"<publish_status>4")
    with Store(settings.store) as store:
        first = handle_publish_job_finish(ok, store)
        second = handle_publish_job_finish(refused, store)
        again = handle_publish_job_finish(ok, store)  # WeChat may push twice
        unknown = handle_publish_job_finish(ok.replace(jobs[0].encode(), b"999"), store)
        log = DeliveryLog(store)
        campaign_rows = {r.target: r for r in log.for_document("theme-day-2023-river")}
        batch_rows = {r.target: r for r in log.for_document("exposure-2023Q2-work-safety")}
    assert first.recorded
    assert first.account_id == "gh_0123456789ab"
    assert second.recorded
    assert again.recorded
    assert not unknown.recorded
    assert campaign_rows["city"].state is DeliveryState.CONFIRMED
    assert campaign_rows["city"].remote_ids["article_id"] == article_id
    assert campaign_rows[""].state is DeliveryState.CONFIRMED
    assert batch_rows["city"].state is DeliveryState.FAILED
    assert "审核不通过" in (batch_rows["city"].last_error or "")
    # A refused article is final: a redelivery does not submit it again.
    submits = wechat.calls["freepublish/submit"]
    emit(settings, [])
    run(settings, _builder())
    assert wechat.calls["freepublish/submit"] == submits


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b'<!DOCTYPE x [<!ENTITY a "b">]><xml><MsgType>event</MsgType></xml>',
        b"<xml><MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event></xml>",
        b"<xml><MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event></xml>",
    ],
)
def test_callback_refuses_what_is_not_a_publish_event(body: bytes, tmp_path: Any) -> None:
    with Store(tmp_path / "s.db") as store, pytest.raises(InvalidCallback, match=r"\w"):
        handle_publish_job_finish(body, store)


def test_poll_budget_limits_freepublish_get(nm_settings: Settings_, wechat: FakeWeChat) -> None:
    settings = nm_settings()
    wechat.publish_async = True
    emit(settings, [events.campaign(), events.exposure_batch()])
    clock = Clock.morning()

    def poll_often(channel: Channel) -> None:
        assert isinstance(channel, WeChatChannel)
        channel.accounts["city"] = channel.accounts["city"].model_copy(update={"poll_budget": 3})
        for _ in range(4):  # still publishing: polled again later, until the budget is spent
            channel.poll_publishing()
            clock.now += 3600
        assert wechat.calls["freepublish/get"] == 3
        for publish_id in wechat.jobs:
            wechat.finish(publish_id)
        clock.now += 86_400  # the next day brings a new budget
        assert channel.poll_publishing() == 2

    run(settings, _builder(clock), after=poll_often)
    assert wechat.calls["freepublish/get"] == 5
    assert {r.state for r in _document_rows(settings, "theme-day-2023-river")} == {
        DeliveryState.CONFIRMED
    }


def test_forced_refreshes_are_limited_to_20_a_day_and_30_s_apart(tmp_path: Any) -> None:
    from datetime import UTC, datetime

    from channels.newmedia.wechat.api import TokenStore
    from govpub.errors import ChannelParked, RateLimited

    clock = Clock()
    clock.now = datetime(2023, 6, 16, 1, 0, tzinfo=UTC).timestamp()  # 09:00 in Beijing
    with Store(tmp_path / "s.db") as store, Store(tmp_path / "s.db") as other:
        tokens, elsewhere = TokenStore(store, clock=clock), TokenStore(other, clock=clock)
        for _ in range(19):
            assert tokens.reserve_forced("wxapp", refused="T0") is None
            with pytest.raises(RateLimited) as limited:
                elsewhere.reserve_forced("wxapp", refused="T0")  # another worker, too soon
            assert 0 < limited.value.retry_after <= 30
            clock.now += 31
        assert elsewhere.reserve_forced("wxapp", refused="T0") is None  # the 20th
        clock.now += 31
        with pytest.raises(ChannelParked) as parked:
            tokens.reserve_forced("wxapp", refused="T0")
        assert parked.value.until == datetime(2023, 6, 16, 16, 1, tzinfo=UTC)  # Beijing midnight
        # A worker that finds a newer valid token in the store uses it instead of forcing.
        tokens.save("wxapp", "T1", clock.now + 7200)
        assert elsewhere.reserve_forced("wxapp", refused="T0") == "T1"
        clock.now = parked.value.until.timestamp()
        assert tokens.reserve_forced("wxapp", refused="T1") is None  # a new day


def test_callback_signature_check() -> None:
    import hashlib

    from channels.newmedia.wechat.callback import verify_callback_signature

    expected = hashlib.sha1(b"".join(sorted([b"tok", b"1686900000", b"nonce"]))).hexdigest()
    assert verify_callback_signature("tok", expected, "1686900000", "nonce")
    assert not verify_callback_signature("other", expected, "1686900000", "nonce")


def test_a_quiet_consumer_still_confirms_what_it_submitted(
    nm_settings: Settings_, wechat: FakeWeChat
) -> None:
    """No event follows the submission: the runner's idle polls confirm it."""
    settings = nm_settings()
    wechat.publish_async = True
    emit(settings, [events.campaign()])
    with Store(settings.store) as store:
        channel = WeChatChannel.from_context(ChannelContext(settings, store))
        runner = runner_for(settings, channel, store, poll_timeout=0.05, idle_interval=0.05)
        thread = threading.Thread(target=runner.run)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not wechat.jobs and time.monotonic() < deadline:
                time.sleep(0.05)
            assert wechat.jobs, "nothing was submitted"
            polls_before = wechat.calls["freepublish/get"]
            for publish_id in list(wechat.jobs):
                wechat.finish(publish_id)
            states: set[DeliveryState] = set()
            while time.monotonic() < deadline:
                states = {r.state for r in _document_rows(settings, "theme-day-2023-river")}
                if states == {DeliveryState.CONFIRMED}:
                    break
                time.sleep(0.05)
        finally:
            runner.stop()
            thread.join(timeout=10)
            channel.close()
    assert states == {DeliveryState.CONFIRMED}
    assert wechat.calls["freepublish/get"] > polls_before
