"""Settings come from GOVPUB_ variables; wrong values name the variable."""

import pytest

from govpub.errors import ConfigurationError
from govpub.settings import kafka_servers, load_settings, sqlite_path


def test_defaults_need_no_configuration() -> None:
    settings = load_settings()
    assert settings.bus_kind == "sqlite"
    assert sqlite_path(settings.bus).name == "bus.db"
    assert settings.channels == ["rss", "website"]


def test_kafka_is_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVPUB_BUS", "kafka://k1:9092,k2:9093")
    settings = load_settings()
    assert settings.bus_kind == "kafka"
    assert kafka_servers(settings.bus) == ["k1:9092", "k2:9093"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("GOVPUB_BUS", "redis://x", "GOVPUB_BUS"),
        ("GOVPUB_BUS", "kafka://nohost", "is not HOST:PORT"),
        ("GOVPUB_BUS", "sqlite:///", "needs a file path"),
        ("GOVPUB_PARTITIONS", "0", "GOVPUB_PARTITIONS"),
        ("GOVPUB_SITE_URL", "not a url", "GOVPUB_SITE_URL"),
        ("GOVPUB_TOPIC_PREFIX", "bad prefix!", "GOVPUB_TOPIC_PREFIX"),
    ],
)
def test_bad_values_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=expected):
        load_settings()


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
