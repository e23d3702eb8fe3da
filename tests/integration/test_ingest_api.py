"""The ingest API over real HTTP (uvicorn on loopback, embedded bus): signatures, limits,
answers and what reaches the bus."""

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.memory import MemoryChannel
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner
from govpub.app.channels import run_channels
from govpub.bus import SendFuture, SendResult, open_bus
from govpub.bus.sqlite import SqliteBus
from govpub.compliance.audit import AuditLog
from govpub.compliance.identifiers import id_check_char
from govpub.errors import BusError, PermanentDeliveryError, PublishFailed
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers.ingest import signing
from producers.ingest.client import GovpubAuth, IngestClient, encode_body
from tests import factories
from tests.ingest_support import SECRETS, Running, bus_records, payloads, running_ingest

pytestmark = pytest.mark.usefixtures("store_location")

ID_NUMBER = "43021119900101123" + id_check_char("43021119900101123")


@pytest.fixture
def api(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Running]:
    with running_ingest(make_settings, tmp_path) as running:
        yield running


def signed_post(
    api: Running,
    body: bytes,
    *,
    key_id: str = "yjj-2026a",
    secret: str | None = None,
    signed_body: bytes | None = None,
    timestamp: int | None = None,
    request_id: str | None = None,
    path: str = "/v1/events",
) -> requests.Response:
    """A POST signed by hand, so each part of the signature can be got wrong on purpose."""
    headers = signing.signed_headers(
        key_id,
        secret or SECRETS[key_id],
        "POST",
        path,
        body if signed_body is None else signed_body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        request_id=request_id or str(uuid.uuid4()),
    )
    return requests.post(api.url + path, data=body, headers=headers, timeout=30)


def problem_paths(response: requests.Response) -> list[tuple[int | None, str]]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return [(e["index"], e["path"]) for e in response.json()["errors"]]


# --- signatures ---------------------------------------------------------------------------


def test_a_signed_event_is_accepted_and_reaches_the_bus_masked(api: Running) -> None:
    event = factories.penalty(
        party_type="自然人", party_name="张三", facts=f"张三，身份证号{ID_NUMBER}。"
    )
    event["payload"].pop("credit_code", None)
    with api.client() as client:
        reply = client.publish(event)
    assert reply.status == 202, reply.body
    result = reply.body["events"][0]
    assert result["event_id"] == event["event_id"]
    assert result["duplicate"] is False
    assert result["topic"] == f"{api.settings.topic_prefix}.penalty"
    rules = {(f["rule"], f["field"]) for f in result["compliance"]}
    assert ("id_number", "payload.facts") in rules
    assert ("party_name", "payload.party_name") in rules
    [sent] = payloads(bus_records(api.settings))
    assert sent["payload"]["party_name"] == "张某"
    assert ID_NUMBER not in json.dumps(sent, ensure_ascii=False)
    assert "张三" not in json.dumps(sent, ensure_ascii=False)


def test_both_active_keys_work_and_a_revoked_one_does_not(api: Running) -> None:
    with api.client("yjj-2026b") as client:
        assert client.publish(factories.penalty("doc-b")).status == 202
    with api.client("yjj-2025") as client:
        reply = client.publish(factories.penalty("doc-c"))
    assert reply.status == 401
    assert "unknown or inactive key" in reply.body["detail"]


