"""A generated corpus of personal data, through every channel: nothing raw comes out.

Hypothesis writes identity, mobile, card and landline numbers and party names in the
spellings people (and careless tools) use — separators of every kind between digit
groups, full-width digits, Chinese numerals, zero-width characters, names with spaces,
traditional forms, a compatibility ideograph, co-parties, labels — into **every text
field of every kind** (found from the field roles), as a department would send them.
Each example goes twice through the whole pipeline on the embedded bus: once through
the compliance gate (``Publisher`` with the gate), once straight onto the topics (the
channels' own re-check alone). Then every output is read — website pages, ``api/*.json``,
feeds, sitemaps, the new-media outbox of WeChat, Weibo and webhook requests (dry run) —
and no raw number or name may be in any of them.

Bounded and derandomized, so ``make test`` stays quick and CI deterministic.
"""

import hashlib
import html
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import opencc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govpub.app.channels import run_channels
from govpub.bus import open_bus
from govpub.compliance.identifiers import id_check_char, luhn_check_digit
from govpub.compliance.normalize import fold_text
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers.factory import open_publisher
from schemas import encode_event, parse_event
from schemas.export import _PAYLOADS
from schemas.roles import field_roles
from tests import factories
from tests.app_settings import app_settings

CHANNELS = ["rss", "website", "wechat", "weibo", "webhook", "catalog"]
COVER = (
    Path(__file__).resolve().parents[2] / "channels" / "newmedia" / "data" / "newmedia-cover.png"
)
ROUTES = """
[wechat.accounts.portal]
app_id = "wx00000000000test0"
author = "株洲市人民政府"
cover_image = "cover.png"

[weibo.accounts.fabu]
rip = "203.0.113.10"
registered_domain = "127.0.0.1"

[webhook.endpoints.county]
url = "https://county.example.gov.cn/hooks/govpub"

[[routes]]
kinds = ["policy", "penalty", "licence", "enforcement", "exposure", "meeting", "campaign"]
wechat = ["portal"]
weibo = ["fabu"]
webhook = ["county"]
"""

SEPARATORS = [" ", "\u00a0", "\u3000", "-", "–", "—", ".", "／", "\u200b", "  ", "·"]
SURNAMES = ["李", "王", "张", "刘", "陈", "赵", "黄", "周"]
GIVEN = ["建国", "小明", "志强", "丽华", "德华", "晓东", "海峰", "国强"]
DIGITS = "0123456789"
FULL_WIDTH = str.maketrans(DIGITS, "０１２３４５６７８９")
CHINESE = str.maketrans(DIGITS, "〇一二三四五六七八九")
_SEPARATOR_RUN = re.compile(r"(?<=[0-9])[\s\-\u2010-\u2015./\\()·|~_]{1,4}(?=[0-9])")


@dataclass
class Secrets:
    """What must never come out: digit strings and names (simplified)."""

    digits: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)


def _draw_digits(draw: st.DrawFn, count: int) -> str:
    # Digits spread by a hash of the drawn seed: a secret must not be found by chance in
    # what every output carries (ids, 0000…), as the small values hypothesis prefers would.
    seed = draw(st.integers(0, 2**32))
    return str(int(hashlib.sha256(str(seed).encode()).hexdigest(), 16))[:count]


def _spell(draw: st.DrawFn, number: str, groups: list[int]) -> str:
    """``number`` split in ``groups`` with drawn separators, in a drawn digit width."""
    parts, cursor = [], 0
    for size in groups:
        parts.append(number[cursor : cursor + size])
        cursor += size
    if cursor < len(number):
        parts.append(number[cursor:])
    written = parts[0]
    for part in parts[1:]:
        written += draw(st.sampled_from(["", *SEPARATORS])) + part
    if draw(st.booleans()):
        written = written.translate(FULL_WIDTH)
    return written


@st.composite
def identity(draw: st.DrawFn, secrets: Secrets) -> str:
    area = draw(st.sampled_from("123456789")) + _draw_digits(draw, 5)
    born = draw(st.dates(min_value=date(1940, 1, 1), max_value=date(2005, 12, 31)))
    first17 = area + born.strftime("%Y%m%d") + _draw_digits(draw, 3)
    number = first17 + id_check_char(first17)
    secrets.digits.add(number[6:].replace("X", ""))
    return _spell(draw, number, draw(st.sampled_from([[18], [6, 8, 4], [6, 4, 4, 4], [6, 12]])))


