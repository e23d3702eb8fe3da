"""Payload models, one per event kind, plus the retraction payload.

Fields follow the documents departments already produce (see
``shared/domain/NOTES.md``); every model is frozen and refuses unknown fields.
"""

from decimal import Decimal
from typing import Annotated, Any, ClassVar, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.enums import (
    CampaignPhase,
    Disclosure,
    DocClass,
    EnforcementMeasure,
    InterpretationForm,
    LicenceDecision,
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
    DepartmentCode,
    DocNumber,
    DocumentId,
    EmailAddress,
    FormatId,
    HttpsUrl,
    LongText,
    Paragraph,
    PartyName,
    Quarter,
    ShortText,
    Title,
)

NO_ITEMS: dict[str, Any] = {"default_factory": list, "json_schema_extra": {"default": []}}
"""Field arguments of a list that is empty by default: a new list each time (pydantic
deep-copies a literal ``[]`` for every model that leaves it out), shown in the JSON
Schema as ``"default": []``."""


class StrictModel(BaseModel):
    """Frozen, closed model: unknown fields are an error, not silently dropped.

    A model with checks across fields (``__rules__``, :mod:`schemas.rules`) is a
    :class:`RuledModel`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)
    __rules__: ClassVar[tuple[Rule, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__rules__ and not issubclass(cls, RuledModel):
            raise TypeError(f"{cls.__name__} has __rules__: derive it from RuledModel")


class RuledModel(StrictModel):
    """A :class:`StrictModel` whose ``__rules__`` are checked after its fields.

    Only these models carry the check: it is a call from pydantic's core into Python
    for every model validated, and most (every envelope, every link) have no rules.
    """

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


class Interpretation(RuledModel):
    """Policy interpretation (政策解读) released with its document (三同步)."""

    title: Title
    url: HttpsUrl | None = None
    body: BodyHtml | None = None
    form: Annotated[InterpretationForm, ENUM] = Field(
        default=InterpretationForm.TEXT,
        description="解读方式: 文字解读 (the default), 图解, 视频解读, 新闻发布会, 在线访谈, H5动画",
    )

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
    # 三同步: 规章, 规划, 行政规范性文件 and the documents the public must widely know are
    # released together with their interpretation (2023 work points, (八)).
    if policy.interpretation is not None:
        return None
    if policy.doc_class.needs_interpretation:
        what = policy.doc_class.value
    elif policy.widely_known:
        what = "a document marked widely_known (需要公众广泛知晓)"
    else:
        return None
    return (
        f"interpretation is required for {what} "
        "(三同步: documents and interpretations are released together)"
    )


def _disclosure_reason(policy: Any) -> str | None:
    # 依申请公开 and 不予公开 are decisions with a legal basis (政府信息公开条例 第十四条至
    # 第十六条); a proactive document needs none.
    # A reason given with 主动公开 is kept (and masked like any text) but says nothing.
    if policy.disclosure is not Disclosure.PROACTIVE and policy.disclosure_reason is None:
        return f"disclosure_reason (the legal reason) is required for {policy.disclosure.value}"
    return None


class PolicyPayload(RuledModel):
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
    attachments: Annotated[list[Link], Field(max_length=50)] = Field(**NO_ITEMS)
    superseded_by: DocumentId | None = Field(
        default=None, description="document_id of the document that amends or replaces this one"
    )
    reviewed_on: CalendarDate | None = Field(
        default=None,
        description="the day the issuer last reviewed the document's validity (文件清理);"
        " absent: the day of its latest version",
    )
    consultation_ref: DocumentId | None = Field(
        default=None,
        description="document_id of the consultation (征求意见) this document was adopted from",
    )
    widely_known: Annotated[bool, FLAG] = Field(
        default=False,
        description="a document the public must widely know (需要公众广泛知晓): needs its interpretation",
    )
    disclosure: Annotated[Disclosure, ENUM] = Field(
        default=Disclosure.PROACTIVE,
        description=(
            "公开属性: 主动公开 (the default: published), 依申请公开 or 不予公开 (never"
            " published; disclosure_reason gives the legal reason)"
        ),
    )
    disclosure_reason: Paragraph | None = Field(
        default=None,
        description="the legal reason a document is 依申请公开 or 不予公开, e.g. 条例第十四条",
    )

    __rules__ = (
        Rule(("doc_class", "widely_known", "interpretation"), _three_synchronous),
        Rule(("disclosure", "disclosure_reason"), _disclosure_reason, at="disclosure_reason"),
        Rule(
            ("written_on", "effective_on"),
            lambda p: (
                "effective_on must not be before written_on"
                if p.effective_on is not None and p.effective_on < p.written_on
                else None
            ),
        ),
    )


class ResponseChannels(RuledModel):
    """How the public responds to a consultation: at least one of a postal address, an
    e-mail address and a web page (an online form)."""

    address: Paragraph | None = Field(default=None, description="信函地址")
    email: EmailAddress | None = Field(default=None, description="电子邮箱")
    url: HttpsUrl | None = Field(default=None, description="在线提交意见的页面")

    __rules__ = (
        Rule(
            ("address", "email", "url"),
            lambda r: (
                "give at least one way to respond: address, email or url"
                if r.address is None and r.email is None and r.url is None
                else None
            ),
        ),
    )


class NotAdopted(StrictModel):
    """An opinion not adopted, with the reason (未采纳意见及理由)."""

    opinion: Paragraph
    reason: Paragraph


class ConsultationResult(RuledModel):
    """What came of a consultation (意见征集结果 / 意见采纳情况)."""

    published_on: CalendarDate
    received: Annotated[int, Field(ge=0, le=10_000_000), NUMBER] = Field(
        description="opinions received (收到意见条数)"
    )
    adopted: Annotated[int, Field(ge=0, le=10_000_000), NUMBER] = Field(
        description="opinions adopted in whole or in part (采纳条数)"
    )
    not_adopted: Annotated[list[NotAdopted], Field(max_length=500)] = Field(
        **NO_ITEMS, description="opinions not adopted, each with its reason"
    )
    summary: Paragraph | None = Field(default=None, description="采纳情况说明")

    __rules__ = (
        Rule(
            ("received", "adopted", "not_adopted"),
            lambda r: (
                f"adopted ({r.adopted}) and not_adopted ({len(r.not_adopted)}) add up to more"
                f" than received ({r.received})"
                if r.adopted + len(r.not_adopted) > r.received
                else None
            ),
            at="received",
        ),
    )


def _closes_after_opening(c: Any) -> str | None:
    if c.closes_on < c.opens_on:
        return f"closes_on {c.closes_on} is before opens_on {c.opens_on}"
    return None


def _result_after_closing(c: Any) -> str | None:
    if c.result is not None and c.result.published_on < c.closes_on:
        return (
            f"the result is published on {c.result.published_on}, before the consultation"
            f" closes ({c.closes_on})"
        )
    return None


class ConsultationPayload(RuledModel):
    """A draft put out for public comment (征求意见稿), with its interpretation, and later
    the result as an update (意见征集结果).

    The minimum window (``opens_on`` to ``closes_on``, both days included) is a setting
    checked by the compliance gate (``GOVPUB_COMPLIANCE_CONSULTATION_MIN_DAYS``): the schema only
    requires that a consultation does not close before it opens.
    """

    title: Title
    organizer: ShortText = Field(description="征求意见单位, e.g. 株洲市司法局")
    draft: BodyHtml = Field(description="征求意见稿: the draft's text")
    interpretation: Interpretation = Field(description="对征求意见稿的解读 (起草说明)")
    attachments: Annotated[list[Link], Field(max_length=50)] = Field(**NO_ITEMS)
    opens_on: CalendarDate
    closes_on: CalendarDate
    respond: ResponseChannels = Field(description="how to respond: address, email, url")
    shortened_reason: Paragraph | None = Field(
        default=None,
        description=(
            "why the window is shorter than the legal minimum (因情况紧急等原因需要缩短期限的,"
            " 应当予以说明); accepted but flagged"
        ),
    )
    major_decision: Annotated[bool, FLAG] = Field(
        default=False, description="a major administrative decision (重大行政决策事项)"
    )
    closed: Annotated[bool, FLAG] = Field(
        default=False,
        description="set by the consultation_lifecycle DAG once closes_on has passed",
    )
    result: ConsultationResult | None = None
    adopted_as: DocumentId | None = Field(
        default=None, description="document_id of the policy adopted from this draft"
    )

    @property
    def stage(self) -> str:
        """Where the consultation stands: 征求意见中, 已截止 (closed, result pending) or
        结果已公布."""
        if self.result is not None:
            return "结果已公布"
        return "已截止" if self.closed else "征求意见中"

    @property
    def window_days(self) -> int:
        """Days the public has to respond, ``opens_on`` and ``closes_on`` included."""
        return (self.closes_on - self.opens_on).days + 1

    __rules__ = (
        Rule(("opens_on", "closes_on"), _closes_after_opening, at="closes_on"),
        Rule(("closes_on", "result"), _result_after_closing, at="result"),
    )


class DecisionItem(StrictModel):
    """One major administrative decision of the year's list (重大行政决策事项)."""

    title: Title
    organizer: ShortText = Field(description="承办单位")
    planned: ShortText | None = Field(default=None, description="计划完成时间, e.g. 2023年第三季度")
    consultation_ref: DocumentId | None = Field(
        default=None,
        description="document_id of its consultation (征求意见); an item without one is flagged",
    )
    adopted_as: DocumentId | None = Field(
        default=None, description="document_id of the document adopted (the decision made)"
    )


