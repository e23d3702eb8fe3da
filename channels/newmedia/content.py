"""What a new-media post says: template fields, the WeChat article, the Weibo status and
the webhook payload, all built from one event and always linking to the portal page.

Department HTML is never passed through: it is read into plain blocks (headings,
paragraphs, images) and written out again, escaped, so nothing a department typed
can break the markup, and cutting to a platform's limit only ever cuts text.
"""

import html
import json
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from typing import Literal

from channels.newmedia.fit import cut, cut_bytes, cut_weibo, weibo_length
from channels.report import row_lines
from channels.summary import summarize
from channels.text import clean_xml_text, plain_text
from channels.urls import SiteUrls
from govpub.departments import department_name
from schemas import (
    AnyEvent,
    CampaignEvent,
    ContentEvent,
    EnforcementEvent,
    ExposureEvent,
    LicenceEvent,
    MeetingEvent,
    PenaltyEvent,
    PolicyEvent,
    ReportEvent,
    RetractEvent,
    encode_event,
)
from schemas.enums import Action, CampaignPhase

WECHAT_TITLE_MAX = 32
WECHAT_AUTHOR_MAX = 16
WECHAT_DIGEST_MAX = 128
WECHAT_CONTENT_MAX_CHARS = 19_999  # "必须少于2万字符"
WECHAT_CONTENT_MAX_BYTES = 1_000_000 - 1  # "小于1M"
WEIBO_MAX = 140

TEMPLATE_FIELDS = frozenset(
    {"title", "summary", "label", "department", "date", "update_mark", "document_id"}
)
"""Placeholders a routing template may use, e.g. ``【{label}】{title}``."""

_PHASES = {
    CampaignPhase.PREVIEW: "预告",
    CampaignPhase.DAY: "活动当日",
    CampaignPhase.RECAP: "回顾",
}


def document_url(urls: SiteUrls, event: AnyEvent) -> str:
    """The portal page of the event's document: every post links to it."""
    return urls.document(event.kind, event.document_id)


def template_fields(event: ContentEvent) -> dict[str, str]:
    """Values of the template placeholders for ``event``."""
    title, summary, _ = summarize(event)
    return {
        "title": title,
        "summary": " ".join(summary.split()),
        "label": event.kind.label,
        "department": department_name(event.department),
        "date": event.occurred_at.date().isoformat(),
        "update_mark": "【更新】" if event.action is Action.UPDATE else "",
        "document_id": event.document_id,
    }


def render(template: str, fields: dict[str, str]) -> str:
    """``template`` with its placeholders filled (validated when the routing file loads)."""
    return template.format_map(fields).strip()


# --- blocks read from department HTML -------------------------------------------------

BlockKind = Literal["h", "p", "img"]


@dataclass(frozen=True)
class Block:
    """A heading, a paragraph or an image (``text`` is the image's source URL)."""

    kind: BlockKind
    text: str


_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "tr",
        "table",
        "ul",
        "ol",
        "blockquote",
        "section",
        "article",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    ]
)
_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
_SKIP = frozenset(["script", "style", "template", "noscript", "iframe", "object"])


class _BlockReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._heading = False
        self._skipping = 0

    def _end_block(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            self.blocks.append(Block("h" if self._heading else "p", clean_xml_text(text)))
        self._text = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag == "img":
            src = dict(attrs).get("src") or ""
            if src.startswith(("http://", "https://")):
                self._end_block()
                self.blocks.append(Block("img", src))
        elif tag in _BLOCK_TAGS:
            self._end_block()
            self._heading = tag in _HEADINGS

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self._end_block()
            self._heading = False

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._text.append(data)


def read_blocks(fragment: str) -> list[Block]:
    """The headings, paragraphs and images of an HTML fragment, in order."""
    reader = _BlockReader()
    reader.feed(fragment)
    reader.close()
    reader._end_block()
    return reader.blocks


def _p(text: str) -> Block:
    return Block("p", text)


def _h(text: str) -> Block:
    return Block("h", text)


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}元"


