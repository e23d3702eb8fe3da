"""Department HTML is cut to an allow-list: XSS vectors never reach a page."""

import re
from collections.abc import Callable

import pytest

from channels.website.sanitize import sanitize_html
from govpub.settings import Settings
from tests import factories
from tests.website_support import Site, campaign, meeting

VECTORS = [
    "<script>document.title='pwned'</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=\"document.title='pwned'\">",
    "<img src=https://ok.example/a.png onload=alert(1)>",
    "<svg onload=alert(1)><circle/></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<a href="javascript:alert(1)">点我</a>',
    '<a href="JaVaScRiPt:alert(1)">点我</a>',
    '<a href="&#106;avascript:alert(1)">点我</a>',
    '<a href="data:text/html,<script>alert(1)</script>">点我</a>',
    '<a href="vbscript:msgbox(1)">点我</a>',
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<form action="https://evil.example/"><input name=q><button>提交</button></form>',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<p style="background:url(javascript:alert(1))">样式</p>',
    "<style>body{display:none}</style>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<base href="https://evil.example/">',
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<p><!--<script>alert(1)</script>--></p>",
    "<scr<script>ipt>alert(1)</script>",
    '<div id="main" class="site">冒充</div>',
    "<video src=x onerror=alert(1)></video><audio src=x onerror=alert(1)></audio>",
    '<table background="javascript:alert(1)"><tr><td>1</td></tr></table>',
]

_DANGEROUS = re.compile(
    r"<\s*(script|iframe|object|embed|form|input|style|link|meta|base|svg|math|template|video|audio)\b"
    r"|\son[a-z]+\s*=|javascript:|vbscript:|data:|\sstyle\s*=|\sclass\s*=|\sid\s*=",
    re.IGNORECASE,
)


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_is_neutralised(vector: str) -> None:
    cleaned = str(sanitize_html(f"<p>正文</p>{vector}<p>结尾</p>"))
    assert not _DANGEROUS.search(cleaned), cleaned
    assert "<p>正文</p>" in cleaned
    assert "<p>结尾</p>" in cleaned


def test_structure_is_kept() -> None:
    html = (
        "<h2>一、总则</h2><p>第一条 <strong>重要</strong><em>说明</em></p>"
        '<ol start="2"><li>甲</li></ol><ul><li>乙</li></ul>'
        '<table><thead><tr><th scope="col">项目</th></tr></thead>'
        '<tbody><tr><td colspan="2">标准</td></tr></tbody></table>'
        '<p><a href="https://www.example.org/a.pdf" title="附件">附件</a></p>'
        '<p><img src="https://www.example.org/a.png" alt="图"></p>'
    )
    cleaned = str(sanitize_html(html))
    for kept in (
        "<h2>一、总则</h2>",
        "<strong>重要</strong>",
        "<em>说明</em>",
        '<ol start="2">',
        '<th scope="col">项目</th>',
        '<td colspan="2">标准</td>',
        'href="https://www.example.org/a.pdf"',
        'rel="noopener noreferrer nofollow"',
        'src="https://www.example.org/a.png"',
        'alt="图"',
    ):
        assert kept in cleaned, kept


def test_relative_urls_are_dropped() -> None:
    cleaned = str(sanitize_html('<a href="../penalty/x.html">x</a><img src="/logo.png">'))
    assert "href" not in cleaned
    assert "src" not in cleaned


def test_h1_is_reserved_for_the_page_title() -> None:
    assert str(sanitize_html("<h1>标题</h1><p>正文</p>")) == "标题<p>正文</p>"


def test_every_html_field_is_sanitised_on_its_page(make_settings: Callable[..., Settings]) -> None:
    payload = "<p>安全</p><script>window.__xss=1</script><img src=x onerror=alert(1)>"
    site = Site(make_settings())
    try:
        site.publish(
            factories.policy("p1", body=payload, interpretation={"title": "解读", "body": payload}),
            meeting(press_release=payload, interpretation={"title": "解读", "body": payload}),
            campaign(body=payload),
        )
        for path in ("policy/p1.html", "meeting/meeting-1.html", "campaign/campaign-1.html"):
            html = site.text(path)
            assert "<p>安全</p>" in html
            assert "<script" not in html
            assert "onerror" not in html
            assert "__xss" not in html
    finally:
        site.close()
