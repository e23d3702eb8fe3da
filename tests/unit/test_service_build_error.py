"""A channel that cannot be built (bad configuration) reports why; the others still run."""

import threading
import time
from collections.abc import Callable

from consumers.lease import Lease
from govpub.app.channels import ChannelResult, run_channels
from govpub.errors import ConfigurationError
from govpub.settings import Settings
from govpub.store import Store


def test_unbuildable_channel_reports_its_error_and_others_run(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()  # no GOVPUB_NEWMEDIA_ROUTES: the wechat channel cannot start
    results = {r.channel: r for r in run_channels(settings, ["rss", "wechat"], until_idle=True)}
    assert isinstance(results["wechat"].error, ConfigurationError)
    assert "GOVPUB_NEWMEDIA_ROUTES" in str(results["wechat"].error)
    assert results["rss"].error is None
    assert results["rss"].stats is not None


def test_a_stop_ends_every_channel_that_runs_without_end(
    make_settings: Callable[..., Settings],
) -> None:
    """``run_channels`` without ``until_idle`` returns once ``stop`` is set (a signal to
    ``govpub consume``), each channel having finished its batch."""
    settings = make_settings()
    stop = threading.Event()
    done: list[list[ChannelResult]] = []
    worker = threading.Thread(
        target=lambda: done.append(run_channels(settings, ["rss", "website"], stop=stop))
    )
    worker.start()
    try:
        # The website's runner is at work once it holds its lease (taken before it joins
        # its group); the rss runner has started by then or starts with the stop set.
        deadline = time.monotonic() + 120
        with Store(settings.store) as store:
            lease = Lease(store, "channel:website", ttl=1)
            while lease.current() is None:
                assert time.monotonic() < deadline, "the website's runner never started"
                time.sleep(0.05)
    finally:
        stop.set()
        worker.join(120)
    assert not worker.is_alive()
    [results] = done
    assert [(r.channel, r.error) for r in results] == [("rss", None), ("website", None)]
    assert all(r.stats is not None for r in results)
