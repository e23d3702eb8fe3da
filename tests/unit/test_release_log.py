"""The release log and its place in ``govpub status``."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from govpub.app.status import render_status
from govpub.compliance.audit import AuditLog
from govpub.compliance.rules import Decision
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.log import Outcome, Release, ReleaseDecision, ReleaseLog

pytestmark = pytest.mark.usefixtures("store_location")

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
        " publish 株洲市2023年第二季度安全生产领域“非法违法”典型案例 [no approval on record]"
    ) in text
    assert "theme-day-2023-x-1 v1 publish 主题日 1 [theme-day calendar]" in text
    assert text.index("exposure-2023Q2-work-safety") < text.index("theme-day-2023-x-1")
    assert "govpub status --document ID" in text
    assert "last release decisions: none" in text


def decision(outcome: Outcome, run: str, **changes: object) -> ReleaseDecision:
    values: dict[str, object] = {
        "source": "quarterly_exposure_release",
        "run_id": run,
        "document_id": "exposure-2026Q3-work-safety",
        "version": 1,
        "event_id": "00000000-0000-4000-8000-000000000002",
        "kind": "exposure",
        "action": "publish",
        "department": "zz-yjj",
        "title": "株洲市2026年第三季度安全生产领域“非法违法”典型案例",
        "outcome": outcome,
        "decided_by": "zz-yjj-reviewer",
        "decided_by_id": "zz-yjj-reviewer",
        "decided_at": T0 + timedelta(hours=1),
        "triggered_by": "admin",
        "basis": "Airflow Required action approve_release[0]",
    }
    values.update(changes)
    return ReleaseDecision(**values)  # type: ignore[arg-type]


def test_decisions_are_on_record_once_here_and_in_the_audit_log(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    rejected = decision(Outcome.REJECTED, "manual__1", decided_at=T0)
    approved = decision(Outcome.APPROVED, "manual__2")
    with Store(settings.store) as store:
        log = ReleaseLog(store)
        assert log.record_decisions([rejected, approved]) == [rejected, approved]
        # A retried task records nothing twice.
        assert log.record_decisions([approved]) == []
        assert log.decisions() == [approved, rejected]
        assert log.decisions_for("exposure-2026Q3-work-safety") == [rejected, approved]
        assert log.approvals_of([approved.event_id, "unknown"]) == {approved.event_id: approved}
        audited = AuditLog(store).for_event(approved.event_id)
    assert [(e.decision, e.rule, e.submitter.request_id) for e in audited] == [
        (Decision.REJECTED, "release_approval", "manual__1"),
        (Decision.APPROVED, "release_approval", "manual__2"),
    ]
    assert audited[1].detail == (
        "approved by zz-yjj-reviewer at 2023-07-01T02:00:00+00:00; run manual__2 triggered by admin"
    )


def test_status_shows_who_decided(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    approved = decision(Outcome.APPROVED, "manual__2")
    with Store(settings.store) as store:
        log = ReleaseLog(store)
        log.record_decisions(
            [
                decision(
                    Outcome.REJECTED,
                    "manual__1",
                    decided_at=T0,
                    decided_by="wang",
                    decided_by_id="wang",
                ),
                approved,
            ]
        )
        log.record(
            [
                release(
                    2,
                    event_id=approved.event_id,
                    source="quarterly_exposure_release",
                    run_id="manual__2",
                    document_id=approved.document_id,
                    kind="exposure",
                    title=approved.title,
                )
            ]
        )
    text = render_status(settings)
    assert (
        "exposure-2026Q3-work-safety v1 publish 株洲市2026年第三季度安全生产领域“非法违法”典型案例"
        " [approved by zz-yjj-reviewer at 2023-07-01T02:00:00+00:00]"
    ) in text
    assert "last release decisions: 2" in text
    assert (
        "  exposure-2026Q3-work-safety v1 rejected by wang at 2023-07-01T01:00:00+00:00"
        " (run manual__1, triggered by admin)"
    ) in text
    one = render_status(settings, document_id="exposure-2026Q3-work-safety")
    assert one.splitlines() == [
        "document exposure-2026Q3-work-safety:",
        "  v1 release decision: rejected by wang at 2023-07-01T01:00:00+00:00"
        " (run manual__1, triggered by admin)",
        "  v1 release decision: approved by zz-yjj-reviewer at 2023-07-01T02:00:00+00:00"
        " (run manual__2, triggered by admin)",
        "  no deliveries recorded",
    ]