class DecisionListPayload(StrictModel):
    """The year's list of major administrative decisions (年度重大行政决策事项目录), whose
    items link to their consultations and the documents adopted; updated as they advance."""

    title: Title
    year: Annotated[int, Field(ge=2008, le=2200), NUMBER]
    issuer: ShortText
    body: BodyHtml | None = Field(default=None, description="说明")
    items: Annotated[list[DecisionItem], Field(min_length=1, max_length=200)]


class Party(NamedTuple):
    """Who a decision concerns: the penalised party, the licence applicant, the party
    subject to enforcement. Natural persons among them are anonymised."""

    type: PartyType
    name: str
    credit_code: str | None


def _no_credit_code_for_a_person(type_field: str) -> Rule:
    return Rule(
        (type_field, "credit_code"),
        lambda p: (
            "credit_code is an organisation's code: a natural person (自然人) has none"
            " (an identity number is never sent as one)"
            if p.credit_code is not None and getattr(p, type_field) is PartyType.NATURAL_PERSON
            else None
        ),
    )


def _no_repeats(name: str) -> Rule:
    return Rule(
        (name,),
        lambda p: (
            f"{name} must not repeat a type"
            if len(set(getattr(p, name))) != len(getattr(p, name))
            else None
        ),
    )


def _not_before(later: str, earlier: str) -> Rule:
    return Rule(
        (earlier, later),
        lambda p: (
            f"{later} must not be before {earlier}"
            if getattr(p, later) is not None
            and getattr(p, earlier) is not None
            and getattr(p, later) < getattr(p, earlier)
            else None
        ),
    )


