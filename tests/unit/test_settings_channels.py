"""GOVPUB_CHANNELS accepts the documented comma-separated form and a JSON list."""

import pytest

from govpub.errors import ConfigurationError
from govpub.settings import load_settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [("rss,wechat", ["rss", "wechat"]), (' ["rss", "weibo"]', ["rss", "weibo"]), ("rss", ["rss"])],
)
def test_channels_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("GOVPUB_CHANNELS", value)
    assert load_settings().channels == expected


def test_broken_channels_list_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVPUB_CHANNELS", "[rss")
    with pytest.raises(ConfigurationError, match="GOVPUB_CHANNELS"):
        load_settings()
