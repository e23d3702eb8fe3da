"""What a feed entry or a post says about each kind of document: a title, a plain-text
summary with the fields subscribers look for, and categories (shared by the rss and the
new-media channels)."""

from decimal import Decimal

from channels.report import report_lines
from channels.text import html_to_text, shorten
from schemas import (
    CampaignEvent,
    ContentEvent,
    EnforcementEvent,
    ExposureEvent,
    LicenceEvent,
    MeetingEvent,
    PenaltyEvent,
    PolicyEvent,
    ReportEvent,
)
from schemas.enums import CampaignPhase

SUMMARY_LIMIT = 600
_PHASES = {
    CampaignPhase.PREVIEW: "预告",
    CampaignPhase.DAY: "活动当日",
    CampaignPhase.RECAP: "回顾",
}


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}元"


def _join(*parts: str | None) -> str:
    return "｜".join(p for p in parts if p)


def summarize(event: ContentEvent) -> tuple[str, str, list[str]]:
    """``(title, summary, categories)`` for a feed entry."""
    kind_label = event.kind.label
    if isinstance(event, PolicyEvent):
        p = event.payload
        head = _join(
            f"文号：{p.doc_number}" if p.doc_number else None,
            f"发布机构：{p.issuer}",
            f"成文日期：{p.written_on.isoformat()}",
            f"效力：{p.validity.value}",
        )
        body = html_to_text(p.body)
        extra = f"\n政策解读：{p.interpretation.title}" if p.interpretation else ""
        return (
            p.title,
            shorten(f"{head}\n{body}{extra}", SUMMARY_LIMIT),
            [kind_label, p.doc_class.value],
        )
    if isinstance(event, PenaltyEvent):
        q = event.payload
        head = _join(
            f"决定书文号：{q.decision_number}",
            f"当事人：{q.party_name}",
            f"处罚种类：{'、'.join(t.value for t in q.penalty_types)}",
            f"罚款金额：{_money(q.fine_amount)}" if q.fine_amount is not None else None,
            f"处罚机关：{q.authority}",
            f"决定日期：{q.decided_on.isoformat()}",
        )
        return (
            q.title,
            shorten(f"{head}\n违法事实：{q.facts}", SUMMARY_LIMIT),
            [kind_label, q.domain],
        )
    if isinstance(event, LicenceEvent):
        lic = event.payload
        head = _join(
            f"许可决定书文号：{lic.decision_number}",
            f"申请人：{lic.applicant}",
            f"许可事项：{lic.item}",
            f"决定：{lic.decision.value}",
            f"许可机关：{lic.authority}",
            f"决定日期：{lic.decided_on.isoformat()}",
            f"有效期至：{lic.valid_until.isoformat()}" if lic.valid_until else None,
        )
        detail = "\n".join(
            part
            for part in (
                f"许可内容：{lic.content}" if lic.content else "",
                f"理由：{lic.reasons}" if lic.reasons else "",
            )
            if part
        )
        return (
            lic.title,
            shorten(f"{head}\n{detail}" if detail else head, SUMMARY_LIMIT),
            [kind_label, lic.item],
        )
    if isinstance(event, EnforcementEvent):
        e = event.payload
        head = _join(
            f"决定书文号：{e.decision_number}",
            f"当事人：{e.party_name}",
            f"强制类别：{'、'.join(m.value for m in e.measures)}",
            f"金额：{_money(e.amount)}" if e.amount is not None else None,
            f"实施机关：{e.authority}",
            f"决定日期：{e.decided_on.isoformat()}",
            f"期限至：{e.ends_on.isoformat()}" if e.ends_on else None,
        )
        return (
            e.title,
            shorten(f"{head}\n违法事实：{e.facts}", SUMMARY_LIMIT),
            [kind_label, e.domain],
        )
    if isinstance(event, ExposureEvent):
        x = event.payload
        cases = "\n".join(f"{i}. {c.title}" for i, c in enumerate(x.cases, start=1))
        intro = f"{x.candidate_quarter} {x.domain}领域典型案例 {len(x.cases)} 起"
        lead = f"\n{x.case_summary}" if x.case_summary else ""
        return x.title, shorten(f"{intro}{lead}\n{cases}", SUMMARY_LIMIT), [kind_label, x.domain]
    if isinstance(event, MeetingEvent):
        m = event.payload
        head = _join(
            m.meeting_type.value,
            f"召开日期：{m.held_on.isoformat()}",
            f"议定事项 {len(m.decisions)} 项" if m.decisions else None,
            "含视频回放" if m.video_url else None,
        )
        return (
            m.title,
            shorten(f"{head}\n{html_to_text(m.press_release)}", SUMMARY_LIMIT),
            [
                kind_label,
                m.meeting_type.value,
            ],
        )
    if isinstance(event, ReportEvent):
        r = event.payload
        return r.title, shorten("\n".join(report_lines(r)), SUMMARY_LIMIT), [kind_label, r.table]
    assert isinstance(event, CampaignEvent)
    c = event.payload
    head = _join(f"主题：{c.theme}", f"活动日：{c.day.isoformat()}", _PHASES[c.phase])
    return c.title, shorten(f"{head}\n{html_to_text(c.body)}", SUMMARY_LIMIT), [kind_label, c.theme]
