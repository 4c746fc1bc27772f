"""API keys: Segment's HTTP Basic (write key as user name) or `Authorization: Bearer KEY`."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import Request

from idgraph.serve.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="idgraph", charset="UTF-8"'}


def presented_key(authorization: str | None) -> str | None:
    """The key in an Authorization header, or None when there is none or it is unreadable.

    Examples:
        >>> presented_key("Bearer k1"), presented_key("Basic azE6")
        ('k1', 'k1')
        >>> presented_key("Digest x") is None
        True
    """
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, _password = decoded.partition(":")
        return user or None
    return None


def key_matches(key: str, keys: tuple[str, ...]) -> bool:
    """Compare against every configured key in constant time per key (no early exit)."""
    given = key.encode("utf-8")
    found = False
    for candidate in keys:
        found |= hmac.compare_digest(given, candidate.encode("utf-8"))
    return found


def require_key(request: Request) -> None:
    """FastAPI dependency: pass a request with a valid key, answer 401 otherwise."""
    settings = request.app.state.service.settings
    if not settings.auth:
        return
    header = request.headers.get("authorization")
    key = presented_key(header)
    if key is None:
        message = (
            "missing API key: send `Authorization: Bearer KEY` or HTTP Basic with the key "
            "as user name"
            if not header
            else "unreadable Authorization header: expected `Bearer KEY` or `Basic base64(KEY:)`"
        )
        raise ApiError(401, message, headers=_CHALLENGE)
    if not key_matches(key, settings.api_keys):
        raise ApiError(401, "invalid API key", headers=_CHALLENGE)
