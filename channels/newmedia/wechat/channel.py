"""The WeChat Official Account channel (微信公众号): draft, publish, confirm, delete.

Delivery guarantee: at most one published article per event and account (see
``base``). Publishing is asynchronous: ``freepublish/submit`` only means accepted, so
the record is ``sent`` with the publish_id until the PUBLISHJOBFINISH callback
(the route in :mod:`channels.newmedia.wechat.callback`, which `govpub ingest` serves) or a
``freepublish/get`` poll confirms it (polled after each batch and, while no events
arrive, from :meth:`WeChatChannel.idle`, within a daily budget per account).

Steps, each recorded as it returns, so a crash resumes where it stopped:
images of the body (``media/uploadimg``) and the cover (``material/add_material``,
cached per AppID in the store) → ``draft/add`` (media_id) → ``freepublish/submit``
(publish_id) → confirmed (article_id, article_url). A ``pending`` record is reconciled
by looking for the portal link among published articles, then in the draft box.

Withdrawal: ``freepublish/delete``, within the account's deletions of the day (the
platform allows 10); the deletions beyond them wait in a queue
(:mod:`channels.newmedia.wechat.deletions`) worked off after midnight in Beijing, and
the withdrawal is recorded ``sent`` until then. The channel goes on publishing meanwhile.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import requests

from channels.base import ChannelContext
from channels.newmedia.base import (
    Checkpoint,
    NewMediaChannel,
    outbox_dir,
    routing_for,
)
from channels.newmedia.content import body_blocks, document_url, image_sources, wechat_article
from channels.newmedia.dryrun import Outbox
from channels.newmedia.errors import (
    BEIJING,
    AccountMisconfigured,
    OutcomeUnknown,
    PlatformRejected,
    next_midnight,
)
from channels.newmedia.records import FINAL, QUEUED, Posted
from channels.newmedia.routing import Routing, Target, WechatAccount
from channels.newmedia.settings import NewMediaSettings
from channels.newmedia.wechat.api import PublishState, PublishStatus, WeChatClient
from channels.newmedia.wechat.deletions import DeleteQueue, QueuedDeletion
from channels.newmedia.wechat.settings import WeChatSettings
from channels.newmedia.wechat.tables import JOBS_SCHEMA
from govpub.deliveries import DeliveryLog, DeliveryRow, DeliveryState
from govpub.errors import (
    ChannelParked,
    ConfigurationError,
    DeliveryError,
    TransientDeliveryError,
)
from govpub.store import Store
from schemas import AnyEvent, ContentEvent
from schemas.enums import Kind

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 1_000_000  # media/uploadimg: jpg/png under 1 MB
MAX_IMAGES = 20
_POLL_BATCH = 20
_DELETE_BATCH = 20
_DELETE_RETRY_S = 60.0
_DELETE_LEASE_S = 600.0
"""How long a claimed deletion is no other consumer's: far longer than one delete call."""


