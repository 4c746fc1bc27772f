"""A real embedded store in tmp_path served through FastAPI's TestClient (no mocks)."""

from __future__ import annotations

import base64
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from idgraph.query import IdentityGraph
from idgraph.serve import ServeSettings, create_app
from idgraph.settings import open_store
from idgraph.store.base import GraphStore

with warnings.catch_warnings():
    # Starlette asks for httpx2 on import; the client works the same with httpx.
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient

KEY = "test-key-1"
OTHER_KEY = "test-key-2"
AUTH = {"Authorization": f"Bearer {KEY}"}
TS = "2024-05-04T10:00:00Z"


def basic(key: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{key}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Served:
    client: TestClient
    store: GraphStore
    rejects: Path

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        headers = {"Content-Type": "application/json", **AUTH, **kwargs.pop("headers", {})}
        # Most tests read what they posted at once: they ask to read their writes.
        kwargs.setdefault("params", {"wait": "true"})
        return self.client.post(path, content=content, headers=headers, **kwargs)

    def settle(self, timeout: float = 20.0) -> None:
        """Wait until the resolver has applied every acknowledged call."""
        deadline = time.monotonic() + timeout
        while self.client.get("/v1/status", headers=AUTH).json()["depth"]:
            assert time.monotonic() < deadline, "the resolver did not catch up"
            time.sleep(0.02)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=AUTH)

    @property
    def graph(self) -> IdentityGraph:
        return IdentityGraph.over(self.store)

    def rejects_lines(self) -> list[dict[str, Any]]:
        if not self.rejects.exists():
            return []
        return [orjson.loads(line) for line in self.rejects.read_bytes().splitlines()]


@contextmanager
def serving(folder: Path, **settings: Any) -> Iterator[Served]:
    store = open_store(folder / "idgraph.db")
    rejects = folder / "rejects.jsonl"
    defaults: dict[str, Any] = {"api_keys": (KEY, OTHER_KEY), "rejects_path": rejects}
    app = create_app(store, ServeSettings(**{**defaults, **settings}))
    try:
        with TestClient(app, raise_server_exceptions=True) as client:
            yield Served(client, store, rejects)
    finally:
        store.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One service per test module; tests use ids of their own, so they do not interfere."""
    with serving(tmp_path_factory.mktemp("serve")) as s:
        yield s


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Served]:
    """A service over an empty store, for tests that count everything."""
    with serving(tmp_path) as s:
        yield s


def identifies(prefix: str, start: int, count: int) -> list[dict[str, Any]]:
    """`count` identify calls of new users `prefix-start`, … with an email each: a batch that
    grows the store's write-ahead log."""
    return [
        {"type": "identify", "userId": f"{prefix}-{n}", "timestamp": TS}
        | {"traits": {"email": f"{prefix}-{n}@x.it", "firstName": "Ada"}}
        for n in range(start, start + count)
    ]
