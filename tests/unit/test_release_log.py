"""The release log and its place in ``govpub status``."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from govpub.settings import Settings
from govpub.status import render_status
from govpub.store import Store
from producers.releases.log import Release, ReleaseLog

T0 = datetime(2023, 7, 1, 1, 0, tzinfo=UTC)


def release(number: int, **changes: object) -> Release:
    values: dict[str, object] = {
        "event_id": f"00000000-0000-4000-8000-{number:012d}",
        "source": "theme_day_campaign",
        "run_id": f"scheduled__{number}",
        "document_id": f"theme-day-2023-x-{number}",
        "kind": "campaign",
        "action": "publish",
        "version": 1,
        "title": f"主题日 {number}",
        "emitted_at": T0 + timedelta(hours=number),
    }
    values.update(changes)
    return Release(**values)  # type: ignore[arg-type]


def test_latest_first_and_recording_twice_keeps_the_first(
    make_settings: Callable[..., Settings],
) -> None:
    with Store(make_settings().store) as store:
        log = ReleaseLog(store)
        log.record([release(1), release(2)])
        log.record([release(2, run_id="retry")])
        latest = log.latest()
        assert [(r.document_id, r.run_id) for r in latest] == [
            ("theme-day-2023-x-2", "scheduled__2"),
            ("theme-day-2023-x-1", "scheduled__1"),
        ]
        assert latest[0].emitted_at == T0 + timedelta(hours=2)
        log.record([release(n) for n in range(3, 20)])
        assert len(log.latest(5)) == 5


def test_status_shows_the_last_releases(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    assert "last releases by the DAGs: none" in render_status(settings)
    with Store(settings.store) as store:
        ReleaseLog(store).record(
            [
                release(1),
                release(
                    2,
                    source="quarterly_exposure_release",
                    document_id="exposure-2023Q2-work-safety",
                    kind="exposure",
                    title="株洲市2023年第二季度安全生产领域“非法违法”典型案例",
                ),
            ]
        )
    text = render_status(settings)
    assert "last releases by the DAGs: 2" in text
    assert (
        "2023-07-01T03:00:00+00:00 quarterly_exposure_release: exposure-2023Q2-work-safety v1"
        " publish 株洲市2023年第二季度安全生产领域“非法违法”典型案例"
    ) in text
    assert text.index("exposure-2023Q2-work-safety") < text.index("theme-day-2023-x-1")
    assert "govpub status --document ID" in text
