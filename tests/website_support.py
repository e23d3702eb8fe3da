"""Helpers for the website tests: events of every kind, a channel on a real store,
and reading the output tree."""

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from channels.base import ChannelContext
from channels.website import WebsiteChannel
from consumers.channel import Outcome, Rebuild
from govpub.settings import Settings
from govpub.store import Store
from schemas import parse_event
from tests import factories


def meeting(document_id: str = "meeting-1", version: int = 1, **payload: Any) -> dict[str, Any]:
    """An executive meeting with decided items and a video."""
    body: dict[str, Any] = {
        "title": "株洲市人民政府第12次常务会议",
        "meeting_type": "常务会议",
        "session_number": 12,
        "held_on": "2023-06-16",
        "press_release": "<p>市人民政府召开第12次常务会议，研究部署安全生产工作。</p>",
        "decisions": ["原则通过《重点民生实事项目实施方案》。", "研究部署安全生产专项整治。"],
        "video_url": "https://media.example.org/zhuzhou/executive-12.mp4",
    }
    body.update(payload)
    return factories.envelope("meeting", document_id, version, body, department="zz-zfb")


def exposure_batch(
    document_id: str = "exposure-2023Q2", version: int = 1, **payload: Any
) -> dict[str, Any]:
    """A quarterly exposure batch of two cases."""
    body: dict[str, Any] = {
        "title": "2023年第二季度安全生产领域典型案例",
        "domain": "安全生产",
        "candidate_quarter": "2023Q2",
        "case_summary": "现公开曝光本季度典型案例。",
        "cases": [
            {
                "title": "示例化工有限公司重大危险源未定期检测评估案",
                "case_summary": "该公司未按规定对重大危险源进行定期检测，被处罚款5万元。",
                "decision_ref": "doc-penalty-1",
            },
            {
                "title": "张某某非法储存危险化学品案",
                "case_summary": "当事人未经许可储存危险化学品。",
                "decision_ref": "doc-penalty-2",
            },
        ],
    }
    body.update(payload)
    return factories.envelope("exposure", document_id, version, body, department="zz-yjj")


def exposure_candidate(document_id: str = "exposure-candidate-1") -> dict[str, Any]:
    """A candidate case: published only inside its quarter's batch."""
    body = {
        "title": "示例化工有限公司案",
        "domain": "安全生产",
        "candidate_quarter": "2023Q2",
        "case_summary": "候选案例。",
        "decision_ref": "doc-penalty-1",
    }
    return factories.envelope("exposure", document_id, 1, body, department="zz-yjj")


def campaign(document_id: str = "campaign-1", version: int = 1, **payload: Any) -> dict[str, Any]:
    """A theme-day preview."""
    body: dict[str, Any] = {
        "title": "政务公开主题日预告：守护好一江碧水五周年",
        "theme": "守护好一江碧水五周年",
        "day": "2023-07-05",
        "phase": "preview",
        "body": "<p>邀请市民走进湘江株洲段水质监测站。</p>",
        "links": [{"title": "株洲市政务公开专栏", "url": "https://www.example.org/zwgk/"}],
    }
    body.update(payload)
    return factories.envelope("campaign", document_id, version, body, department="zz-zfb")


def at(event: dict[str, Any], occurred_at: str) -> dict[str, Any]:
    """``event`` with another ``occurred_at``."""
    return {**event, "occurred_at": occurred_at}


def in_department(event: dict[str, Any], department: str) -> dict[str, Any]:
    """``event`` from another department."""
    return {**event, "department": department}


class Site:
    """A website channel on a real store, writing to ``settings.output_dir``."""

    def __init__(
        self,
        settings: Settings,
        *,
        page_size: int = 20,
        clock: Callable[[], datetime] | None = None,
        rebuild: Rebuild | None = None,
    ) -> None:
        self.settings = settings
        self.root = settings.output_dir
        self.store = Store(settings.store).open()
        self.channel = WebsiteChannel(
            self.store,
            ChannelContext(settings, self.store, rebuild=rebuild),
            page_size=page_size,
            clock=clock,
        )

    def apply(self, *events: dict[str, Any]) -> list[Outcome | None]:
        """Apply events (without flushing)."""
        return [self.channel.apply(parse_event(e)) for e in events]

    def publish(self, *events: dict[str, Any]) -> list[Outcome | None]:
        """Apply events and flush once."""
        outcomes = self.apply(*events)
        self.channel.flush()
        return outcomes

    def text(self, path: str) -> str:
        """A file of the site as text."""
        return (self.root / path).read_text("utf-8")

    def exists(self, path: str) -> bool:
        """True if the site has ``path``."""
        return (self.root / path).exists()

    def close(self) -> None:
        """Close the channel and the store."""
        self.channel.close()
        self.store.close()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (dot-files excluded) by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def digests(root: Path) -> dict[str, str]:
    """Content hash of every file under ``root``."""
    return {path: hashlib.sha256(data).hexdigest() for path, data in tree(root).items()}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Paths added, removed or changed between two :func:`digests`."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def sitemap_locations(xml: str) -> list[str]:
    """The ``<loc>`` values of a sitemap or sitemap index."""
    namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    return [e.text or "" for e in ElementTree.fromstring(xml).iter(f"{namespace}loc")]


def numbered(prefix: str, count: int, *, start_day: int = 1) -> Iterable[dict[str, Any]]:
    """``count`` penalties published a day apart (``<prefix>-001`` is the oldest)."""
    for i in range(count):
        day = start_day + i
        event = factories.penalty(
            f"{prefix}-{i + 1:03d}", title=f"处罚决定 {prefix} 第{i + 1:03d}号"
        )
        yield at(event, f"2023-{1 + day // 28:02d}-{1 + day % 28:02d}T10:00:00+08:00")