def test_a_tampered_body_is_refused(api: Running) -> None:
    body = encode_body(factories.penalty())
    tampered = body.replace(b"50000.00", b"5.00")
    response = signed_post(api, tampered, signed_body=body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == signing.SCHEME
    assert "X-Govpub-Signature" in response.json()["detail"]
    assert bus_records(api.settings) == []


def test_a_wrong_secret_is_refused(api: Running) -> None:
    response = signed_post(api, encode_body(factories.penalty()), secret="x" * 40)
    assert response.status_code == 401


def test_an_unknown_key_is_refused(api: Running) -> None:
    with IngestClient(api.url, "nobody-key", "y" * 40) as client:
        assert client.publish(factories.penalty()).status == 401


def test_unsigned_requests_are_refused(api: Running) -> None:
    response = requests.post(api.url + "/v1/events", json=factories.penalty(), timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == signing.SCHEME
    assert "missing header X-Govpub-Key" in response.json()["detail"]


@pytest.mark.parametrize(("skew", "status"), [(-301, 401), (301, 401), (-3600, 401), (300, 202)])
def test_timestamps_outside_the_window_are_refused(
    make_settings: Callable[..., Settings], tmp_path: Path, skew: int, status: int
) -> None:
    """The server's clock stands still, so a slow request cannot move the boundary."""
    now = 1_764_300_000.0
    with running_ingest(make_settings, tmp_path, clock=lambda: now) as api:
        response = signed_post(api, encode_body(factories.penalty()), timestamp=int(now) + skew)
    assert response.status_code == status, response.text
    if status == 401:
        assert "300 s" in response.json()["detail"]


def test_a_replayed_request_is_refused_and_nothing_is_sent_twice(api: Running) -> None:
    body = encode_body(factories.penalty())
    request_id = str(uuid.uuid4())
    stamp = int(time.time())
    first = signed_post(api, body, request_id=request_id, timestamp=stamp)
    assert first.status_code == 202
    replay = signed_post(api, body, request_id=request_id, timestamp=stamp)
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    assert len(bus_records(api.settings)) == 1


def test_the_path_is_signed(api: Running) -> None:
    event_id = str(uuid.uuid4())
    headers = signing.signed_headers(
        "yjj-2026a",
        SECRETS["yjj-2026a"],
        "GET",
        f"/v1/events/{uuid.uuid4()}",
        b"",
        timestamp=int(time.time()),
        request_id=str(uuid.uuid4()),
    )
    response = requests.get(f"{api.url}/v1/events/{event_id}", headers=headers, timeout=30)
    assert response.status_code == 401


# --- authorisation ------------------------------------------------------------------------


def test_an_event_of_another_department_is_forbidden(api: Running) -> None:
    event = factories.penalty()
    event["department"] = "zz-scjgj"
    with api.client() as client:
        reply = client.publish(event)
    assert reply.status == 403
    assert reply.body["errors"][0]["path"] == "department"
    assert bus_records(api.settings) == []
    with Store(api.settings.store) as store:
        rows = store.conn.execute(
            "SELECT decision, rule, key_id, department FROM compliance_audit"
        ).fetchall()
    assert rows == [("refused", "department_mismatch", "yjj-2026a", "zz-yjj")]


def test_a_kind_the_department_may_not_publish_is_forbidden(api: Running) -> None:
    event = factories.policy()
    event["department"] = "zz-yjj"
    with api.client() as client:
        reply = client.publish(event)
    assert reply.status == 403
    assert reply.body["errors"][0]["path"] == "kind"
    assert "exposure, penalty" in reply.body["errors"][0]["message"]


def test_a_document_of_another_department_cannot_be_updated(api: Running) -> None:
    with api.client() as client:
        assert client.publish(factories.penalty("doc-x")).status == 202
    update = factories.penalty("doc-x", version=2)
    update["department"] = "zz-scjgj"
    with api.client("scj-2026a") as client:
        reply = client.publish(update)
    assert reply.status == 403
    assert reply.body["errors"][0]["path"] == "document_id"


# --- limits and answers -------------------------------------------------------------------


def test_an_oversized_body_is_refused_before_it_is_read(api: Running) -> None:
    limit = api.settings.ingest_max_body_bytes
    body = b"[" + b" " * limit + b"]"
    response = signed_post(api, body)
    assert response.status_code == 413
    assert response.json()["title"] == "payload too large"


def test_an_oversized_chunked_body_is_cut_off_while_reading(api: Running) -> None:
    limit = api.settings.ingest_max_body_bytes
    chunk = b" " * 65536
    chunks = (limit // len(chunk)) + 8

    def body() -> Iterator[bytes]:
        yield from (chunk for _ in range(chunks))

    headers = signing.signed_headers(
        "yjj-2026a",
        SECRETS["yjj-2026a"],
        "POST",
        "/v1/events",
        chunk * chunks,
        timestamp=int(time.time()),
        request_id=str(uuid.uuid4()),
    )
    response = requests.post(api.url + "/v1/events", data=body(), headers=headers, timeout=30)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413


def test_an_oversized_chunked_body_whose_last_chunk_crosses_the_limit(api: Running) -> None:
    # The whole body has arrived when it is refused: still a 413, never a 500.
    limit = api.settings.ingest_max_body_bytes
    chunks = [b" " * limit, b" " * 100]
    headers = signing.signed_headers(
        "yjj-2026a",
        SECRETS["yjj-2026a"],
        "POST",
        "/v1/events",
        b"".join(chunks),
        timestamp=int(time.time()),
        request_id=str(uuid.uuid4()),
    )
    response = requests.post(api.url + "/v1/events", data=iter(chunks), headers=headers, timeout=30)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413


def test_a_body_of_exactly_the_limit_is_read(api: Running) -> None:
    limit = api.settings.ingest_max_body_bytes
    body = json.dumps(factories.penalty()).encode()
    body += b" " * (limit - len(body))
    assert len(body) == limit
    assert signed_post(api, body).status_code == 202


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "a batch holds 1 to"),
        (b"42", "expected an event object or an array of events"),
        (b'{"version": NaN}', "not valid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, "not valid JSON"),
    ],
)
def test_bodies_that_are_not_events(api: Running, body: bytes, message: str) -> None:
    response = signed_post(api, body)
    assert response.status_code == 422
    assert message in response.json()["detail"] + json.dumps(response.json()["errors"])


def test_a_batch_larger_than_the_limit_is_refused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    with running_ingest(make_settings, tmp_path, ingest_max_batch=3) as api, api.client() as client:
        reply = client.publish([factories.penalty(f"doc-{i}") for i in range(4)])
    assert reply.status == 422
    assert "1 to 3 events" in reply.body["detail"]


def test_invalid_events_are_answered_with_field_paths(api: Running) -> None:
    good = factories.penalty("doc-good")
    bad = factories.penalty("doc-bad", title="x" * 201)
    del bad["payload"]["decided_on"]
    bad["version"] = 0
    with api.client() as client:
        reply = client.publish([good, bad])
    assert reply.status == 422
    paths = {(e["index"], e["path"]) for e in reply.body["errors"]}
    assert paths == {(1, "version"), (1, "payload.title"), (1, "payload.decided_on")}
    assert all(e["event_id"] == bad["event_id"] for e in reply.body["errors"])
    assert bus_records(api.settings) == []  # a batch is all or nothing
    with Store(api.settings.store) as store:
        decisions = [e.decision.value for e in AuditLog(store).for_event(good["event_id"])]
    assert decisions[-1] == "not_sent"  # it passed the gate, and the log says it was not sent


def test_repeated_event_ids_in_a_batch_are_refused(api: Running) -> None:
    event = factories.penalty()
    with api.client() as client:
        reply = client.publish([event, event])
    assert reply.status == 422
    assert [(e["index"], e["path"]) for e in reply.body["errors"]] == [(1, "event_id")]


def test_never_publish_rules_answer_422_with_the_rule(api: Running) -> None:
    with api.client() as client:
        reply = client.publish(factories.penalty(is_minor=True))
    assert reply.status == 422
    assert reply.body["title"] == "refused by the compliance gate"
    [error] = reply.body["errors"]
    assert (error["path"], error["rule"]) == ("payload.is_minor", "minor_party")
    assert bus_records(api.settings) == []


def test_a_stale_version_is_a_conflict(api: Running) -> None:
    with api.client() as client:
        assert client.publish(factories.penalty("doc-s", version=2)).status == 202
        reply = client.publish(factories.penalty("doc-s", version=1))
    assert reply.status == 409
    assert [(e["path"]) for e in reply.body["errors"]] == ["version"]
    assert "send 3 or later" in reply.body["errors"][0]["message"]


def test_an_event_id_reused_for_other_content_is_a_conflict(api: Running) -> None:
    event = factories.penalty()
    other = json.loads(json.dumps(event))
    other["payload"]["facts"] = "另一事实。"
    with api.client() as client:
        assert client.publish(event).status == 202
        reply = client.publish(other)
    assert reply.status == 409
    assert reply.body["errors"][0]["path"] == "event_id"


def test_the_same_event_again_returns_the_first_answer_and_sends_nothing(api: Running) -> None:
    event = factories.penalty(
        party_type="自然人", party_name="李四", facts=f"李四（身份证号{ID_NUMBER}）"
    )
    event["payload"].pop("credit_code", None)
    with api.client() as client:
        first = client.publish(event)
        again = client.publish(event)
        with api.client("yjj-2026b") as other_key:
            third = other_key.publish([factories.penalty("doc-new"), event])
    assert first.status == again.status == third.status == 202
    expected = dict(first.body["events"][0], duplicate=True)
    assert again.body["events"][0] == expected
    assert third.body["events"][1] == dict(expected, index=1)
    assert len(bus_records(api.settings)) == 2


# --- status -------------------------------------------------------------------------------


def test_status_shows_acceptance_deliveries_and_compliance(api: Running) -> None:
    event = factories.penalty()
    with api.client() as client:
        assert client.publish(event).status == 202
        [result] = run_channels(api.settings, ["rss"], until_idle=True)
        assert result.error is None
        status = client.status(event["event_id"])
    assert status.status == 200, status.body
    body = status.body
    assert body["accepted"] is True
    assert body["state"] == "acked"
    assert (body["document_id"], body["version"], body["department"]) == (
        "doc-penalty-1",
        1,
        "zz-yjj",
    )
    assert [(d["channel"], d["state"]) for d in body["deliveries"]] == [("rss", "confirmed")]
    assert body["dead_letters"] == []
    assert any(f["rule"] == "penalty_deadline" for f in body["compliance"])


def test_status_shows_dead_letters_with_their_reason(api: Running) -> None:
    event = factories.penalty()
    with api.client() as client:
        assert client.publish(event).status == 202
    channel = MemoryChannel(
        "broken", fail=lambda e: PermanentDeliveryError("template missing for penalty")
    )
    with (
        Store(api.settings.store) as store,
        ChannelRunner(
            channel,
            open_bus(api.settings),
            store,
            Topics(api.settings.topic_prefix),
            policy=RetryPolicy(max_attempts=1),
            poll_timeout=0.2,
        ) as runner,
    ):
        runner.run(until_idle=True)
    with api.client() as client:
        body = client.status(event["event_id"]).body
    assert [(d["channel"], d["state"]) for d in body["deliveries"]] == [("broken", "dead_lettered")]
    [letter] = body["dead_letters"]
    assert letter["channel"] == "broken"
    assert "template missing for penalty" in letter["reason"]


def test_status_of_unknown_foreign_or_malformed_ids(api: Running) -> None:
    event = factories.penalty()
    with api.client() as client:
        assert client.publish(event).status == 202
        assert client.status(str(uuid.uuid4())).status == 404
        assert client.status("not-an-id").status == 422
    with api.client("scj-2026a") as other:
        assert other.status(event["event_id"]).status == 404


# --- the bus not acknowledging ------------------------------------------------------------


class _Refused:
    def result(self, timeout: float | None = None) -> SendResult:
        raise PublishFailed("broker did not acknowledge (test)")


class FlakyBus(SqliteBus):
    """The embedded bus, refusing to acknowledge documents in ``refuse`` (or every send
    and topic creation while ``down``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.refuse: set[bytes] = set()
        self.down = False

    def ensure_topics(self, topics: Any) -> None:
        if self.down:
            raise BusError("cannot reach the bus (test)")
        super().ensure_topics(topics)

    def producer(self) -> Any:
        real = super().producer()
        bus = self

        class Producer:
            def send(self, topic: str, value: bytes, **kwargs: Any) -> SendFuture:
                if bus.down or kwargs.get("key") in bus.refuse:
                    return _Refused()
                return real.send(topic, value, **kwargs)

            def flush(self, timeout: float | None = None) -> None:
                real.flush(timeout)

            def close(self) -> None:
                real.close()

        return Producer()


@pytest.fixture
def flaky(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[Running, FlakyBus]]:
    bus = FlakyBus(tmp_path / "bus.db")
    with running_ingest(make_settings, tmp_path, bus_override=bus) as running:
        yield running, bus


def test_a_bus_that_is_down_answers_503_and_accepts_nothing(
    flaky: tuple[Running, FlakyBus],
) -> None:
    api, bus = flaky
    bus.down = True
    event = factories.penalty()
    with api.client() as client:
        reply = client.publish(event)
        assert reply.status == 503
        assert reply.retry_after == api.settings.ingest_retry_after
        assert "NOT accepted" in reply.body["detail"]
        assert reply.body["not_accepted"] == [event["event_id"]]
        assert client.status(event["event_id"]).status == 404
        bus.down = False
        again = client.publish(event)
    assert again.status == 202
    assert again.body["events"][0]["duplicate"] is False


def test_a_partial_acknowledgement_says_which_events_are_accepted(
    flaky: tuple[Running, FlakyBus],
) -> None:
    api, bus = flaky
    first, second = factories.penalty("doc-1"), factories.penalty("doc-2")
    bus.refuse.add(b"doc-2")
    slept: list[float] = []
    with api.client() as client:
        reply = client.publish([first, second], retries=1, sleep=slept.append)
        assert slept == [api.settings.ingest_retry_after]
        assert reply.status == 503
        assert [r["event_id"] for r in reply.body["accepted"]] == [first["event_id"]]
        assert reply.body["not_accepted"] == [second["event_id"]]
        bus.refuse.clear()
        done = client.publish([first, second])
    assert done.status == 202
    assert [r["duplicate"] for r in done.body["events"]] == [True, False]
    assert len(bus_records(api.settings)) == 2


# --- the published contract ---------------------------------------------------------------


def test_health_and_openapi_are_published(api: Running) -> None:
    assert requests.get(api.url + "/healthz", timeout=30).json() == {"status": "ok"}
    spec = requests.get(api.url + "/openapi.json", timeout=30).json()
    assert set(spec["paths"]) == {"/v1/events", "/v1/events/{event_id}", "/healthz"}
    post = spec["paths"]["/v1/events"]["post"]
    assert set(post["responses"]) == {"202", "401", "403", "409", "413", "422", "503"}
    assert "PenaltyPayload" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["govpubSignature"]["in"] == "header"


def test_the_client_signs_exactly_what_it_sends() -> None:
    auth = GovpubAuth("k-1", "s" * 32, clock=lambda: 1_700_000_000, request_ids=lambda: "r" * 16)
    prepared = requests.Request(
        "POST", "http://127.0.0.1:9/v1/events?x=1", data=b'{"a":1}', auth=auth
    ).prepare()
    digest = hashlib.sha256(b'{"a":1}').hexdigest()
    text = f"GOVPUB-HMAC-SHA256\nPOST\n/v1/events?x=1\n1700000000\n{'r' * 16}\n{digest}"
    expected = hmac.new(b"s" * 32, text.encode(), hashlib.sha256).hexdigest()
    assert prepared.headers["X-Govpub-Signature"] == expected
    assert prepared.headers["X-Govpub-Key"] == "k-1"
    assert prepared.headers["X-Govpub-Timestamp"] == "1700000000"


def test_an_event_the_gate_cannot_make_safe_answers_422_with_the_rule(api: Running) -> None:
    from schemas.codes import is_credit_code

    code = next(
        c
        for c in (
            f"43020319851111{n:03d}" + id_check_char(f"43020319851111{n:03d}") for n in range(1000)
        )
        if is_credit_code(c)
    )
    event = factories.penalty("doc-id-as-code", credit_code=code)
    with api.client() as client:
        reply = client.publish(event)
    assert reply.status == 422
    [error] = reply.body["errors"]
    assert (error["path"], error["rule"]) == ("payload.credit_code", "id_number")
    assert bus_records(api.settings) == []
