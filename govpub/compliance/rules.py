"""Every rule of the compliance gate, in one place, with its legal source.

The gate (:mod:`producers.compliance.gate`) applies these rules to every event
before it reaches the bus, whichever way it arrives (HTTP ingest, the SDK,
``govpub emit``, the demo, the DAGs). Each decision it takes is written to the
audit log under the rule's ``id``. Sources marked ``verify=True`` were not
confirmed against the official text; the behaviour they drive is configurable.

Masking — before publication (去标识化):
    ``id_number``, ``mobile_number``, ``landline_number``, ``bank_card``,
    ``bank_account``, ``home_address``, ``party_name``.
Never published — refused with the field named:
    ``minor_party``, ``secrets``, ``security_risk`` (penalty, licence and enforcement
    decisions).
Checked by the event schema, listed here for completeness:
    ``three_synchronous`` (``schemas.payloads.PolicyPayload``).
Markup:
    ``html_sanitize``, ``text_markup``.
Deadlines — accepted but flagged:
    ``penalty_deadline``, ``licence_deadline``, ``enforcement_deadline``,
    ``disclosure_deadline``, ``withdrawal_deadline``.
Display periods — filled in, or refused outside their bounds:
    ``display_period``.
Ingest authorisation (谁主管、谁公开、谁审查):
    ``department_mismatch``, ``document_owner``, ``kind_not_allowed``.
Review of scheduled releases (谁审查), recorded by ``producers.releases``:
    ``release_approval``.
"""

from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    """What the gate did; one audit row per decision."""

    CHECKED = "checked"  # the event passed the gate (one row per event, with its digest)
    MASKED = "masked"
    SANITIZED = "sanitized"
    FLAGGED = "flagged"  # accepted, but a deadline (or similar) was missed
    KEPT = "kept"  # a rule would have masked, but the authority's policy publishes it
    REFUSED = "refused"
    # Passed the gate, but the file or batch it came in was refused: nothing was sent.
    NOT_SENT = "not_sent"
    # Decisions about a scheduled release (producers.releases), one row per batch version.
    APPROVED = "approved"
    REJECTED = "rejected"
    AUTO_APPROVED = "auto_approved"  # only where GOVPUB_ALLOW_AUTO_APPROVE is set


@dataclass(frozen=True)
class Rule:
    """One rule: its id (used in the audit log and in answers), what it does, and why."""

    id: str
    summary: str
    source: str
    verify: bool = False


_PIPL = "《中华人民共和国个人信息保护法》（2021）第六条（最小必要）、第二十八条（敏感个人信息，含金融账户）、第三十四条（国家机关处理个人信息不得超出履行法定职责所必需的范围和限度）"
_OGI_15 = "《中华人民共和国政府信息公开条例》（2019）第十五条（涉及个人隐私的政府信息不得公开）"
_GUOBAN_118 = "《国务院办公厅关于全面推行行政执法公示制度执法全过程记录制度重大执法决定法制审核制度的指导意见》（国办发〔2018〕118号）：涉及个人隐私等不宜公开的信息，依法确需公开的，要作适当处理后公开"

