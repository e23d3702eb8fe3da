"""The department ingest API: ``govpub ingest`` (FastAPI + uvicorn).

:func:`create_app` builds the ASGI app from settings; :mod:`producers.ingest.client`
is a small signing client; the signature scheme is in :mod:`producers.ingest.signing`.
"""

from producers.ingest.app import create_app
from producers.ingest.credentials import Credentials, Principal
from producers.ingest.service import IngestService

__all__ = ["Credentials", "IngestService", "Principal", "create_app"]
