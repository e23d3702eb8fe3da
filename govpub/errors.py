"""The one exception tree of govpub: import any of its errors from here.

Retry or dead-letter is decided by the type of the error, never by its message::

    GovpubError
    ├── ConfigurationError          bad settings or configuration file (exit code 2)
    │   └── UnknownChannel          a channel name that is not registered
    ├── EventValidationError        an event that does not match its schema
    │   └── ComplianceRefusal       refused by the compliance gate (never-publish rules)
    ├── NotAuthenticated            ingest: missing or bad signature, unknown key, replay
    ├── NotPermitted                ingest: another department's event, document or kind
    ├── StaleVersion                a version ≤ the one already accepted
    ├── DuplicateEventConflict      an event_id reused for different content
    ├── UpdateDeadlinesAtRisk       freshness: columns or accounts overdue or due soon
    ├── BatchRejected               some events of a batch refused; nothing of it was sent
    ├── BusError                    transport failures
    │   ├── PublishFailed           a send that was not acknowledged
    │   │   └── PartialPublish      (producers.publisher) some events of a batch not acknowledged
    │   ├── CommitFailed            offsets not committed (partition lost)
    │   └── CatalogBehind           the document catalog did not catch up with the bus in time
    ├── DeliveryError               raised by channels
    │   ├── TransientDeliveryError  retried with backoff
    │   │   ├── RateLimited         retried after the platform's delay
    │   │   └── ChannelParked       the channel waits until a given time (not an attempt)
    │   ├── PermanentDeliveryError  dead-lettered at once
    │   │   └── PoisonMessage       undecodable or schema-invalid message
    │   └── ChannelFlushFailed      the channel could not write its output; nothing committed
    ├── Interrupted                 a stop was requested mid-batch; the batch was not committed
    ├── ChannelStalled              a channel's consumer could not get to work
    ├── LeaseLost                   a single-writer channel's lease passed to another process
    ├── RenderFailed                a forked render process failed; its outputs stay pending
    ├── ReplayUnsupported           a channel that does not write files it can name
    ├── InvalidCallback             a platform's callback that is not well-formed (HTTP 400)
    │   └── UnhandledCallback       a well-formed callback of a type govpub does not handle
    ├── ReleaseRefused              a scheduled release needs someone to fix its input
    │   ├── NoCandidates            a domain has no exposure candidate that can be released
    │   ├── BatchWithdrawn          the quarter's batch was withdrawn
    │   ├── PlanOutdated            what a plan relied on changed before emission
    │   ├── ApprovalMissing         a batch without a decision on record that allows it
    │   ├── ApprovalRefused         nobody may approve it, or an answer from the wrong person
    │   ├── ReleaseRejected         an approver rejected a batch
    │   ├── ReportWithdrawn         the annual report table to publish again was withdrawn
    │   ├── HistoryIncomplete       the document catalog lacks the versions a report counts
    │   └── TakedownRefused         a take-down of what is not a published penalty decision
    │                               whose display period ended
    ├── MissedPhases                theme-day phases that missed their window
    └── RunNoteFailed               Airflow's api-server refused or did not answer a run note

A channel adds its platform's errors under ``DeliveryError`` in its own package (the new
media's are in :mod:`channels.newmedia.errors`). ``GovpubError``, ``FieldError`` and
``EventValidationError`` are defined in :mod:`schemas.errors` (``schemas`` imports nothing
of ``govpub``) and re-exported here.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from schemas.errors import EventValidationError, FieldError, GovpubError

__all__ = [
    "ApprovalMissing",
    "ApprovalRefused",
    "BatchRejected",
    "BatchWithdrawn",
    "BusError",
    "CatalogBehind",
    "ChannelFlushFailed",
    "ChannelParked",
    "ChannelStalled",
    "CommitFailed",
    "ComplianceRefusal",
    "ConfigurationError",
    "DeliveryError",
    "DuplicateEventConflict",
    "EventValidationError",
    "FieldError",
    "GovpubError",
    "HistoryIncomplete",
    "Interrupted",
    "InvalidCallback",
    "LeaseLost",
    "MissedPhases",
    "NoCandidates",
    "NotAuthenticated",
    "NotPermitted",
    "PermanentDeliveryError",
    "PlanOutdated",
    "PoisonMessage",
    "PublishFailed",
    "RateLimited",
    "ReleaseRefused",
    "ReleaseRejected",
    "RenderFailed",
    "ReplayUnsupported",
    "ReportWithdrawn",
    "RunNoteFailed",
    "StaleVersion",
    "TakedownRefused",
    "TransientDeliveryError",
    "UnhandledCallback",
    "UnknownChannel",
    "UpdateDeadlinesAtRisk",
]


class ConfigurationError(GovpubError):
    """Settings or a configuration file are wrong; the message names the field."""


class UnknownChannel(ConfigurationError):
    """A channel name that is not in the registry."""


class ComplianceRefusal(EventValidationError):
    """The compliance gate refuses to publish the event (a never-publish rule applies).

    ``rule`` names the rule (see ``govpub.compliance.rules``); ``errors`` names the field.
    """

    def __init__(self, rule: str, errors: Sequence[FieldError]) -> None:
        self.rule = rule
        super().__init__(errors)


class NotAuthenticated(GovpubError):
    """A request to the ingest API is not signed by a known, active key (HTTP 401)."""


class NotPermitted(GovpubError):
    """An authenticated department may not publish this event (HTTP 403).

    ``path`` names the field that is not allowed (``department``, ``kind``, ``document_id``).
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}")


