"""Fake WeChat, Weibo and webhook receivers on pytest-httpserver, answering as the
platforms' documentation says (request and answer shapes, error codes), with state
(tokens, drafts, published articles, statuses) and injectable faults."""

import json
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.newmedia.webhook.channel import verify


@dataclass
class Fault:
    """What to do to the next call of an API instead of (or besides) answering it."""

    status: int | None = None  # answer this HTTP status
    errcode: int | None = None  # answer this platform error
    delay: float = 0.0  # sleep first (a slow answer)
    process: bool = False  # do the work anyway before a status/delay (lost answer)
    then: "Outage | None" = None  # the platform goes down as it answers this call


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False), status=status, content_type="application/json"
    )


@dataclass
class Outage:
    """The platform is down: every call gets one of ``faults``, picked by ``rng`` (the
    test seeds it), until the outage ends; ``hits`` counts the calls it spoilt per API."""

    faults: Sequence[Fault]
    rng: random.Random
    hits: Counter[str] = field(default_factory=Counter)


@dataclass
class _Base:
    server: HTTPServer
    calls: Counter[str] = field(default_factory=Counter)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    outage: Outage | None = None

    def fail(self, api: str, *faults: Fault) -> None:
        """Queue faults for the next calls of ``api``."""
        self.faults.setdefault(api, []).extend(faults)

    def down(self, outage: Outage) -> None:
        """Start an outage: from now on every call gets one of its faults."""
        with self.lock:
            self.outage = outage

    def up(self) -> None:
        """End the outage (calls already answering slowly finish as their fault says)."""
        with self.lock:
            self.outage = None

    def _fault(self, api: str) -> Fault | None:
        with self.lock:
            if self.outage is not None:
                self.outage.hits[api] += 1
                return self.outage.rng.choice(self.outage.faults)
            queue = self.faults.get(api) or []
            return queue.pop(0) if queue else None

    def _dispatch(self, api: str, request: Request, work: Any) -> Response:
        self.calls[api] += 1
        fault = self._fault(api)
        if fault is None:
            return work(request)
        answer = self._faulty(api, request, work, fault)
        if fault.then is not None:
            self.down(fault.then)
        return answer

    def _faulty(self, api: str, request: Request, work: Any, fault: Fault) -> Response:
        if fault.process:
            answer = work(request)
            time.sleep(fault.delay)
            return Response("bad gateway", status=fault.status or 200) if fault.status else answer
        time.sleep(fault.delay)
        if fault.status is not None:
            return Response("upstream error", status=fault.status)
        if fault.errcode is not None:
            return self._error(api, fault.errcode)
        return work(request)

    def _error(self, api: str, code: int) -> Response:
        raise NotImplementedError