def image_type(data: bytes) -> str | None:
    """``image/jpeg`` or ``image/png`` from the file's first bytes (else ``None``)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


class ImageSource:
    """Fetches in-article images from the hosts an account allows (none by default), at
    most 1 MB each, jpg or png by content; anything else is left out of the article."""

    def __init__(self, *, timeout: float, enabled: bool = True) -> None:
        self.timeout = timeout
        self.enabled = enabled
        self._session: requests.Session | None = None

    def fetch(self, url: str, allowed_hosts: list[str]) -> tuple[str, bytes, str] | None:
        """``(file name, bytes, content type)`` of the image at ``url``, or ``None``."""
        host = urlsplit(url).hostname or ""
        if not self.enabled or host not in allowed_hosts:
            return None
        if self._session is None:
            self._session = requests.Session()
            self._session.trust_env = False
        try:
            with self._session.get(
                url, timeout=self.timeout, stream=True, allow_redirects=False
            ) as response:
                if response.status_code != 200:
                    log.warning("image %s: HTTP %d; left out", url, response.status_code)
                    return None
                data = b""
                for chunk in response.iter_content(65536):
                    data += chunk
                    if len(data) > MAX_IMAGE_BYTES:
                        log.warning("image %s: larger than 1 MB; left out", url)
                        return None
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"image {url}: {type(exc).__name__}") from None
        kind = image_type(data)
        if kind is None:
            log.warning("image %s: not a jpg or png; left out", url)
            return None
        name = Path(urlsplit(url).path).name or "image"
        return name, data, kind

    def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            self._session.close()
            self._session = None


def _beijing_day(now: float) -> str:
    return datetime.fromtimestamp(now, BEIJING).date().isoformat()


class WeChatChannel(NewMediaChannel[WeChatClient]):
    """Posts routed events to WeChat Official Accounts as published articles."""

    name = "wechat"
    platform = "wechat"

    def __init__(
        self,
        context: ChannelContext,
        routing: Routing,
        clients: dict[str, WeChatClient],
        *,
        images: ImageSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(context, routing, clock=clock)
        self.accounts: dict[str, WechatAccount] = dict(routing.wechat.accounts)
        self.clients = clients
        self.images = images or ImageSource(timeout=context.section(NewMediaSettings).timeout)
        self.deletions = DeleteQueue(context.store, clock=clock)
        context.store.ensure_schema(JOBS_SCHEMA)

    @classmethod
    def from_context(
        cls, context: ChannelContext, *, clock: Callable[[], float] = time.time
    ) -> Self:
        """Build from settings (routing file, AppSecrets) and connect the clients."""
        routing = routing_for(context, cls.name)
        newmedia = context.section(NewMediaSettings)
        settings = context.section(WeChatSettings)
        clients: dict[str, WeChatClient] = {}
        for name, account in routing.wechat.accounts.items():
            secret = settings.app_secrets.get(name)
            directory = outbox_dir(context, cls.name, name)
            if secret is None and directory is None:
                raise ConfigurationError(
                    f"GOVPUB_WECHAT_APP_SECRETS: no AppSecret for WeChat account {name!r}"
                    f" (defined in {newmedia.routes})"
                )
            if image_type(_read_cover(name, account)) is None:
                raise ConfigurationError(
                    f"GOVPUB_NEWMEDIA_ROUTES: wechat.accounts.{name}.cover_image:"
                    f" {account.cover_image} is not a jpg or png file"
                )
            clients[name] = WeChatClient(
                name,
                account.app_id,
                secret,
                store=context.store,
                base_url=str(settings.api_base),
                timeout=newmedia.timeout,
                outbox=Outbox(directory) if directory is not None else None,
                clock=clock,
            )
        images = ImageSource(timeout=newmedia.timeout, enabled=not newmedia.dry_run)
        return cls(context, routing, clients, images=images, clock=clock).connect()

    def close(self) -> None:
        """Close every session and the image fetcher."""
        super().close()
        self.images.close()

    # --- posting -------------------------------------------------------------------------

    def _media(self, account: str, event: ContentEvent) -> tuple[dict[str, str], str]:
        """Upload the body's images and the cover (once per AppID: cached in the store)."""
        client = self.clients[account]
        config = self.accounts[account]
        images: dict[str, str] = {}
        cover: str | None = None
        for number, src in enumerate(image_sources(body_blocks(event))[:MAX_IMAGES]):
            key = f"{client.app_id}:img:{src}"
            cover_key = f"{client.app_id}:cover:{src}"
            url = self.state.get("wechat-media", key)
            cover = cover or (self.state.get("wechat-media", cover_key) if number == 0 else None)
            if url is not None and (number > 0 or cover is not None):
                images[src] = url
                continue
            fetched = self.images.fetch(src, config.image_hosts)
            if fetched is None:
                continue
            if url is None:
                url = client.upload_article_image(*fetched)
                self.state.put("wechat-media", key, url)
            images[src] = url
            if number == 0 and cover is None:
                cover = client.add_image_material(*fetched)
                self.state.put("wechat-media", cover_key, cover)
        if cover is None:
            data = _read_cover(account, config)
            key = f"{client.app_id}:cover:sha256:{hashlib.sha256(data).hexdigest()}"
            cover = self.state.get("wechat-media", key)
            if cover is None:
                kind = image_type(data) or "image/jpeg"
                cover = client.add_image_material(config.cover_image.name, data, kind)
                self.state.put("wechat-media", key, cover)
        return images, cover

    def post(
        self, target: Target, event: ContentEvent, ids: dict[str, str], checkpoint: Checkpoint
    ) -> Posted:
        """Draft (unless an earlier attempt made one), then submit for publishing."""
        client = self.clients[target.name]
        config = self.accounts[target.name]
        ids = dict(ids)
        if "media_id" not in ids:
            images, cover = self._media(target.name, event)
            article = wechat_article(
                event,
                url=document_url(self.urls, event),
                title_template=target.template.wechat_title,
                digest_template=target.template.wechat_digest,
                author=config.author,
                images=images,
            )
            ids["thumb_media_id"] = cover
            ids["media_id"] = client.add_draft(
                article.as_draft(cover, open_comment=config.open_comment)
            )
            checkpoint(ids)
        ids["publish_id"] = client.submit(ids["media_id"])
        self._schedule(target.name, event, ids["publish_id"])
        return Posted(DeliveryState.SENT, ids, "submitted; waiting for the publish result")

    def _schedule(self, account: str, event: AnyEvent, publish_id: str) -> None:
        due = self.clock() + self.accounts[account].poll_interval
        with self.store.transaction("wechat_publish_jobs") as conn:
            conn.execute(
                "INSERT INTO wechat_publish_jobs (publish_id, account, event_id,"
                " document_id, due_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (publish_id, account, event.event_id, event.document_id, due),
            )

    # --- reconciliation --------------------------------------------------------------------

    def _scan(
        self, account: str, url: str, known: set[str], *, published: bool
    ) -> dict[str, str] | None:
        client = self.clients[account]
        lister = client.list_published if published else client.list_drafts
        for page in range(self.accounts[account].reconcile_pages):
            items = lister(page * 20, 20)
            for item in items:
                remote_id = str(item.get("article_id" if published else "media_id", ""))
                if not remote_id or remote_id in known:
                    continue
                for news in (item.get("content") or {}).get("news_item") or []:
                    if news.get("content_source_url") == url and not news.get("is_deleted"):
                        return {"id": remote_id, "url": str(news.get("url", ""))}
            if len(items) < 20:
                break
        return None

    def reconcile(
        self, target: str, row: DeliveryRow, ids: dict[str, str], event: ContentEvent | None
    ) -> tuple[Posted | None, dict[str, str]]:
        """Published article with our portal link → posted; else our draft → resume from it."""
        url = self.urls.document(Kind(row.kind), row.document_id)
        known = self.known_ids(target, row.document_id, row.event_id)
        found = self._scan(target, url, known, published=True)
        if found is not None:
            ids = {**ids, "article_id": found["id"], "article_url": found["url"]}
            return Posted(DeliveryState.CONFIRMED, ids, "published"), ids
        if "media_id" in ids:
            if self.clients[target].draft_exists(ids["media_id"]):
                return None, ids
            raise OutcomeUnknown(
                f"wechat {target}: draft {ids['media_id']} left the draft box but its article is"
                " not listed as published yet; looking again later"
            )
        draft = self._scan(target, url, known, published=False)
        if draft is not None:
            ids = {**ids, "media_id": draft["id"]}
        return None, ids

    # --- withdrawal --------------------------------------------------------------------------

    def withdraw(self, target: str, event: AnyEvent, rows: list[DeliveryRow]) -> dict[str, str]:
        """Delete the published articles (``freepublish/delete``) of ``rows``; those beyond
        the day's deletions are queued (``queued`` in the ids returned)."""
        client = self.clients[target]
        removed: dict[str, str] = {}
        queued: list[str] = []
        for row in rows:
            ids = dict(row.remote_ids)
            if row.state is DeliveryState.PENDING:
                found, ids = self.reconcile(target, row, ids, None)
                if found is None:
                    if "media_id" in ids:
                        try:
                            client.delete_draft(ids["media_id"])
                        except PlatformRejected as exc:
                            log.warning("wechat %s: draft not deleted: %s", target, exc)
                    self.records.mark(row, DeliveryState.FAILED, "withdrawn before publishing", ids)
                    continue
                ids = found.ids
            if not ids.get("article_id") and ids.get("publish_id"):
                status = client.publish_status(ids["publish_id"])
                if status.status == PublishState.PUBLISHING:
                    raise TransientDeliveryError(
                        f"wechat {target}: publish {status.publish_id} is still in progress;"
                        " it is withdrawn when it finishes"
                    )
                if status.status == PublishState.SUCCESS:
                    ids.update(article_id=status.article_id, article_url=status.article_url)
            article_id = ids.get("article_id")
            if article_id:
                waits = self._delete_or_queue(target, article_id, row, event)
                if waits is not None:
                    queued.append(waits)
                    self.records.mark(row, row.state, f"deletion queued: {waits}", ids)
                    if ids.get("publish_id"):
                        _finish_job(self.store, ids["publish_id"])
                    continue
                removed[f"v{row.version}.article_id"] = article_id
            why = f"deleted (v{event.version} {event.action.value})"
            self.records.mark(row, DeliveryState.RETRACTED, why, ids)
            if ids.get("publish_id"):
                _finish_job(self.store, ids["publish_id"])
        if queued:
            removed[QUEUED] = "; ".join(queued)
        return removed

    def _delete_or_queue(
        self, target: str, article_id: str, row: DeliveryRow, event: AnyEvent
    ) -> str | None:
        """Delete the article now, within the account's deletions of the day; else queue it
        and say why (``None``: deleted)."""
        client = self.clients[target]
        config = self.accounts[target]
        now = self.clock()
        if self.deletions.is_queued(target, article_id):
            return f"article {article_id} already waits in the deletion queue"
        why: str | None = None
        error: str | None = None
        until = next_midnight(datetime.fromtimestamp(now, BEIJING))
        budget_key = f"{client.app_id}:{_beijing_day(now)}"
        if not self.state.take("wechat-delete-budget", budget_key, config.delete_budget):
            why = f"the account's {config.delete_budget} deletions of the day are used"
        else:
            try:
                client.delete_published(article_id)
            except ChannelParked as parked:
                # 45009: the platform counts deletions made elsewhere (its console) too.
                why, until = parked.reason, parked.until
            except TransientDeliveryError as exc:
                # Tried again from the queue (not by the runner, whose every attempt would
                # use one of the day's ten deletions).
                error = f"{type(exc).__name__}: {exc}"
                why = f"deleting failed ({error})"
                until = datetime.fromtimestamp(now + _DELETE_RETRY_S, BEIJING)
            except PlatformRejected:
                if not client.article_deleted(article_id):
                    raise
        if why is None:
            return None
        self.deletions.add(
            QueuedDeletion(
                account=target,
                article_id=article_id,
                document_id=row.document_id,
                post_event_id=row.event_id,
                withdrawal_event_id=event.event_id,
                queued_at=now,
                due_at=until.timestamp(),
                attempts=1 if error else 0,
                last_error=error,
            )
        )
        log.warning(
            "wechat %s: %s; article %s of %s is deleted after %s",
            target,
            why,
            article_id,
            row.document_id,
            until.astimezone(BEIJING).isoformat(timespec="minutes"),
        )
        return f"{why}; article {article_id} is deleted from {until.astimezone(BEIJING):%Y-%m-%d %H:%M}"

    def work_off_deletions(self, limit: int = _DELETE_BATCH) -> int:
        """Delete queued articles that are due, within each account's deletions of the day;
        returns how many were deleted. A deletion that fails stays queued with its error
        and is tried again later; it never fails the batch or holds back publishing.
        Deletions whose withdrawal the runner has not recorded yet wait for the next call.
        Each is claimed before it is tried: other consumers of the channel, on other hosts,
        work the same queue."""
        due = self.deletions.due(limit)
        recorded = DeliveryLog(self.store).recorded(self.name, [d.withdrawal_event_id for d in due])
        deleted = 0
        for deletion in due:
            if deletion.withdrawal_event_id not in recorded:
                continue
            client = self.clients.get(deletion.account)
            config = self.accounts.get(deletion.account)
            if client is None or config is None:
                continue  # the account left the routing file; its deletion waits for it
            if not self.deletions.claim(
                deletion.account, deletion.article_id, lease=_DELETE_LEASE_S
            ):
                continue  # another consumer of the channel took it
            now = self.clock()
            midnight = next_midnight(datetime.fromtimestamp(now, BEIJING)).timestamp()
            budget_key = f"{client.app_id}:{_beijing_day(now)}"
            if not self.state.take("wechat-delete-budget", budget_key, config.delete_budget):
                self.deletions.postpone(deletion.account, deletion.article_id, midnight)
                continue
            try:
                client.delete_published(deletion.article_id)
            except ChannelParked as parked:
                self.deletions.postpone(
                    deletion.account, deletion.article_id, parked.until.timestamp()
                )
                continue
            except DeliveryError as exc:
                if not (isinstance(exc, PlatformRejected) and self._gone(client, deletion)):
                    retry = min(3600.0, _DELETE_RETRY_S * 2**deletion.attempts)
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "wechat %s: deleting article %s of %s failed (%s); trying again in %.0f s",
                        deletion.account,
                        deletion.article_id,
                        deletion.document_id,
                        error,
                        retry,
                    )
                    self.deletions.postpone(
                        deletion.account, deletion.article_id, now + retry, error=error
                    )
                    continue
            self._deleted(deletion)
            deleted += 1
        return deleted

    @staticmethod
    def _gone(client: WeChatClient, deletion: QueuedDeletion) -> bool:
        try:
            return client.article_deleted(deletion.article_id)
        except DeliveryError:
            return False

    def _deleted(self, deletion: QueuedDeletion) -> None:
        """Record a queued article as deleted: its post, and the withdrawal once every
        account it waited on is done."""
        self.deletions.finish(deletion.account, deletion.article_id)
        deliveries = DeliveryLog(self.store)
        post = deliveries.get(self.name, deletion.post_event_id, deletion.account)
        if post is not None:
            self.records.mark(post, DeliveryState.RETRACTED, "deleted (from the deletion queue)")
        target = deliveries.get(self.name, deletion.withdrawal_event_id, deletion.account)
        waiting = any(
            d.withdrawal_event_id == deletion.withdrawal_event_id and d.account == deletion.account
            for d in self.deletions.waiting()
        )
        if target is not None and not waiting:
            deliveries.settle(
                self.name,
                deletion.withdrawal_event_id,
                deletion.account,
                state=DeliveryState.RETRACTED,
                detail="deleted (from the deletion queue)",
                remote_ids={k: v for k, v in target.remote_ids.items() if k != QUEUED},
                all_confirmed="withdrawn from every account",
            )
        log.info(
            "wechat %s: queued article %s of %s deleted",
            deletion.account,
            deletion.article_id,
            deletion.document_id,
        )

    # --- publish results -----------------------------------------------------------------------

    def flush(self, *, backlog: bool = False) -> None:
        """Poll due publish jobs (see :meth:`poll_publishing`) and work off due deletions
        (:meth:`work_off_deletions`); never fails the batch."""
        self.poll_publishing()
        self.work_off_deletions()

    def idle(self) -> None:
        """Poll due publish jobs and work off due deletions while no events arrive: a
        quiet day still confirms what was submitted and deletes what waited."""
        self.poll_publishing()
        self.work_off_deletions()

    def poll_publishing(self, limit: int = _POLL_BATCH) -> int:
        """Ask ``freepublish/get`` about publish jobs that are due, within each account's
        daily budget; returns how many were settled. Jobs whose runner record is not
        written yet (this batch's) wait for the next flush."""
        now = self.clock()
        due = self.store.conn.execute(
            "SELECT publish_id, account, event_id FROM wechat_publish_jobs"
            " WHERE done=0 AND due_at<=? ORDER BY due_at",
            (now,),
        ).fetchall()
        recorded = DeliveryLog(self.store).recorded(self.name, [row[2] for row in due])
        jobs = [
            (publish_id, account) for publish_id, account, event_id in due if event_id in recorded
        ]
        settled = 0
        for publish_id, account in jobs[:limit]:
            client = self.clients.get(account)
            config = self.accounts.get(account)
            if client is None or config is None:
                continue
            budget_key = f"{client.app_id}:{_beijing_day(now)}"
            if not self.state.take("wechat-poll-budget", budget_key, config.poll_budget):
                log.info("wechat %s: today's poll budget is spent; waiting for callbacks", account)
                continue
            try:
                status = client.publish_status(publish_id)
            except DeliveryError as exc:
                log.warning("wechat %s: polling publish %s failed: %s", account, publish_id, exc)
                _postpone(self.store, publish_id, now, config.poll_interval)
                continue
            if settle_publish(self.store, status, clock=self.clock, interval=config.poll_interval):
                settled += 1
        return settled


