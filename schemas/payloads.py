"""Payload models, one per event kind, plus the retraction payload.

Fields follow the documents departments already produce (see
``shared/domain/NOTES.md``); every model is frozen and refuses unknown fields.
"""

from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.enums import (
    CampaignPhase,
    DocClass,
    MeetingType,
    PartyType,
    PenaltyType,
    Validity,
)
from schemas.roles import ENUM, FLAG, NUMBER
from schemas.rules import Rule, broken_rules
from schemas.types import (
    BodyHtml,
    CalendarDate,
    CreditCode,
    DocNumber,
    DocumentId,
    HttpsUrl,
    LongText,
    Paragraph,
    PartyName,
    Quarter,
    ShortText,
    Title,
)


class StrictModel(BaseModel):
    """Frozen, closed model: unknown fields are an error, not silently dropped.

    ``__rules__`` are its checks across fields (:mod:`schemas.rules`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)
    __rules__: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        broken = broken_rules(self)
        if broken:
            raise ValueError("; ".join(broken))
        return self


class Link(StrictModel):
    """A titled link (an attachment, a related page)."""

    title: Title
    url: HttpsUrl


class Interpretation(StrictModel):
    """Policy interpretation (政策解读) released with its document (三同步)."""

    title: Title
    url: HttpsUrl | None = None
    body: BodyHtml | None = None

    __rules__ = (
        Rule(
            ("url", "body"),
            lambda i: (
                "an interpretation needs a url or a body"
                if i.url is None and i.body is None
                else None
            ),
        ),
    )


def _three_synchronous(policy: Any) -> str | None:
    # 三同步: 规章 and 行政规范性文件 are released together with their interpretation.
    if policy.doc_class in (DocClass.REGULATION, DocClass.NORMATIVE) and (
        policy.interpretation is None
    ):
        return (
            f"interpretation is required for {policy.doc_class.value} "
            "(三同步: documents and interpretations are released together)"
        )
    return None


class PolicyPayload(StrictModel):
    """A policy document or normative document (政策文件 / 行政规范性文件)."""

    title: Title
    doc_number: DocNumber | None = Field(default=None, description="文号, e.g. 株政办发〔2023〕5号")
    index_number: DocNumber | None = Field(default=None, description="索引号 where one exists")
    issuer: ShortText
    doc_class: Annotated[DocClass, ENUM]
    written_on: CalendarDate
    effective_on: CalendarDate | None = None
    validity: Annotated[Validity, ENUM] = Validity.IN_FORCE
    body: BodyHtml
    interpretation: Interpretation | None = None
    attachments: Annotated[list[Link], Field(max_length=50)] = []
    superseded_by: DocumentId | None = Field(
        default=None, description="document_id of the document that amends or replaces this one"
    )

    __rules__ = (
        Rule(("doc_class", "interpretation"), _three_synchronous),
        Rule(
            ("written_on", "effective_on"),
            lambda p: (
                "effective_on must not be before written_on"
                if p.effective_on is not None and p.effective_on < p.written_on
                else None
            ),
        ),
    )


class PenaltyPayload(StrictModel):
    """An administrative penalty decision (行政处罚决定)."""

    title: Title
    decision_number: DocNumber = Field(description="决定书文号")
    party_type: Annotated[PartyType, ENUM]
    party_name: PartyName = Field(
        description="the party; co-parties separated by 、，；和 or 及 (natural persons are anonymised)"
    )
    credit_code: CreditCode | None = Field(
        default=None,
        description="统一社会信用代码 of an organisation (GB 32100); a natural person has none",
    )
    facts: LongText
    legal_basis: Paragraph
    penalty_types: Annotated[list[Annotated[PenaltyType, ENUM]], Field(min_length=1, max_length=14)]
    fine_amount: Annotated[Decimal, Field(ge=0, le=10**12, decimal_places=2), NUMBER] | None = (
        Field(default=None, description="罚款 in yuan")
    )
    authority: ShortText
    decided_on: CalendarDate
    domain: ShortText = Field(description="field of law enforcement, e.g. 安全生产")
    is_minor: Annotated[bool, FLAG] = Field(
        default=False, description="the party is a minor: never published"
    )
    involves_secrets: Annotated[bool, FLAG] = Field(
        default=False, description="facts involve state or trade secrets: never published"
    )
    security_risk: Annotated[bool, FLAG] = Field(
        default=False, description="flagged security or stability risk: never published"
    )
    display_until: CalendarDate | None = Field(
        default=None, description="take-down date of the publication period"
    )

    __rules__ = (
        Rule(
            ("penalty_types",),
            lambda p: (
                "penalty_types must not repeat a type"
                if len(set(p.penalty_types)) != len(p.penalty_types)
                else None
            ),
        ),
        Rule(
            ("penalty_types", "fine_amount"),
            lambda p: (
                "fine_amount is required when penalty_types includes 罚款"
                if PenaltyType.FINE in p.penalty_types and p.fine_amount is None
                else None
            ),
        ),
        Rule(
            ("decided_on", "display_until"),
            lambda p: (
                "display_until must not be before decided_on"
                if p.display_until is not None and p.display_until < p.decided_on
                else None
            ),
        ),
        Rule(
            ("party_type", "credit_code"),
            lambda p: (
                "credit_code is an organisation's code: a natural person (自然人) has none"
                " (an identity number is never sent as one)"
                if p.credit_code is not None and p.party_type is PartyType.NATURAL_PERSON
                else None
            ),
        ),
    )


class ExposureCase(StrictModel):
    """One typical case inside a quarterly exposure batch."""

    title: Title
    case_summary: LongText
    decision_ref: DocumentId = Field(description="document_id of the penalty decision")


def _candidate_or_batch(exposure: Any) -> str | None:
    if exposure.cases:
        if exposure.decision_ref is not None:
            return "a batch lists its cases; decision_ref belongs to a candidate"
    elif exposure.case_summary is None or exposure.decision_ref is None:
        return "a candidate needs case_summary and decision_ref; a batch needs cases"
    return None


class ExposurePayload(StrictModel):
    """A typical illegal case (非法违法典型案例): a candidate, or a quarter's released batch.

    A candidate carries ``case_summary`` and ``decision_ref``; the quarterly
    release carries ``cases``. Channels publish batches only: candidates wait
    for the quarterly release.
    """

    title: Title
    domain: ShortText = Field(description="e.g. 安全生产")
    candidate_quarter: Quarter
    case_summary: LongText | None = None
    decision_ref: DocumentId | None = None
    cases: Annotated[list[ExposureCase], Field(max_length=200)] = []

    @property
    def is_batch(self) -> bool:
        """True for a released quarterly batch, False for a candidate."""
        return bool(self.cases)

    __rules__ = (Rule(("cases", "case_summary", "decision_ref"), _candidate_or_batch),)


class MeetingPayload(StrictModel):
    """An executive or plenary meeting (常务会议 / 全体会议) with its replay."""

    title: Title
    meeting_type: Annotated[MeetingType, ENUM]
    session_number: Annotated[int, Field(ge=1, le=10_000), NUMBER] | None = Field(
        default=None, description="第几次会议"
    )
    held_on: CalendarDate
    press_release: BodyHtml
    decisions: Annotated[list[Paragraph], Field(max_length=100)] = Field(
        default=[], description="议定事项 (classified items excluded)"
    )
    interpretation: Interpretation | None = None
    video_url: HttpsUrl | None = None


class CampaignPayload(StrictModel):
    """A theme-day (政务公开主题日) campaign post in one of its phases."""

    title: Title
    theme: ShortText
    day: CalendarDate
    phase: Annotated[CampaignPhase, ENUM]
    body: BodyHtml
    links: Annotated[list[Link], Field(max_length=50)] = []


class RetractionPayload(StrictModel):
    """Withdrawal of a published document; the reason is published (行政处罚法 Art. 48).

    A penalty decision's withdrawal says why it is withdrawn: ``revoked_on`` when the
    decision was changed, revoked or found illegal (the withdrawal is due within 3 working
    days of it, Art. 48 and 85), ``display_ended_on`` when its display period ended
    (公示期满: the scheduled take-down). Channels show a take-down without the decision's
    details, since the decision is no longer displayed.
    """

    reason: Paragraph
    replaced_by: DocumentId | None = None
    revoked_on: CalendarDate | None = Field(
        default=None,
        description="a penalty decision's withdrawal: the day the decision was changed, revoked"
        " or found illegal (withdrawn within 3 working days, 行政处罚法 Art. 48)",
    )
    display_ended_on: CalendarDate | None = Field(
        default=None,
        description="a penalty decision's take-down: the last day of its display period (公示期满)",
    )

    __rules__ = (
        Rule(
            ("revoked_on", "display_ended_on"),
            lambda r: (
                "a withdrawal is either a revocation (revoked_on) or the end of the display"
                " period (display_ended_on), not both"
                if r.revoked_on is not None and r.display_ended_on is not None
                else None
            ),
        ),
    )
