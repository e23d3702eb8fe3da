"""End to end in a real browser: emit events, consume until idle, ``govpub serve``,
and read the pages in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by ``make browser``)."""

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from govpub.settings import Settings
from tests import factories
from tests.website_support import at, exposure_batch, meeting, numbered

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SITE_TITLE = "株洲市人民政府 政府信息公开"

# Every way a department's body could try to run code; each would set a global or the
# title if it ran. The image points at a closed loopback port, so that it fails to
# load (and an onerror would fire) without any traffic leaving the machine.
HOSTILE_BODY = (
    "<p>为打造一流营商环境，现提出以下措施。</p>"
    "<script>document.title='XSS';window.__xss='script'</script>"
    "<img src=\"http://127.0.0.1:9/x.png\" onerror=\"document.title='XSS';window.__xss='onerror'\">"
    '<svg onload="window.__xss=\'svg\'"><circle r="1"/></svg>'
    "<p><a href=\"javascript:window.__xss='link'\">链接</a></p>"
    "<iframe srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>"
)


def events() -> list[dict[str, object]]:
    items: list[dict[str, object]] = list(numbered("pen", 25))
    items.append(
        at(
            factories.penalty(
                "pen-zhang",
                title="张某某非法储存危险化学品行政处罚决定",
                party_type="自然人",
                party_name="张某某",
                credit_code=None,
                penalty_types=["警告", "罚款"],
                fine_amount="20000.00",
            ),
            "2023-12-10T10:00:00+08:00",
        )
    )
    items.append(
        at(
            factories.retract("penalty", "pen-003", 2, reason="该行政处罚决定经行政复议被依法撤销"),
            "2023-12-12T15:00:00+08:00",
        )
    )
    items.append(at(factories.policy("policy-xss", body=HOSTILE_BODY), "2023-12-11T09:00:00+08:00"))
    items.append(at(factories.licence("lic-1"), "2023-05-08T10:00:00+08:00"))
    items += [exposure_batch(), meeting()]
    return items


FEES = 'year = 2023\nprovided_by = "株洲市财政局"\ntotal = "1286.45"\n'