class FakeWeChat(_Base):
    """The Official Account API under ``/cgi-bin/``."""

    def __init__(self, server: HTTPServer, app_id: str, secret: str) -> None:
        super().__init__(server)
        self.app_id = app_id
        self.secret = secret
        self.ttl = 7200
        self.tokens: dict[str, float] = {}
        self.current: str | None = None
        self.issued: list[str] = []
        self.forced = 0
        self.materials: dict[str, bytes] = {}
        self.article_images: list[str] = []
        self.drafts: dict[str, dict[str, Any]] = {}
        self.drafts_created: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.published: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.publish_async = False
        self.quota_left: dict[str, int] = {}
        self._seq = 0
        server.expect_request(re.compile(r"^/cgi-bin/.*")).respond_with_handler(self.handle)

    def _next(self, prefix: str) -> str:
        with self.lock:
            self._seq += 1
            return f"{prefix}{self._seq:06d}"

    def _error(self, api: str, code: int) -> Response:
        return _json({"errcode": code, "errmsg": f"fake error {code}"})

    def expire_tokens(self) -> None:
        """Every issued token expires now (42001 from here on)."""
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def revoke_silently(self) -> None:
        """The current token is refused (40001) but normal mode still returns it, as
        happens when another system forced a refresh of a different credential set."""
        with self.lock:
            if self.current:
                self.tokens[self.current] = -1.0

    def handle(self, request: Request) -> Response:
        api = request.path.removeprefix("/cgi-bin/")
        if api == "stable_token":
            return self._dispatch(api, request, self._token)
        token = request.args.get("access_token", "")
        expiry = self.tokens.get(token)
        if expiry is None or expiry == -1.0:
            self.calls[api + ":refused"] += 1
            return self._error(api, 40001)
        if expiry < time.time():
            self.calls[api + ":refused"] += 1
            return self._error(api, 42001)
        left = self.quota_left.get(api)
        if left is not None:
            if left <= 0:
                self.calls[api] += 1
                return self._error(api, 45009)
            self.quota_left[api] = left - 1
        work = getattr(self, "_" + api.replace("/", "_"), None)
        if work is None:
            return self._error(api, 40066)
        return self._dispatch(api, request, work)

    def _token(self, request: Request) -> Response:
        body = request.get_json()
        if body.get("appid") != self.app_id:
            return self._error("stable_token", 40013)
        if body.get("secret") != self.secret:
            return self._error("stable_token", 40125)
        with self.lock:
            now = time.time()
            valid = self.current is not None and self.tokens.get(self.current, 0) > now
            if body.get("force_refresh"):
                self.forced += 1
                valid = False
                if self.current:
                    self.tokens[self.current] = 0.0
            if not valid and not (self.current and self.tokens.get(self.current) == -1.0):
                self.current = "TOKEN-" + secrets.token_hex(16)
                self.tokens[self.current] = now + self.ttl
                self.issued.append(self.current)
            assert self.current is not None
            remaining = max(0, int(self.tokens[self.current] - now)) if valid else self.ttl
        return _json({"access_token": self.current, "expires_in": remaining})

    def _media_uploadimg(self, request: Request) -> Response:
        media = request.files["media"].read()
        if len(media) >= 1_000_000:
            return self._error("media/uploadimg", 40009)
        url = f"http://mmbiz.qpic.cn/fake/{self._next('img')}/0"
        self.article_images.append(url)
        return _json({"url": url, "errcode": 0, "errmsg": "ok"})

    def _material_add_material(self, request: Request) -> Response:
        if request.args.get("type") != "image":
            return self._error("material/add_material", 40004)
        media_id = self._next("MATERIAL-")
        self.materials[media_id] = request.files["media"].read()
        return _json({"media_id": media_id, "url": f"http://mmbiz.qpic.cn/{media_id}", "item": []})

    def _draft_add(self, request: Request) -> Response:
        articles = request.get_json()["articles"]
        for article in articles:
            if len(article["title"]) > 32:
                return self._error("draft/add", 45003)
            if len(article.get("author", "")) > 16:
                return self._error("draft/add", 45110)
            if len(article.get("digest", "")) > 128:
                return self._error("draft/add", 45004)
            content = article["content"]
            if len(content) >= 20_000 or len(content.encode()) >= 1_000_000:
                return self._error("draft/add", 45002)
            if article.get("thumb_media_id") not in self.materials:
                return self._error("draft/add", 40007)
        media_id = self._next("DRAFT-")
        with self.lock:
            self.drafts[media_id] = {"articles": articles, "update_time": int(time.time())}
            self.drafts_created.append(articles[0])
        return _json({"media_id": media_id})

    def _draft_get(self, request: Request) -> Response:
        draft = self.drafts.get(request.get_json().get("media_id"))
        if draft is None:
            return self._error("draft/get", 40007)
        return _json({"news_item": draft["articles"]})

    def _draft_batchget(self, request: Request) -> Response:
        body = request.get_json()
        items = [
            {
                "media_id": k,
                "content": {"news_item": v["articles"]},
                "update_time": v["update_time"],
            }
            for k, v in reversed(list(self.drafts.items()))
        ]
        page = items[int(body["offset"]) : int(body["offset"]) + int(body["count"])]
        return _json({"total_count": len(items), "item_count": len(page), "item": page})

    def _draft_delete(self, request: Request) -> Response:
        self.drafts.pop(request.get_json().get("media_id"), None)
        return _json({"errcode": 0, "errmsg": "ok"})

    def _freepublish_submit(self, request: Request) -> Response:
        media_id = request.get_json().get("media_id")
        with self.lock:
            draft = self.drafts.pop(media_id, None)
        if draft is None:
            return self._error("freepublish/submit", 40007)
        publish_id = self._next("")
        self.jobs[publish_id] = {"articles": draft["articles"], "status": 1}
        if not self.publish_async:
            self.finish(publish_id)
        return _json({"errcode": 0, "errmsg": "ok", "publish_id": publish_id, "msg_data_id": 1})

    def finish(self, publish_id: str, status: int = 0) -> str:
        """The publish job ends with ``status``; returns the article_id (if published)."""
        job = self.jobs[publish_id]
        job["status"] = status
        if status != 0:
            return ""
        article_id = self._next("ARTICLE-")
        job["article_id"] = article_id
        self.published[article_id] = {
            "articles": job["articles"],
            "deleted": False,
            "update_time": int(time.time()),
        }
        return article_id

    def _freepublish_get(self, request: Request) -> Response:
        publish_id = str(request.get_json().get("publish_id"))
        job = self.jobs.get(publish_id)
        if job is None:
            return self._error("freepublish/get", 40007)
        answer: dict[str, Any] = {
            "publish_id": publish_id,
            "publish_status": job["status"],
            "fail_idx": [],
        }
        if job["status"] == 0:
            answer["article_id"] = job["article_id"]
            answer["article_detail"] = {
                "count": 1,
                "item": [
                    {"idx": 1, "article_url": f"http://mp.weixin.qq.com/s/{job['article_id']}"}
                ],
            }
        return _json(answer)

    def _freepublish_batchget(self, request: Request) -> Response:
        body = request.get_json()
        items = [
            {
                "article_id": article_id,
                "content": {
                    "news_item": [
                        {**a, "url": f"http://mp.weixin.qq.com/s/{article_id}", "is_deleted": False}
                        for a in entry["articles"]
                    ]
                },
                "update_time": entry["update_time"],
            }
            for article_id, entry in reversed(list(self.published.items()))
            if not entry["deleted"]
        ]
        page = items[int(body["offset"]) : int(body["offset"]) + int(body["count"])]
        return _json({"total_count": len(items), "item_count": len(page), "item": page})

    def _freepublish_getarticle(self, request: Request) -> Response:
        entry = self.published.get(request.get_json().get("article_id"))
        if entry is None:
            return self._error("freepublish/getarticle", 53600)
        items = [{**a, "is_deleted": entry["deleted"]} for a in entry["articles"]]
        return _json({"news_item": items})

    def _freepublish_delete(self, request: Request) -> Response:
        article_id = request.get_json().get("article_id")
        entry = self.published.get(article_id)
        if entry is None or entry["deleted"]:
            return self._error("freepublish/delete", 53600)
        entry["deleted"] = True
        self.deleted.append(article_id)
        return _json({"errcode": 0, "errmsg": "ok"})

    # --- what the tests look at ----------------------------------------------------------

    def posts_for(self, url: str) -> int:
        """Articles ever published with ``url`` as their original link (deleted or not)."""
        return sum(
            1
            for entry in self.published.values()
            for a in entry["articles"]
            if a["content_source_url"] == url
        )

    def live_for(self, url: str) -> int:
        """Articles published with ``url`` and not deleted."""
        return sum(
            1
            for entry in self.published.values()
            if not entry["deleted"]
            for a in entry["articles"]
            if a["content_source_url"] == url
        )


