"""Read a request body with a size limit, enforced while reading (Content-Length or not), and
decode it as its `Content-Encoding` says (gzip, deflate), with the same limit on what it
decodes to."""

from __future__ import annotations

import zlib

from fastapi import Request

#: Bytes of an oversized body kept for its reject.
_HEAD = 8192

#: zlib window settings per encoding: gzip framing, zlib framing (deflate as RFC 9110 means
#: it); raw deflate, which some clients send as `deflate`, is tried when zlib framing fails.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyTooLarge(Exception):
    """The body is longer than allowed; `head` holds its first bytes, `size` what was seen."""

    def __init__(self, limit: int, size: int, head: bytes, *, decoded: bool = False) -> None:
        what = "decoded request body" if decoded else "request body"
        super().__init__(f"{what} too large: more than {limit} bytes")
        self.limit = limit
        self.size = size
        self.head = head
        self.decoded = decoded


class BadEncoding(Exception):
    """The body is not what its `Content-Encoding` says, or the encoding is not supported
    (`unsupported` tells which, for the status: 400 or 415)."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


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


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """`body` decoded as `Content-Encoding` says (codings applied in order are undone in
    reverse), never to more than `limit` bytes: a small compressed body cannot inflate into
    a large one (a decompression bomb) past the limit a plain body has.

    Raises:
        BadEncoding: an unsupported coding, or a body that does not decode as declared
            (plain JSON sent with `Content-Encoding: gzip`, a truncated stream).
        BodyTooLarge: the decoded body passes `limit` (`decoded` is set).

    Examples:
        >>> import gzip
        >>> decode_body(gzip.compress(b'{"a": 1}'), "gzip", 100)
        b'{"a": 1}'
        >>> decode_body(b'{"a": 1}', "identity", 100)
        b'{"a": 1}'
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding not in _WBITS:
            raise BadEncoding(
                f"unsupported Content-Encoding {coding!r}: send gzip, deflate or none",
                unsupported=True,
            )
        try:
            body = _inflate(body, _WBITS[coding], limit)
        except zlib.error:
            if coding != "deflate":
                raise _not_encoded(body, coding) from None
            try:
                body = _inflate(body, -zlib.MAX_WBITS, limit)
            except zlib.error:
                raise _not_encoded(body, coding) from None
    return body


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise BodyTooLarge(limit, len(out), out[:_HEAD], decoded=True)
    if not inflater.eof:
        raise zlib.error("incomplete or truncated stream")
    if inflater.unused_data:
        raise zlib.error("bytes after the end of the compressed stream")
    return out


def _not_encoded(body: bytes, coding: str) -> BadEncoding:
    looks_plain = body[:1] in (b"{", b"[")
    hint = (
        " (it looks like plain JSON: drop the header or compress the body)" if looks_plain else ""
    )
    return BadEncoding(f"body is not valid {coding} although Content-Encoding says so{hint}")
