"""Events routed to new media in the tests: exposure batches, meetings, campaigns."""

from typing import Any

from tests.factories import envelope


def exposure_batch(
    document_id: str = "exposure-2023Q2-work-safety", version: int = 1, **payload: Any
) -> dict[str, Any]:
    """A quarter's released batch of typical cases."""
    body: dict[str, Any] = {
        "title": "株洲市2023年第二季度安全生产领域“非法违法”典型案例",
        "domain": "安全生产",
        "candidate_quarter": "2023Q2",
        "case_summary": "现公开曝光本季度典型案例。",
        "cases": [
            {
                "title": "株洲示例化工有限公司重大危险源未定期检测评估案",
                "case_summary": "该公司未按规定对重大危险源进行定期检测、评估，被处罚款5万元。",
                "decision_ref": "zzyj-cf-2023-0012",
            }
        ],
    }
    body.update(payload)
    return envelope("exposure", document_id, version, body, department="zz-yjj")


def meeting(
    document_id: str = "zzzf-cwh-2023-12", version: int = 1, **payload: Any
) -> dict[str, Any]:
    """An executive meeting (v2 adds the replay video)."""
    body: dict[str, Any] = {
        "title": "株洲市人民政府第12次常务会议",
        "meeting_type": "常务会议",
        "held_on": "2023-06-16",
        "press_release": "<p>会议研究了安全生产、营商环境等工作。</p>",
        "decisions": ["原则通过《株洲市优化营商环境若干措施》"],
    }
    if version > 1:
        body["video_url"] = "https://www.example.org/zhuzhou/cwh-12.mp4"
    body.update(payload)
    return envelope("meeting", document_id, version, body)


def campaign(
    document_id: str = "theme-day-2023-river", version: int = 1, **payload: Any
) -> dict[str, Any]:
    """A theme-day post."""
    body: dict[str, Any] = {
        "title": "政务公开主题日：守护好一江碧水五周年",
        "theme": "守护好一江碧水五周年",
        "day": "2023-05-15",
        "phase": "day",
        "body": "<p>欢迎市民参与。</p>",
    }
    body.update(payload)
    return envelope("campaign", document_id, version, body)
