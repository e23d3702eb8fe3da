"""The channel service: runners built from the registry.

Running channels: each in its own thread, consumer group, store connection and
retries, so that a slow or failing channel never holds back another. Replaying one:
the consumers' replay with the channel looked up here.
"""

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from channels.base import ChannelContext
from channels.registry import create_channel, resolve
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner, RunStats
from consumers.safety import ChannelGuard
from govpub.bus import Bus, open_bus, transport_module
from govpub.compliance.policy import CompliancePolicy
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics

if TYPE_CHECKING:
    from consumers.replay import ReplayResult

log = logging.getLogger(__name__)


@dataclass
class ChannelResult:
    """How one channel's run ended."""

    channel: str
    stats: RunStats | None = None
    error: BaseException | None = None


def build_runner(settings: Settings, name: str, store: Store) -> ChannelRunner:
    """A runner for channel ``name`` configured from ``settings``."""
    channel = create_channel(name, ChannelContext(settings, store))
    return ChannelRunner(
        channel,
        open_bus(settings),
        store,
        Topics(settings.topic_prefix),
        policy=RetryPolicy.from_settings(settings),
        max_batch=settings.max_batch,
        poll_timeout=settings.poll_timeout,
        guard=ChannelGuard(name, store, CompliancePolicy.from_settings(settings)),
        writer_lease=settings.writer_lease,
    )


def preload(settings: Settings, names: Sequence[str]) -> None:
    """Import the transport and the named channels' packages now, as running them
    would: members forked afterwards share these imports instead of each repeating
    them."""
    import_module(transport_module(settings))
    for name in names:
        import_module(resolve(name).package)


def run_channels(
    settings: Settings,
    names: Sequence[str],
    *,
    until_idle: bool = False,
    stop: threading.Event | None = None,
) -> list[ChannelResult]:
    """Run the named channels until ``stop`` is set (or until idle); one thread each."""
    stop = stop or threading.Event()
    for name in names:  # fail fast on a misspelt name, before any thread starts
        resolve(name)
    results = [ChannelResult(name) for name in names]
    runners: list[ChannelRunner] = []
    lock = threading.Lock()

    def work(result: ChannelResult) -> None:
        with Store(settings.store) as store:
            try:
                runner = build_runner(settings, result.channel, store)
            except Exception as exc:  # a channel that cannot be built fails alone, with its reason
                log.error("channel %s cannot start: %s", result.channel, exc)
                result.error = exc
                return
            with lock:
                runners.append(runner)
            if stop.is_set():
                runner.stop()
            try:
                result.stats = runner.run(until_idle=until_idle)
            except BaseException as exc:
                log.exception("channel %s failed", result.channel)
                result.error = exc
            finally:
                runner.channel.close()

    threads = [
        threading.Thread(target=work, args=(result,), name=f"channel-{result.channel}", daemon=True)
        for result in results
    ]
    for thread in threads:
        thread.start()
    # Joined with a timeout rather than waiting on ``stop``: the command returns as soon
    # as the last channel ends (a wait on ``stop`` alone noticed that 0.1 s late on
    # average), and a stop asked for by a signal is still seen within 0.2 s.
    alive = threads
    while alive:
        alive[0].join(0.2)
        alive = [thread for thread in alive if thread.is_alive()]
        if alive and stop.is_set():
            with lock:
                for runner in runners:
                    runner.stop()
            for thread in alive:
                thread.join()
            break
    return results


def replay_channel(settings: Settings, name: str, *, bus: Bus | None = None) -> "ReplayResult":
    """Rebuild channel ``name``'s output from the topics (``govpub replay``)."""
    # Imported here: ``consume`` does not need the replay's machinery.
    from consumers.replay import replay

    resolve(name)
    return replay(
        settings,
        name,
        lambda on, store, rebuild: create_channel(name, ChannelContext(on, store, rebuild=rebuild)),
        bus=bus,
    )
