"""Consumers: one runner per channel (own consumer group, retries, dead letters) and
redrive of dead letters. The runner's contract with a channel is
:mod:`consumers.channel`; the delivery records it writes are :mod:`govpub.deliveries`.

The names below are imported on first use, not with the package: what needs only the
channel contract (the registry, a channel's settings) does not load the runner.
``redrive`` is imported from :mod:`consumers.redrive`: a lazy name cannot be the name of
a submodule too.
"""

from typing import TYPE_CHECKING

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from consumers.deadletter import DeadLetter
    from consumers.redrive import read_dead_letters
    from consumers.retry import RetryPolicy
    from consumers.runner import ChannelRunner, RunStats

__all__ = [
    "ChannelRunner",
    "DeadLetter",
    "RetryPolicy",
    "RunStats",
    "read_dead_letters",
]

_LAZY = {
    "DeadLetter": "consumers.deadletter",
    "read_dead_letters": "consumers.redrive",
    "RetryPolicy": "consumers.retry",
    "ChannelRunner": "consumers.runner",
    "RunStats": "consumers.runner",
}

__getattr__ = lazy_names(__name__, _LAZY)
