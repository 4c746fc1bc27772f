"""Identifiers erased at a person's request, known only by a keyed one-way hash.

Normalization refuses a record carrying one (`NormalizeOptions.erased`), so a forgotten person
is not re-created by the next export; the store keeps the hashes, never the values.
"""

from __future__ import annotations

import hashlib
import hmac
import os

#: Identifier kinds remembered after an erasure. Device and anonymous ids are left out: a
#: family tablet or a shared browser would otherwise lock out everyone else who uses it.
REMEMBERED_KINDS = ("email", "phone", "user_id", "customer_id")
_DEFAULT_KEY = "idgraph-erasure"
#: The reject reason of a refused line; its raw text is withheld from the rejects file.
ERASED_REASON = "this identifier was erased at the person's request"


def erasure_key() -> bytes:
    """The HMAC key; set `IDGRAPH_ERASURE_KEY` so hashes of common values cannot be guessed."""
    return os.environ.get("IDGRAPH_ERASURE_KEY", _DEFAULT_KEY).encode("utf-8")


def erasure_hash(kind: str, value: str, key: bytes | None = None) -> str:
    """The one-way hash an erased identifier is remembered by (hex HMAC-SHA256)."""
    message = f"{kind}:{value}".encode()
    return hmac.new(key or erasure_key(), message, hashlib.sha256).hexdigest()
