"""WeChat's server callback (服务器配置) on the ingest service: who may call it.

WeChat signs each request to the account's server URL with the SHA-1 of the sorted
server token, timestamp and nonce (``signature``, see
:func:`channels.newmedia.wechat.verify_callback_signature`). The signature covers
neither the body nor ``echostr``, so the timestamp window (the ingest API's, 300 s by
default) is what limits replays; recording a PUBLISHJOBFINISH result twice is harmless.
"""

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from channels.newmedia.wechat import verify_callback_signature

MAX_BODY_BYTES = 65_536
"""A PUBLISHJOBFINISH event is well under 2 KiB; anything near this is not WeChat's."""

_SIGNATURE = re.compile(r"[0-9a-f]{40}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,256}")
"""Visible ASCII: WeChat's nonces and echostr are digits; the check never compares
other text (``hmac.compare_digest`` refuses non-ASCII strings)."""


@dataclass(frozen=True)
class WeChatCallbackCheck:
    """Checks that a request to the callback URL comes from WeChat: a valid signature
    and a timestamp within ``window`` seconds of ``clock``."""

    token: SecretStr
    window: int
    clock: Callable[[], float] = field(default=time.time)

    def refusal(self, query: Mapping[str, str]) -> str | None:
        """``None`` when the query (``signature``, ``timestamp``, ``nonce``) is WeChat's;
        otherwise why not, for the log (never shown to the caller)."""
        signature = query.get("signature", "")
        timestamp = query.get("timestamp", "")
        nonce = query.get("nonce", "")
        if not (
            _SIGNATURE.fullmatch(signature)
            and _TIMESTAMP.fullmatch(timestamp)
            and _PRINTABLE.fullmatch(nonce)
        ):
            return "signature, timestamp or nonce missing or malformed"
        if abs(self.clock() - int(timestamp)) > self.window:
            return f"timestamp more than {self.window} s from the server's clock"
        if not verify_callback_signature(
            self.token.get_secret_value(), signature, timestamp, nonce
        ):
            return "bad signature"
        return None


def valid_echostr(value: str) -> bool:
    """Whether ``echostr`` (echoed back unsigned in a URL check) is plain visible ASCII."""
    return _PRINTABLE.fullmatch(value) is not None
