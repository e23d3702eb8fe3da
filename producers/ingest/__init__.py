"""The department ingest API (served by ``govpub ingest``).

:mod:`producers.ingest.submit` is the submit pipeline, :mod:`producers.ingest.status_query`
the status read model, :mod:`producers.ingest.api` the web layer (an ``APIRouter`` that
the shell's server mounts); :mod:`producers.ingest.client` is a small signing client;
the signature scheme is in :mod:`producers.ingest.signing`.
"""

from producers.ingest.api import Ingest, ingest_router
from producers.ingest.credentials import Credentials, Principal

__all__ = ["Credentials", "Ingest", "Principal", "ingest_router"]