_Yuan = Annotated[Decimal, Field(ge=0, le=10**12, decimal_places=2), NUMBER]


def _is_minor() -> Any:
    return Field(default=False, description="the party is a minor: never published")


def _secrets() -> Any:
    return Field(default=False, description="facts involve state or trade secrets: never published")


def _security_risk() -> Any:
    return Field(default=False, description="flagged security or stability risk: never published")


class PenaltyPayload(RuledModel):
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
    fine_amount: _Yuan | None = Field(default=None, description="罚款 in yuan")
    authority: ShortText
    decided_on: CalendarDate
    domain: ShortText = Field(description="field of law enforcement, e.g. 安全生产")
    is_minor: Annotated[bool, FLAG] = _is_minor()
    involves_secrets: Annotated[bool, FLAG] = _secrets()
    security_risk: Annotated[bool, FLAG] = _security_risk()
    display_until: CalendarDate | None = Field(
        default=None, description="take-down date of the publication period"
    )

    @property
    def party(self) -> Party:
        """The penalised party."""
        return Party(self.party_type, self.party_name, self.credit_code)

    __rules__ = (
        _no_repeats("penalty_types"),
        Rule(
            ("penalty_types", "fine_amount"),
            lambda p: (
                "fine_amount is required when penalty_types includes 罚款"
                if PenaltyType.FINE in p.penalty_types and p.fine_amount is None
                else None
            ),
        ),
        _not_before("display_until", "decided_on"),
        _no_credit_code_for_a_person("party_type"),
    )