class FakeWeibo(_Base):
    """``statuses/share``, ``statuses/destroy``, ``statuses/user_timeline`` under ``/2/``."""

    def __init__(self, server: HTTPServer, token: str, domain: str) -> None:
        super().__init__(server)
        self.token = token
        self.domain = domain
        self.statuses: dict[str, dict[str, Any]] = {}
        self.originals: dict[str, str] = {}
        self._seq = 4_900_000_000_000_000
        server.expect_request(re.compile(r"^/2/statuses/.*")).respond_with_handler(self.handle)

    def _error(self, api: str, code: int) -> Response:
        return _json(
            {"request": f"/2/{api}", "error_code": code, "error": f"fake error {code}"}, 400
        )

    def handle(self, request: Request) -> Response:
        api = request.path.removeprefix("/2/")
        if request.headers.get("Authorization") != f"OAuth2 {self.token}":
            return self._error(api, 21332)
        work = {
            "statuses/share.json": self._share,
            "statuses/destroy.json": self._destroy,
            "statuses/user_timeline.json": self._timeline,
        }.get(api)
        if work is None:
            return self._error(api, 10020)
        return self._dispatch(api, request, work)

    def _share(self, request: Request) -> Response:
        text = request.form.get("status", "")
        if not request.form.get("rip"):
            return self._error("statuses/share.json", 10016)
        links = re.findall(r"https?://\S+", text)
        if not any(re.match(rf"https?://([^/]*\.)?{re.escape(self.domain)}[:/]", u) for u in links):
            return self._error("statuses/share.json", 10017)
        live_texts = {self.originals[s] for s, st in self.statuses.items() if not st["deleted"]}
        if text in live_texts:
            return self._error("statuses/share.json", 20019)
        with self.lock:
            self._seq += 1
            sid = str(self._seq)
        shown = re.sub(r"https?://\S+", "http://t.cn/A6fake", text)  # Weibo shortens links
        status = {"id": int(sid), "idstr": sid, "mid": sid, "text": shown, "deleted": False}
        self.statuses[sid] = status
        self.originals[sid] = text
        return _json({k: v for k, v in status.items() if k != "deleted"})

    def _destroy(self, request: Request) -> Response:
        status = self.statuses.get(request.form.get("id", ""))
        if status is None or status["deleted"]:
            return self._error("statuses/destroy.json", 20101)
        status["deleted"] = True
        return _json({k: v for k, v in status.items() if k != "deleted"})

    def _timeline(self, request: Request) -> Response:
        count = int(request.args.get("count", "20"))
        live = [
            {k: v for k, v in s.items() if k != "deleted"}
            for s in reversed(list(self.statuses.values()))
            if not s["deleted"]
        ]
        return _json({"statuses": live[:count], "total_number": len(live)})

    def posts_for(self, url: str) -> int:
        """Statuses ever posted that link to ``url``."""
        return sum(1 for text in self.originals.values() if url in text.split())

    def live_for(self, url: str) -> int:
        """Statuses linking to ``url`` and not deleted."""
        return sum(
            1
            for sid, text in self.originals.items()
            if url in text.split() and not self.statuses[sid]["deleted"]
        )


class WebhookReceiver(_Base):
    """A subscriber: checks signatures, keeps messages, drops repeats by ``webhook-id``."""

    def __init__(self, server: HTTPServer, path: str, secret: str) -> None:
        super().__init__(server)
        self.path = path
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.seen: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        server.expect_request(path, method="POST").respond_with_handler(self.handle)

    def _error(self, api: str, code: int) -> Response:
        return Response("no", status=code)

    def handle(self, request: Request) -> Response:
        return self._dispatch(self.path, request, self._accept)

    def _accept(self, request: Request) -> Response:
        body = request.get_data()
        if not verify(self.secret, dict(request.headers), body):
            self.bad_signatures += 1
            return Response("bad signature", status=401)
        message = json.loads(body)
        self.received.append(message)
        self.seen.setdefault(request.headers["webhook-id"], message)
        return Response(status=204)

    def types_for(self, document_id: str) -> list[str]:
        """Message types received (once per id) for a document."""
        return [m["type"] for m in self.seen.values() if m["data"]["document_id"] == document_id]
