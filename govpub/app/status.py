"""``govpub status``: what operators look at — consumer lag per channel, deliveries
by state, dead letters, the last releases the DAGs emitted with the decision behind
each, the last release decisions (rejections too), the compliance flags and the
take-downs of penalty decisions (:mod:`govpub.app.compliance_status`), and where one
document is published."""

import json
from datetime import UTC, datetime

from govpub.app.compliance_status import (
    catalog_lag,
    channel_lag,
    read_compliance_status,
    render_compliance_status,
    today_in_china,
)
from govpub.bus import open_bus
from govpub.deliveries import DeliveryLog
from govpub.settings import Settings
from govpub.store import Store, describe_location
from govpub.topics import Topics
from producers.releases.log import ReleaseLog

RECENT_RELEASES = 10
"""How many of the DAGs' latest releases (and release decisions) ``govpub status`` lists."""


def render_status(settings: Settings, *, document_id: str | None = None) -> str:
    """A plain-text status report."""
    topics = Topics(settings.topic_prefix)
    bus = open_bus(settings)
    lines = [f"bus: {settings.bus}", f"store: {describe_location(settings.store)}", ""]
    with Store(settings.store) as store:
        deliveries = DeliveryLog(store)
        if document_id is not None:
            rows = deliveries.for_document(document_id)
            decided = ReleaseLog(store).decisions_for(document_id)
            if not rows and not decided:
                return f"document {document_id}: no deliveries recorded"
            lines = [f"document {document_id}:"]
            for decision in decided:
                triggered = (
                    f", triggered by {decision.triggered_by}" if decision.triggered_by else ""
                )
                lines.append(
                    f"  v{decision.version} release decision: {decision.summary()}"
                    f" (run {decision.run_id}{triggered})"
                )
            if not rows:
                lines.append("  no deliveries recorded")
            for row in rows:
                target = f" → {row.target}" if row.target else ""
                remote = (
                    " " + " ".join(f"{k}={v}" for k, v in sorted(row.remote_ids.items()))
                    if row.remote_ids
                    else ""
                )
                error = f" last error: {row.last_error}" if row.last_error else ""
                when = datetime.fromtimestamp(row.updated_at, UTC).isoformat(timespec="seconds")
                lines.append(
                    f"  v{row.version} {row.action:<8} {row.channel}{target}: {row.state.value}"
                    f" (attempts {row.attempts}, {when}){remote}{error}"
                )
            return "\n".join(lines)
        bus.ensure_topics(topics.all)
        counts = deliveries.counts()
        names = sorted(set(settings.channels) | set(counts))
        lines.append("channel          lag  deliveries")
        for name in names:
            lag = channel_lag(settings, bus, name)
            states = ", ".join(f"{state} {n}" for state, n in sorted(counts.get(name, {}).items()))
            lines.append(f"{name:<14} {lag:>5}  {states or '-'}")
        targets = deliveries.target_counts()
        if targets:
            lines.append("")
            lines.append("target (account or endpoint)     deliveries")
            for (channel, target), by_state in targets.items():
                states = ", ".join(f"{state} {n}" for state, n in sorted(by_state.items()))
                lines.append(f"{channel + ' → ' + target:<32} {states}")
        dead = sum(bus.end_offsets([topics.dlq]).values())
        lines.append("")
        lines.append(f"dead letters on {topics.dlq}: {dead} (govpub dlq list)")
        lines.append("")
        release_log = ReleaseLog(store)
        releases = release_log.latest(RECENT_RELEASES)
        approvals = release_log.approvals_of(r.event_id for r in releases)
        lines.append(f"last releases by the DAGs: {len(releases) or 'none'}")
        for release in releases:
            approval = approvals.get(release.event_id)
            if approval is not None:
                basis = approval.summary()
            elif release.kind == "campaign":
                basis = "theme-day calendar"
            elif release.action == "retract":
                basis = "display period ended (公示期满)"
            else:
                basis = "no approval on record"
            lines.append(
                f"  {release.emitted_at.isoformat(timespec='seconds')} {release.source}:"
                f" {release.document_id} v{release.version} {release.action} {release.title}"
                f" [{basis}]"
            )
        if releases:
            lines.append("  (where each is published: govpub status --document ID)")
        decisions = release_log.decisions(RECENT_RELEASES)
        lines.append("")
        lines.append(f"last release decisions: {len(decisions) or 'none'}")
        for decision in decisions:
            triggered = f", triggered by {decision.triggered_by}" if decision.triggered_by else ""
            lines.append(
                f"  {decision.document_id} v{decision.version} {decision.summary()}"
                f" (run {decision.run_id}{triggered})"
            )
        lines.append("")
        compliance = read_compliance_status(
            settings, store, today=today_in_china(), catalog_behind=catalog_lag(settings, bus)
        )
        lines += render_compliance_status(compliance)
    return "\n".join(lines)


def status_json(settings: Settings) -> str:
    """``govpub status --json``: the compliance flags and the take-downs, for scripts."""
    with Store(settings.store) as store, open_bus(settings) as bus:
        compliance = read_compliance_status(
            settings, store, today=today_in_china(), catalog_behind=catalog_lag(settings, bus)
        )
    return json.dumps(compliance.as_json(), ensure_ascii=False, indent=2)
