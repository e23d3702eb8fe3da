"""The Weibo channel against the fake Weibo API, through the real runner."""

from collections.abc import Callable
from typing import Any

import pytest

from channels.base import ChannelContext
from channels.newmedia.fit import weibo_length
from channels.newmedia.weibo.channel import WeiboChannel, WeiboClient
from consumers.channel import Channel
from govpub.deliveries import DeliveryLog, DeliveryState
from govpub.errors import ConfigurationError
from govpub.settings import Settings
from govpub.store import Store
from tests import factories
from tests.newmedia import events
from tests.newmedia.conftest import SITE, Crash, dead_letters, emit, run
from tests.newmedia.fakes import FakeWeibo, Fault

pytestmark = pytest.mark.usefixtures("store_location")

Settings_ = Callable[..., Settings]
URL = f"{SITE}exposure/exposure-2023Q2-work-safety.html"


def _build(context: ChannelContext) -> Channel:
    return WeiboChannel.from_context(context)


def _rows(settings: Settings, document_id: str) -> list[Any]:
    with Store(settings.store) as store:
        return DeliveryLog(store).for_document(document_id)


def test_status_links_to_the_portal_and_fits_140(nm_settings: Settings_, weibo: FakeWeibo) -> None:
    settings = nm_settings()
    batch = events.exposure_batch(title="株洲市" + "安全生产领域典型案例" * 18)
    emit(settings, [batch, factories.penalty()])
    stats = run(settings, _build)
    assert stats.delivered == 1
    (text,) = weibo.originals.values()
    assert text.startswith("【典型案例曝光】")
    assert text.endswith(" " + URL)
    assert weibo_length(text) <= 140
    assert "…" in text
    (row,) = [r for r in _rows(settings, batch["document_id"]) if r.target == "fabu"]
    assert row.state is DeliveryState.CONFIRMED
    assert row.remote_ids["weibo_id"] in weibo.statuses


def test_10017_is_a_configuration_error_naming_the_setting(
    nm_settings: Settings_, weibo: FakeWeibo
) -> None:
    settings = nm_settings()
    weibo.domain = "www.zhuzhou.gov.cn"  # the app registered another domain
    emit(settings, [events.exposure_batch()])
    stats = run(settings, _build)
    assert stats.dead_lettered == 1
    (letter,) = dead_letters(settings)
    assert "10017" in letter["reason"]
    assert "GOVPUB_SITE_URL" in letter["reason"]
    assert letter["error_type"] == "AccountMisconfigured"


def test_registered_domain_is_checked_before_anything_is_sent(nm_settings: Settings_) -> None:
    settings = nm_settings(site_url="https://www.elsewhere.example/")
    with Store(settings.store) as store, pytest.raises(ConfigurationError, match="GOVPUB_SITE_URL"):
        WeiboChannel.from_context(ChannelContext(settings, store))


def test_crash_after_share_then_restart_finds_the_status(
    nm_settings: Settings_, weibo: FakeWeibo
) -> None:
    settings = nm_settings()
    emit(settings, [events.exposure_batch()])
    original = WeiboClient.share

    def share_then_die(self: WeiboClient, text: str, rip: str) -> dict[str, Any]:
        original(self, text, rip)
        raise Crash

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WeiboClient, "share", share_then_die)
        with pytest.raises(Crash):
            run(settings, _build)
    stats = run(settings, _build)
    assert stats.delivered == 1
    assert weibo.posts_for(URL) == 1
    assert weibo.calls["statuses/share.json"] == 1
    (row,) = [r for r in _rows(settings, "exposure-2023Q2-work-safety") if r.target == "fabu"]
    assert row.state is DeliveryState.CONFIRMED
    assert "interrupted" in row.detail


