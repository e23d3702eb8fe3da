"""Which kinds go to which new-media account, with which template: the routing file.

``GOVPUB_NEWMEDIA_ROUTES`` names a TOML (or JSON) file; secrets never go in it, they
come from ``GOVPUB_WECHAT_APP_SECRETS``, ``GOVPUB_WEIBO_ACCESS_TOKENS`` and
``GOVPUB_WEBHOOK_SECRETS``, keyed by the account and endpoint names used here::

    [wechat.accounts.zhuzhou-gov]
    app_id = "wx0123456789abcdef"
    author = "株洲市人民政府"
    cover_image = "covers/zhuzhou.png"      # relative to this file

    [weibo.accounts.zhuzhou-fabu]
    rip = "203.0.113.10"
    registered_domain = "www.zhuzhou.gov.cn"

    [webhook.endpoints.lukou-portal]
    url = "https://lukou.example.gov.cn/hooks/govpub"

    [templates.exposure]
    weibo = "【典型案例曝光】{title}"

    [[routes]]
    kinds = ["exposure", "meeting", "campaign"]
    wechat = ["zhuzhou-gov"]
    weibo = ["zhuzhou-fabu"]
    template = "exposure"

A kind no route names (penalty decisions, say) goes to the portal and feeds only.
Exposure candidates are never posted: only the quarter's released batch is.
"""

import ipaddress
import json
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from channels.newmedia.content import TEMPLATE_FIELDS
from govpub.errors import ConfigurationError
from schemas import AnyEvent, ExposureEvent, RetractEvent
from schemas.enums import Kind

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Platform = Literal["wechat", "weibo", "webhook"]
PLATFORMS: tuple[Platform, ...] = ("wechat", "weibo", "webhook")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_template(value: str) -> str:
    for _, name, spec, conversion in string.Formatter().parse(value):
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            raise ValueError(
                f"unknown placeholder {{{name}}}; use {', '.join(sorted(TEMPLATE_FIELDS))}"
            )
    return value


class Template(_Model):
    """How posts of a route read; placeholders: ``{title}``, ``{summary}``, ``{label}``,
    ``{department}``, ``{date}``, ``{update_mark}``, ``{document_id}``. The portal link
    is always added by govpub, whatever the template says."""

    wechat_title: str = "{update_mark}{title}"
    wechat_digest: str = "{summary}"
    weibo: str = "【{label}】{update_mark}{title}：{summary}"

    _valid = field_validator("wechat_title", "wechat_digest", "weibo")(_check_template)


class WechatAccount(_Model):
    """A WeChat Official Account (公众号); its AppSecret is ``GOVPUB_WECHAT_APP_SECRETS``."""

    app_id: Annotated[str, Field(pattern=r"^wx[0-9a-zA-Z]{16}$")]
    author: Annotated[str, Field(min_length=1, max_length=16)]
    cover_image: Path = Field(description="default cover (jpg/png), relative to the routing file")
    image_hosts: list[str] = Field(
        default=[], description="hosts in-article images may be fetched from (none by default)"
    )
    open_comment: bool = False
    poll_budget: Annotated[int, Field(ge=0, le=100)] = Field(
        default=60, description="freepublish/get calls a day for status polling"
    )
    poll_interval: Annotated[float, Field(ge=0, le=86_400)] = Field(
        default=60.0, description="seconds before the first status poll (doubles after each)"
    )
    reconcile_pages: Annotated[int, Field(ge=1, le=50)] = 3
    delete_budget: Annotated[int, Field(ge=0, le=10)] = Field(
        default=10,
        description="freepublish/delete calls a day (the platform allows 10); the deletions"
        " beyond them wait in a queue until after midnight in Beijing",
    )


