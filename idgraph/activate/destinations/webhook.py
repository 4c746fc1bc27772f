"""Webhook destination: each batch is one JSON POST, signed with HMAC-SHA256 over the body.

Headers: `Content-Type: application/json`, `Idempotency-Key` (the batch's, stable across
repeats), and `<signature_header>: sha256=<hex>` when a secret is configured. Any 2xx is
success; anything else, a timeout or a refused connection is a failed attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
from urllib.parse import urlsplit

import orjson

from idgraph.activate.config import WebhookDestination
from idgraph.activate.destinations.base import Batch, DeliveryFailed, iso

__all__ = ["WebhookSender", "body_of", "sign"]


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def body_of(batch: Batch) -> bytes:
    """The JSON a receiver gets: segment, run time, and the changes in order."""
    return orjson.dumps(
        {
            "segment": batch.segment,
            "run_ts": iso(batch.run_ts),
            "entered": sum(1 for c in batch.changes if c.change == "entered"),
            "exited": sum(1 for c in batch.changes if c.change == "exited"),
            "changes": [c.as_json() for c in batch.changes],
        }
    )


class WebhookSender:
    """Keeps one HTTP connection open across batches, opened again after any failure."""

    def __init__(self, dest: WebhookDestination) -> None:
        self.dest = dest
        self.secret = dest.secret()
        parts = urlsplit(dest.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = kind(self._host, self._port, timeout=self.dest.timeout_s)
        return self._conn

    def send(self, batch: Batch) -> None:
        body = body_of(batch)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": batch.key,
            "User-Agent": "idgraph-deliver",
        }
        if self.secret is not None:
            headers[self.dest.signature_header] = sign(self.secret, body)
        try:
            conn = self._connection()
            conn.request("POST", self._path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            self.close()
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status < 300:
            if response.will_close:
                self.close()
            raise DeliveryFailed(f"HTTP {response.status} {response.reason}")
        if response.will_close:
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