class StaleVersion(GovpubError):
    """The document already has this version or a newer one."""

    def __init__(self, document_id: str, version: int, current: int) -> None:
        self.document_id = document_id
        self.version = version
        self.current = current
        super().__init__(
            f"version: {version} is stale for document {document_id!r}; "
            f"version {current} is already accepted (send version {current + 1} or later)"
        )


class DuplicateEventConflict(GovpubError):
    """The event_id was already accepted with different content."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event_id: {event_id!r} was already accepted with different content")


class UpdateDeadlinesAtRisk(GovpubError):
    """The freshness check found something overdue or due soon; ``problems`` lists each
    (a column, an account, a meeting or a policy) in words."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            f"{len(self.problems)} freshness problem(s):\n  " + "\n  ".join(self.problems)
        )


class BatchRejected(GovpubError):
    """Some events of a batch were refused; nothing of the batch was sent.

    ``errors`` maps the position of each refused event (0-based) to its error.
    """

    def __init__(self, errors: Mapping[int, GovpubError]) -> None:
        self.errors = dict(errors)
        super().__init__(
            "; ".join(f"event {index + 1}: {error}" for index, error in sorted(self.errors.items()))
        )


class BusError(GovpubError):
    """The bus (embedded log or Kafka) failed."""


class PublishFailed(BusError):
    """A message was not acknowledged by the bus; the caller still owns it."""


class CommitFailed(BusError):
    """Offsets could not be committed; the messages will be delivered again."""


class CatalogBehind(BusError):
    """The document catalog did not catch up with the bus in time; try again later."""


class DeliveryError(GovpubError):
    """A channel could not deliver an event."""


class TransientDeliveryError(DeliveryError):
    """A failure that may pass (network, 5xx, lock); retried with backoff."""


class RateLimited(TransientDeliveryError):
    """The platform asked us to slow down; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ChannelParked(TransientDeliveryError):
    """The platform will refuse every call until ``until`` (a daily quota, for example).

    The runner alerts, records the delivery as failed with ``reason``, waits until
    ``until`` and tries the same event again; the wait is not counted as an attempt
    and nothing is dead-lettered, so a spent quota never floods the dead-letter topic.
    """

    def __init__(self, until: datetime, reason: str) -> None:
        if until.tzinfo is None:
            raise ValueError("ChannelParked needs an aware datetime")
        self.until = until
        self.reason = reason
        super().__init__(f"{reason} (parked until {until.isoformat(timespec='seconds')})")


class PermanentDeliveryError(DeliveryError):
    """A failure that retrying cannot fix; the event is dead-lettered."""


class PoisonMessage(PermanentDeliveryError):
    """A message that cannot be decoded or validated as an event."""


class ChannelFlushFailed(DeliveryError):
    """The channel could not write its output after every retry; nothing was committed."""


class Interrupted(GovpubError):
    """A stop was requested while a batch was in progress; it was not committed."""


class ChannelStalled(GovpubError):
    """The channel's consumer could not get to work (for example, no partitions)."""


class LeaseLost(GovpubError):
    """Another process holds the lease of a single-writer channel now (this one was gone
    longer than the lease lasts); this one writes nothing more and waits as a standby."""


class RenderFailed(GovpubError):
    """A forked render process failed; its share of the outputs stays pending."""


class ReplayUnsupported(GovpubError):
    """The channel does not write files it can name, so it cannot be rebuilt."""


class InvalidCallback(GovpubError):
    """A platform's callback (WeChat's server URL, say) whose body is not well-formed: the
    caller is told so (HTTP 400) and nothing is recorded."""


class UnhandledCallback(InvalidCallback):
    """A well-formed callback of a type govpub does not handle (a follower's message on
    WeChat's server URL, say): not one to record, so the route acknowledges and ignores it."""


class ReleaseRefused(GovpubError):
    """A release cannot go ahead until someone fixes its input; retrying will not help."""


class NoCandidates(ReleaseRefused):
    """A configured domain has no exposure candidate that can be released."""


class BatchWithdrawn(ReleaseRefused):
    """The quarter's batch was withdrawn; the release does not publish it again."""


class PlanOutdated(ReleaseRefused):
    """Something the plan relied on changed between approval and emission."""


class ApprovalMissing(ReleaseRefused):
    """A batch was about to be emitted without a decision on record that allows it."""


class ApprovalRefused(ReleaseRefused):
    """Nobody may approve this batch, or an answer came from someone who may not give it."""


class ReleaseRejected(ReleaseRefused):
    """An approver rejected a batch: the run ends failed, so that it does not look like a
    release in the run list."""


class ReportWithdrawn(ReleaseRefused):
    """The report table was withdrawn; ``govpub annual-report`` does not publish it again."""


class HistoryIncomplete(ReleaseRefused):
    """The document catalog holds documents without their versions (recorded before it
    kept them): a report counted on it would be wrong."""


class TakedownRefused(ReleaseRefused):
    """A take-down was asked for a document that is not a published penalty decision, or
    one whose display period has not ended; the message says which and why."""


class MissedPhases(GovpubError):
    """Phases whose window passed without a publication, reported for the first time."""

    def __init__(self, phases: Sequence[str]) -> None:
        self.phases = list(phases)
        first = self.phases[0].split(" ", 1)[0] if self.phases else "ID"
        super().__init__(
            f"{len(self.phases)} theme-day phase(s) missed their window and were not"
            f" published: {'; '.join(self.phases)}. Was the scheduler down? If a phase is"
            " still wanted, publish it now: airflow dags trigger theme_day_campaign"
            f' --conf \'{{"phase": "{first}"}}\'. This run reports each phase once;'
            " the next runs succeed."
        )


class RunNoteFailed(GovpubError):
    """The api-server refused or did not answer the note."""
