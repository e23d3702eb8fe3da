"""The Kafka transport: the one module that talks to kafka-python.

Producers are idempotent with ``acks=all``; a send that the broker does not
acknowledge raises :class:`~govpub.errors.PublishFailed`. Consumers never
auto-commit: the runner commits after it has processed and recorded a record,
so delivery is at-least-once.
"""

import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.admin import NewTopic, OffsetSpec
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from kafka.structs import MemberState, OffsetAndMetadata

from govpub.bus.base import GroupDescription, GroupMember, Record, SendResult, TopicPartition
from govpub.bus.sqlite import check_topic_name
from govpub.errors import BusError, CommitFailed, PublishFailed

log = logging.getLogger(__name__)

# How often a group member tells the coordinator it is alive (and hears of a rebalance).
HEARTBEAT_INTERVAL_MS = 100
# How long a poll waits at most for a group join in progress before it returns (the
# runner renews the website's lease between polls).
JOIN_WAIT_MS = 500


class KafkaBus:
    """The Kafka transport (``GOVPUB_BUS=kafka://HOST:PORT[,HOST:PORT]``)."""

    def __init__(
        self,
        servers: Sequence[str],
        *,
        client_id: str = "govpub",
        partitions: int = 3,
        replication_factor: int = 1,
        session_timeout: float = 10.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.servers = list(servers)
        self.client_id = client_id
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.session_timeout_ms = int(session_timeout * 1000)
        self.request_timeout_ms = int(request_timeout * 1000)

    @property
    def _heartbeat_interval_ms(self) -> int:
        # A member learns that another is joining only from a heartbeat's answer, and the
        # newcomer gets no partitions until every member has rejoined: with a third of the
        # session timeout (3.3 s) a second process started beside a first waited that long
        # with half the partitions idle. Every member already in the group sits in its
        # JoinGroup until the last one has heard: with 500 ms, three rss processes started
        # together spent a tenth of their run waiting in joins (two processes, 2 %), and
        # three were slower than two. 100 ms brought that to 2-5 % and costs the broker
        # ten small requests a second per member.
        return min(HEARTBEAT_INTERVAL_MS, self.session_timeout_ms // 3)

    @property
    def _join_wait_ms(self) -> int:
        # Not the heartbeat interval: a join waits for every member to rejoin, and polls
        # that gave up on it after 100 ms began a new generation each (a group of two went
        # through four in a second, and a commit between them was refused).
        return min(JOIN_WAIT_MS, self.session_timeout_ms // 3)

    def _admin(self) -> KafkaAdminClient:
        try:
            return KafkaAdminClient(
                bootstrap_servers=self.servers,
                client_id=self.client_id,
                request_timeout_ms=self.request_timeout_ms,
            )
        except KafkaError as exc:
            raise BusError(f"cannot reach Kafka at {','.join(self.servers)}: {exc}") from None

    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create missing topics with the configured partitions and replication, and wait
        until every partition of every topic has a leader.

        A consumer that joins its group before the broker's metadata lists a new topic's
        partitions is assigned none of them until its metadata is refreshed; waiting
        here spares every caller that race.
        """
        names = list(topics)
        for name in names:
            check_topic_name(name)
        admin = self._admin()
        try:
            missing = sorted(set(names) - set(admin.list_topics()))
            if missing:
                # Another process may create them first; that is fine.
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(
                        [NewTopic(n, self.partitions, self.replication_factor) for n in missing]
                    )
                log.info("created topics %s", ", ".join(missing))
            self._wait_for_leaders(admin, names)
        except KafkaError as exc:
            raise BusError(f"cannot create topics {names}: {exc}") from None
        finally:
            admin.close()

    def _wait_for_leaders(self, admin: KafkaAdminClient, names: list[str]) -> None:
        deadline = time.monotonic() + self.request_timeout_ms / 1000
        pause = 0.05
        while True:
            waiting = sorted(
                topic["name"]
                for topic in admin.describe_topics(names)
                if topic["error_code"] != 0
                or not topic["partitions"]
                or any(p["error_code"] != 0 or p["leader_id"] < 0 for p in topic["partitions"])
            )
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise BusError(
                    f"topics {', '.join(waiting)} have no leader for every partition after"
                    f" {self.request_timeout_ms / 1000:.0f} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def producer(self) -> "KafkaBusProducer":
        """An idempotent producer (acks=all)."""
        try:
            producer = KafkaProducer(
                bootstrap_servers=self.servers,
                client_id=self.client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                delivery_timeout_ms=max(30_000, self.request_timeout_ms + 5_000),
                request_timeout_ms=self.request_timeout_ms,
                max_block_ms=self.request_timeout_ms,
            )
        except KafkaError as exc:
            raise BusError(f"cannot reach Kafka at {','.join(self.servers)}: {exc}") from None
        return KafkaBusProducer(producer)

    def consumer(self, topics: Sequence[str], *, group: str | None) -> "KafkaBusConsumer":
        """A consumer in ``group`` (manual commits, earliest reset), or of everything."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "client_id": self.client_id,
            "group_id": group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self._heartbeat_interval_ms,
            "request_timeout_ms": self.request_timeout_ms,
            # A member that joins before the broker has metadata for a new topic is
            # assigned nothing until its metadata is refreshed (5 minutes by default);
            # a short refresh makes it rejoin with the partitions within seconds.
            "metadata_max_age_ms": 5_000,
            # Every partition of every content topic dealt out in turn, so that members
            # differ by one partition at most (kafka-python's default, the range assignor,
            # splits each topic on its own: with 2 members and 3 partitions a topic, one
            # member got 10 of 15). Range stays listed second so that a group still running
            # older members can agree on it while they are replaced.
            "partition_assignment_strategy": (
                RoundRobinPartitionAssignor,
                RangePartitionAssignor,
            ),
        }
        membership = _Membership()
        try:
            consumer = KafkaConsumer(**config)
            if group is None:
                partitions = [
                    KafkaTopicPartition(topic, p)
                    for topic in topics
                    for p in sorted(consumer.partitions_for_topic(topic) or ())
                ]
                consumer.assign(partitions)
                consumer.seek_to_beginning(*partitions)
            else:
                # Know the topics' partitions before the first JoinGroup, so that this
                # member's first assignment (when it leads the group) includes them.
                for topic in topics:
                    consumer.partitions_for_topic(topic)
                consumer.subscribe(list(topics), listener=membership)
        except KafkaError as exc:
            raise BusError(
                f"cannot consume from Kafka at {','.join(self.servers)}: {exc}"
            ) from None
        # A poll waits for a join at most JOIN_WAIT_MS at a time, so that what its caller
        # renews between polls (the website's lease) is renewed in time.
        return KafkaBusConsumer(
            consumer, group, membership=membership, join_wait=self._join_wait_ms / 1000
        )

    def committed_lag(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """Records after ``group``'s committed position, per partition."""
        ends, committed = self._ends_and_committed(group, topics)
        return {tp: end - committed.get(tp, 0) for tp, end in ends.items()}

    def committed_offsets(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """``group``'s committed position per partition (0 where it has none)."""
        ends, committed = self._ends_and_committed(group, topics)
        return {tp: committed.get(tp, 0) for tp in ends}

    def _ends_and_committed(
        self, group: str, topics: Sequence[str]
    ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        admin = self._admin()
        try:
            return self._end_offsets(admin, topics), self._group_offsets(admin, group)
        finally:
            admin.close()

    def end_offsets(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """The offset the next record of each partition will get (none for a topic that
        does not exist)."""
        admin = self._admin()
        try:
            return self._end_offsets(admin, topics)
        finally:
            admin.close()

    @staticmethod
    def _group_offsets(admin: KafkaAdminClient, group: str) -> dict[TopicPartition, int]:
        try:
            found = admin.list_group_offsets(group).get(group, {})
        except KafkaError as exc:
            raise BusError(f"cannot read the offsets of group {group}: {exc}") from None
        return {
            TopicPartition(tp.topic, tp.partition): meta.offset
            for tp, meta in found.items()
            if meta is not None and meta.offset >= 0
        }

    @staticmethod
    def _end_offsets(admin: KafkaAdminClient, topics: Sequence[str]) -> dict[TopicPartition, int]:
        # The admin client's metadata and ListOffsets requests, not a throw-away consumer:
        # a new consumer's first metadata lookup waits out a retry backoff (about 0.1 s of
        # every lag check, three of them in each run of a consumer).
        names = list(topics)
        if not names:
            return {}
        try:
            described = {topic["name"]: topic for topic in admin.describe_topics(names)}
            partitions = [
                KafkaTopicPartition(name, partition["partition_index"])
                for name in names
                if name in described and described[name]["error_code"] == 0
                for partition in sorted(
                    described[name]["partitions"], key=lambda p: p["partition_index"]
                )
            ]
            found = (
                admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
                if partitions
                else {}
            )
        except KafkaError as exc:
            raise BusError(f"cannot read end offsets of {names}: {exc}") from None
        return {
            TopicPartition(tp.topic, tp.partition): found[tp].offset
            for tp in partitions
            if tp in found
        }

    def describe_group(self, group: str) -> GroupDescription:
        """The group's state and its members' assignments, as the coordinator reports them."""
        admin = self._admin()
        try:
            found = admin.describe_groups([group]).get(group, {})
        except KafkaError as exc:
            raise BusError(f"cannot describe group {group}: {exc}") from None
        finally:
            admin.close()
        members = []
        for member in found.get("members", []):
            # kafka-python decodes the assignment into {"assigned_partitions": [{"topic",
            # "partitions"}]}; anything else (another protocol's bytes) holds nothing we know.
            assignment = member.get("member_assignment")
            assigned = (
                assignment.get("assigned_partitions", []) if isinstance(assignment, dict) else []
            )
            members.append(
                GroupMember(
                    str(member.get("member_id", "")),
                    str(member.get("client_host", "")).lstrip("/"),
                    frozenset(
                        TopicPartition(entry["topic"], partition)
                        for entry in assigned
                        for partition in entry["partitions"]
                    ),
                )
            )
        return GroupDescription(group, str(found.get("group_state") or "Dead"), tuple(members))

    def close(self) -> None:
        """Nothing to release: every producer and consumer owns its connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _KafkaSendFuture:
    def __init__(self, future: Any) -> None:
        self._future = future

    def result(self, timeout: float | None = None) -> SendResult:
        try:
            meta = self._future.get(timeout=timeout)
        except KafkaError as exc:
            raise PublishFailed(f"Kafka did not acknowledge the message: {exc}") from None
        return SendResult(meta.topic, meta.partition, meta.offset)


class KafkaBusProducer:
    """Thin wrapper: kafka-python errors become ``PublishFailed``."""

    def __init__(self, producer: KafkaProducer) -> None:
        self._producer = producer

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> _KafkaSendFuture:
        """Queue a message; the future resolves on the broker's acknowledgement."""
        try:
            # kafka-python wants a list; the Publisher's already is one.
            listed = headers if isinstance(headers, list) else list(headers)
            future = self._producer.send(topic, value=value, key=key, headers=listed)
        except KafkaError as exc:
            raise PublishFailed(f"Kafka refused the message for {topic}: {exc}") from None
        return _KafkaSendFuture(future)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued message is acknowledged or failed."""
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise PublishFailed(f"Kafka flush failed: {exc}") from None

    def close(self) -> None:
        """Flush (for up to 10 s) and close; never raises, never leaves a thread behind.

        Messages still unacknowledged then are abandoned: their futures fail, and a
        caller that waited on them was told so already.
        """
        try:
            self._producer.close(timeout=10)
        except KafkaError as exc:
            # kafka-python's close() flushes first and raises when that times out,
            # leaving its sender thread running with the stuck batches. Abort them
            # (private API: pinned by the version range in pyproject.toml).
            log.warning("Kafka producer closed with messages unacknowledged: %s", exc)
            sender = getattr(self._producer, "_sender", None)
            if sender is not None:
                sender.force_close()
                sender.join(10)


class _Membership(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
    """Whether the member is half-way through joining its group: from the revocation of its
    partitions, which starts every join (the initial one too), to its new assignment."""

    def __init__(self) -> None:
        self.joining = False

    def on_partitions_revoked(self, revoked: object) -> None:
        self.joining = True

    def on_partitions_lost(self, lost: object) -> None:
        self.joining = True

    def on_partitions_assigned(self, assigned: object) -> None:
        self.joining = False


class KafkaBusConsumer:
    """Thin wrapper: records become :class:`Record`, commit failures ``CommitFailed``."""

    def __init__(
        self,
        consumer: KafkaConsumer,
        group: str | None,
        *,
        membership: _Membership | None = None,
        join_wait: float = 10.0,
    ) -> None:
        self._consumer = consumer
        self._group = group
        self._membership = membership or _Membership()
        self._join_wait = join_wait

    def poll(self, timeout: float, max_records: int) -> list[Record]:
        """Up to ``max_records`` records, in order within each partition.

        A member that is joining its group waits for the join to complete before it
        returns (for up to ``join_wait`` more, however short ``timeout`` is): see
        :meth:`_finish_joining`.
        """
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
            if not batches and self._membership.joining:
                self._finish_joining()
        except KafkaError as exc:
            raise BusError(f"Kafka poll failed: {exc}") from None
        if batches and self._membership.joining and self._rebalancing():
            # Records while a join is pending: its answer was lost before this poll could
            # collect it, so no offset read now can be committed (a channel once delivered
            # batch after batch this way for minutes, every commit refused). A new member
            # starts clean: the runner joins again from the committed positions.
            raise BusError("Kafka group join was lost; this member joins again")
        return [
            Record(
                r.topic,
                r.partition,
                r.offset,
                r.key,
                r.value if r.value is not None else b"",
                r.timestamp,
                tuple((name, value or b"") for name, value in (r.headers or ())),
            )
            for batch in batches.values()
            for r in batch
        ]

    def _finish_joining(self) -> None:
        """Wait until the group join in progress is complete (or ``join_wait`` is over).

        kafka-python 3 runs a join in the background and finishes it (the new assignment,
        heartbeats again) only in a poll that is waiting for it when it ends. A poll that
        returns half-way (its timeout shorter than the rebalance) leaves it running, and
        what the next poll does is wrong either way: a join that ended in between is thrown
        away and a new one begins (a leader's new join is a new rebalance for the whole
        group: a consumer that polled for 1 ms between 200 ms of work went through 143
        generations in 30 s without an assignment), or, when the leader's own assignment
        has cleared the reason it rejoined, nothing looks at it again: the member sends no
        heartbeat, fetches nothing, and the coordinator drops it after the session timeout,
        while it believes it is a member and leaves with an id the coordinator no longer
        knows (``UnknownMemberIdError``). So the join is waited for here, in one call that
        collects it (private API: pinned by the version range in pyproject.toml). Waiting
        is safe (the coordinator does not drop a member whose join it holds); it is
        bounded, and a join still waiting for other members then is waited for again,
        the same way, by the next poll.
        """
        coordinator = self._consumer._coordinator
        deadline = time.monotonic() + self._join_wait
        while self._membership.joining and (left := deadline - time.monotonic()) > 0:
            if not coordinator.need_rejoin():
                # The join ended or is ending with nobody to collect it: ask for it, so
                # that the wait below collects it (or, ended, makes a new one).
                coordinator.request_rejoin()
            coordinator.ensure_active_group(timeout_ms=int(left * 1000))

    def _rebalancing(self) -> bool:
        """Whether kafka-python has a JoinGroup/SyncGroup round open for this member."""
        return bool(self._consumer.group_metadata().state is MemberState.REBALANCING)

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit the next offset to read for each partition (synchronously)."""
        if self._group is None:
            raise BusError("a consumer without a group cannot commit")
        if not offsets:
            return
        try:
            self._consumer.commit(
                {
                    KafkaTopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, "", -1)
                    for tp, offset in offsets.items()
                }
            )
        except (CommitFailedError, KafkaError) as exc:
            raise CommitFailed(f"Kafka commit failed: {exc}") from None

    def assignment(self) -> set[TopicPartition]:
        """Partitions assigned to this member now."""
        return {TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def lag(self) -> dict[TopicPartition, int]:
        """Records not yet read on each assigned partition, up to the end the last fetch
        answer gave (asked of the broker for a partition not fetched yet)."""
        assigned = list(self._consumer.assignment())
        if not assigned:
            return {}
        try:
            # The high watermark of each partition's last fetch answer where there is one.
            # Asking the broker instead waits behind this consumer's fetch in flight, which
            # the broker holds for up to fetch_max_wait_ms when the partition has nothing
            # new: 0.3-0.4 s at the end of every backlog.
            ends = {tp: self._consumer.highwater(tp) for tp in assigned}
            unknown = [tp for tp, end in ends.items() if end is None]
            if unknown:
                ends.update(self._consumer.end_offsets(unknown))
            return {
                TopicPartition(tp.topic, tp.partition): end - self._consumer.position(tp)
                for tp, end in ends.items()
            }
        except KafkaError as exc:
            raise BusError(f"Kafka lag query failed: {exc}") from None

    def positions(self) -> dict[TopicPartition, int]:
        """The offset of the next record to read on each assigned partition (the committed
        one until the first fetch)."""
        try:
            return {
                TopicPartition(tp.topic, tp.partition): self._consumer.position(tp)
                for tp in self._consumer.assignment()
            }
        except KafkaError as exc:  # IllegalStateError too: a rebalance took a partition
            raise BusError(f"Kafka position query failed: {exc}") from None

    def close(self) -> None:
        """Leave the group without committing."""
        self._consumer.close(autocommit=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
