"""Relative links between pages of the output tree."""

import posixpath
from pathlib import PurePosixPath

import pytest

from channels.website.paths import Linker, ListRef


@pytest.mark.parametrize(
    ("page", "target"),
    [
        ("index.html", "policy/index.html"),
        ("index.html", "index.html"),
        ("policy/p1.html", "policy/index.html"),
        ("policy/p1.html", "penalty/x.html"),
        ("policy/index.html", "index.html"),
        ("policy/page/2.html", "policy/page/3.html"),
        ("policy/page/2.html", "policy/index.html"),
        ("dept/zz-yjj/page/1.html", "feeds/dept/zz-yjj.xml"),
        ("dept/zz-yjj/index.html", "dept/zz-yjj/page/1.html"),
        ("exposure/e.html", "assets/site.css"),
    ],
)
def test_links_match_relpath(page: str, target: str) -> None:
    expected = posixpath.relpath(target, posixpath.dirname(page) or ".")
    assert Linker(PurePosixPath(page))(target) == expected
    assert Linker(PurePosixPath(page))(PurePosixPath(target)) == expected


def test_list_paths() -> None:
    kind, dept = ListRef.for_kind("penalty"), ListRef.for_department("zz-yjj")
    assert str(kind.index_path) == "penalty/index.html"
    assert str(kind.page_path(3)) == "penalty/page/3.html"
    assert str(kind.api_path) == "api/penalty.json"
    assert str(kind.api_page_path(3)) == "api/penalty/page/3.json"
    assert str(kind.sitemap_path(2)) == "sitemaps/penalty-2.xml"
    assert str(dept.index_path) == "dept/zz-yjj/index.html"
    assert str(dept.page_path(1)) == "dept/zz-yjj/page/1.html"
    assert str(dept.api_path) == "api/dept/zz-yjj.json"
    assert dept.department == "zz-yjj"
    assert dept.kind is None
    assert kind.department is None
