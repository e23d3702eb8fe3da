"""End to end: a department sends over HTTP, ``govpub consume --until-idle`` publishes, and
what reaches the feeds is masked and free of markup. Runs on the embedded bus and on
the real Kafka broker."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from govpub.compliance.identifiers import id_check_char, luhn_check_digit
from govpub.settings import Settings
from tests import factories
from tests.ingest_support import bus_records, payloads, running_ingest
from tests.xss import VECTORS, html_problems, text_problems

pytestmark = pytest.mark.usefixtures("store_location")

ID_NUMBER = "43020319850612201" + id_check_char("43020319850612201")
PHONE = "13973312345"
CARD = "621700280000123456" + luhn_check_digit("621700280000123456")
NAME = "王小明"

ATOM = "{http://www.w3.org/2005/Atom}"


def consume_until_idle(settings: Settings) -> str:
    """Run ``govpub consume --until-idle --channel rss`` as a user would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    env.update(
        GOVPUB_BUS=settings.bus,
        GOVPUB_STORE=str(settings.store),
        GOVPUB_OUTPUT_DIR=str(settings.output_dir),
        GOVPUB_TOPIC_PREFIX=settings.topic_prefix,
        GOVPUB_SESSION_TIMEOUT=str(settings.session_timeout),
        GOVPUB_POLL_TIMEOUT=str(settings.poll_timeout),
    )
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "govpub"),
            "consume",
            "--until-idle",
            "--channel",
            "rss",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def feed_texts(output_dir: Path) -> dict[str, list[str]]:
    """Titles and descriptions of every item of every feed, as a feed reader receives them
    (XML entities decoded once)."""
    texts: dict[str, list[str]] = {}
    for path in sorted((output_dir / "feeds").rglob("*")):
        if path.suffix == ".xml":
            root = ET.parse(path).getroot()
            # A description is HTML: govpub writes its text escaped, with <br/> for line
            # breaks; that tag is its own, and nothing else may be markup.
            found = [
                (node.text or "").replace("<br/>", "\n")
                for item in root.iter("item")
                for node in item
                if node.tag in ("title", "description")
            ]
        elif path.suffix == ".atom":
            root = ET.parse(path).getroot()
            found = [
                node.text or ""
                for entry in root.iter(f"{ATOM}entry")
                for node in entry
                if node.tag in (f"{ATOM}title", f"{ATOM}summary", f"{ATOM}content")
            ]
        else:
            continue
        texts[str(path.relative_to(output_dir))] = found
    return texts


def test_a_penalty_sent_over_http_reaches_the_feeds_masked(
    make_settings: Callable[..., Settings], tmp_path: Path, transport: str
) -> None:
    event = factories.penalty(
        "zzyj-cf-2026-0101",
        title=f"{NAME}非法储存危险化学品行政处罚决定",
        party_type="自然人",
        party_name=NAME,
        facts=(
            f"经查，当事人{NAME}（公民身份号码{ID_NUMBER}，手机{PHONE}）未经许可储存危险化学品，"
            f"违法所得经其银行卡{CARD}收取。"
        ),
    )
    event["payload"].pop("credit_code", None)
    with running_ingest(make_settings, tmp_path, bus=transport) as api:
        with api.client() as client:
            reply = client.publish(event)
        assert reply.status == 202, reply.body
        print(consume_until_idle(api.settings))
        with api.client() as client:
            status = client.status(event["event_id"]).body
    assert [(d["channel"], d["state"]) for d in status["deliveries"]] == [("rss", "confirmed")]

    texts = feed_texts(api.settings.output_dir)
    for feed in ("feeds/all.xml", "feeds/penalty.xml", "feeds/dept/zz-yjj.xml", "feeds/all.atom"):
        joined = "\n".join(texts[feed])
        for secret in (ID_NUMBER, PHONE, CARD, NAME, "小明"):
            assert secret not in joined, (feed, secret)
        assert "王某某非法储存危险化学品行政处罚决定" in joined
        assert "当事人：王某某" in joined
        assert "430203************" in joined
        assert "139****2345" in joined
        assert f"**************{CARD[-4:]}" in joined
        assert "（株）应急罚〔2023〕12号" in joined  # the decision number is untouched
    raw = "".join(p.read_text("utf-8") for p in (api.settings.output_dir / "feeds").rglob("*.*"))
    for secret in (ID_NUMBER, PHONE, CARD, NAME):
        assert secret not in raw
    [sent] = payloads(bus_records(api.settings))
    assert NAME not in json.dumps(sent, ensure_ascii=False)


def _with_vectors(
    make: Callable[..., dict[str, Any]], department: str, **fields: Any
) -> list[dict[str, Any]]:
    events = []
    for number, vector in enumerate(VECTORS):
        values = {name: template.format(v=vector) for name, template in fields.items()}
        event = make(f"xss-{department}-{number}", **values)
        event["department"] = department
        events.append(event)
    return events


def test_xss_vectors_do_not_survive_to_the_feeds(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    penalties = _with_vectors(
        factories.penalty,
        "zz-yjj",
        title="处罚决定{v}",
        facts="违法事实{v}。",
        legal_basis="依据{v}",
    )
    policies = _with_vectors(
        factories.policy,
        "zz-zfb",
        title="通知{v}",
        body="<p>正文{v}</p>",
        issuer="株洲市人民政府办公室{v}",
    )
    with running_ingest(make_settings, tmp_path) as api:
        with api.client() as client:
            assert client.publish(penalties).status == 202
        with api.client("zfb-2026a") as client:
            reply = client.publish(policies)
            assert reply.status == 202, reply.body
        consume_until_idle(api.settings)

        # The events on the bus: bodies keep only the allow-list, text keeps no markup.
        for sent in payloads(bus_records(api.settings, "policy")):
            assert html_problems(sent["payload"]["body"]) == []
            assert text_problems(sent["payload"]["title"]) == []
            assert text_problems(sent["payload"]["issuer"]) == []
        for sent in payloads(bus_records(api.settings, "penalty")):
            for name in ("title", "facts", "legal_basis"):
                assert text_problems(sent["payload"][name]) == []

    texts = feed_texts(api.settings.output_dir)
    assert len(texts["feeds/all.xml"]) == 2 * min(len(VECTORS) * 2, api.settings.rss.feed_items)
    for feed, items in texts.items():
        for text in items:
            # Words of a vector may remain as visible text (＜img …); no tag may.
            assert text_problems(text) == [], feed
