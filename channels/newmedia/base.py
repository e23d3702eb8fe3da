"""What every new-media channel does around its platform calls: routing, a delivery record
per target written before and after each remote call, reconciliation, retraction.

Delivery guarantee: each routed event is posted at most once per target (account or
endpoint) and, with the runner's retries, at least once unless the platform refuses
it. Before posting, the target's record is checked: a finished record is never posted
again; a ``pending`` one (a crash or a lost answer after the request left) is first
looked up on the platform and only posted if it is not there. A retraction removes the
document from every target that holds a post of it, whatever the routes say today.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Generic, Self, TypeVar

from channels.base import ChannelBase, ChannelContext
from channels.newmedia.client import HttpClient
from channels.newmedia.errors import AccountMisconfigured, OutcomeUnknown
from channels.newmedia.records import DONE, FINAL, QUEUED, Posted, SharedState, TargetRecords
from channels.newmedia.routing import Platform, Routing, Target, load_routing
from channels.newmedia.settings import NewMediaSettings
from channels.urls import SiteUrls
from consumers.channel import NOT_ROUTED, Outcome
from govpub.deliveries import DeliveryRow, DeliveryState
from govpub.errors import (
    ChannelParked,
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    RateLimited,
    TransientDeliveryError,
)
from schemas import AnyEvent, ContentEvent, RetractEvent
from schemas.enums import Action

log = logging.getLogger(__name__)

Checkpoint = Callable[[dict[str, str]], None]
"""Records remote ids as soon as a step returns them (the record stays ``pending``)."""


def routing_for(context: ChannelContext, channel: str) -> Routing:
    """The routing file of ``GOVPUB_NEWMEDIA_ROUTES``, required by every new-media channel."""
    path = context.section(NewMediaSettings).routes
    if path is None:
        raise ConfigurationError(
            f"GOVPUB_NEWMEDIA_ROUTES: not set; the {channel} channel needs a routing file"
            " (accounts, endpoints and routes; see the README section New media)"
        )
    return load_routing(path)


def outbox_dir(context: ChannelContext, channel: str, target: str) -> Path | None:
    """Where a dry run writes ``target``'s requests (``None`` when not a dry run)."""
    if not context.section(NewMediaSettings).dry_run:
        return None
    return context.output_dir / "outbox" / channel / target


ClientT = TypeVar("ClientT", bound=HttpClient)


