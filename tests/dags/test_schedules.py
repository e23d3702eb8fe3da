"""When the DAGs run: next-run dates through 2023 and 2024, in Asia/Shanghai."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from producers.releases.campaigns import load_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def runs(dag: Any, start: datetime, end: datetime) -> list[datetime]:
    """The scheduled run times of ``dag`` in ``[start, end)``, as the scheduler computes them."""
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=pendulum.instance(start), latest=None, catchup=True)
    found: list[datetime] = []
    last = None
    while True:
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        assert info is not None
        if info.run_after >= end:
            return found
        found.append(info.run_after.astimezone(SHANGHAI))
        last = info.data_interval


def test_the_exposure_release_runs_on_the_first_day_of_each_quarter(dag_bag: Any) -> None:
    dag = dag_bag.dags["quarterly_exposure_release"]
    assert dag.timetable.expression == "0 9 1 1,4,7,10 *"
    assert str(dag.timetable.timezone) == "Asia/Shanghai"
    found = runs(dag, datetime(2023, 1, 1, tzinfo=SHANGHAI), datetime(2025, 1, 2, tzinfo=SHANGHAI))
    assert found == [
        datetime(year, month, 1, 9, 0, tzinfo=SHANGHAI)
        for year in (2023, 2024)
        for month in (1, 4, 7, 10)
    ] + [datetime(2025, 1, 1, 9, 0, tzinfo=SHANGHAI)]
    # 09:00 in Zhuzhou is 01:00 UTC (China keeps no daylight saving time).
    assert {run.utcoffset() for run in found} == {timedelta(hours=8)}
    assert all(run.astimezone(ZoneInfo("UTC")).hour == 1 for run in found)


def test_the_campaign_schedule_runs_hourly_and_meets_every_phase(dag_bag: Any) -> None:
    dag = dag_bag.dags["theme_day_campaign"]
    assert str(dag.timetable.timezone) == "Asia/Shanghai"
    start, end = datetime(2023, 1, 1, tzinfo=SHANGHAI), datetime(2025, 1, 1, tzinfo=SHANGHAI)
    found = runs(dag, start, end)
    assert len(found) == (end - start) // timedelta(hours=1)  # 2023 and 2024, every hour
    assert found[0] == start
    assert found[-1] == end - timedelta(hours=1)
    assert all(run.minute == 0 for run in found)
    # Every phase of the shipped calendar is published by the run at its time.
    on_schedule = set(found)
    for phase in load_calendar().phases:
        assert phase.publish_at in on_schedule, phase.document_id


def test_the_takedown_runs_every_day_at_nine_in_shanghai(dag_bag: Any) -> None:
    dag = dag_bag.dags["penalty_display_takedown"]
    assert dag.timetable.expression == "0 9 * * *"
    assert str(dag.timetable.timezone) == "Asia/Shanghai"
    start, end = datetime(2023, 12, 30, tzinfo=SHANGHAI), datetime(2024, 1, 3, tzinfo=SHANGHAI)
    assert runs(dag, start, end) == [
        datetime(2023, 12, day, 9, 0, tzinfo=SHANGHAI) for day in (30, 31)
    ] + [datetime(2024, 1, day, 9, 0, tzinfo=SHANGHAI) for day in (1, 2)]


def test_the_freshness_check_runs_every_morning_at_eight(dag_bag: Any) -> None:
    dag = dag_bag.dags["freshness_check"]
    assert dag.timetable.expression == "0 8 * * *"
    assert str(dag.timetable.timezone) == "Asia/Shanghai"
    start = datetime(2026, 9, 28, tzinfo=SHANGHAI)
    found = runs(dag, start, datetime(2026, 10, 12, tzinfo=SHANGHAI))
    # Every day, holidays and weekends too (the National Day week is in this range).
    assert found == [start + timedelta(days=n, hours=8) for n in range(14)]
    # 08:00 in Zhuzhou is midnight UTC.
    assert all(run.astimezone(ZoneInfo("UTC")).hour == 0 for run in found)
