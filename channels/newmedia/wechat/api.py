"""The WeChat Official Account API client (微信公众号): token, media, drafts, publishing.

Access tokens come from ``POST /cgi-bin/stable_token`` and are kept in the state store,
so every worker of the same app shares one: a worker uses the stored token until five
minutes before it expires, then asks again in normal mode (which returns the current
token to every caller, so workers never invalidate each other's). A token the platform
refuses (40001, 40014, 42001) is refreshed once and the call repeated; a forced refresh
is used only when normal mode returns the refused token again, at most 20 a day and 30 s
apart, counted in the store across workers.

Errors: 45009 (a daily quota is spent) parks the channel until midnight in Beijing
and is remembered, so no worker calls that API again before then; 48001 means the
account lacks the API (unverified accounts lost publishing in 2025); -1 and 5xx are
transient; anything else is the platform refusing the request.
"""

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, ClassVar

from pydantic import SecretStr

from channels.newmedia.client import HttpClient
from channels.newmedia.dryrun import Outbox, stable_id
from channels.newmedia.errors import (
    BEIJING,
    AccountMisconfigured,
    OutcomeUnknown,
    PlatformRejected,
    next_midnight,
)
from channels.newmedia.records import SharedState
from channels.newmedia.wechat.tables import TOKENS_SCHEMA as SCHEMA
from govpub.errors import ChannelParked, RateLimited, TransientDeliveryError
from govpub.store import Store

log = logging.getLogger(__name__)

TOKEN_REFUSED = frozenset({40001, 40014, 42001})
QUOTA_REACHED = 45009
NOT_PERMITTED = 48001
INVALID_MEDIA_ID = 40007
BUSY = -1
MISCONFIGURED = {
    40013: "the AppID is not valid: check app_id in the routing file",
    40125: "the AppSecret is not valid: check GOVPUB_WECHAT_APP_SECRETS",
    40164: "this server's IP is not on the account's IP whitelist (IP白名单)",
    40243: "the AppSecret is frozen: unfreeze it on the 公众平台",
    NOT_PERMITTED: "the account is not permitted to use this API (48001): publishing needs a"
    " verified (认证) account; verify it on the 公众平台, or remove it from the routing file",
}
REFRESH_MARGIN_S = 300.0
FORCED_PER_DAY = 20
FORCED_SPACING_S = 30.0

IDEMPOTENT_PATHS = (
    "cgi-bin/freepublish/get",
    "cgi-bin/freepublish/batchget",
    "cgi-bin/freepublish/getarticle",
    "cgi-bin/draft/get",
    "cgi-bin/draft/batchget",
)


