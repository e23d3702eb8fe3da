"""Topic and consumer-group names, derived from one prefix (``GOVPUB_TOPIC_PREFIX``)."""

from dataclasses import dataclass

from schemas.enums import Kind


@dataclass(frozen=True)
class Topics:
    """Names of govpub's topics and groups: ``<prefix>.<kind>``, ``<prefix>.dlq``,
    ``<prefix>.channel.<name>``."""

    prefix: str = "govpub"

    def for_kind(self, kind: Kind | str) -> str:
        """The topic that carries events of ``kind``."""
        return f"{self.prefix}.{Kind(kind).value}"

    @property
    def content(self) -> list[str]:
        """Every content topic, one per kind."""
        return [self.for_kind(kind) for kind in Kind]

    @property
    def dlq(self) -> str:
        """The dead-letter topic shared by every channel."""
        return f"{self.prefix}.dlq"

    @property
    def all(self) -> list[str]:
        """Content topics and the dead-letter topic."""
        return [*self.content, self.dlq]

    def channel_group(self, channel: str) -> str:
        """The consumer group of a channel."""
        return f"{self.prefix}.channel.{channel}"

    def redrive_group(self, channel: str) -> str:
        """The consumer group that redrives a channel's dead letters."""
        return f"{self.prefix}.dlq.redrive.{channel}"
