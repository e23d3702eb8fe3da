"""The queue of WeChat article deletions beyond the day's limit.

The platform allows an Official Account 10 ``freepublish/delete`` calls a day. A
withdrawal (a take-down at the end of a display period, a revocation, an update that
replaces its article) uses one of the account's deletions of the day (Beijing time,
``delete_budget`` in the routing file); when they are spent — or the platform answers
45009 because deletions were also made elsewhere — the deletion waits here until
after midnight instead of parking the channel, so the account goes on publishing. The
channel works the queue off after each batch and while idle
(:meth:`~channels.newmedia.wechat.channel.WeChatChannel.work_off_deletions`), each
deletion claimed first, so that several consumers of the channel (on several hosts,
sharing a PostgreSQL store) never spend two of the day's deletions on one article; a
deletion that fails is tried again later, with its error kept. ``govpub status`` shows
what waits, per account.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from govpub.store import Schema, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wechat_delete_queue (
    account TEXT NOT NULL,
    article_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    post_event_id TEXT NOT NULL,
    withdrawal_event_id TEXT NOT NULL,
    queued_at REAL NOT NULL,
    due_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, article_id)
);
CREATE INDEX IF NOT EXISTS wechat_delete_queue_due ON wechat_delete_queue (done, due_at)
"""
SCHEMA = Schema("wechat_delete_queue", _SCHEMA)
"""The queue's table, as versioned migrations."""
LOCK = "wechat_delete_queue"
"""The store lock of the queue (see :meth:`govpub.store.Store.transaction`)."""

_COLUMNS = (
    "account, article_id, document_id, post_event_id, withdrawal_event_id, queued_at, due_at,"
    " attempts, last_error"
)


@dataclass(frozen=True)
class QueuedDeletion:
    """An article that waits to be deleted from an account."""

    account: str
    article_id: str
    document_id: str
    post_event_id: str
    """The publish or update whose article it is."""
    withdrawal_event_id: str
    """The event that removes it (a withdrawal, or an update that replaces the article)."""
    queued_at: float
    due_at: float
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class AccountQueue:
    """What waits for one account: how many, since when, the next try, the failing ones."""

    account: str
    waiting: int
    failing: int
    oldest_queued_at: float
    next_due_at: float
    documents: tuple[str, ...]


class DeleteQueue:
    """``wechat_delete_queue`` in the state store (shared by every worker)."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        store.ensure_schema(SCHEMA)

    def add(self, deletion: QueuedDeletion) -> None:
        """Queue ``deletion`` (a deletion already queued for the article stays as it is)."""
        with self.store.transaction(LOCK) as conn:
            conn.execute(
                f"INSERT INTO wechat_delete_queue ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (account, article_id) DO NOTHING",
                (
                    deletion.account,
                    deletion.article_id,
                    deletion.document_id,
                    deletion.post_event_id,
                    deletion.withdrawal_event_id,
                    deletion.queued_at,
                    deletion.due_at,
                    deletion.attempts,
                    deletion.last_error,
                ),
            )

    def is_queued(self, account: str, article_id: str) -> bool:
        """Whether the article waits in the queue (not deleted yet)."""
        row = self.store.conn.execute(
            "SELECT 1 FROM wechat_delete_queue WHERE account=? AND article_id=? AND done=0",
            (account, article_id),
        ).fetchone()
        return row is not None

    def due(self, limit: int) -> list[QueuedDeletion]:
        """Deletions whose time has come, oldest due first."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM wechat_delete_queue WHERE done=0 AND due_at<=?"
            " ORDER BY due_at, queued_at LIMIT ?",
            (self.clock(), limit),
        )
        return [QueuedDeletion(*row) for row in rows]

    def waiting(self) -> list[QueuedDeletion]:
        """Every deletion not done yet, oldest first."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM wechat_delete_queue WHERE done=0 ORDER BY queued_at"
        )
        return [QueuedDeletion(*row) for row in rows]

    def claim(self, account: str, article_id: str, *, lease: float) -> bool:
        """Take a due deletion for this worker: it is due for no other worker (consumers
        of the channel on other hosts) for ``lease`` seconds, by when this one has
        finished or postponed it; if this worker dies first, it is due again then. False:
        another worker took it, or it is done."""
        now = self.clock()
        with self.store.transaction(LOCK) as conn:
            cursor = conn.execute(
                "UPDATE wechat_delete_queue SET due_at=?"
                " WHERE account=? AND article_id=? AND done=0 AND due_at<=?",
                (now + lease, account, article_id, now),
            )
            return cursor.rowcount == 1

    def finish(self, account: str, article_id: str) -> None:
        """The article is deleted."""
        with self.store.transaction(LOCK) as conn:
            conn.execute(
                "UPDATE wechat_delete_queue SET done=1, last_error=NULL"
                " WHERE account=? AND article_id=?",
                (account, article_id),
            )

    def postpone(
        self, account: str, article_id: str, until: float, *, error: str | None = None
    ) -> None:
        """Try again at ``until``; ``error`` (a failed attempt) is kept and counted."""
        with self.store.transaction(LOCK) as conn:
            conn.execute(
                "UPDATE wechat_delete_queue SET due_at=?,"
                " attempts=attempts + ?, last_error=COALESCE(?, last_error)"
                " WHERE account=? AND article_id=?",
                (until, 1 if error else 0, error[:2000] if error else None, account, article_id),
            )

    def summary(self) -> list[AccountQueue]:
        """Per account: what waits (for ``govpub status``)."""
        found: dict[str, list[QueuedDeletion]] = {}
        for deletion in self.waiting():
            found.setdefault(deletion.account, []).append(deletion)
        return [
            AccountQueue(
                account=account,
                waiting=len(items),
                failing=sum(1 for d in items if d.last_error),
                oldest_queued_at=min(d.queued_at for d in items),
                next_due_at=min(d.due_at for d in items),
                documents=tuple(dict.fromkeys(d.document_id for d in items)),
            )
            for account, items in sorted(found.items())
        ]
