"""A channel that cannot be built (bad configuration) reports why; the others still run."""

from collections.abc import Callable

from govpub.app.channels import run_channels
from govpub.errors import ConfigurationError
from govpub.settings import Settings


def test_unbuildable_channel_reports_its_error_and_others_run(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()  # no GOVPUB_NEWMEDIA_ROUTES: the wechat channel cannot start
    results = {r.channel: r for r in run_channels(settings, ["rss", "wechat"], until_idle=True)}
    assert isinstance(results["wechat"].error, ConfigurationError)
    assert "GOVPUB_NEWMEDIA_ROUTES" in str(results["wechat"].error)
    assert results["rss"].error is None
    assert results["rss"].stats is not None