class WeiboAccount(_Model):
    """A Weibo account; its OAuth2 access token is ``GOVPUB_WEIBO_ACCESS_TOKENS``."""

    rip: str = Field(description="the public IP Weibo's rip parameter reports")
    registered_domain: str | None = Field(
        default=None, description="the app's 安全域名; checked against GOVPUB_SITE_URL"
    )
    reconcile_count: Annotated[int, Field(ge=1, le=100)] = 50

    @field_validator("rip")
    @classmethod
    def _ip(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value


class WebhookEndpoint(_Model):
    """A subscriber endpoint; its signing secret is ``GOVPUB_WEBHOOK_SECRETS``."""

    url: AnyHttpUrl


class WechatSection(_Model):
    accounts: dict[Name, WechatAccount] = {}


class WeiboSection(_Model):
    accounts: dict[Name, WeiboAccount] = {}


class WebhookSection(_Model):
    endpoints: dict[Name, WebhookEndpoint] = {}


class Route(_Model):
    """Documents of ``kinds`` (optionally only from ``departments``) go to these targets."""

    kinds: Annotated[list[Kind], Field(min_length=1)]
    departments: list[str] = []
    wechat: list[Name] = []
    weibo: list[Name] = []
    webhook: list[Name] = []
    template: Name = "default"
    on_update: Literal["skip", "replace"] = Field(
        default="skip",
        description="skip: an update keeps the existing post (its link shows the new version);"
        " replace: post the update, then delete the earlier post (webhooks always get updates)",
    )


@dataclass(frozen=True)
class Target:
    """One account or endpoint an event goes to, with the route's choices."""

    name: str
    template: Template
    on_update: Literal["skip", "replace"]


class Routing(_Model):
    """The whole routing file."""

    wechat: WechatSection = WechatSection()
    weibo: WeiboSection = WeiboSection()
    webhook: WebhookSection = WebhookSection()
    templates: dict[Name, Template] = {}
    routes: list[Route] = []

    @model_validator(mode="after")
    def _references(self) -> Self:
        known = {
            "wechat": set(self.wechat.accounts),
            "weibo": set(self.weibo.accounts),
            "webhook": set(self.webhook.endpoints),
        }
        for number, route in enumerate(self.routes):
            for platform in PLATFORMS:
                for name in getattr(route, platform):
                    if name not in known[platform]:
                        raise ValueError(
                            f"routes.{number}.{platform}: {name!r} is not defined"
                            f" (defined: {', '.join(sorted(known[platform])) or 'none'})"
                        )
            if route.template != "default" and route.template not in self.templates:
                raise ValueError(f"routes.{number}.template: {route.template!r} is not defined")
        return self

    def template(self, name: str) -> Template:
        """A template by name (``default`` unless the file redefines it)."""
        return self.templates.get(name) or Template()

    def targets(self, platform: Platform, event: AnyEvent) -> list[Target]:
        """The targets of ``platform`` routed for ``event``; the first route naming a
        target decides its template. Retractions are not routed: they go wherever the
        document was posted."""
        if isinstance(event, RetractEvent):
            return []
        if isinstance(event, ExposureEvent) and not event.payload.is_batch:
            return []
        found: dict[str, Target] = {}
        for route in self.routes:
            if event.kind not in route.kinds:
                continue
            if route.departments and event.department not in route.departments:
                continue
            for name in getattr(route, platform):
                found.setdefault(name, Target(name, self.template(route.template), route.on_update))
        return list(found.values())


def load_routing(path: Path) -> Routing:
    """Read and validate a routing file; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"GOVPUB_NEWMEDIA_ROUTES: cannot read {path}: {exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"GOVPUB_NEWMEDIA_ROUTES: {path}: {exc}") from None
    try:
        routing = Routing.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {message}" if where else message)
        raise ConfigurationError(
            f"GOVPUB_NEWMEDIA_ROUTES: {path}:\n  " + "\n  ".join(lines)
        ) from None
    return _resolve_paths(routing, path.parent)


def _resolve_paths(routing: Routing, base: Path) -> Routing:
    accounts = {
        name: account.model_copy(update={"cover_image": base / account.cover_image})
        for name, account in routing.wechat.accounts.items()
    }
    return routing.model_copy(update={"wechat": WechatSection(accounts=accounts)})


def check_domain(account: str, weibo: WeiboAccount, site_url: str) -> None:
    """Weibo only accepts links on the app's registered domain (error 10017 otherwise)."""
    if weibo.registered_domain is None:
        return
    host = urlsplit(site_url).hostname or ""
    domain = weibo.registered_domain.lower().lstrip(".")
    if host != domain and not host.endswith("." + domain):
        raise ConfigurationError(
            f"GOVPUB_SITE_URL: {site_url} is not on {domain}, the registered domain of"
            f" Weibo account {account!r}; posts would be refused (error 10017)"
        )