@st.composite
def mobile(draw: st.DrawFn, secrets: Secrets) -> str:
    number = "1" + draw(st.sampled_from("3456789")) + _draw_digits(draw, 9)
    secrets.digits.add(number[3:7] + number[7:])
    form = draw(st.sampled_from(["groups", "brackets", "plus", "chinese"]))
    if form == "brackets":
        return f"({number[:3]}){number[3:7]}-{number[7:]}"
    if form == "plus":
        return "+86 " + _spell(draw, number, [3, 4, 4])
    if form == "chinese":
        return number.translate(CHINESE)
    return _spell(draw, number, [3, 4, 4])


@st.composite
def card(draw: st.DrawFn, secrets: Secrets) -> str:
    length = draw(st.integers(16, 19))
    payload = "62" + _draw_digits(draw, length - 3)
    number = payload + luhn_check_digit(payload)
    secrets.digits.add(number[:-4])
    groups = draw(st.sampled_from([[length], [4, 4, 4, 4], [6]]))
    return _spell(draw, number, groups)


@st.composite
def landline(draw: st.DrawFn, secrets: Secrets) -> str:
    local = draw(st.sampled_from("2345678")) + _draw_digits(draw, 7)
    secrets.digits.add(local)
    form = draw(st.sampled_from(["area", "plus", "label"]))
    if form == "plus":
        return f"+86-731-{local}"
    if form == "label":
        return f"电话：{local[:4]}-{local[4:]}"
    return "0731" + draw(st.sampled_from(["-", " ", ""])) + _spell(draw, local, [4, 4])


@st.composite
def person(draw: st.DrawFn, secrets: Secrets) -> tuple[str, str]:
    """``(name as written in party_name, how the text writes it)``."""
    name = draw(st.sampled_from(SURNAMES)) + draw(st.sampled_from(GIVEN))
    secrets.names.add(name)
    secrets.names.add(name[1:])
    form = draw(st.sampled_from(["plain", "space", "traditional", "zero-width", "compat", "given"]))
    if form == "space":
        written = name[0] + draw(st.sampled_from([" ", "\u3000", "\u00a0"])) + name[1:]
    elif form == "traditional":
        written = opencc.OpenCC("s2t").convert(name)
    elif form == "zero-width":
        written = name[0] + "\u200b" + name[1:]
    elif form == "compat" and name[0] == "李":
        written = "\uf9e1" + name[1:]
    elif form == "given":
        written = name[1:]
    else:
        written = name
    as_party = name if draw(st.booleans()) else name[0] + "　" + name[1:]
    return as_party, written


def _text_paths(kind: str) -> list[str]:
    roles = field_roles(_PAYLOADS[kind])
    return [path for path, role in roles.items() if role.is_text]


def _set(payload: dict[str, Any], path: str, value: str) -> None:
    node: Any = payload
    parts = path.split(".")
    for index, part in enumerate(parts[:-1]):
        following = parts[index + 1]
        if part == "*":
            continue
        if following == "*":
            node.setdefault(part, [{}] if len(parts) > index + 2 else [""])
            node = node[part][0]
        else:
            node = node.setdefault(part, {})
    last = parts[-1]
    if last == "*":
        node_list = payload
        for part in parts[:-2]:
            node_list = node_list[part]
        node_list[parts[-2]] = [value]
    elif isinstance(node, dict):
        node[last] = value


def _base(kind: str, document_id: str) -> dict[str, Any]:
    if kind == "policy":
        event = factories.policy(document_id)
        event["payload"]["attachments"] = [{"title": "附件", "url": "https://example.org/a.pdf"}]
        return event
    if kind == "meeting":
        return factories.envelope(
            "meeting",
            document_id,
            1,
            {
                "title": "常务会议",
                "meeting_type": "常务会议",
                "held_on": "2023-05-05",
                "press_release": "<p>会议</p>",
                "decisions": ["议定事项"],
                "interpretation": {"title": "解读", "body": "<p>解读</p>"},
            },
        )
    return factories.envelope(
        "campaign",
        document_id,
        1,
        {
            "title": "主题日",
            "theme": "耕地保护",
            "day": "2023-05-05",
            "phase": "day",
            "body": "<p>活动</p>",
            "links": [{"title": "链接", "url": "https://example.org/"}],
        },
    )


HTML_FORMS = ("tag", "nbsp", "entities", "plain")


def _wrap(text: str, form: str) -> str:
    """``text`` as an HTML body, written in one of :data:`HTML_FORMS`."""
    if form == "tag":  # a tag in the middle of the number: the page shows it whole
        middle = len(text) // 2
        return f"<p>{text[:middle]}<b>{text[middle:]}</b></p>"
    if form == "nbsp":  # digit groups separated by no-break space entities
        digits = re.sub(r"(?<=\d)[^\d]{1,3}(?=\d)", "", text)
        return "<p>" + re.sub(r"(\d{4})(?=\d)", r"\1&nbsp;", digits) + "</p>"
    if form == "entities":  # digits written as character references
        return "<p>" + re.sub(r"[0-9]", lambda m: f"&#{ord(m.group())};", text) + "</p>"
    return f"<p>{text}</p>"


