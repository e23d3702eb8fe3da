"""Consumers: one runner per channel (own consumer group, retries, dead letters) and
redrive of dead letters. The runner's contract with a channel is
:mod:`consumers.channel`; the delivery records it writes are :mod:`govpub.deliveries`."""

from consumers.deadletter import DeadLetter
from consumers.redrive import read_dead_letters, redrive
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner, RunStats

__all__ = [
    "ChannelRunner",
    "DeadLetter",
    "RetryPolicy",
    "RunStats",
    "read_dead_letters",
    "redrive",
]
