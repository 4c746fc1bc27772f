"""Read a request body with a size limit, enforced while reading (Content-Length or not)."""

from __future__ import annotations

from fastapi import Request

#: Bytes of an oversized body kept for its reject.
_HEAD = 8192


class BodyTooLarge(Exception):
    """The body is longer than allowed; `head` holds its first bytes, `size` what was seen."""

    def __init__(self, limit: int, size: int, head: bytes) -> None:
        super().__init__(f"request body too large: more than {limit} bytes")
        self.limit = limit
        self.size = size
        self.head = head


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or `BodyTooLarge` as soon as it passes `limit` bytes.

    A declared Content-Length over the limit is refused after reading only the head kept for
    the reject; a missing or understated one cannot get past the count kept while reading.
    """
    declared = request.headers.get("content-length")
    over = declared is not None and declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit or (over and size >= _HEAD):
            head = (b"".join(chunks) + chunk)[:_HEAD]
            raise BodyTooLarge(limit, max(size, int(declared) if over and declared else 0), head)
        chunks.append(chunk)
    if over:
        raise BodyTooLarge(limit, int(declared or 0), b"".join(chunks)[:_HEAD])
    return b"".join(chunks)
