"""A real HTTP receiver on a loopback port that can refuse, dawdle or go away."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    #: Answer 503 to this many requests first.
    refuse: int = 0
    #: Seconds to wait before answering each request.
    delay: float = 0.0
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Receiver:
    """Records every request (refused ones too, in `attempts`); `accepted` holds the 2xx ones."""

    def __init__(self, behaviour: Behaviour | None = None, *, port: int = 0) -> None:
        self.behaviour = behaviour or Behaviour()
        self.attempts: list[Received] = []
        self.accepted: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got = Received(body, {k.lower(): v for k, v in self.headers.items()})
                b = receiver.behaviour
                with b.lock:
                    b.seen += 1
                    refuse = b.seen <= b.refuse
                    receiver.attempts.append(got)
                if b.delay:
                    time.sleep(b.delay)
                status = 503 if refuse else 200
                if not refuse:
                    with b.lock:
                        receiver.accepted.append(got)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def changes(self) -> list[dict[str, Any]]:
        return [c for r in self.accepted for c in r.json["changes"]]

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def verifies(received: Received, secret: bytes, header: str = "x-idgraph-signature") -> bool:
    """Check a signature the way a receiver would, independently of idgraph's code."""
    expected = "sha256=" + hmac.new(secret, received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers.get(header, ""))