def test_lost_answer_and_5xx_bursts_post_once(nm_settings: Settings_, weibo: FakeWeibo) -> None:
    settings = nm_settings()
    emit(settings, [events.exposure_batch(), events.campaign()])
    weibo.fail("statuses/share.json", Fault(status=502), Fault(status=500, process=True))
    weibo.fail("statuses/user_timeline.json", Fault(status=503))
    stats = run(settings, _build)
    assert stats.dead_lettered == 0
    assert weibo.posts_for(URL) == 1
    assert weibo.posts_for(f"{SITE}campaign/theme-day-2023-river.html") == 1


def test_repeated_status_error_is_reconciled_not_failed(
    nm_settings: Settings_, weibo: FakeWeibo
) -> None:
    settings = nm_settings()
    emit(settings, [events.exposure_batch()])
    weibo.fail("statuses/share.json", Fault(status=504, process=True))
    original = WeiboChannel.reconcile

    def blind(self: WeiboChannel, *args: Any) -> Any:  # the lookup misses it once
        _, ids = original(self, *args)
        return None, ids

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WeiboChannel, "reconcile", blind)
        stats = run(settings, _build)
    assert stats.delivered == 1
    assert weibo.posts_for(URL) == 1  # the platform refused the repeat (20019) …
    (row,) = [r for r in _rows(settings, "exposure-2023Q2-work-safety") if r.target == "fabu"]
    assert row.state is DeliveryState.CONFIRMED  # … and the existing status was recorded


def test_rate_limit_parks_until_the_next_hour(nm_settings: Settings_, weibo: FakeWeibo) -> None:
    settings = nm_settings()
    emit(settings, [events.exposure_batch()])
    weibo.fail("statuses/share.json", Fault(errcode=10023))
    waits: list[float] = []
    stats = run(settings, _build, sleep=waits.append)
    assert stats.delivered == 1
    assert len(waits) == 1
    assert 0 < waits[0] <= 3600 + 120
    assert dead_letters(settings) == []


def test_expired_token_names_the_setting(nm_settings: Settings_, weibo: FakeWeibo) -> None:
    settings = nm_settings(weibo_access_tokens={"fabu": "2.00stale"})
    emit(settings, [events.exposure_batch()])
    run(settings, _build)
    (letter,) = dead_letters(settings)
    assert "GOVPUB_WEIBO_ACCESS_TOKENS" in letter["reason"]
    assert "2.00stale" not in letter["reason"]


def test_retraction_destroys_the_status(nm_settings: Settings_, weibo: FakeWeibo) -> None:
    settings = nm_settings()
    batch = events.exposure_batch()
    emit(settings, [batch])
    run(settings, _build)
    assert weibo.live_for(URL) == 1
    emit(settings, [factories.retract("exposure", batch["document_id"], 2)])
    weibo.fail("statuses/destroy.json", Fault(status=503, process=True))  # deleted, answer lost
    stats = run(settings, _build)
    assert stats.dead_lettered == 0
    assert weibo.live_for(URL) == 0
    states = {(r.action, r.target): r.state for r in _rows(settings, batch["document_id"])}
    assert states[("publish", "fabu")] is DeliveryState.RETRACTED
    assert states[("retract", "fabu")] is DeliveryState.RETRACTED


def test_retraction_after_a_crash_that_lost_the_status_id(
    nm_settings: Settings_, weibo: FakeWeibo
) -> None:
    settings = nm_settings()
    batch = events.exposure_batch()
    emit(settings, [batch])
    original = WeiboClient.share

    def share_then_die(self: WeiboClient, text: str, rip: str) -> dict[str, Any]:
        original(self, text, rip)
        raise Crash

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WeiboClient, "share", share_then_die)
        with pytest.raises(Crash):
            run(settings, _build)
    # Before the restart, the publish event's record is pending with the text's digest only.
    (pending,) = _rows(settings, batch["document_id"])
    assert pending.state is DeliveryState.PENDING
    assert set(pending.remote_ids) == {"text_sha256"}
    # The restart meets the publish (found, not reposted) and the retraction (destroyed).
    emit(settings, [factories.retract("exposure", batch["document_id"], 2)])
    run(settings, _build)
    assert weibo.posts_for(URL) == 1
    assert weibo.live_for(URL) == 0