def body_blocks(event: ContentEvent) -> list[Block]:
    """The article body of ``event`` as blocks, kind by kind."""
    if isinstance(event, PolicyEvent):
        p = event.payload
        blocks = [
            _p(line)
            for line in (
                f"文号：{p.doc_number}" if p.doc_number else "",
                f"发布机构：{p.issuer}",
                f"成文日期：{p.written_on.isoformat()}",
                f"生效日期：{p.effective_on.isoformat()}" if p.effective_on else "",
                f"效力：{p.validity.value}",
            )
            if line
        ]
        blocks += read_blocks(p.body)
        if p.interpretation is not None:
            blocks.append(_h(f"政策解读：{p.interpretation.title}"))
            if p.interpretation.body:
                blocks += read_blocks(p.interpretation.body)
        blocks += [_p(f"附件：{a.title}") for a in p.attachments]
        return blocks
    if isinstance(event, PenaltyEvent):
        q = event.payload
        lines = [
            f"决定书文号：{q.decision_number}",
            f"当事人：{q.party_name}",
            f"处罚种类：{'、'.join(t.value for t in q.penalty_types)}",
            f"罚款金额：{_money(q.fine_amount)}" if q.fine_amount is not None else "",
            f"处罚机关：{q.authority}",
            f"决定日期：{q.decided_on.isoformat()}",
            f"违法事实：{q.facts}",
            f"处罚依据：{q.legal_basis}",
        ]
        return [_p(line) for line in lines if line]
    if isinstance(event, LicenceEvent):
        lic = event.payload
        lines = [
            f"许可决定书文号：{lic.decision_number}",
            f"申请人：{lic.applicant}",
            f"许可事项：{lic.item}",
            f"决定：{lic.decision.value}",
            f"许可证书编号：{lic.licence_number}" if lic.licence_number else "",
            f"许可内容：{lic.content}" if lic.content else "",
            f"理由：{lic.reasons}" if lic.reasons else "",
            f"许可机关：{lic.authority}",
            f"决定日期：{lic.decided_on.isoformat()}",
            f"有效期至：{lic.valid_until.isoformat()}" if lic.valid_until else "",
            f"依据：{lic.legal_basis}",
        ]
        return [_p(line) for line in lines if line]
    if isinstance(event, EnforcementEvent):
        e = event.payload
        lines = [
            f"决定书文号：{e.decision_number}",
            f"当事人：{e.party_name}",
            f"强制类别：{'、'.join(m.value for m in e.measures)}",
            f"对象：{e.objects}" if e.objects else "",
            f"金额：{_money(e.amount)}" if e.amount is not None else "",
            f"实施机关：{e.authority}",
            f"决定日期：{e.decided_on.isoformat()}",
            f"期限至：{e.ends_on.isoformat()}" if e.ends_on else "",
            f"违法事实：{e.facts}",
            f"依据：{e.legal_basis}",
        ]
        return [_p(line) for line in lines if line]
    if isinstance(event, ExposureEvent):
        x = event.payload
        blocks = [_p(f"{x.candidate_quarter} {x.domain}领域典型案例 {len(x.cases)} 起。")]
        if x.case_summary:
            blocks.append(_p(x.case_summary))
        for number, case in enumerate(x.cases, start=1):
            blocks += [_h(f"{number}. {case.title}"), _p(case.case_summary)]
        return blocks
    if isinstance(event, MeetingEvent):
        m = event.payload
        blocks = [_p(f"{m.meeting_type.value}　召开日期：{m.held_on.isoformat()}")]
        blocks += read_blocks(m.press_release)
        if m.decisions:
            blocks.append(_h("议定事项"))
            blocks += [_p(f"{n}. {d}") for n, d in enumerate(m.decisions, start=1)]
        if m.interpretation is not None:
            blocks.append(_h(f"解读：{m.interpretation.title}"))
            if m.interpretation.body:
                blocks += read_blocks(m.interpretation.body)
        if m.video_url:
            blocks.append(_p("会议视频回放请点击文末“阅读原文”，在政府网站观看。"))
        return blocks
    if isinstance(event, ReportEvent):
        r = event.payload
        blocks = [_p(f"{r.scope_name} {r.year}年 · {r.table}")]
        for section in r.sections:
            blocks.append(_h(section.heading))
            blocks += [_p(line) for line in row_lines(section)]
        blocks += [_p(note) for note in r.notes]
        return blocks
    assert isinstance(event, CampaignEvent)
    c = event.payload
    blocks = [_p(f"主题：{c.theme}　活动日：{c.day.isoformat()}（{_PHASES[c.phase]}）")]
    blocks += read_blocks(c.body)
    blocks += [_p(f"相关链接：{link.title}") for link in c.links]
    return blocks


def image_sources(blocks: list[Block]) -> list[str]:
    """Source URLs of the images among ``blocks``, first occurrence first."""
    return list(dict.fromkeys(b.text for b in blocks if b.kind == "img"))