ID_NUMBER = Rule(
    "id_number",
    "身份证号 (18 characters with a valid GB 11643 check character and birth date, or 15 "
    "digits with a birth date) masked, keeping the 6-digit area code, in every kind and "
    "wherever it stands; refused as a credit_code",
    f"{_PIPL}；{_OGI_15}；{_GUOBAN_118}；GB 11643-1999《公民身份号码》",
)
MOBILE_NUMBER = Rule(
    "mobile_number",
    "mobile numbers (1[3-9] + 9 digits, optionally +86, any separators) masked as "
    "138****5678, in every kind",
    f"{_PIPL}；{_OGI_15}",
)
LANDLINE_NUMBER = Rule(
    "landline_number",
    "in penalty and exposure text, landline numbers with an area code (0731-22881234), or "
    "after a label such as 电话/拨打, masked keeping the area code; an organisation's "
    "published line (…局举报电话：…) stays",
    f"{_PIPL}；{_OGI_15}",
)
BANK_CARD = Rule(
    "bank_card",
    "bank card numbers (16–19 digits passing the Luhn check) masked but the last 4 digits, "
    "in every kind and wherever they stand",
    f"{_PIPL}（金融账户属敏感个人信息）；ISO/IEC 7812-1（Luhn）",
)
BANK_ACCOUNT = Rule(
    "bank_account",
    "numbers after 账号/账户/卡号 (10–30 digits, organisations' accounts too) masked but the "
    "last 4 digits",
    f"{_PIPL}；domain notes: mask bank accounts of organisations too",
)
HOME_ADDRESS = Rule(
    "home_address",
    "a natural person's address after 住址/家庭住址/户籍地/居住地/住所 masked up to the next "
    "punctuation",
    f"{_PIPL}；{_OGI_15}",
)
PERSONAL_CONTACT = Rule(
    "personal_contact",
    "a natural person's e-mail address (all of the name before @ but its first letter; "
    "government .gov.cn addresses stay) and the account after QQ/微信 masked",
    f"{_PIPL}；{_OGI_15}",
)
VEHICLE_PLATE = Rule(
    "vehicle_plate",
    "a natural person's vehicle plate (湘B12345 → 湘B****5) masked: with the decision it "
    "identifies the owner",
    f"{_PIPL}（第四条：与已识别或者可识别的自然人有关的各种信息）；{_OGI_15}",
)
PARTY_NAME = Rule(
    "party_name",
    "the penalised natural persons' names (every co-party, any spelling: spaces, "
    "traditional form, the given name alone) anonymised (张三 → 张某, 张三丰 → 张某某) in "
    "party_name and every text field, and in exposure cases and withdrawal reasons citing "
    "the decision; per-authority policy, masked by default",
    f"{_PIPL}；{_GUOBAN_118}；current practice of the city's enforcement bodies "
    "(configurable per department: GOVPUB_COMPLIANCE_PUBLISH_PARTY_NAMES)",
    verify=True,
)
MINOR_PARTY = Rule(
    "minor_party",
    "a penalty or enforcement decision whose party is a minor (payload.is_minor) is never "
    "published",
    "《中华人民共和国未成年人保护法》（2020年修订）关于未成年人隐私权和个人信息保护的规定；"
    "《中华人民共和国个人信息保护法》第二十八条（不满十四周岁未成年人的个人信息属于敏感个人信息）",
    verify=True,
)
SECRETS = Rule(
    "secrets",
    "facts involving state or trade secrets (payload.involves_secrets) are never published",
    "《中华人民共和国政府信息公开条例》（2019）第十四条（依法确定为国家秘密的政府信息不予公开）、"
    "第十五条（涉及商业秘密的政府信息不得公开）；《中华人民共和国保守国家秘密法》",
)
SECURITY_RISK = Rule(
    "security_risk",
    "information flagged as a security or stability risk (payload.security_risk) is never "
    "published",
    "《中华人民共和国政府信息公开条例》（2019）第十四条（公开后可能危及国家安全、公共安全、"
    "经济安全、社会稳定的政府信息，不予公开）",
)
NEVER_PUBLISH: tuple[tuple[str, Rule, str], ...] = (
    ("is_minor", MINOR_PARTY, "the party is a minor: a penalty against a minor is never published"),
    ("involves_secrets", SECRETS, "the facts involve state or trade secrets: never published"),
    ("security_risk", SECURITY_RISK, "flagged as a security or stability risk: never published"),
)
"""The flags that keep a decision (penalty, licence, enforcement) off every channel:
(payload field, rule, reason)."""

NOT_PUBLISHED_REASON = "依据相关法律法规，该信息不予公开。"
"""The public reason of the withdrawal that takes down a decision that must not be published."""


def never_publish(payload: object) -> list[tuple[str, Rule, str]]:
    """The never-publish flags set on ``payload`` (a decision's; none for other kinds)."""
    return [entry for entry in NEVER_PUBLISH if getattr(payload, entry[0], False) is True]


