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


class MeetingType(StrEnum):
    """Government meetings whose information is published on the portal."""

    EXECUTIVE = "常务会议"
    PLENARY = "全体会议"


class CampaignPhase(StrEnum):
    """Phases of a theme-day (政务公开主题日) campaign."""

    PREVIEW = "preview"
    DAY = "day"
    RECAP = "recap"
