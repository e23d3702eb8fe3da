"""Logging setup for the entry points (the CLI, services, DAG tasks).

Library modules only call ``logging.getLogger(__name__)``; this is the one place
that configures handlers. Secrets are ``SecretStr`` in settings and are never
formatted into messages; the redacting filter is a second line of defence for
values that reach a log through a third-party library (for example a token in a URL).
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime

from govpub.settings import Settings

_SECRET_PARAMS = re.compile(
    r"((?:access_token|secret|appsecret|password|signature|token)=)[^&\s\"']+", re.IGNORECASE
)


class RedactSecrets(logging.Filter):
    """Masks ``secret=…``-style query values in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_PARAMS.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Send govpub's logs to stderr at ``GOVPUB_LOG_LEVEL`` in ``GOVPUB_LOG_FORMAT``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactSecrets())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("govpub").setLevel(settings.log_level)
    for package in ("schemas", "producers", "consumers", "channels"):
        logging.getLogger(package).setLevel(settings.log_level)
    # kafka-python logs every failed connection attempt and routine rebalancing at
    # WARNING or ERROR; govpub turns what matters into one clear error of its own
    # ("cannot reach Kafka at …"), so the client's own lines are shown only when debugging.
    logging.getLogger("kafka").setLevel("DEBUG" if settings.log_level == "DEBUG" else "CRITICAL")