def _read_cover(account: str, config: WechatAccount) -> bytes:
    try:
        return config.cover_image.read_bytes()
    except OSError as exc:
        raise AccountMisconfigured(
            f"wechat account {account}: cover_image {config.cover_image}: {exc.strerror}"
        ) from None


def _postpone(store: Store, publish_id: str, now: float, interval: float) -> None:
    with store.transaction("wechat_publish_jobs") as conn:
        row = conn.execute(
            "SELECT polls FROM wechat_publish_jobs WHERE publish_id=?", (publish_id,)
        ).fetchone()
        polls = int(row[0]) if row else 0
        delay = min(3600.0, max(interval, 5.0) * 2**polls)
        conn.execute(
            "UPDATE wechat_publish_jobs SET due_at=?, polls=? WHERE publish_id=?",
            (now + delay, polls + 1, publish_id),
        )


def _finish_job(store: Store, publish_id: str) -> None:
    with store.transaction("wechat_publish_jobs") as conn:
        conn.execute("UPDATE wechat_publish_jobs SET done=1 WHERE publish_id=?", (publish_id,))


def settle_publish(
    store: Store,
    status: PublishStatus,
    *,
    clock: Callable[[], float] = time.time,
    interval: float = 60.0,
) -> bool:
    """Record what the platform says about a publish job; True once the job is settled.

    Published → ``confirmed`` with the article_id and its permanent URL (and the event's
    runner record too once every account confirmed); refused or failed → ``failed`` with
    the reason, never retried automatically (an operator looks at the article); still
    publishing → polled again later.
    """
    store.ensure_schema(JOBS_SCHEMA)
    job = store.conn.execute(
        "SELECT account, event_id FROM wechat_publish_jobs WHERE publish_id=?",
        (status.publish_id,),
    ).fetchone()
    if job is None:
        log.info("wechat: publish %s is not one of ours; ignored", status.publish_id)
        return False
    account, event_id = str(job[0]), str(job[1])
    if status.status == PublishState.PUBLISHING:
        _postpone(store, status.publish_id, clock(), interval)
        return False
    deliveries = DeliveryLog(store)
    row = deliveries.get(WeChatChannel.name, event_id, account)
    ids = dict(row.remote_ids) if row is not None else {"publish_id": status.publish_id}
    error: str | None = None
    if status.status == PublishState.SUCCESS:
        ids.update(article_id=status.article_id, article_url=status.article_url)
        state, detail = DeliveryState.CONFIRMED, f"published: {status.article_url}"
    elif status.status == PublishState.USER_DELETED:
        state, detail = DeliveryState.RETRACTED, status.meaning
    else:
        ids[FINAL] = "1"
        state, detail = DeliveryState.FAILED, status.meaning
        error = f"publish {status.publish_id}: {status.meaning}" + (
            f" (articles {list(status.fail_idx)})" if status.fail_idx else ""
        )
        log.error("wechat %s: %s; the article needs an operator", account, error)
    deliveries.settle(
        WeChatChannel.name,
        event_id,
        account,
        state=state,
        detail=detail,
        remote_ids=ids,
        last_error=error,
        all_confirmed="published on every account",
    )
    _finish_job(store, status.publish_id)
    return True
