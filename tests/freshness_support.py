"""Helpers for the freshness tests: a fixed clock in Beijing time, rules files, and
posts recorded on new-media accounts at a given moment."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from govpub.deliveries import DeliveryLog, DeliveryRow, DeliveryState
from govpub.settings import Settings
from govpub.store import Store
from tests import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")

RULES = """
warning_days = 3

[[columns]]
name = "penalty"
kind = "penalty"
max_days = 30
source = "test: 1 month"

[[columns]]
name = "policy-yjj"
label = "应急局政策"
kind = "policy"
departments = ["zz-yjj"]
max_days = 5
unit = "working"
source = "test: 5 working days"
verify = "made up for the test"

[[accounts]]
platform = "wechat"
max_days = 14
source = "test: two weeks"

[[accounts]]
platform = "weibo"
max_days = 14
source = "test: two weeks"

[meetings]
max_days = 20
unit = "working"
source = "test: 20 working days"

[policies]
source = "test: 三同步"
"""
"""A rules file for tests: two columns (one in working days, narrowed to a department),
both platforms, meetings and policies."""


def bj(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> datetime:
    """A moment in Beijing time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def write_rules(directory: Path, text: str = RULES) -> Path:
    """``text`` as ``rules.toml`` in ``directory``."""
    path = directory / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def record_post(
    settings: Settings,
    platform: str,
    account: str,
    at: datetime,
    state: DeliveryState = DeliveryState.CONFIRMED,
    *,
    document_id: str = "doc-1",
    action: str = "publish",
) -> None:
    """A delivery record of one post on ``platform``/``account``, written at ``at``."""
    with Store(settings.store) as store:
        DeliveryLog(store, clock=at.timestamp).record(
            [
                DeliveryRow(
                    channel=platform,
                    target=account,
                    event_id=factories.new_id(),
                    document_id=document_id,
                    kind="policy",
                    action=action,
                    version=1,
                    state=state,
                )
            ]
        )
