"""The department ingest API (served by ``govpub ingest``).

:mod:`producers.ingest.submit` is the submit pipeline, :mod:`producers.ingest.status_query`
the status read model, :mod:`producers.ingest.api` the web layer (an ``APIRouter`` that
the shell's server mounts); :mod:`producers.ingest.client` is a small signing client;
the signature scheme is in :mod:`producers.ingest.signing`.

The names below are imported on first use, not with the package: what needs only the
pipeline's tables or the signing client (``govpub store migrate``, a consumer bringing
the store up to date) does not load the web framework.
"""

from typing import TYPE_CHECKING

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from producers.ingest.api import Ingest, ingest_router
    from producers.ingest.credentials import Credentials, Principal

__all__ = ["Credentials", "Ingest", "Principal", "ingest_router"]

_LAZY = {
    "Ingest": "producers.ingest.api",
    "ingest_router": "producers.ingest.api",
    "Credentials": "producers.ingest.credentials",
    "Principal": "producers.ingest.credentials",
}

__getattr__ = lazy_names(__name__, _LAZY)
