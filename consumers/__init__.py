"""Consumers: one runner per channel (own consumer group, retries, dead letters),
delivery records, and redrive of dead letters."""

from consumers.deadletter import DeadLetter
from consumers.redrive import read_dead_letters, redrive
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner, RunStats
from govpub.deliveries import DeliveryLog, DeliveryRow

__all__ = [
    "ChannelRunner",
    "DeadLetter",
    "DeliveryLog",
    "DeliveryRow",
    "RetryPolicy",
    "RunStats",
    "read_dead_letters",
    "redrive",
]
