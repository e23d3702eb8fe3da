"""The bus contract, shared by the embedded SQLite log and Kafka.

Guarantees both transports give (and the contract suite checks):

* records with the same key land on the same partition and are read in send order;
* a send either returns its position or raises :class:`~govpub.errors.PublishFailed`;
* consumer groups are independent; each commits its own positions;
* records past the last committed position are delivered again after a crash or restart;
* the bus never decodes values, so a broken value cannot block its partition.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, Self


@dataclass(frozen=True, slots=True, order=True)
class TopicPartition:
    """One partition of one topic."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """A message read from the bus."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def tp(self) -> TopicPartition:
        """The record's topic-partition."""
        return TopicPartition(self.topic, self.partition)


@dataclass(frozen=True, slots=True)
class GroupMember:
    """One member of a consumer group and the partitions it holds."""

    member_id: str
    host: str
    partitions: frozenset[TopicPartition]


@dataclass(frozen=True, slots=True)
class GroupDescription:
    """A consumer group as the bus sees it: its state and its members."""

    group: str
    state: str
    """Kafka's group state (``Stable``, ``PreparingRebalance``, ``CompletingRebalance``,
    ``Empty``, ``Dead``); the embedded log knows ``Stable`` and ``Empty``."""
    members: tuple[GroupMember, ...]

    def explain(self) -> str:
        """One line for an operator: the state, and who holds how many partitions."""
        if not self.members:
            return f"group {self.group} is {self.state} with no members"
        held = "; ".join(
            f"{m.member_id} on {m.host or '?'} holds {len(m.partitions)}" for m in self.members
        )
        return f"group {self.group} is {self.state} with {len(self.members)} member(s): {held}"


@dataclass(frozen=True, slots=True)
class SendResult:
    """Where an acknowledged message was stored."""

    topic: str
    partition: int
    offset: int


class SendFuture(Protocol):
    """The pending result of a send."""

    def result(self, timeout: float | None = None) -> SendResult:
        """Wait for the acknowledgement; raises ``PublishFailed`` if there is none."""
        ...


class Producer(Protocol):
    """Sends messages; thread-safe."""

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> SendFuture:
        """Queue a message; the future resolves once the bus has stored it."""
        ...

    def flush(self, timeout: float | None = None) -> None:
        """Push every queued message to the bus."""
        ...

    def close(self) -> None:
        """Flush and release the connection."""
        ...


class Consumer(Protocol):
    """Reads records for one consumer group (or for no group: everything, from the start)."""

    def poll(self, timeout: float, max_records: int) -> list[Record]:
        """Return up to ``max_records`` records, waiting up to ``timeout`` seconds for the first
        (a member that is joining its group finishes joining first: see the transports)."""
        ...

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit, for each partition, the offset of the next record to read."""
        ...

    def assignment(self) -> set[TopicPartition]:
        """Partitions this member currently reads."""
        ...

    def lag(self) -> dict[TopicPartition, int]:
        """Records not yet read on each assigned partition."""
        ...

    def positions(self) -> dict[TopicPartition, int]:
        """For each assigned partition, the offset of the next record this member reads."""
        ...

    def close(self) -> None:
        """Leave the group without committing."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class Bus(Protocol):
    """A transport: topics with partitions, offsets and consumer groups."""

    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create the topics that do not exist yet, with the configured partition count."""
        ...

    def producer(self) -> Producer:
        """A new producer."""
        ...

    def consumer(self, topics: Sequence[str], *, group: str | None) -> Consumer:
        """A consumer of ``topics`` in ``group``; ``group=None`` reads all partitions from
        the beginning and cannot commit."""
        ...

    def committed_lag(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """For each partition: records after the group's committed position."""
        ...

    def committed_offsets(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """For each partition: the group's committed position (0 where it has none)."""
        ...

    def end_offsets(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """For each partition: the offset the next record will get."""
        ...

    def describe_group(self, group: str) -> GroupDescription:
        """The group's state and members, to explain to an operator why a member waits."""
        ...

    def close(self) -> None:
        """Release the transport."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
