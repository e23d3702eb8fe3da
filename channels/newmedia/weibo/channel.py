"""The Weibo channel (微博): ``statuses/share`` with the portal link, ``statuses/destroy``.

Delivery guarantee: at most one status per event and account (see ``base``). A status
is live as soon as ``statuses/share`` answers, so the record is ``confirmed`` with the
Weibo id. A ``pending`` record (the answer was lost) is reconciled by reading the
account's recent statuses (``statuses/user_timeline``, the app's own posts) for the
portal link or the same text. The OAuth2 token travels in the ``Authorization``
header, never in a URL.

Errors: 10017 (the link is not on the app's registered domain) and token errors are
configuration errors naming the setting; rate limits (10022-10024, 20016) park the
channel until the next hour; a repeated status (20017, 20019, 20111) is looked up and
recorded instead of posted again.
"""

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import SecretStr

from channels.base import ChannelContext
from channels.newmedia.base import Checkpoint, NewMediaChannel, outbox_dir, routing_for
from channels.newmedia.client import HttpClient
from channels.newmedia.content import document_url, weibo_status
from channels.newmedia.dryrun import Outbox, stable_id
from channels.newmedia.errors import (
    AccountMisconfigured,
    DuplicatePost,
    OutcomeUnknown,
    PlatformRejected,
    next_hour,
)
from channels.newmedia.records import Posted
from channels.newmedia.routing import Routing, Target, check_domain
from channels.newmedia.settings import NewMediaSettings
from channels.newmedia.weibo.settings import WeiboSettings
from govpub.deliveries import DeliveryRow, DeliveryState
from govpub.errors import ChannelParked, ConfigurationError, TransientDeliveryError
from schemas import AnyEvent, ContentEvent
from schemas.enums import Kind

log = logging.getLogger(__name__)

SHARE = "2/statuses/share.json"
DESTROY = "2/statuses/destroy.json"
TIMELINE = "2/statuses/user_timeline.json"

NOT_ON_DOMAIN = 10017
NO_SUCH_STATUS = 20101
TOKEN_ERRORS = frozenset({21314, 21315, 21316, 21317, 21319, 21327, 21332, 21501})
RATE_LIMITS = frozenset({10022, 10023, 10024, 20016})
REPEATED = frozenset({20017, 20019, 20111})
BUSY = frozenset({10002, 10009})
MAYBE_DONE = frozenset({10001, 10003, 10010, 10011})
MISCONFIGURED = {
    10004: "this server's IP is not on the app's IP whitelist",
    10005: "the app lacks the permission for this API",
    10014: "the app lacks the permission for this API",
}
_URL = re.compile(r"https?://\S+")


