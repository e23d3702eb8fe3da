"""``govpub serve``: content types, validators and 304s, no way out of the root."""

import email.utils
import http.client
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govpub.app.serve import StaticServer, content_type, serving
from govpub.errors import ConfigurationError
from govpub.files import atomic_write


@pytest.fixture
def root(tmp_path: Path) -> Path:
    site = tmp_path / "public"
    files = {
        "index.html": "<!DOCTYPE html><title>首页</title>",
        "policy/index.html": "<!DOCTYPE html><title>政策文件</title>",
        "policy/p1.html": "<!DOCTYPE html><title>文件</title>",
        "feeds/all.xml": "<rss version='2.0'></rss>",
        "feeds/all.atom": "<feed xmlns='http://www.w3.org/2005/Atom'></feed>",
        "feeds/dept/zz-yjj.xml": "<rss version='2.0'></rss>",
        "sitemap.xml": "<sitemapindex/>",
        "api/policy.json": '{"items": []}',
        "assets/site.css": "body{}",
        "notes.bin": "x",
        ".index.html.123.tmp": "half-written",
    }
    for name, text in files.items():
        atomic_write(site / name, text.encode("utf-8"))
    (tmp_path / "secret.txt").write_text("outside the root", "utf-8")
    os.symlink(tmp_path / "secret.txt", site / "leak.txt")
    return site


@pytest.fixture
def server(root: Path) -> Iterator[StaticServer]:
    with serving(root) as server:
        yield server


def get(
    server: StaticServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        # http.client sends the path as given: no normalisation on the client side.
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/index.html", "text/html; charset=utf-8"),
        ("/feeds/all.xml", "application/rss+xml; charset=utf-8"),
        ("/feeds/dept/zz-yjj.xml", "application/rss+xml; charset=utf-8"),
        ("/feeds/all.atom", "application/atom+xml; charset=utf-8"),
        ("/sitemap.xml", "application/xml; charset=utf-8"),
        ("/api/policy.json", "application/json; charset=utf-8"),
        ("/assets/site.css", "text/css; charset=utf-8"),
        ("/notes.bin", "application/octet-stream"),
    ],
)
def test_content_types(server: StaticServer, path: str, expected: str) -> None:
    status, headers, _ = get(server, path)
    assert status == 200
    assert headers["Content-Type"] == expected
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_content_type_rules() -> None:
    assert content_type("feeds/policy.xml").startswith("application/rss+xml")
    assert content_type("sitemaps/policy-1.xml").startswith("application/xml")
    assert content_type("policy/P1.HTML").startswith("text/html")


def test_html_gets_a_no_script_policy(server: StaticServer) -> None:
    _, headers, _ = get(server, "/policy/p1.html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    _, headers, _ = get(server, "/feeds/all.xml")
    assert "Content-Security-Policy" not in headers


def test_body_and_length(server: StaticServer) -> None:
    status, headers, body = get(server, "/policy/p1.html")
    assert status == 200
    assert body == "<!DOCTYPE html><title>文件</title>".encode()
    assert headers["Content-Length"] == str(len(body))
    status, headers, body = get(server, "/policy/p1.html", method="HEAD")
    assert status == 200
    assert body == b""
    assert headers["Content-Length"] == str(len("<!DOCTYPE html><title>文件</title>".encode()))


def test_directory_urls_serve_their_index(server: StaticServer) -> None:
    status, headers, body = get(server, "/policy/")
    assert status == 200
    assert "政策文件" in body.decode()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    status, headers, _ = get(server, "/policy")
    assert status == 301
    assert headers["Location"] == "/policy/"
    status, _, body = get(server, "/")
    assert status == 200
    assert "首页" in body.decode()
    status, _, _ = get(server, "/feeds/")  # a directory without index.html
    assert status == 404


def test_query_strings_are_ignored(server: StaticServer) -> None:
    status, _, body = get(server, "/policy/p1.html?utm=1")
    assert status == 200
    assert "文件" in body.decode()


def test_etag_and_if_none_match(server: StaticServer, root: Path) -> None:
    status, headers, _ = get(server, "/feeds/all.xml")
    etag = headers["ETag"]
    assert status == 200
    assert etag.startswith('"')
    assert headers["Cache-Control"] == "no-cache"
    status, headers, body = get(server, "/feeds/all.xml", {"If-None-Match": etag})
    assert status == 304
    assert body == b""
    assert headers["ETag"] == etag
    assert get(server, "/feeds/all.xml", {"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert get(server, "/feeds/all.xml", {"If-None-Match": "*"})[0] == 304
    assert get(server, "/feeds/all.xml", {"If-None-Match": '"other"'})[0] == 200


def test_etag_follows_the_content(server: StaticServer, root: Path) -> None:
    etag = get(server, "/feeds/all.xml")[1]["ETag"]
    # A rewrite with the same bytes (a new file, as a replay makes) keeps the ETag.
    (root / "feeds" / "all.xml").unlink()
    atomic_write(root / "feeds" / "all.xml", b"<rss version='2.0'></rss>")
    assert get(server, "/feeds/all.xml")[1]["ETag"] == etag
    atomic_write(root / "feeds" / "all.xml", b"<rss version='2.0'><channel/></rss>")
    status, headers, _ = get(server, "/feeds/all.xml", {"If-None-Match": etag})
    assert status == 200
    assert headers["ETag"] != etag


def test_last_modified_and_if_modified_since(server: StaticServer, root: Path) -> None:
    past = time.time() - 3600
    os.utime(root / "sitemap.xml", (past, past))
    status, headers, _ = get(server, "/sitemap.xml")
    modified = headers["Last-Modified"]
    assert status == 200
    assert email.utils.parsedate_to_datetime(modified).timestamp() == int(past)
    assert get(server, "/sitemap.xml", {"If-Modified-Since": modified})[0] == 304
    later = email.utils.formatdate(past + 60, usegmt=True)
    assert get(server, "/sitemap.xml", {"If-Modified-Since": later})[0] == 304
    earlier = email.utils.formatdate(past - 60, usegmt=True)
    assert get(server, "/sitemap.xml", {"If-Modified-Since": earlier})[0] == 200
    assert get(server, "/sitemap.xml", {"If-Modified-Since": "not a date"})[0] == 200
    # If-None-Match wins over If-Modified-Since.
    headers_both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert get(server, "/sitemap.xml", headers_both)[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/policy/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/policy/..%2F..%2Fsecret.txt",
        "/%2E%2E%5csecret.txt",
        "/leak.txt",  # a symlink leading outside
        "/.index.html.123.tmp",  # the atomic writer's temporary file
        "/index.html%00.txt",
        "/%ff%fe",
        "/missing.html",
        "//etc/passwd",
    ],
)
def test_nothing_outside_the_root(server: StaticServer, path: str) -> None:
    status, _, body = get(server, path)
    assert status == 404
    assert b"outside the root" not in body


def test_only_loopback(root: Path) -> None:
    with pytest.raises(ConfigurationError, match="loopback"):
        StaticServer(root, "0.0.0.0", 0)
    with pytest.raises(ConfigurationError, match="not a directory"):
        StaticServer(root / "nope", "127.0.0.1", 0)


def test_url(server: StaticServer) -> None:
    host, port = server.server_address[:2]
    assert server.url == f"http://{host}:{port}/"