class LicencePayload(RuledModel):
    """An administrative licensing decision (行政许可决定)."""

    title: Title
    decision_number: DocNumber = Field(description="许可决定书文号")
    applicant_type: Annotated[PartyType, ENUM]
    applicant: PartyName = Field(
        description="the applicant (申请人); natural persons are anonymised like a penalty's party"
    )
    credit_code: CreditCode | None = Field(
        default=None,
        description="统一社会信用代码 of an organisation (GB 32100); a natural person has none",
    )
    item: ShortText = Field(description="the item licensed (许可事项), e.g. 危险化学品经营许可")
    decision: Annotated[LicenceDecision, ENUM] = Field(
        description="准予, 不予, 变更, 延续, 撤销 or 注销"
    )
    licence_number: DocNumber | None = Field(default=None, description="许可证书编号")
    content: Paragraph | None = Field(
        default=None, description="what is licensed (许可内容: scope, place, conditions)"
    )
    reasons: Paragraph | None = Field(
        default=None,
        description="why, required for 不予 (行政许可法 Art. 38) and 撤销 (Art. 69)",
    )
    legal_basis: Paragraph
    authority: ShortText
    decided_on: CalendarDate
    valid_from: CalendarDate | None = None
    valid_until: CalendarDate | None = Field(default=None, description="有效期至")
    involves_secrets: Annotated[bool, FLAG] = _secrets()
    security_risk: Annotated[bool, FLAG] = _security_risk()

    @property
    def party(self) -> Party:
        """The applicant."""
        return Party(self.applicant_type, self.applicant, self.credit_code)

    __rules__ = (
        Rule(
            ("decision", "reasons"),
            lambda p: (
                f"reasons are required for a {p.decision.value} decision"
                " (行政许可法 第三十八条、第六十九条: the authority states its reasons)"
                if p.decision in (LicenceDecision.REFUSE, LicenceDecision.REVOKE)
                and p.reasons is None
                else None
            ),
        ),
        _not_before("valid_until", "decided_on"),
        _not_before("valid_until", "valid_from"),
        _no_credit_code_for_a_person("applicant_type"),
    )


