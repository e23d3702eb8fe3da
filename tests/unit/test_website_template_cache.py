"""The website's compiled templates are kept between processes, and a cache that cannot be
written never stops the website (issue 21: compiling them was a tenth of a short run)."""

import shutil
from pathlib import Path

from channels.urls import SiteUrls
from channels.website.render import SiteRenderer, TemplateCache


def renderer(cache: TemplateCache) -> SiteRenderer:
    return SiteRenderer(
        SiteUrls("https://www.example.gov.cn/"),
        site_title="某市人民政府",
        page_size=20,
        template_cache=cache,
    )


def cached(directory: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in directory.iterdir()}


def test_a_second_process_uses_the_compiled_templates(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    first = renderer(TemplateCache(str(directory))).library_index([])
    kept = cached(directory)
    assert kept  # the templates of the page, compiled once
    again = renderer(TemplateCache(str(directory))).library_index([])
    assert again == first  # the same bytes from the cached code
    assert cached(directory) == kept  # loaded, not compiled and written again


def test_a_cache_that_cannot_be_written_is_passed_over(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    cache = TemplateCache(str(directory))
    shutil.rmtree(directory)  # a cleaner emptied the temporary directory
    expected = renderer(TemplateCache(str(tmp_path))).library_index([])
    assert renderer(cache).library_index([]) == expected
    assert not directory.exists()
