"""Freshness of new-media accounts from what the real Weibo channel recorded against the
fake platform: a refused status leaves the account silent, a confirmed one counts."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from channels.base import ChannelContext
from channels.newmedia.weibo.channel import WeiboChannel
from consumers.channel import Channel
from govpub.app.freshness import FreshnessReport, FreshnessSettings, State, check_freshness
from govpub.settings import Settings
from tests.newmedia import events
from tests.newmedia.conftest import dead_letters, emit, run
from tests.newmedia.fakes import FakeWeibo

pytestmark = pytest.mark.usefixtures("store_location")

Settings_ = Callable[..., Settings]


def _build(context: ChannelContext) -> Channel:
    return WeiboChannel.from_context(context)


def _report(settings: Settings) -> FreshnessReport:
    """The report now, with the shipped rules (14 days for every account)."""
    return check_freshness(
        settings,
        FreshnessSettings(_env_file=None),
        now=datetime.now(UTC),
    )


def _accounts(settings: Settings) -> dict[str, tuple[State, str | None, int]]:
    return {
        a.name: (a.standing.state, a.last.document_id if a.last else None, a.failed_posts)
        for a in _report(settings).accounts
    }


def test_an_account_whose_statuses_were_refused_is_silent_until_one_is_confirmed(
    nm_settings: Settings_, weibo: FakeWeibo
) -> None:
    settings = nm_settings()
    weibo.domain = "www.zhuzhou.gov.cn"  # the app registered another domain: 10017
    emit(settings, [events.exposure_batch("exposure-2023Q2-work-safety")])
    assert run(settings, _build).dead_lettered == 1
    assert len(dead_letters(settings)) == 1
    # Both routed accounts are silent: the WeChat one never ran, the Weibo one only failed.
    assert _accounts(settings) == {
        "wechat/city": (State.OVERDUE, None, 0),
        "weibo/fabu": (State.OVERDUE, None, 1),
    }

    weibo.domain = "portal.zhuzhou.test"  # fixed
    emit(settings, [events.exposure_batch("exposure-2023Q3-work-safety")])
    assert run(settings, _build).delivered == 1
    [fabu] = [a for a in _report(settings).accounts if a.name == "weibo/fabu"]
    assert fabu.last is not None
    assert (fabu.last.document_id, fabu.failed_posts) == ("exposure-2023Q3-work-safety", 1)
    assert fabu.standing.deadline == fabu.last.at.date() + timedelta(days=14)
    assert fabu.standing.state is State.OK
