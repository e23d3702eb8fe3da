"""Signed webhooks against fake receivers, through the real runner on both transports."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from channels.base import ChannelContext
from channels.newmedia.webhook.channel import WebhookChannel, WebhookClient, sign, verify
from consumers.channel import Channel
from govpub.deliveries import DeliveryLog, DeliveryState
from govpub.settings import Settings
from govpub.store import Store
from tests import factories
from tests.newmedia import events
from tests.newmedia.conftest import HOOK_SECRET, SITE, Crash, dead_letters, emit, run
from tests.newmedia.fakes import Fault, WebhookReceiver

pytestmark = pytest.mark.usefixtures("store_location")

Settings_ = Callable[..., Settings]


def _build(context: ChannelContext) -> Channel:
    return WebhookChannel.from_context(context)


def _rows(settings: Settings, document_id: str) -> list[Any]:
    with Store(settings.store) as store:
        return DeliveryLog(store).for_document(document_id)


def test_standard_webhooks_signature_vector() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": f"v1,bm90LXRoaXMtb25l {signature}",  # rotated keys: any matches
    }
    assert verify(secret, headers, body, now=1614265330 + 10)
    assert not verify(secret, headers, body + b" ", now=1614265330)
    assert not verify("whsec_" + "QUFBQQ==", headers, body, now=1614265330)
    assert not verify(secret, headers, body, now=1614265330 + 301)  # a replay, too late
    assert not verify(secret, {"webhook-id": "x"}, body)


def test_every_endpoint_gets_each_event_once_signed(
    nm_settings: Settings_, receivers: dict[str, WebhookReceiver], transport: str
) -> None:
    settings = nm_settings(bus=transport)
    policy = factories.policy()
    emit(settings, [policy, events.exposure_batch(), factories.penalty()])
    stats = run(settings, _build)
    assert stats.delivered == 2  # policy and penalty; exposure is not routed to webhooks
    for receiver in receivers.values():
        assert receiver.bad_signatures == 0
        assert sorted(m["type"] for m in receiver.received) == [
            "govpub.penalty.publish",
            "govpub.policy.publish",
        ]
    message = next(
        m for m in receivers["county-a"].received if m["type"].startswith("govpub.policy")
    )
    assert message["data"]["event_id"] == policy["event_id"]
    assert message["data"]["url"] == f"{SITE}policy/doc-policy-1.html"
    rows = {r.target: r for r in _rows(settings, "doc-policy-1")}
    assert rows["county-a"].state is DeliveryState.CONFIRMED
    assert rows["county-a"].remote_ids == {"webhook_id": policy["event_id"], "http_status": "204"}
    assert rows[""].state is DeliveryState.CONFIRMED


def test_5xx_and_slow_receivers_are_retried_and_deduplicated_by_id(
    nm_settings: Settings_, receivers: dict[str, WebhookReceiver]
) -> None:
    settings = nm_settings(newmedia_timeout=0.5)
    emit(settings, [factories.policy()])
    a, b = receivers["county-a"], receivers["county-b"]
    a.fail(a.path, *[Fault(status=503)] * 6)  # beyond urllib3's retries: the runner retries
    b.fail(b.path, Fault(delay=1.0, process=True), Fault(status=500, process=True))
    stats = run(settings, _build)
    assert stats.dead_lettered == 0
    assert len(a.received) == 1
    assert len(b.received) == 3  # delivered three times, the same webhook-id each time …
    assert len(b.seen) == 1  # … so the receiver keeps one


def test_one_refusing_endpoint_does_not_hold_back_the_others(
    nm_settings: Settings_, receivers: dict[str, WebhookReceiver]
) -> None:
    settings = nm_settings()
    emit(settings, [factories.policy()])
    gone = receivers["county-b"]
    gone.fail(gone.path, *[Fault(status=410)] * 10)
    stats = run(settings, _build)
    assert stats.dead_lettered == 1
    assert len(receivers["county-a"].received) == 1
    (letter,) = dead_letters(settings)
    assert "county-b" in letter["reason"]
    assert "410" in letter["reason"]
    rows = {r.target: r for r in _rows(settings, "doc-policy-1")}
    assert rows["county-a"].state is DeliveryState.CONFIRMED
    assert rows["county-b"].state is DeliveryState.FAILED


def test_updates_always_go_out_and_retraction_reaches_holders_only(
    nm_settings: Settings_, receivers: dict[str, WebhookReceiver]
) -> None:
    settings = nm_settings()
    emit(settings, [factories.policy(), factories.policy(version=2)])
    run(settings, _build)
    emit(settings, [factories.retract("policy", "doc-policy-1", 3, department="zz-zfb")])
    emit(settings, [factories.retract("policy", "never-sent", 1, department="zz-zfb")])
    run(settings, _build)
    for receiver in receivers.values():
        assert receiver.types_for("doc-policy-1") == [
            "govpub.policy.publish",
            "govpub.policy.update",
            "govpub.policy.retract",
        ]
        assert receiver.types_for("never-sent") == []
    states = {(r.version, r.target): r.state for r in _rows(settings, "doc-policy-1")}
    assert states[(1, "county-a")] is DeliveryState.RETRACTED
    assert states[(3, "county-a")] is DeliveryState.RETRACTED


def test_crash_after_delivery_resends_with_the_same_id(
    nm_settings: Settings_, receivers: dict[str, WebhookReceiver]
) -> None:
    settings = nm_settings()
    emit(settings, [factories.policy()])
    original = WebhookClient.deliver

    def deliver_then_die(self: WebhookClient, msg_id: str, body: bytes) -> int:
        original(self, msg_id, body)
        raise Crash

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WebhookClient, "deliver", deliver_then_die)
        with pytest.raises(Crash):
            run(settings, _build)
    run(settings, _build)
    a = receivers["county-a"]
    assert len(a.received) == 2
    assert len(a.seen) == 1
    assert json.dumps(a.received[0], sort_keys=True) == json.dumps(a.received[1], sort_keys=True)


def test_secret_text_and_whsec_keys_both_sign(nm_settings: Settings_) -> None:
    plain = sign("plain-text-secret-for-b", "id", 1, b"{}")
    assert verify(
        "plain-text-secret-for-b",
        {"webhook-id": "id", "webhook-timestamp": "1", "webhook-signature": plain},
        b"{}",
        now=1,
    )
    assert sign(HOOK_SECRET, "id", 1, b"{}") != plain
