"""Settings read from the environment."""

import pytest

from govpub.errors import ConfigurationError
from govpub.settings import load_settings


@pytest.mark.parametrize(
    ("value", "channels"),
    [
        ("rss", ["rss"]),
        ("rss,website", ["rss", "website"]),
        (" rss , catalog ,", ["rss", "catalog"]),
        ('["rss", "webhook"]', ["rss", "webhook"]),
    ],
)
def test_channels_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, channels: list[str]
) -> None:
    monkeypatch.setenv("GOVPUB_CHANNELS", value)
    assert load_settings().channels == channels


def test_a_broken_channel_list_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVPUB_CHANNELS", '["rss",')
    with pytest.raises(ConfigurationError, match=r"GOVPUB_CHANNELS: .*not a JSON list"):
        load_settings()