class WeiboClient(HttpClient):
    """One Weibo account's API (OAuth2 token in the ``Authorization`` header)."""

    platform = "weibo"

    def __init__(
        self,
        account: str,
        token: SecretStr | None,
        *,
        base_url: str,
        timeout: float,
        site_url: str,
        outbox: Outbox | None = None,
    ) -> None:
        super().__init__(
            base_url,
            timeout=timeout,
            idempotent_paths=(TIMELINE,),
            outbox=outbox,
            responder=dry_run_answer if outbox is not None else None,
        )
        if token is None and outbox is None:
            raise ValueError("a Weibo client needs the access token unless it is a dry run")
        self.account = account
        self.site_url = site_url
        self._token = token or SecretStr("ACCESS_TOKEN")

    def _call(
        self,
        method: str,
        api: str,
        *,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        response = self.request(
            method,
            api,
            data=data,
            params=params,
            headers={"Authorization": f"OAuth2 {self._token.get_secret_value()}"},
        )
        write = method != "GET"
        try:
            answer = response.json()
        except ValueError:
            what = f"weibo {api}: HTTP {response.status_code} without a JSON answer"
            raise (OutcomeUnknown(what) if write else TransientDeliveryError(what)) from None
        if isinstance(answer, dict) and "error_code" in answer:
            self._raise(int(answer["error_code"]), str(answer.get("error", "")), api, write)
        if response.status_code >= 400:
            raise PlatformRejected("weibo", api, response.status_code, "HTTP error")
        return answer

    def _raise(self, code: int, message: str, api: str, write: bool) -> None:
        who = f"weibo account {self.account}"
        if code == NOT_ON_DOMAIN:
            raise AccountMisconfigured(
                f"{who}, {api}: {message} (10017): the status must link to the app's registered"
                f" domain (安全域名); register the host of GOVPUB_SITE_URL ({self.site_url}) for"
                " the app, or set GOVPUB_SITE_URL to a URL on the registered domain"
            )
        if code in TOKEN_ERRORS:
            raise AccountMisconfigured(
                f"{who}: the access token is expired or revoked ({code} {message}); authorise"
                f" the app again and set GOVPUB_WEIBO_ACCESS_TOKENS[{self.account!r}]"
            )
        if code in MISCONFIGURED:
            raise AccountMisconfigured(f"{who}, {api}: {MISCONFIGURED[code]} ({code})")
        if code in RATE_LIMITS:
            until = next_hour(datetime.now(UTC))
            raise ChannelParked(until, f"{who}: rate limit reached ({code} {message})")
        if code in REPEATED:
            raise DuplicatePost("weibo", api, code, message)
        if code in BUSY:
            raise TransientDeliveryError(f"weibo {api}: busy ({code} {message})")
        if code in MAYBE_DONE:
            what = f"weibo {api}: platform error ({code} {message})"
            raise OutcomeUnknown(what) if write else TransientDeliveryError(what)
        raise PlatformRejected("weibo", api, code, message)

    def share(self, text: str, rip: str) -> dict[str, Any]:
        """``statuses/share``: post ``text`` (which carries a link on the app's domain)."""
        answer = self._call("POST", SHARE, data={"status": text, "rip": rip})
        if not isinstance(answer, dict) or not (answer.get("idstr") or answer.get("id")):
            raise OutcomeUnknown(f"weibo {SHARE}: the answer has no status id")
        return answer

    def destroy(self, status_id: str) -> bool:
        """``statuses/destroy``; False when the status was already gone (20101)."""
        try:
            self._call("POST", DESTROY, data={"id": status_id})
        except PlatformRejected as exc:
            if exc.code == NO_SUCH_STATUS:
                return False
            raise
        return True

    def recent(self, count: int) -> list[dict[str, Any]]:
        """The account's latest statuses posted through this app."""
        answer = self._call("GET", TIMELINE, params={"count": str(count)})
        return list(answer.get("statuses") or []) if isinstance(answer, dict) else []


def _digest(text: str) -> str:
    """SHA-256 of a status text without its links and spaces."""
    return hashlib.sha256("".join(_URL.sub("", text).split()).encode()).hexdigest()


def status_id(status: Mapping[str, Any]) -> str:
    """The string id of a status."""
    return str(status.get("idstr") or status.get("id"))


class WeiboChannel(NewMediaChannel[WeiboClient]):
    """Posts routed events to Weibo accounts as statuses linking to the portal page."""

    name = "weibo"
    platform = "weibo"

    def __init__(
        self,
        context: ChannelContext,
        routing: Routing,
        clients: dict[str, WeiboClient],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(context, routing, clock=clock)
        self.accounts = dict(routing.weibo.accounts)
        self.clients = clients

    @classmethod
    def from_context(cls, context: ChannelContext) -> Self:
        """Build from settings (routing file, access tokens) and connect the clients."""
        routing = routing_for(context, cls.name)
        newmedia = context.section(NewMediaSettings)
        settings = context.section(WeiboSettings)
        site_url = str(context.settings.site_url)
        clients: dict[str, WeiboClient] = {}
        for name, account in routing.weibo.accounts.items():
            check_domain(name, account, site_url)
            token = settings.access_tokens.get(name)
            directory = outbox_dir(context, cls.name, name)
            if token is None and directory is None:
                raise ConfigurationError(
                    f"GOVPUB_WEIBO_ACCESS_TOKENS: no access token for Weibo account {name!r}"
                    f" (defined in {newmedia.routes})"
                )
            clients[name] = WeiboClient(
                name,
                token,
                base_url=str(settings.api_base),
                timeout=newmedia.timeout,
                site_url=site_url,
                outbox=Outbox(directory) if directory is not None else None,
            )
        return cls(context, routing, clients).connect()

    def post(
        self, target: Target, event: ContentEvent, ids: dict[str, str], checkpoint: Checkpoint
    ) -> Posted:
        """One status: the rendered template, cut to fit, and the portal link."""
        text = weibo_status(
            event, url=document_url(self.urls, event), template=target.template.weibo
        )
        # Recorded before the call: a status whose answer is lost can be recognised later
        # by its text, even by a retraction that no longer has the event.
        checkpoint({**ids, "text_sha256": _digest(text)})
        try:
            status = self.clients[target.name].share(text, self.accounts[target.name].rip)
        except DuplicatePost:
            found = self._find(
                target.name, event.document_id, event.kind, event.event_id, _digest(text)
            )
            if found is None:
                raise
            return Posted(DeliveryState.CONFIRMED, found, "the platform already had this status")
        return Posted(DeliveryState.CONFIRMED, {"weibo_id": status_id(status)}, "posted")

    def _find(
        self, account: str, document_id: str, kind: str, event_id: str, digest: str | None
    ) -> dict[str, str] | None:
        url = self.urls.document(Kind(kind), document_id)
        known = self.known_ids(account, document_id, event_id)
        for status in self.clients[account].recent(self.accounts[account].reconcile_count):
            sid = status_id(status)
            if sid in known or status.get("deleted"):
                continue
            raw = json.dumps(status, ensure_ascii=False)
            if url in raw or (
                digest is not None and _digest(str(status.get("text", ""))) == digest
            ):
                return {"weibo_id": sid}
        return None

    def reconcile(
        self, target: str, row: DeliveryRow, ids: dict[str, str], event: ContentEvent | None
    ) -> tuple[Posted | None, dict[str, str]]:
        """The recorded id, else a recent status with the portal link or the recorded text
        (Weibo shows links shortened, so the text is compared without its links)."""
        if ids.get("weibo_id"):
            return Posted(DeliveryState.CONFIRMED, ids, "recorded"), ids
        found = self._find(target, row.document_id, row.kind, row.event_id, ids.get("text_sha256"))
        if found is None:
            return None, ids
        return Posted(DeliveryState.CONFIRMED, found, "found among recent statuses"), found

    def withdraw(self, target: str, event: AnyEvent, rows: list[DeliveryRow]) -> dict[str, str]:
        """``statuses/destroy`` every status of ``rows`` (one already gone counts as done)."""
        removed: dict[str, str] = {}
        for row in rows:
            ids = dict(row.remote_ids)
            if row.state is DeliveryState.PENDING:
                found, ids = self.reconcile(target, row, ids, None)
                if found is None:
                    self.records.mark(row, DeliveryState.FAILED, "withdrawn before it was posted")
                    continue
            weibo_id = ids["weibo_id"]
            if not self.clients[target].destroy(weibo_id):
                log.info("weibo %s: status %s was already deleted", target, weibo_id)
            removed[f"v{row.version}.weibo_id"] = weibo_id
            why = f"deleted (v{event.version} {event.action.value})"
            self.records.mark(row, DeliveryState.RETRACTED, why, ids)
        return removed


def dry_run_answer(method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """What Weibo answers, per its documentation, for the dry-run outbox."""
    if path.endswith("/statuses/share.json"):
        sid = str(int(stable_id("", body)[:13], 16))
        return 200, {
            "created_at": datetime.now(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "id": int(sid),
            "idstr": sid,
            "mid": sid,
            "text": (body or {}).get("status", ""),
        }
    if path.endswith("/statuses/user_timeline.json"):
        return 200, {"statuses": [], "total_number": 0}
    return 200, {"idstr": str((body or {}).get("id", "")), "deleted": "1"}
