"""Every component's tables, migrated at once: what ``govpub store migrate`` does, and what
each command that uses the state store does first (so a store migrated by a newer govpub
is refused before anything is written).

Part of the application shell: it knows every component that keeps tables in the store
(core, producers and channels).
"""

from channels.catalog.state import DISPLAY_SCHEMA as CATALOG_DISPLAY
from channels.catalog.state import SCHEMA as CATALOG
from channels.newmedia.records import STATE_SCHEMA as NEWMEDIA_STATE
from channels.newmedia.wechat.deletions import SCHEMA as WECHAT_DELETIONS
from channels.newmedia.wechat.tables import JOBS_SCHEMA as WECHAT_JOBS
from channels.newmedia.wechat.tables import TOKENS_SCHEMA as WECHAT_TOKENS
from channels.rss.tables import SCHEMA as RSS
from channels.website.state import SCHEMA as WEBSITE
from consumers.lease import SCHEMA as CHANNEL_LEASES
from govpub.compliance.audit import SCHEMA as AUDIT
from govpub.compliance.parties import SCHEMA as PARTIES
from govpub.deliveries import SCHEMA as DELIVERIES
from govpub.settings import Settings
from govpub.store import Schema, Store
from producers.compliance.documents import SCHEMA as DOCUMENTS
from producers.ingest.auth import SCHEMA as INGEST_REQUESTS
from producers.ingest.tables import ANSWERS_SCHEMA as INGEST_ANSWERS
from producers.ledger import SCHEMA as LEDGER
from producers.releases.log import SCHEMA as RELEASE_LOG
from producers.releases.tables import MISSED_SCHEMA as CAMPAIGN_MISSED


def known_schemas() -> list[Schema]:
    """The schema of every component that keeps tables in the state store."""
    return [
        DELIVERIES,
        LEDGER,
        CATALOG,
        CATALOG_DISPLAY,
        RELEASE_LOG,
        CAMPAIGN_MISSED,
        AUDIT,
        PARTIES,
        DOCUMENTS,
        INGEST_REQUESTS,
        INGEST_ANSWERS,
        WEBSITE,
        RSS,
        NEWMEDIA_STATE,
        WECHAT_TOKENS,
        WECHAT_JOBS,
        WECHAT_DELETIONS,
        CHANNEL_LEASES,
    ]


def migrate_store(settings: Settings) -> dict[str, tuple[int, int]]:
    """Bring every component's tables in ``GOVPUB_STORE`` up to date; returns
    ``{component: (version before, version now)}``. Raises ``SchemaTooNew`` (nothing
    written) or ``ConfigurationError`` (the store cannot be opened), both naming
    ``GOVPUB_STORE``."""
    with Store(settings.store) as store:
        return store.migrate(known_schemas())