@st.composite
def corpus(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Secrets]:
    """``(decisions, citing events, secrets)``: penalty, licensing and enforcement
    decisions first, then the exposure batch and the withdrawals that cite them, and the
    other kinds."""
    secrets = Secrets()
    personal = st.one_of(identity(secrets), mobile(secrets), card(secrets))
    party_full = st.one_of(personal, landline(secrets))
    first_party, first_written = draw(person(secrets))
    second_party, second_written = draw(person(secrets))
    joiner = draw(st.sampled_from(["、", "，", "；", "和"]))
    label = draw(st.sampled_from(["", "当事人", "当事人："]))
    decisions = []
    for prefix, build, type_field in (
        ("pen", factories.penalty, "party_type"),
        ("lic", factories.licence, "applicant_type"),
        ("enf", factories.enforcement, "party_type"),
    ):
        decision = build(f"{prefix}-1", **{type_field: "自然人"}, decided_on="2023-05-05")
        decision["payload"].pop("credit_code", None)
        kind = decision["kind"]
        roles = field_roles(_PAYLOADS[kind])
        for path in _text_paths(kind):
            if roles[path] == "party_name":
                _set(decision["payload"], path, f"{label}{first_party}{joiner}{second_party}")
            elif path == "decision_number":
                _set(decision["payload"], path, f"株应急罚〔2023〕{first_written}号")
            else:
                written = draw(st.sampled_from([first_written, second_written]))
                _set(decision["payload"], path, f"当事人{written}（{draw(party_full)}）经查")
        decisions.append(decision)
    second = factories.penalty("pen-2", party_type="自然人", party_name=first_party)
    second["payload"].pop("credit_code", None)
    decisions.append(second)
    cases = {"title": "x", "case_summary": "x", "decision_ref": "pen-1"}
    exposure = factories.envelope(
        "exposure",
        "exp-1",
        1,
        {"title": "x", "domain": "安全生产", "candidate_quarter": "2023Q2", "cases": [cases]},
        department="zz-yjj",
    )
    for path in _text_paths("exposure"):
        if path == "case_summary":
            continue  # a batch has cases, not a summary of its own
        written = draw(st.sampled_from([first_written, second_written]))
        _set(exposure["payload"], path, f"{written}（{draw(party_full)}）案")
    withdrawal = factories.retract(
        "penalty", "pen-2", 2, reason=f"{first_written}（{draw(party_full)}）已申请撤回"
    )
    licence_withdrawal = factories.retract(
        "licence", "lic-1", 2, reason=f"{second_written}（{draw(party_full)}）提交虚假材料"
    )
    citing = [exposure, withdrawal, licence_withdrawal]
    html_seen: list[str] = []
    for number, kind in enumerate(("policy", "meeting", "campaign")):
        event = _base(kind, f"{kind}-{number}")
        kind_roles = field_roles(_PAYLOADS[kind])
        for path in _text_paths(kind):
            value = f"公示：{draw(personal)}。"
            if kind_roles[path] == "html_body":  # every form in every example
                value = _wrap(value, HTML_FORMS[len(html_seen) % len(HTML_FORMS)])
                html_seen.append(path)
            _set(event["payload"], path, value)
        citing.append(event)
    return decisions, citing, secrets


def _settings(root: Path) -> Settings:
    routes = root / "routes.toml"
    routes.write_text(ROUTES, encoding="utf-8")
    shutil.copy(COVER, root / "cover.png")
    return app_settings(
        bus=f"sqlite:///{root / 'bus.db'}",
        store=root / "state.db",
        output_dir=root / "public",
        site_url="http://127.0.0.1:8000/",
        newmedia_dry_run=True,
        newmedia_routes=routes,
        poll_timeout=0.2,
        retry_min_backoff=0.01,
        retry_max_backoff=0.05,
    )


def _renamed(event: dict[str, Any], lane: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(event))
    copy["event_id"] = factories.new_id()
    copy["document_id"] = f"{lane}-{copy['document_id']}"
    for case in copy["payload"].get("cases", []):
        case["decision_ref"] = f"{lane}-{case['decision_ref']}"
    return copy


def _through_the_gate(settings: Settings, events: list[dict[str, Any]]) -> None:
    with Store(settings.store) as store, open_publisher(settings, store, source="test") as pub:
        for event in events:
            pub.publish(event)


def _onto_the_bus(settings: Settings, events: list[dict[str, Any]]) -> None:
    bus = open_bus(settings)
    topics = Topics(settings.topic_prefix)
    bus.ensure_topics(topics.all)
    producer = bus.producer()
    try:
        for raw in events:
            event = parse_event(raw)
            producer.send(
                topics.for_kind(event.kind.value),
                encode_event(event),
                key=event.document_id.encode(),
            ).result(timeout=30)
    finally:
        producer.close()