class TokenStore:
    """Access tokens by AppID in the state store, shared by every worker of the app.

    The store file holds live tokens (valid two hours at most): keep it readable by
    the govpub user only.
    """

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        store.ensure_schema(SCHEMA)

    def current(self, app_id: str) -> tuple[str, float] | None:
        """The stored token and its expiry time."""
        row = self.store.conn.execute(
            "SELECT access_token, expires_at FROM wechat_tokens WHERE app_id=?", (app_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def save(self, app_id: str, token: str, expires_at: float) -> None:
        """Keep a token fetched from the platform."""
        with self.store.transaction("wechat_tokens") as conn:
            conn.execute(
                "INSERT INTO wechat_tokens (app_id, access_token, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (app_id) DO UPDATE SET access_token=excluded.access_token,"
                " expires_at=excluded.expires_at",
                (app_id, token, expires_at),
            )

    def reserve_forced(self, app_id: str, refused: str) -> str | None:
        """Claim a forced refresh for ``app_id`` (the platform allows 20 a day, 30 s apart).

        Returns a token to use instead when another worker has already replaced the
        refused one; ``None`` when the caller may force a refresh now. Raises
        ``RateLimited`` inside the 30 s spacing and ``ChannelParked`` when the day's
        refreshes are spent.
        """
        now = self.clock()
        today = datetime.fromtimestamp(now, BEIJING).date().isoformat()
        with self.store.transaction("wechat_tokens") as conn:
            row = conn.execute(
                "SELECT access_token, expires_at, forced_day, forced_count, forced_at"
                " FROM wechat_tokens WHERE app_id=?",
                (app_id,),
            ).fetchone()
            if row is not None and row[0] != refused and float(row[1]) > now:
                return str(row[0])
            count = int(row[3]) if row is not None and row[2] == today else 0
            last = float(row[4]) if row is not None else 0.0
            if count >= FORCED_PER_DAY:
                raise ChannelParked(
                    next_midnight(datetime.fromtimestamp(now, UTC)),
                    f"wechat app {app_id}: the access token is refused and the day's"
                    f" {FORCED_PER_DAY} forced refreshes are spent",
                )
            if now - last < FORCED_SPACING_S:
                raise RateLimited(
                    f"wechat app {app_id}: forced token refreshes must be"
                    f" {FORCED_SPACING_S:.0f} s apart",
                    FORCED_SPACING_S - (now - last),
                )
            conn.execute(
                "INSERT INTO wechat_tokens (app_id, access_token, expires_at, forced_day,"
                " forced_count, forced_at) VALUES (?, '', 0, ?, ?, ?)"
                " ON CONFLICT (app_id) DO UPDATE SET forced_day=excluded.forced_day,"
                " forced_count=excluded.forced_count, forced_at=excluded.forced_at",
                (app_id, today, count + 1, now),
            )
        return None


class PublishState(IntEnum):
    """``publish_status`` of ``freepublish/get`` and of the PUBLISHJOBFINISH event, named
    as in WeChat's API documentation."""

    SUCCESS = 0
    """发布成功"""
    PUBLISHING = 1
    """发布中"""
    ORIGINAL_FAILED = 2
    """原创失败"""
    FAILED = 3
    """常规失败"""
    AUDIT_REFUSED = 4
    """平台审核不通过"""
    USER_DELETED = 5
    """成功后用户删除所有文章"""
    SYSTEM_BANNED = 6
    """成功后系统封禁所有文章"""


@dataclass(frozen=True)
class PublishStatus:
    """What ``freepublish/get`` (or the PUBLISHJOBFINISH event) says about a publish job;
    ``status`` is a :class:`PublishState` value (or a number the documentation lacks)."""

    publish_id: str
    status: int
    article_id: str = ""
    article_url: str = ""
    fail_idx: tuple[int, ...] = ()

    MEANINGS: ClassVar[dict[int, str]] = {
        PublishState.SUCCESS: "published",
        PublishState.PUBLISHING: "publishing",
        PublishState.ORIGINAL_FAILED: "original-content (原创) check failed",
        PublishState.FAILED: "publishing failed",
        PublishState.AUDIT_REFUSED: "refused by the platform's review (审核不通过)",
        PublishState.USER_DELETED: "published, then every article deleted by the account",
        PublishState.SYSTEM_BANNED: "published, then blocked by the platform",
    }

    @property
    def meaning(self) -> str:
        """The status in words."""
        return self.MEANINGS.get(self.status, f"unknown status {self.status}")


class WeChatClient(HttpClient):
    """One Official Account's API, for one AppID."""

    platform = "wechat"

    def __init__(
        self,
        account: str,
        app_id: str,
        secret: SecretStr | None,
        *,
        store: Store,
        base_url: str,
        timeout: float,
        outbox: Outbox | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            base_url,
            timeout=timeout,
            idempotent_paths=IDEMPOTENT_PATHS,
            outbox=outbox,
            responder=dry_run_answer if outbox is not None else None,
        )
        if secret is None and outbox is None:
            raise ValueError("a WeChat client needs the AppSecret unless it is a dry run")
        self.account = account
        self.app_id = app_id
        # A dry run's stand-in token is kept apart, so that a real run sharing the store
        # never takes it for the account's token.
        self._token_key = app_id if outbox is None else f"{app_id}:dry-run"
        self._secret = secret or SecretStr("APPSECRET")
        self.tokens = TokenStore(store, clock=clock)
        self.state = SharedState(store, clock=clock)
        self.clock = clock

    # --- token -------------------------------------------------------------------------

    def _fetch_token(self, *, force: bool) -> str:
        response = self.request(
            "POST",
            "cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._secret.get_secret_value(),
                "force_refresh": force,
            },
        )
        data = self._json(response, "stable_token")
        code = int(data.get("errcode") or 0)
        if code:
            self._raise(code, str(data.get("errmsg", "")), "stable_token")
        token = str(data["access_token"])
        expires_at = self.clock() + float(data.get("expires_in", 7200))
        self.tokens.save(self._token_key, token, expires_at)
        if self.dry_run:
            log.info(
                "wechat %s: dry run: would fetch an access token (stable_token); the request"
                " is in the outbox, nothing was sent",
                self.account,
            )
        else:
            log.info(
                "wechat %s: %s access token, valid %.0f s",
                self.account,
                "forced a new" if force else "fetched the",
                expires_at - self.clock(),
            )
        return token

    def access_token(self) -> str:
        """A token valid for at least five more minutes (shared through the store)."""
        stored = self.tokens.current(self._token_key)
        if stored is not None and stored[1] - REFRESH_MARGIN_S > self.clock():
            return stored[0]
        return self._fetch_token(force=False)

    def _replace_refused(self, refused: str) -> str:
        fresh = self._fetch_token(force=False)
        if fresh != refused:
            return fresh
        instead = self.tokens.reserve_forced(self._token_key, refused)
        return instead if instead is not None else self._fetch_token(force=True)

    # --- calls -------------------------------------------------------------------------

    def _parked_key(self, api: str) -> str:
        return f"{self.app_id}:{api}"

    def _check_parked(self, api: str) -> None:
        until = self.state.get("wechat-parked", self._parked_key(api))
        if until is not None and float(until) > self.clock():
            raise ChannelParked(
                datetime.fromtimestamp(float(until), UTC),
                f"wechat account {self.account}: the daily quota of {api} is spent (45009)",
            )

    def call(
        self,
        api: str,
        payload: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST ``cgi-bin/<api>`` with the access token; returns the answer when
        ``errcode`` is 0, else raises the translated error. A refused token is replaced
        once and the call repeated."""
        self._check_parked(api)
        token = self.access_token()
        for attempt in (1, 2):
            query = {"access_token": token, **(params or {})}
            if files is not None:
                response = self.request("POST", f"cgi-bin/{api}", params=query, files=files)
            else:
                body = json.dumps(payload or {}, ensure_ascii=False).encode("utf-8")
                response = self.request(
                    "POST",
                    f"cgi-bin/{api}",
                    params=query,
                    data=body,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
            data = self._json(response, api)
            code = int(data.get("errcode") or 0)
            if code in TOKEN_REFUSED and attempt == 1:
                log.warning(
                    "wechat %s: %s refused the access token (%d); refreshing it once",
                    self.account,
                    api,
                    code,
                )
                token = self._replace_refused(token)
                continue
            if code:
                self._raise(code, str(data.get("errmsg", "")), api)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, response: Any, api: str) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise OutcomeUnknown(
                f"wechat {api}: HTTP {response.status_code} without a JSON answer"
            ) from None
        if not isinstance(data, dict):
            raise OutcomeUnknown(f"wechat {api}: unexpected answer")
        if response.status_code >= 400 and not data.get("errcode"):
            raise PlatformRejected("wechat", api, response.status_code, "HTTP error")
        return data

    def _raise(self, code: int, message: str, api: str) -> None:
        if code == QUOTA_REACHED:
            until = next_midnight(datetime.fromtimestamp(self.clock(), UTC))
            self.state.put("wechat-parked", self._parked_key(api), str(until.timestamp()))
            raise ChannelParked(
                until,
                f"wechat account {self.account}: the daily quota of {api} is spent (45009)",
            )
        if code in MISCONFIGURED:
            raise AccountMisconfigured(
                f"wechat account {self.account} ({self.app_id}), {api}: {MISCONFIGURED[code]}"
            )
        if code == BUSY:
            raise TransientDeliveryError(f"wechat {api}: the platform is busy (-1)")
        if code in TOKEN_REFUSED:
            raise TransientDeliveryError(
                f"wechat {api}: the access token was refused again after a refresh ({code})"
            )
        raise PlatformRejected("wechat", api, code, message)

    # --- endpoints ---------------------------------------------------------------------

    def upload_article_image(self, name: str, data: bytes, content_type: str) -> str:
        """``media/uploadimg``: an image for the article body (jpg/png under 1 MB); its URL."""
        answer = self.call("media/uploadimg", files={"media": (name, data, content_type)})
        return str(answer["url"])

    def add_image_material(self, name: str, data: bytes, content_type: str) -> str:
        """``material/add_material?type=image``: a permanent image (a cover); its media_id."""
        answer = self.call(
            "material/add_material",
            files={"media": (name, data, content_type)},
            params={"type": "image"},
        )
        return str(answer["media_id"])

    def add_draft(self, article: Mapping[str, Any]) -> str:
        """``draft/add`` with one article; the draft's media_id."""
        return str(self.call("draft/add", {"articles": [dict(article)]})["media_id"])

    def draft_exists(self, media_id: str) -> bool:
        """``draft/get``: whether the draft is still in the draft box (a publish removes it)."""
        try:
            self.call("draft/get", {"media_id": media_id})
        except PlatformRejected as exc:
            if exc.code == INVALID_MEDIA_ID:
                return False
            raise
        return True

    def list_drafts(self, offset: int, count: int = 20) -> list[dict[str, Any]]:
        """``draft/batchget`` without content, newest first."""
        answer = self.call("draft/batchget", {"offset": offset, "count": count, "no_content": 1})
        return list(answer.get("item") or [])

    def delete_draft(self, media_id: str) -> None:
        """``draft/delete``."""
        self.call("draft/delete", {"media_id": media_id})

    def submit(self, media_id: str) -> str:
        """``freepublish/submit``: publish a draft; the publish_id (accepted, not yet done)."""
        return str(self.call("freepublish/submit", {"media_id": media_id})["publish_id"])

    def publish_status(self, publish_id: str) -> PublishStatus:
        """``freepublish/get``."""
        answer = self.call("freepublish/get", {"publish_id": publish_id})
        return status_from(answer)

    def list_published(self, offset: int, count: int = 20) -> list[dict[str, Any]]:
        """``freepublish/batchget`` without content, newest first."""
        answer = self.call(
            "freepublish/batchget", {"offset": offset, "count": count, "no_content": 1}
        )
        return list(answer.get("item") or [])

    def article_deleted(self, article_id: str) -> bool:
        """``freepublish/getarticle``: whether every article of ``article_id`` is deleted."""
        try:
            answer = self.call("freepublish/getarticle", {"article_id": article_id})
        except PlatformRejected:
            return True  # the platform no longer knows the article
        items = answer.get("news_item") or []
        return all(bool(item.get("is_deleted")) for item in items)

    def delete_published(self, article_id: str) -> None:
        """``freepublish/delete``: remove every article of a publish (irreversible)."""
        self.call("freepublish/delete", {"article_id": article_id, "index": 0})


def status_from(data: Mapping[str, Any]) -> PublishStatus:
    """A :class:`PublishStatus` from a ``freepublish/get`` answer or callback fields."""
    detail = data.get("article_detail") or {}
    items = detail.get("item") or []
    url = str(items[0].get("article_url", "")) if items else ""
    return PublishStatus(
        publish_id=str(data.get("publish_id", "")),
        status=int(data.get("publish_status", PublishState.FAILED)),
        article_id=str(data.get("article_id") or ""),
        article_url=url,
        fail_idx=tuple(int(i) for i in data.get("fail_idx") or []),
    )


def dry_run_answer(method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """What the platform answers, per its documentation, for the dry-run outbox."""
    api = path.split("/cgi-bin/", 1)[-1]
    if api == "stable_token":
        return 200, {"access_token": "DRY-RUN-ACCESS-TOKEN", "expires_in": 7200}
    if api == "media/uploadimg":
        return 200, {"url": stable_id("https://mmbiz.qpic.cn/dry-run/", body), "errcode": 0}
    if api == "material/add_material":
        return 200, {"media_id": stable_id("dry-run-image-", body), "url": "", "item": []}
    if api == "draft/add":
        return 200, {"media_id": stable_id("dry-run-draft-", body)}
    if api == "draft/get":
        return 200, {"news_item": []}
    if api in ("draft/batchget", "freepublish/batchget"):
        return 200, {"total_count": 0, "item_count": 0, "item": []}
    if api == "freepublish/submit":
        return 200, {"errcode": 0, "errmsg": "ok", "publish_id": stable_id("", body)[:16]}
    if api == "freepublish/get":
        publish_id = str((body or {}).get("publish_id", ""))
        return 200, {
            "publish_id": publish_id,
            "publish_status": 0,
            "article_id": stable_id("dry-run-article-", publish_id),
            "article_detail": {
                "count": 1,
                "item": [{"idx": 1, "article_url": "https://mp.weixin.qq.com/s/dry-run"}],
            },
            "fail_idx": [],
        }
    return 200, {"errcode": 0, "errmsg": "ok"}