THREE_SYNCHRONOUS = Rule(
    "three_synchronous",
    "a 规章 or 行政规范性文件 without its interpretation is refused (enforced by the event "
    "schema: schemas.payloads.PolicyPayload)",
    "《〈关于全面推进政务公开工作的意见〉实施细则》（国办发〔2016〕80号）：政策性文件与解读方案、"
    "解读材料同步组织、同步审签、同步部署；《株洲市2023年政务公开工作要点》",
    verify=True,
)
HTML_SANITIZE = Rule(
    "html_sanitize",
    "body-like HTML fields reduced to an allow-list of tags, attributes and URL schemes (nh3); "
    "scripts, event handlers, styles, frames and javascript: links are removed",
    "《中华人民共和国网络安全法》第二十一条（网络安全等级保护义务）；"
    "《政府网站发展指引》（国办发〔2017〕47号）安全防护要求",
)
TEXT_MARKUP = Rule(
    "text_markup",
    "markup in plain-text fields (titles, facts, summaries) removed, since feed readers render "
    "RSS descriptions as HTML",
    "same as html_sanitize",
)
PENALTY_DEADLINE = Rule(
    "penalty_deadline",
    "a penalty decision first published more than 7 working days after decided_on is accepted "
    "but flagged",
    f"{_GUOBAN_118.split('：')[0]}：行政许可、行政处罚的执法决定信息要在执法决定作出之日起"
    "7个工作日内公开；《中华人民共和国行政处罚法》（2021）第四十八条",
)
LICENCE_DEADLINE = Rule(
    "licence_deadline",
    "a licensing decision first published more than 7 working days after decided_on is "
    "accepted but flagged",
    f"{_GUOBAN_118.split('：')[0]}：行政许可、行政处罚的执法决定信息要在执法决定作出之日起"
    "7个工作日内公开",
)
ENFORCEMENT_DEADLINE = Rule(
    "enforcement_deadline",
    "an enforcement decision first published more than 7 working days after decided_on is "
    "accepted but flagged",
    f"{_GUOBAN_118.split('：')[0]}（行政执法公示：执法决定信息及时公开；其7个工作日的时限明文"
    "针对行政许可、行政处罚，对行政强制决定参照适用）；《株洲市2023年政务公开工作要点》：及时、"
    "规范、集中公开行政许可、处罚、强制……办理结果",
    verify=True,
)
DISCLOSURE_DEADLINE = Rule(
    "disclosure_deadline",
    "proactively disclosed information (policy, meeting, exposure batch) published more than "
    "20 working days after it was formed or changed (occurred_at) is accepted but flagged",
    "《中华人民共和国政府信息公开条例》（2019）第二十六条：属于主动公开范围的政府信息，"
    "应当自该政府信息形成或者变更之日起20个工作日内及时公开",
)
WITHDRAWAL_DEADLINE = Rule(
    "withdrawal_deadline",
    "the withdrawal of a penalty decision changed, revoked or found illegal, published more "
    "than 3 working days after that day (payload.revoked_on), is accepted but flagged",
    "《中华人民共和国行政处罚法》（2021）第四十八条：公开的行政处罚决定被依法变更、撤销、确认违法"
    "或者确认无效的，行政机关应当在三日内撤回行政处罚决定信息并公开说明理由；第八十五条："
    "本法中“二日”“三日”“五日”“七日”的规定是指工作日，不含法定节假日",
)
DISPLAY_PERIOD = Rule(
    "display_period",
    "a penalty decision is displayed for the period configured for its domain and penalty "
    "types (GOVPUB_PENALTY_DISPLAY_CONFIG): the gate fills in payload.display_until when the "
    "decision gives none, and refuses one shorter than the minimum or longer than the maximum; "
    "the penalty_display_takedown DAG takes the decision down when the period ends (公示期满)",
    "行政处罚信息公示期限：信用网站最短3个月、最长3年（国家发展改革委《失信行为纠正后的信用信息"
    "修复管理办法（试行）》），安全生产领域不少于1年（地方规定）；各地规定不同，以本地条文为准",
    verify=True,
)
DEPARTMENT_MISMATCH = Rule(
    "department_mismatch",
    "an ingest request may only carry events of the department its key belongs to",
    "《中华人民共和国政府信息公开条例》（2019）第十条（行政机关制作的政府信息，由制作该政府"
    "信息的行政机关负责公开）；谁主管、谁公开、谁审查",
)
DOCUMENT_OWNER = Rule(
    "document_owner",
    "a document_id first published by one department cannot be updated or retracted by another",
    "same as department_mismatch",
)
KIND_NOT_ALLOWED = Rule(
    "kind_not_allowed",
    "a department may only publish the kinds its credentials allow",
    "same as department_mismatch",
)
RELEASE_APPROVAL = Rule(
    "release_approval",
    "a scheduled release (the quarterly exposure batch) is emitted only after one of its "
    "domain's approvers, other than whoever triggered the run, approved it; auto-approval "
    "only where the deployment allows it, and then on record as such",
    "《株洲市2023年政务公开工作要点》：谁主管、谁公开、谁审查；"
    "《中华人民共和国政府信息公开条例》（2019）第十七条（建立健全政府信息公开审查机制）",
)

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        ID_NUMBER,
        MOBILE_NUMBER,
        LANDLINE_NUMBER,
        BANK_CARD,
        BANK_ACCOUNT,
        HOME_ADDRESS,
        PERSONAL_CONTACT,
        VEHICLE_PLATE,
        PARTY_NAME,
        MINOR_PARTY,
        SECRETS,
        SECURITY_RISK,
        THREE_SYNCHRONOUS,
        HTML_SANITIZE,
        TEXT_MARKUP,
        PENALTY_DEADLINE,
        LICENCE_DEADLINE,
        ENFORCEMENT_DEADLINE,
        DISCLOSURE_DEADLINE,
        WITHDRAWAL_DEADLINE,
        DISPLAY_PERIOD,
        DEPARTMENT_MISMATCH,
        DOCUMENT_OWNER,
        KIND_NOT_ALLOWED,
        RELEASE_APPROVAL,
    )
}
"""Every rule by id."""
