"""Markup hygiene: bodies keep an allow-list of HTML, plain text keeps no markup at all."""

import pytest

from channels.text import html_to_text
from govpub.compliance.sanitize import sanitize_html, strip_markup
from tests.xss import VECTORS, html_problems, text_problems


@pytest.mark.parametrize("vector", VECTORS)
def test_html_bodies_keep_only_the_allow_list(vector: str) -> None:
    cleaned = sanitize_html(f"<p>正文{vector}结束</p>")
    assert html_problems(cleaned) == []
    assert "javascript:" not in cleaned.lower()
    assert "正文" in cleaned


@pytest.mark.parametrize("vector", VECTORS)
def test_the_text_of_a_sanitized_body_reads_as_no_markup(vector: str) -> None:
    # Feeds turn bodies into text and readers render that text as HTML.
    assert text_problems(html_to_text(sanitize_html(f"<p>正文{vector}</p>"))) == []


def test_escaped_markup_in_a_body_stays_readable() -> None:
    cleaned = sanitize_html("<p>请勿在网页中使用 &lt;script&gt; 标签，且 1 &lt; 2。</p>")
    assert cleaned == "<p>请勿在网页中使用 ＜script&gt; 标签，且 1 &lt; 2。</p>"


@pytest.mark.parametrize("vector", VECTORS)
def test_plain_text_keeps_no_markup(vector: str) -> None:
    cleaned = strip_markup(f"标题{vector}")
    assert text_problems(cleaned) == []
    assert cleaned.startswith("标题")


def test_plain_text_without_markup_is_unchanged() -> None:
    for text in ["a < b", "5>3", "罚款 < 5万元", "AT&T 与 R&D", "《安全生产法》第97条", "x&y;"]:
        assert strip_markup(text) == text


def test_sanitize_keeps_structure_and_safe_links() -> None:
    body = (
        '<h2>一、背景</h2><p>见<a href="https://www.example.org/a?x=1&amp;y=2">附件</a>。</p>'
        '<table><tr><td colspan="2">表格</td></tr></table><ul><li>一</li></ul>'
    )
    cleaned = sanitize_html(body)
    assert "<h2>一、背景</h2>" in cleaned
    assert 'href="https://www.example.org/a?x=1&amp;y=2"' in cleaned
    assert 'rel="noopener noreferrer"' in cleaned
    assert '<td colspan="2">表格</td>' in cleaned
    assert "<li>一</li>" in cleaned
    assert html_problems(cleaned) == []


def test_sanitize_is_stable() -> None:
    for vector in VECTORS:
        once = sanitize_html(vector)
        assert sanitize_html(once) == once
        text = strip_markup(vector)
        assert strip_markup(text) == text
