"""Closed vocabularies of the disclosure domain.

Values are the Chinese terms departments already use in their documents, so an
event reads the same as the paper it comes from.
"""

from enum import StrEnum


class Kind(StrEnum):
    """What an event is about; selects the topic and the payload model."""

    POLICY = "policy"
    PENALTY = "penalty"
    EXPOSURE = "exposure"
    MEETING = "meeting"
    CAMPAIGN = "campaign"
    LICENCE = "licence"
    ENFORCEMENT = "enforcement"
    REPORT = "report"

    @property
    def label(self) -> str:
        """The column name citizens see on the portal."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    Kind.POLICY: "政策文件",
    Kind.PENALTY: "行政处罚",
    Kind.EXPOSURE: "典型案例曝光",
    Kind.MEETING: "会议回放",
    Kind.CAMPAIGN: "主题活动",
    Kind.LICENCE: "行政许可",
    Kind.ENFORCEMENT: "行政强制",
    Kind.REPORT: "年度报告",
}


class Action(StrEnum):
    """What happens to the document."""

    PUBLISH = "publish"
    UPDATE = "update"
    RETRACT = "retract"


class DocClass(StrEnum):
    """Class of a policy document; 规章 and 行政规范性文件 need an interpretation (三同步)."""

    REGULATION = "规章"
    NORMATIVE = "行政规范性文件"
    OTHER = "其他"


class Validity(StrEnum):
    """Legal effect of a policy document (文件效力)."""

    IN_FORCE = "现行有效"
    AMENDED = "已修订"
    REPEALED = "已废止"
    EXPIRED = "已失效"


class PartyType(StrEnum):
    """Who was penalised; natural persons get their personal data masked."""

    NATURAL_PERSON = "自然人"
    LEGAL_PERSON = "法人"
    UNINCORPORATED = "非法人组织"
    INDIVIDUAL_BUSINESS = "个体工商户"


class PenaltyType(StrEnum):
    """The 14 standard administrative penalty types, lightest to heaviest (行政处罚法 2021, Art. 9)."""

    WARNING = "警告"
    NOTICE_OF_CRITICISM = "通报批评"
    FINE = "罚款"
    CONFISCATE_GAINS = "没收违法所得"
    CONFISCATE_PROPERTY = "没收非法财物"
    SUSPEND_LICENCE = "暂扣许可证件"
    DOWNGRADE_QUALIFICATION = "降低资质等级"
    REVOKE_LICENCE = "吊销许可证件"
    RESTRICT_OPERATIONS = "限制开展生产经营活动"
    SUSPEND_OPERATIONS = "责令停产停业"
    ORDER_CLOSURE = "责令关闭"
    RESTRICT_PRACTICE = "限制从业"
    DETENTION = "行政拘留"
    OTHER = "其他行政处罚"


class LicenceDecision(StrEnum):
    """What a licensing decision (行政许可决定) decides (行政许可法 2019: 准予 and 不予
    Art. 38, 变更 Art. 49, 延续 Art. 50, 撤销 Art. 69, 注销 Art. 70)."""

    GRANT = "准予"
    REFUSE = "不予"
    CHANGE = "变更"
    RENEW = "延续"
    REVOKE = "撤销"
    CANCEL = "注销"


class EnforcementMeasure(StrEnum):
    """Administrative enforcement (行政强制法 2011): the measures of Art. 9 and the ways of
    enforcement of Art. 12, each with its catch-all."""

    RESTRICT_FREEDOM = "限制公民人身自由"
    SEAL_UP = "查封"
    SEIZE = "扣押"
    FREEZE = "冻结"
    OTHER_MEASURE = "其他行政强制措施"
    ADDITIONAL_FINE = "加处罚款或滞纳金"
    TRANSFER = "划拨"
    AUCTION = "拍卖"
    REMOVE_OBSTRUCTION = "排除妨碍、恢复原状"
    SUBSTITUTE_PERFORMANCE = "代履行"
    OTHER_EXECUTION = "其他强制执行方式"

    @property
    def category(self) -> str:
        """行政强制措施 (Art. 9) or 行政强制执行 (Art. 12)."""
        return "行政强制措施" if self in _MEASURES else "行政强制执行"


_MEASURES = frozenset(
    {
        EnforcementMeasure.RESTRICT_FREEDOM,
        EnforcementMeasure.SEAL_UP,
        EnforcementMeasure.SEIZE,
        EnforcementMeasure.FREEZE,
        EnforcementMeasure.OTHER_MEASURE,
    }
)


class MeetingType(StrEnum):
    """Government meetings whose information is published on the portal."""

    EXECUTIVE = "常务会议"
    PLENARY = "全体会议"


class CampaignPhase(StrEnum):
    """Phases of a theme-day (政务公开主题日) campaign."""

    PREVIEW = "preview"
    DAY = "day"
    RECAP = "recap"