class NewMediaChannel(ChannelBase, Generic[ClientT]):
    """Base of the WeChat, Weibo and webhook channels; subclasses implement the platform
    calls :meth:`post`, :meth:`reconcile` and :meth:`withdraw`, with one client (one HTTP
    session) per account or endpoint in :attr:`clients`."""

    clients: dict[str, ClientT]

    name = "newmedia"
    platform: ClassVar[Platform]
    sends_updates: ClassVar[bool] = False
    """Whether every update is delivered (webhooks) instead of following ``on_update``."""

    def __init__(
        self, context: ChannelContext, routing: Routing, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = context.settings
        self.store = context.store
        self.routing = routing
        self.urls = SiteUrls(str(context.settings.site_url))
        self.records = TargetRecords(context.store, self.name)
        self.state = SharedState(context.store, clock=clock)
        self.clock = clock

    def connect(self) -> Self:
        """Open every account's or endpoint's session."""
        for client in self.clients.values():
            client.connect()
        return self

    def close(self) -> None:
        """Close every session."""
        for client in self.clients.values():
            client.close()

    # --- platform hooks ------------------------------------------------------------------

    def post(
        self, target: Target, event: ContentEvent, ids: dict[str, str], checkpoint: Checkpoint
    ) -> Posted:
        """Post ``event`` to ``target``, resuming from ``ids`` of an earlier attempt."""
        raise NotImplementedError

    def reconcile(
        self, target: str, row: DeliveryRow, ids: dict[str, str], event: ContentEvent | None
    ) -> tuple[Posted | None, dict[str, str]]:
        """Look up on the platform whether the ``pending`` post of ``row`` exists; returns
        what was found (or ``None``) and the ids to resume from."""
        raise NotImplementedError

    def withdraw(self, target: str, event: AnyEvent, rows: list[DeliveryRow]) -> dict[str, str]:
        """Remove the posts of ``rows`` from ``target`` and mark each record retracted;
        returns the ids removed (with :data:`~channels.newmedia.records.QUEUED` when a
        removal waits in a queue: the platform's daily limit is spent)."""
        raise NotImplementedError

    # --- the flow ----------------------------------------------------------------------

    def apply(self, event: AnyEvent) -> Outcome | None:
        """Post ``event`` to each routed target (or withdraw it everywhere it is posted)."""
        if isinstance(event, RetractEvent):
            return self._retract(event)
        targets = self.routing.targets(self.platform, event)
        if not targets:
            return NOT_ROUTED
        results: dict[str, Posted] = {}
        errors: dict[str, DeliveryError] = {}
        for target in targets:
            try:
                results[target.name] = self._deliver(target, event)
            except DeliveryError as exc:
                errors[target.name] = exc
        if errors:
            raise self._combine(errors)
        return self._outcome(results)

    def _deliver(self, target: Target, event: ContentEvent) -> Posted:
        row = self.records.get(event, target.name)
        if row is not None and (row.state in DONE or FINAL in row.remote_ids):
            posted = Posted(row.state, row.remote_ids, row.detail)
        else:
            posted = self._post_once(target, event, row)
        if (
            not self.sends_updates
            and target.on_update == "replace"
            and event.action is Action.UPDATE
            and posted.state in (DeliveryState.SENT, DeliveryState.CONFIRMED)
        ):
            earlier = [
                r
                for r in self.records.live(event.document_id).get(target.name, [])
                if r.version < event.version
            ]
            if earlier:
                self.withdraw(target.name, event, earlier)
        return posted

    def _post_once(self, target: Target, event: ContentEvent, row: DeliveryRow | None) -> Posted:
        name = target.name
        if event.action is Action.UPDATE and not self.sends_updates and target.on_update == "skip":
            earlier = [
                r
                for r in self.records.live(event.document_id).get(name, [])
                if r.event_id != event.event_id
            ]
            if earlier:
                detail = (
                    f"v{earlier[-1].version} stays posted (on_update = skip);"
                    " its link shows the current version"
                )
                self.records.write(event, name, DeliveryState.SKIPPED, {}, detail=detail)
                return Posted(DeliveryState.SKIPPED, {}, detail)
        ids = dict(row.remote_ids) if row is not None else {}
        if row is not None and row.state is DeliveryState.PENDING:
            found, ids = self.reconcile(name, row, ids, event)
            if found is not None:
                log.warning(
                    "%s %s: %s was already posted by an interrupted attempt; recorded, not reposted",
                    self.name,
                    name,
                    event.document_id,
                )
                detail = f"found on the platform after an interrupted attempt; {found.detail}"
                self.records.write(event, name, found.state, found.ids, detail=detail)
                return found
        self.records.write(event, name, DeliveryState.PENDING, ids, detail="posting", attempt=True)

        def checkpoint(new_ids: dict[str, str]) -> None:
            self.records.write(event, name, DeliveryState.PENDING, new_ids, detail="posting")

        try:
            posted = self.post(target, event, ids, checkpoint)
        except OutcomeUnknown:
            raise  # the record stays pending: the next attempt looks the post up first
        except DeliveryError as exc:
            current = self.records.get(event, name)
            kept = current.remote_ids if current is not None else ids
            self.records.write(
                event,
                name,
                DeliveryState.FAILED,
                kept,
                detail="not posted",
                error=f"{type(exc).__name__}: {exc}",
            )
            raise
        self.records.write(event, name, posted.state, posted.ids, detail=posted.detail)
        return posted

    def _retract(self, event: RetractEvent) -> Outcome:
        live = self.records.live(event.document_id)
        if not live:
            return Outcome(DeliveryState.RETRACTED, f"nothing was posted on {self.name}")
        removed: dict[str, str] = {}
        queued: list[str] = []
        errors: dict[str, DeliveryError] = {}
        for name, rows in live.items():
            self.records.write(
                event, name, DeliveryState.PENDING, {}, detail="withdrawing", attempt=True
            )
            try:
                ids = self.withdraw(name, event, rows)
            except DeliveryError as exc:
                errors[name] = exc
                if not isinstance(exc, OutcomeUnknown):
                    self.records.write(
                        event,
                        name,
                        DeliveryState.FAILED,
                        {},
                        detail="not withdrawn yet",
                        error=f"{type(exc).__name__}: {exc}",
                    )
                continue
            if QUEUED in ids:
                # Done when the queue is worked off (the record is settled then).
                queued.append(name)
                self.records.write(
                    event, name, DeliveryState.SENT, ids, detail=f"queued: {ids[QUEUED]}"[:200]
                )
            else:
                self.records.write(
                    event, name, DeliveryState.RETRACTED, ids, detail=event.payload.reason[:200]
                )
            removed.update({f"{name}.{k}": v for k, v in ids.items() if k != QUEUED})
        if errors:
            raise self._combine(errors)
        if queued:
            done = sorted(set(live) - set(queued))
            return Outcome(
                DeliveryState.SENT,
                f"deletion queued on {', '.join(sorted(queued))} (the platform's daily limit)"
                + (f"; withdrawn from {', '.join(done)}" if done else ""),
                removed,
            )
        return Outcome(
            DeliveryState.RETRACTED, f"withdrawn from {', '.join(sorted(live))}", removed
        )

    def _outcome(self, results: dict[str, Posted]) -> Outcome:
        states = {p.state for p in results.values()}
        detail = "; ".join(
            f"{name}: {p.state.value}" + (f" ({p.detail})" if p.detail else "")
            for name, p in results.items()
        )
        if states == {DeliveryState.SKIPPED}:
            return Outcome(DeliveryState.SKIPPED, detail)
        state = DeliveryState.SENT if DeliveryState.SENT in states else DeliveryState.CONFIRMED
        remote = {
            f"{name}.{key}": value
            for name, posted in results.items()
            for key, value in posted.ids.items()
            if key != FINAL
        }
        return Outcome(state, detail[:2000], remote)

    def _combine(self, errors: dict[str, DeliveryError]) -> DeliveryError:
        """One error for the runner from the targets' errors, the most patient first: a park
        beats a rate limit beats a transient error beats a permanent one (so a target that
        can still succeed is retried; targets already done are skipped by their records)."""
        text = "; ".join(f"{self.name} {name}: {exc}" for name, exc in errors.items())
        parked = [e for e in errors.values() if isinstance(e, ChannelParked)]
        if parked:
            latest = max(parked, key=lambda p: p.until)
            return ChannelParked(latest.until, "; ".join(p.reason for p in parked))
        limited = [e for e in errors.values() if isinstance(e, RateLimited)]
        if limited:
            return RateLimited(text, max(e.retry_after for e in limited))
        if any(isinstance(e, OutcomeUnknown) for e in errors.values()):
            return OutcomeUnknown(text)
        if any(isinstance(e, TransientDeliveryError) for e in errors.values()):
            return TransientDeliveryError(text)
        if all(isinstance(e, AccountMisconfigured) for e in errors.values()):
            return AccountMisconfigured(text)
        return PermanentDeliveryError(text)

    def known_ids(self, target: str, document_id: str, event_id: str) -> set[str]:
        """Remote ids recorded for other events of a document on ``target`` (so a lookup
        never mistakes an earlier version's post for the one it looks for)."""
        return {
            value
            for row in self.records.log.for_targets(self.name, document_id)
            if row.target == target and row.event_id != event_id
            for value in row.remote_ids.values()
        }
