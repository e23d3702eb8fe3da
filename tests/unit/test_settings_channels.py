"""GOVPUB_CHANNELS accepts the comma-separated form the README documents."""

import pytest

from govpub.errors import ConfigurationError
from govpub.settings import load_settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rss,website", ["rss", "website"]),
        (" rss , website ", ["rss", "website"]),
        ("website", ["website"]),
        ('["rss", "website"]', ["rss", "website"]),
    ],
)
def test_channels_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("GOVPUB_CHANNELS", value)
    assert load_settings().channels == expected


def test_bad_json_list_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVPUB_CHANNELS", "[rss")
    with pytest.raises(ConfigurationError, match="GOVPUB_CHANNELS"):
        load_settings()