class EnforcementPayload(RuledModel):
    """An administrative enforcement decision (行政强制决定): a measure (查封, 扣押, 冻结…)
    or a way of enforcement (加处罚款或滞纳金, 划拨, 拍卖, 代履行…)."""

    title: Title
    decision_number: DocNumber = Field(description="决定书文号")
    measures: Annotated[
        list[Annotated[EnforcementMeasure, ENUM]], Field(min_length=1, max_length=11)
    ] = Field(description="from the lists of 行政强制法 第九条 and 第十二条")
    party_type: Annotated[PartyType, ENUM]
    party_name: PartyName = Field(
        description="the party; co-parties separated by 、，；和 or 及 (natural persons are anonymised)"
    )
    credit_code: CreditCode | None = Field(
        default=None,
        description="统一社会信用代码 of an organisation (GB 32100); a natural person has none",
    )
    facts: LongText
    objects: Paragraph | None = Field(
        default=None,
        description="what the measure applies to (场所、设施、财物、存款…), as the decision lists it",
    )
    amount: _Yuan | None = Field(
        default=None, description="加处罚款或滞纳金, or the sum transferred (划拨), in yuan"
    )
    legal_basis: Paragraph
    authority: ShortText
    decided_on: CalendarDate
    ends_on: CalendarDate | None = Field(
        default=None,
        description="when a 查封 or 扣押 ends (at most 30 days, extendable by 30: 行政强制法 第二十五条)",
    )
    domain: ShortText = Field(description="field of law enforcement, e.g. 安全生产")
    is_minor: Annotated[bool, FLAG] = _is_minor()
    involves_secrets: Annotated[bool, FLAG] = _secrets()
    security_risk: Annotated[bool, FLAG] = _security_risk()

    @property
    def party(self) -> Party:
        """The party subject to the measure."""
        return Party(self.party_type, self.party_name, self.credit_code)

    __rules__ = (
        _no_repeats("measures"),
        _not_before("ends_on", "decided_on"),
        _no_credit_code_for_a_person("party_type"),
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


class ExposurePayload(RuledModel):
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
    cases: Annotated[list[ExposureCase], Field(max_length=200)] = Field(**NO_ITEMS)

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
        **NO_ITEMS, description="议定事项 (classified items excluded)"
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
    links: Annotated[list[Link], Field(max_length=50)] = Field(**NO_ITEMS)


ReportNumber = Annotated[Decimal, Field(ge=0, le=10**12, decimal_places=4), NUMBER]
"""A count, or an amount (万元), in a report table."""


class ReportRow(StrictModel):
    """One row of a report table: its label and a value per column (``None``: no value)."""

    label: ShortText
    cells: Annotated[list[ReportNumber | None], Field(min_length=1, max_length=12)]


class ReportSection(RuledModel):
    """A block of a report table under its heading (第二十条第（一）项); ``columns[0]``
    heads the row labels (信息内容), each further column one value of every row."""

    heading: ShortText
    columns: Annotated[list[ShortText], Field(min_length=2, max_length=13)]
    rows: Annotated[list[ReportRow], Field(min_length=1, max_length=50)]

    __rules__ = (
        Rule(
            ("columns", "rows"),
            lambda s: next(
                (
                    f"row {row.label!r} has {len(row.cells)} values for"
                    f" {len(s.columns) - 1} columns"
                    for row in s.rows
                    if len(row.cells) != len(s.columns) - 1
                ),
                None,
            ),
        ),
    )


class ReportPayload(StrictModel):
    """A table of the annual government-information-disclosure report (政府信息公开工作
    年度报告), in a format the report's regulator published (``report_format``)."""

    title: Title
    year: Annotated[int, Field(ge=2008, le=2200), NUMBER] = Field(
        description="the calendar year reported (1 January to 31 December, Beijing time)"
    )
    scope: DepartmentCode | None = Field(
        default=None, description="the department reported on; none for the whole government"
    )
    scope_name: ShortText
    report_format: FormatId
    format_source: Paragraph = Field(description="the document that set the format")
    table: ShortText = Field(description="which table of the report, e.g. 二、主动公开政府信息情况")
    sections: Annotated[list[ReportSection], Field(min_length=1, max_length=20)]
    notes: Annotated[list[Paragraph], Field(max_length=30)] = Field(
        **NO_ITEMS, description="how the values were counted, and where given ones came from"
    )


class RetractionPayload(RuledModel):
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