@pytest.fixture
def served(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[str]:
    """The site built by the real commands and served by ``govpub serve``; its URL."""
    settings = make_settings()
    env = {
        **os.environ,
        "GOVPUB_BUS": settings.bus,
        "GOVPUB_STORE": str(settings.store),
        "GOVPUB_OUTPUT_DIR": str(settings.output_dir),
        "GOVPUB_TOPIC_PREFIX": settings.topic_prefix,
        "GOVPUB_CHANNELS": "website",
        "GOVPUB_POLL_TIMEOUT": "0.2",
    }
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events()), "utf-8")
    fees = tmp_path / "fees-2023.toml"
    fees.write_text(FEES, "utf-8")
    govpub = [sys.executable, "-m", "govpub.app.cli"]
    for command in (
        ["emit", str(source)],
        ["annual-report", "2023", "--fees", str(fees)],
        ["consume", "--until-idle"],
    ):
        done = subprocess.run(
            [*govpub, *command], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    server = subprocess.Popen(
        [*govpub, "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert found, f"govpub serve said {line!r}"
        yield found.group(1)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(timeout=10) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            if server.stdout is not None:
                server.stdout.close()
            if server.stderr is not None:
                server.stderr.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: run `make browser` (Debian chromium, chromium-driver)"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1400",
        "--lang=zh-CN",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    return path


def shown_items(driver: WebDriver) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "ol.items a.item-title")]


def test_site_in_a_real_browser(served: str, browser: WebDriver) -> None:
    # Home page.
    browser.get(served)
    assert browser.title == f"首页 - {SITE_TITLE}"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert browser.execute_script("return document.characterSet") == "UTF-8"
    assert "张某某非法储存危险化学品行政处罚决定" in shown_items(browser)
    screenshot(browser, "website-home")

    # A penalty against a person: the (already anonymised) name as published.
    browser.find_element(By.LINK_TEXT, "张某某非法储存危险化学品行政处罚决定").click()
    assert browser.current_url == served + "penalty/pen-zhang.html"
    assert browser.title == f"张某某非法储存危险化学品行政处罚决定 - {SITE_TITLE}"
    assert browser.find_element(By.CSS_SELECTOR, "dd.party").text == "张某某"
    assert "20,000.00 元" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "website-penalty")

    # The column index and its pagination: the newest 20, then the oldest page.
    browser.get(served + "penalty/")
    assert browser.title == f"行政处罚 - {SITE_TITLE}"
    newest = shown_items(browser)
    assert len(newest) == 20
    assert newest[0] == "张某某非法储存危险化学品行政处罚决定"
    assert "处罚决定 pen 第003号" not in newest
    browser.find_element(By.PARTIAL_LINK_TEXT, "更早的信息").click()
    assert browser.current_url == served + "penalty/page/1.html"
    assert browser.find_element(By.TAG_NAME, "h1").text == "行政处罚 · 第 1 页"
    oldest = shown_items(browser)
    assert oldest[-1] == "处罚决定 pen 第001号"
    assert "处罚决定 pen 第003号" not in oldest  # withdrawn: not listed
    assert len(oldest) == 19  # 20 positions, one withdrawn
    browser.find_element(By.PARTIAL_LINK_TEXT, "较新的信息").click()
    assert browser.current_url == served + "penalty/page/2.html"
    screenshot(browser, "website-penalty-page")

    # The withdrawal notice replaces the withdrawn decision.
    browser.get(served + "penalty/pen-003.html")
    assert browser.title == f"【已撤回】处罚决定 pen 第003号 - {SITE_TITLE}"
    notice = browser.find_element(By.CSS_SELECTOR, ".withdrawal-notice").text
    assert "该信息已于 2023-12-12 撤回。" in notice
    assert "该行政处罚决定经行政复议被依法撤销" in notice
    assert "未按规定" not in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "website-withdrawn")

    # A department's hostile body: nothing of it runs, nothing of it is in the DOM.
    browser.get(served + "policy/policy-xss.html")
    assert browser.title == f"关于进一步优化营商环境的若干措施 - {SITE_TITLE}"
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.find_elements(By.TAG_NAME, "iframe") == []
    assert browser.find_elements(By.TAG_NAME, "svg") == []
    handlers = browser.execute_script(
        "return [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
        ".filter(a => a.name.startsWith('on') || a.value.trim().toLowerCase()"
        ".startsWith('javascript:')).length"
    )
    assert handlers == 0
    body = browser.find_element(By.CSS_SELECTOR, "section.body")
    assert "为打造一流营商环境，现提出以下措施。" in body.text
    link = body.find_element(By.LINK_TEXT, "链接")
    assert link.get_attribute("href") is None
    link.click()
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    assert browser.title == f"关于进一步优化营商环境的若干措施 - {SITE_TITLE}"
    screenshot(browser, "website-policy")

    # Feed autodiscovery on an index.
    browser.get(served + "dept/zz-yjj/")
    feeds = {
        e.get_attribute("type"): e.get_attribute("href")
        for e in browser.find_elements(By.CSS_SELECTOR, "link[rel=alternate]")
        if "zz-yjj" in (e.get_attribute("href") or "")
    }
    assert feeds == {
        "application/rss+xml": served + "feeds/dept/zz-yjj.xml",
        "application/atom+xml": served + "feeds/dept/zz-yjj.atom",
    }

    # The annual report's Table 2 in the 年度报告 column: a real table, its data linked.
    browser.get(served + "report/")
    assert browser.title == f"年度报告 - {SITE_TITLE}"
    title = "株洲市人民政府2023年政府信息公开工作年度报告（二、主动公开政府信息情况）"
    browser.find_element(By.LINK_TEXT, title).click()
    assert browser.current_url == served + "report/annual-report-2023.html"
    table = browser.find_element(By.CSS_SELECTOR, "table.report")
    assert table.is_displayed()
    values = {
        row.find_element(By.CSS_SELECTOR, "th[scope=row]").text: [
            cell.text for cell in row.find_elements(By.TAG_NAME, "td")
        ]
        for row in table.find_elements(By.TAG_NAME, "tr")
        if row.find_elements(By.CSS_SELECTOR, "th[scope=row]")
    }
    # 26 penalty decisions of 2023, one withdrawn in December; one licence; no enforcement.
    assert values["行政处罚"] == ["25"]
    assert values["行政许可"] == ["1"]
    assert values["行政强制"] == ["0"]
    assert values["行政事业性收费"] == ["1286.45"]
    assert len(values["规章"]) == 3
    notes = browser.find_element(By.CSS_SELECTOR, "ol.notes").text
    assert "统计期限为2023年1月1日至12月31日（北京时间）" in notes
    csv_link = browser.find_element(By.LINK_TEXT, "CSV")
    assert csv_link.get_attribute("href") == served + "api/report/annual-report-2023.csv"
    screenshot(browser, "website-report")
    browser.get(served + "api/report/annual-report-2023.json")
    data = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert data["year"] == 2023
    assert data["url"].endswith("/report/annual-report-2023.html")
