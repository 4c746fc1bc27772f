"""Signing in to the web page: the key in a cookie, and a CSRF token bound to it.

The key someone signs in with is kept in a cookie the page's scripts cannot read
(`HttpOnly`), that the browser sends only from the service's own pages (`SameSite=Strict`),
on `/ui` paths only, and `Secure` when the page came over HTTPS. It is checked against the
service's keys on every request, so a key taken out of `IDGRAPH_API_KEYS` signs its holder
out at the next restart. A key in a URL is never read.

A write key (`IDGRAPH_API_KEYS`) reads; an admin key (`IDGRAPH_ADMIN_KEYS`) splits, links
and saves segments, and reads only when it is a write key too (as on the API). With
`--no-auth` everyone reads without signing in; the changes still need an admin key.

A POST whose `Origin` is another site is refused. Every form that changes something carries
a token derived from the signed-in key (an HMAC), which another site cannot know: a forged
POST from elsewhere has no token to send.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request, Response

from idgraph.serve.auth import key_matches
from idgraph.serve.settings import ADMIN_KEYS_ENV, API_KEYS_ENV, ServeSettings

#: The cookie holding the signed-in key.
COOKIE = "idgraph_ui"
#: Cookie lifetime: a working day; signing in again is one form.
MAX_AGE_S = 12 * 3600


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who is looking at the page, and what they may do."""

    key: str | None
    can_read: bool
    can_admin: bool

    @property
    def signed_in(self) -> bool:
        return self.key is not None

    @property
    def csrf(self) -> str:
        """The token a changing form must send back (empty when not signed in)."""
        if self.key is None:
            return ""
        return csrf_token(self.key)


def csrf_token(key: str) -> str:
    """A token only someone holding `key` can make: HMAC-SHA256 of a fixed label."""
    return hmac.new(key.encode("utf-8"), b"idgraph-ui-csrf", hashlib.sha256).hexdigest()


def csrf_ok(visitor: Visitor, sent: str | None) -> bool:
    return visitor.key is not None and hmac.compare_digest(visitor.csrf, sent or "")


def same_origin(request: Request) -> bool:
    """False for a form another site posted (its `Origin` names another host), so a forged
    sign-in or change from elsewhere is refused even before its token is checked. An absent
    or `null` Origin passes: changes still need the session's token."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":  # not said (privacy settings, sandboxed frames)
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def rights(settings: ServeSettings, key: str | None) -> Visitor:
    """What `key` may do on the page (None: not signed in)."""
    if key is None:
        return Visitor(key=None, can_read=not settings.auth, can_admin=False)
    reads = key_matches(key, settings.api_keys)
    admin = bool(settings.admin_keys) and key_matches(key, settings.admin_keys)
    if not (reads or admin):
        return Visitor(key=None, can_read=not settings.auth, can_admin=False)
    return Visitor(key=key, can_read=reads or not settings.auth, can_admin=admin)


def visitor(request: Request) -> Visitor:
    settings: ServeSettings = request.app.state.service.settings
    return rights(settings, request.cookies.get(COOKIE) or None)


def sign_in_problem(settings: ServeSettings, key: str) -> str | None:
    """Why `key` may not sign in, or None when it may."""
    if not key:
        return "enter a key"
    found = rights(settings, key)
    if not found.signed_in:
        return f"this key is not one of the service's keys ({API_KEYS_ENV} or {ADMIN_KEYS_ENV})"
    if not found.can_read:
        return (
            f"this admin key does not open reads: list it in {API_KEYS_ENV} too, or sign in "
            "with a write key"
        )
    return None


def set_key(response: Response, request: Request, key: str) -> None:
    response.set_cookie(
        COOKIE,
        key,
        max_age=MAX_AGE_S,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_key(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
