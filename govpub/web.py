"""What every web route of govpub reads bodies with: a bounded reader that never buffers
more than the limit, and drains (up to a bound) what a client still sends after it."""

from starlette.requests import ClientDisconnect, Request

DRAIN_FACTOR = 8
"""After a refusal for size, up to this many times the limit is read and thrown away, so
that the client (still sending) reads the answer instead of a reset connection. Beyond
that the connection is closed."""


class BodyTooLarge(Exception):
    """The body is larger than the limit (the route answers 413)."""


class ClientGone(Exception):
    """The client disconnected before sending the whole body (the route answers 400)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with :class:`BodyTooLarge` as soon as it grows past ``limit``
    bytes (never buffering more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain(request, limit, 0)
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        # One pass: past the limit the rest is drained here, not by a second stream(),
        # which raises once the last chunk has been read (a 500 instead of the 413).
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit * DRAIN_FACTOR:
                break
            if size <= limit:
                chunks.append(chunk)
    except ClientDisconnect:
        if size <= limit:
            raise ClientGone from None
    if size > limit:
        raise BodyTooLarge
    return b"".join(chunks)


async def _drain(request: Request, limit: int, seen: int) -> None:
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit * DRAIN_FACTOR:
                return
    except ClientDisconnect:
        return
