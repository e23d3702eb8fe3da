"""Bus transports: the embedded SQLite log (default) and Apache Kafka.

:func:`open_bus` picks one from ``GOVPUB_BUS``; both satisfy :class:`Bus`.
"""

from govpub.bus.base import (
    Bus,
    Consumer,
    GroupDescription,
    GroupMember,
    Producer,
    Record,
    SendFuture,
    SendResult,
    TopicPartition,
)
from govpub.settings import Settings, kafka_servers, sqlite_path


def transport_module(settings: Settings) -> str:
    """The module of the transport selected by ``settings.bus``, imported by
    :func:`open_bus` when it is first needed."""
    return "govpub.bus.kafka" if settings.bus_kind == "kafka" else "govpub.bus.sqlite"


def open_bus(settings: Settings) -> Bus:
    """The transport selected by ``settings.bus``."""
    if settings.bus_kind == "kafka":
        from govpub.bus.kafka import KafkaBus  # imported only when Kafka is selected

        return KafkaBus(
            kafka_servers(settings.bus),
            client_id=settings.client_id,
            partitions=settings.partitions,
            replication_factor=settings.replication_factor,
            session_timeout=settings.session_timeout,
        )
    from govpub.bus.sqlite import SqliteBus

    return SqliteBus(
        sqlite_path(settings.bus),
        partitions=settings.partitions,
        session_timeout=settings.session_timeout,
    )


__all__ = [
    "Bus",
    "Consumer",
    "GroupDescription",
    "GroupMember",
    "Producer",
    "Record",
    "SendFuture",
    "SendResult",
    "TopicPartition",
    "open_bus",
    "transport_module",
]
