"""Where something stands against its rule: the deadline, the days left, and a state.

Days are Beijing dates, as the inspections count them; a rule in working days counts
on the working-day calendar (holidays and make-up working days).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from govpub.app.freshness.rules import UNIT_WORDS, Interval
from producers.compliance.calendar import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
"""Days are counted in Beijing time."""


class State(StrEnum):
    """Where something stands against its rule."""

    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"

    @property
    def words(self) -> str:
        """As the table shows it."""
        return {"ok": "ok", "due_soon": "due soon", "overdue": "OVERDUE"}[self.value]


@dataclass(frozen=True)
class Standing:
    """The deadline a rule gives, the days left in the rule's unit (negative once passed;
    a working-day rule may show 0 on the weekend right after its deadline) and the state.
    Without a last publication there is no deadline: overdue."""

    deadline: date | None
    days_left: int | None
    state: State


def standing(
    start: date | None,
    rule: Interval,
    *,
    today: date,
    warning_days: int,
    calendar: WorkingCalendar,
) -> Standing:
    """Where something last done on ``start`` stands on ``today`` under ``rule``."""
    if start is None:
        return Standing(None, None, State.OVERDUE)
    if rule.unit == "working":
        deadline = calendar.add_working_days(start, rule.max_days)
        if today <= deadline:
            left = calendar.working_days_after(today, deadline)
        else:
            left = -calendar.working_days_after(deadline, today)
    else:
        deadline = start + timedelta(days=rule.max_days)
        left = (deadline - today).days
    if today > deadline:
        state = State.OVERDUE
    elif left <= warning_days:
        state = State.DUE_SOON
    else:
        state = State.OK
    return Standing(deadline, left, state)


def left_words(days: int, rule: Interval) -> str:
    """``3 calendar days`` / ``1 working day``."""
    unit = UNIT_WORDS[rule.unit]
    return f"{days} {unit.removesuffix('s') if days == 1 else unit}"
