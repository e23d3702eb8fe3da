"""Broken links of interpretations and replays: decided on this machine, and over HTTP
only where configured (against a local server, never the internet)."""

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.website.state import WebsiteState
from govpub.app.freshness import FreshnessSettings, check_freshness
from govpub.app.freshness.links import HttpProbe, LinkChecker, has_text
from govpub.settings import Settings
from govpub.store import Store
from tests import factories
from tests.freshness_support import bj, write_rules
from tests.website_support import Site, at

SITE_URL = "https://www.zhuzhou.gov.cn/zwgk/"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(site_url=SITE_URL)


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    site = Site(settings)
    site.publish(factories.policy("published"))
    yield site
    site.close()


@pytest.fixture
def checker(settings: Settings, site: Site) -> Iterator[LinkChecker]:
    with Store(settings.store) as store:
        yield LinkChecker(
            site_url=SITE_URL,
            output_dir=settings.output_dir,
            website=WebsiteState(store, page_size=20),
        )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://www.gov.cn/zhengce/jd.htm", None),
        ("https://株洲.政务.cn/jd.html", None),
        ("http://203.0.113.7:8080/jd", None),
        (f"{SITE_URL}policy/published.html", None),
        ("HTTPS://WWW.ZHUZHOU.GOV.CN:443/zwgk/policy/published.html", None),
        (f"{SITE_URL}", None),  # the portal's home page exists once rendered
        ("", "empty link"),
        ("ftp://www.zhuzhou.gov.cn/jd.doc", "not an http(s) link"),
        ("https:///jd.html", "no host name"),
        ("https://www.zhuzhou.gov.cn:99999/jd", "invalid port"),
        ("https://www_zhuzhou.gov.cn/jd", "invalid host name (www_zhuzhou.gov.cn)"),
        ("http://oa/jd", "not a public host name (oa)"),
        ("https://example.com/jd", "a placeholder domain (example.com), not a real page"),
        ("https://cdn.example.net/jd", "a placeholder domain (cdn.example.net), not a real page"),
        (
            "https://portal.zhuzhou.test/jd",
            "a placeholder domain (portal.zhuzhou.test), not a real page",
        ),
        ("http://localhost:8000/jd", "not a public host name (localhost)"),
        (f"{SITE_URL}policy/unknown.html", "no such page on the portal (policy/unknown.html)"),
        (
            f"{SITE_URL}penalty/published.html",
            "no such page on the portal (penalty/published.html)",
        ),
        (f"{SITE_URL}files/jd.pdf", "no such file on the portal (files/jd.pdf)"),
        (f"{SITE_URL}a/../../etc/passwd", "not a page of the portal (a/../../etc/passwd)"),
        (f"{SITE_URL}policy/page.html", "points to the page itself, not to an interpretation"),
    ],
)
def test_links_are_judged_without_the_network(
    checker: LinkChecker, site: Site, url: str, problem: str | None
) -> None:
    assert checker.problem(url, own_page="policy/page.html") == problem


def test_an_interpretation_body_without_text_is_empty() -> None:
    assert has_text("<p>解读</p>")
    assert not has_text("<p>&nbsp;</p><p>\u3000</p><br>")
    assert not has_text(None)


def test_the_probe_follows_what_the_server_answers(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ok", method="HEAD").respond_with_data("", status=200)
    httpserver.expect_request("/gone", method="HEAD").respond_with_data("", status=404)
    httpserver.expect_request("/moved", method="HEAD").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/gone")}
    )
    # A server that refuses HEAD is asked with GET.
    httpserver.expect_request("/no-head", method="HEAD").respond_with_data("", status=405)
    httpserver.expect_request("/no-head", method="GET").respond_with_data("解读", status=200)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}/jd"
    with HttpProbe(timeout=10) as probe:
        assert probe.problem(httpserver.url_for("/ok")) is None
        assert probe.problem(httpserver.url_for("/gone")) == "HTTP 404"
        assert probe.problem(httpserver.url_for("/moved")) == "HTTP 404"
        assert probe.problem(httpserver.url_for("/no-head")) is None
        assert probe.problem(closed) == "no answer over HTTP (ConnectionError)"


def test_links_are_requested_only_where_configured(
    settings: Settings, site: Site, httpserver: HTTPServer, tmp_path: Path
) -> None:
    requested: list[str] = []

    def gone(request: Request) -> Response:
        requested.append(f"{request.method} {request.path}")
        return Response("", status=404)

    httpserver.expect_request("/jd/1.html").respond_with_handler(gone)
    link = f"http://127.0.0.1:{httpserver.port}/jd/1.html"  # localhost is no public name
    portal_link = f"{SITE_URL}policy/published.html"
    site.publish(
        at(
            factories.policy("linked", interpretation={"title": "解读", "url": link}),
            "2026-11-02T09:00:00+08:00",
        ),
        at(
            factories.policy("linked-twice", interpretation={"title": "解读", "url": link}),
            "2026-11-02T09:00:00+08:00",
        ),
        at(
            factories.policy("internal", interpretation={"title": "解读", "url": portal_link}),
            "2026-11-02T09:00:00+08:00",
        ),
    )
    rules = write_rules(tmp_path, '[policies]\nsource = "test"\n')
    offline = FreshnessSettings(_env_file=None, rules=rules)
    assert check_freshness(settings, offline, now=bj(2026, 11, 3)).policies == ()
    assert requested == []

    online = FreshnessSettings(_env_file=None, rules=rules, check_links=True)
    report = check_freshness(settings, online, now=bj(2026, 11, 3))
    assert {p.document_id: p.problem for p in report.policies} == {
        "linked": f"link {link}: HTTP 404",
        "linked-twice": f"link {link}: HTTP 404",
    }
    assert requested == ["HEAD /jd/1.html"]  # once per check; portal links are never requested