# --- WeChat ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WechatArticle:
    """One ``draft/add`` article, already fitted to the platform's limits."""

    title: str
    author: str
    digest: str
    content: str
    content_source_url: str
    images: dict[str, str] = field(default_factory=dict)

    def as_draft(self, thumb_media_id: str, *, open_comment: bool = False) -> dict[str, object]:
        """The ``articles[]`` entry of ``draft/add``."""
        return {
            "article_type": "news",
            "title": self.title,
            "author": self.author,
            "digest": self.digest,
            "content": self.content,
            "content_source_url": self.content_source_url,
            "thumb_media_id": thumb_media_id,
            "need_open_comment": int(open_comment),
            "only_fans_can_comment": 0,
        }


def _render_block(block: Block, images: dict[str, str]) -> str:
    if block.kind == "img":
        src = images.get(block.text)
        return f'<p><img src="{html.escape(src, quote=True)}"/></p>' if src else ""
    tag = "h3" if block.kind == "h" else "p"
    return f"<{tag}>{html.escape(block.text, quote=False)}</{tag}>"


def wechat_article(
    event: ContentEvent,
    *,
    url: str,
    title_template: str,
    digest_template: str,
    author: str,
    images: dict[str, str],
) -> WechatArticle:
    """The article for ``event``: title ≤ 32, author ≤ 16, digest ≤ 128 characters, body
    under 20,000 characters and 1 MB, with the portal link at the end whatever is cut.

    ``images`` maps source URLs to the URLs ``media/uploadimg`` returned; an image
    without one is left out (the platform would strip an external image anyway).
    """
    fields = template_fields(event)
    escaped_url = html.escape(url, quote=True)
    footer = (
        f'<p>原文链接：<a href="{escaped_url}">{html.escape(url, quote=False)}</a></p>'
        "<p>（以政府网站发布的为准）</p>"
    )
    notice = "<p>（内容较长，全文请点击“阅读原文”查看）</p>"
    budget = WECHAT_CONTENT_MAX_CHARS - len(footer) - len(notice)
    parts: list[str] = []
    used = 0
    truncated = False
    for block in body_blocks(event):
        piece = _render_block(block, images)
        if used + len(piece) <= budget:
            parts.append(piece)
            used += len(piece)
            continue
        truncated = True
        room = budget - used - len("<p></p>")
        if block.kind != "img" and room > 20:
            text = cut(html.escape(block.text, quote=False), room)
            # Never leave half an entity (&amp;) behind the cut.
            amp = text.rfind("&", max(0, len(text) - 8))
            if amp != -1 and ";" not in text[amp:]:
                text = text[:amp] + "…"
            parts.append(f"<p>{text}</p>")
        break
    content = "".join(parts) + (notice if truncated else "") + footer
    if len(content.encode("utf-8")) > WECHAT_CONTENT_MAX_BYTES:  # only with huge images lists
        content = cut_bytes("".join(parts), WECHAT_CONTENT_MAX_BYTES - 4096) + notice + footer
    return WechatArticle(
        title=cut(plain_text(render(title_template, fields) or fields["title"]), WECHAT_TITLE_MAX),
        author=cut(plain_text(author), WECHAT_AUTHOR_MAX),
        digest=cut(plain_text(render(digest_template, fields)), WECHAT_DIGEST_MAX),
        content=content,
        content_source_url=url,
        images=dict(images),
    )


# --- Weibo ----------------------------------------------------------------------------


def weibo_status(event: ContentEvent, *, url: str, template: str) -> str:
    """The status text: the rendered template cut to fit, then a space and the portal link
    (always whole: Weibo only accepts a status with a link on the app's domain)."""
    text = plain_text(render(template, template_fields(event))).replace("#", "＃")  # no #topics#
    room = WEIBO_MAX - weibo_length(" " + url)
    if room < 10:
        raise ValueError(f"the portal link {url!r} leaves no room in a Weibo status")
    return f"{cut_weibo(text, room)} {url}"


# --- webhooks -------------------------------------------------------------------------


def webhook_payload(event: AnyEvent, *, url: str) -> bytes:
    """The JSON body sent to webhook endpoints (Standard Webhooks ``type``/``timestamp``/
    ``data``); ``data`` is the event as it travels on the bus, plus the portal ``url``."""
    data = json.loads(encode_event(event))
    data["url"] = url
    kind = "retract" if isinstance(event, RetractEvent) else event.action.value
    body = {
        "type": f"govpub.{event.kind.value}.{kind}",
        "timestamp": event.occurred_at.isoformat(),
        "data": data,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