def _deliver(settings: Settings) -> None:
    results = run_channels(settings, CHANNELS, until_idle=True)
    assert [r.error for r in results] == [None] * len(CHANNELS)


def _readable(path: Path) -> str:
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return html.unescape(html.unescape(text))


def _compact(text: str) -> str:
    """Text as the detectors read it, with the separators between digits taken out."""
    folded = fold_text(text).translate(str.maketrans("〇一二三四五六七八九", DIGITS))
    return _SEPARATOR_RUN.sub("", folded)


def _names_view(text: str) -> str:
    simplified = opencc.OpenCC("t2s").convert(fold_text(text))
    return re.sub(r"[\s·]+", "", simplified)


def _assert_nothing_raw(output: Path, secrets: Secrets) -> int:
    files = [p for p in output.rglob("*") if p.is_file() and p.suffix != ".css"]
    for path in files:
        try:
            text = _readable(path)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        digits, names = _compact(text), _names_view(text)
        for secret in secrets.digits:
            assert secret not in digits, f"{path.relative_to(output)}: {secret}"
        for name in secrets.names:
            assert name not in names, f"{path.relative_to(output)}: {name}"
    return len(files)


@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(corpus())
def test_no_raw_number_or_name_reaches_any_output(
    generated: tuple[list[dict[str, Any]], list[dict[str, Any]], Secrets],
) -> None:
    decisions, citing, secrets = generated
    with tempfile.TemporaryDirectory(prefix="govpub-corpus-") as directory:
        root = Path(directory)
        settings_ = _settings(root)
        _through_the_gate(settings_, [_renamed(e, "gate") for e in decisions + citing])
        # Straight onto the topics: the channels see the decisions before what cites them.
        _onto_the_bus(settings_, [_renamed(e, "bus") for e in decisions])
        _deliver(settings_)
        _onto_the_bus(settings_, [_renamed(e, "bus") for e in citing])
        _deliver(settings_)
        output = settings_.output_dir
        for lane in ("gate", "bus"):
            for page in (
                "penalty/{}-pen-1.html",
                "exposure/{}-exp-1.html",
                "policy/{}-policy-0.html",
            ):
                assert (output / page.format(lane)).is_file(), page.format(lane)
        outbox = list((output / "outbox").rglob("*.json"))
        assert {p.relative_to(output / "outbox").parts[0] for p in outbox} == {
            "wechat",
            "weibo",
            "webhook",
        }
        checked = _assert_nothing_raw(output, secrets)
        assert checked > 50


def test_hostile_markup_straight_on_the_topics_reaches_no_channel(tmp_path: Path) -> None:
    settings_ = _settings(tmp_path)
    attack = "<img src=x onerror=alert(1)>"
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    policy = factories.policy(
        "pol-xss",
        title=f"{escaped}关于优化营商环境的措施",
        body=f"<p>正文{attack}<script>alert(2)</script>{escaped}</p>",
    )
    meeting = factories.envelope(
        "meeting",
        "meet-xss",
        1,
        {
            "title": f"{attack}常务会议",
            "meeting_type": "常务会议",
            "held_on": "2023-05-05",
            "press_release": f"<p onclick='x()'>会议<script>alert(3)</script></p>{escaped}",
            "decisions": [f"{attack}议定事项"],
        },
    )
    _onto_the_bus(settings_, [policy, meeting])
    _deliver(settings_)
    output = settings_.output_dir
    feed = (output / "feeds" / "all.xml").read_bytes()
    import xml.etree.ElementTree as ET

    titles = [t.text or "" for t in ET.fromstring(feed).iter("title")]
    descriptions = [d.text or "" for d in ET.fromstring(feed).iter("description")]
    assert "关于优化营商环境的措施" in titles
    for text in titles + descriptions:
        # What a reader that renders the element as HTML (decoding once more) would parse.
        assert "<img" not in html.unescape(text)
        assert "<script" not in html.unescape(text)
    outbox = {p: _readable(p) for p in (output / "outbox").rglob("*.json")}
    assert outbox
    handler = re.compile(r"<[A-Za-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
    for path, text in outbox.items():
        # Text that reads like a tag is kept as words behind a full-width ＜; no tag is.
        for needle in ("<script", "<img src=x", "&lt;img", "&lt;script"):
            assert needle not in text, f"{path}: {needle}"
        assert not handler.search(text), path
    for page in ("policy/pol-xss.html", "meeting/meet-xss.html"):
        text = (output / page).read_text("utf-8")
        assert not handler.search(text), page
        assert "<script>alert" not in text
