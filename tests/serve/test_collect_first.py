"""The collection calls are answered by `CollectFirst`, before FastAPI's routing, with the
same answers and errors a routed request gets (a real embedded store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from idgraph.errors import StoreUnavailable
from idgraph.serve import collect
from idgraph.serve.collect import PATHS
from tests.serve.conftest import AUTH, TS, serving


def test_collection_posts_are_answered_without_the_routes(tmp_path: Path, monkeypatch: Any) -> None:
    kept = [r for r in collect.router.routes if getattr(r, "path", "") not in PATHS]
    assert len(kept) < len(collect.router.routes)
    monkeypatch.setattr(collect.router, "routes", kept)
    with serving(tmp_path) as served:
        call = {"userId": "u-first", "event": "Viewed", "timestamp": TS}
        answer = served.post("/v1/track", call)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 1 and answer.json()["resolved"] is True
        batch = {"batch": [{"type": "identify", "userId": "u-first", "timestamp": TS}]}
        assert served.post("/v1/batch", batch).status_code == 200
        assert len(served.graph.lookup("u-first")) == 1
        # Another method on the same path goes on to the app, which refuses it.
        refused = served.client.get("/v1/track", headers=AUTH)
        assert refused.status_code in (404, 405) and refused.json()["code"]


def test_errors_keep_the_shape_of_the_apps_handlers(tmp_path: Path, monkeypatch: Any) -> None:
    with serving(tmp_path) as served:
        answer = served.post(
            "/v1/track", {"userId": "u", "event": "E"}, headers={"Authorization": "Bearer nope"}
        )
        assert answer.status_code == 401
        assert answer.json()["code"] == "unauthorized"
        assert answer.headers["www-authenticate"]
        service = served.client.app.state.service  # type: ignore[attr-defined]

        def down(_keys: list[str]) -> list[str]:
            raise StoreUnavailable("store gone")

        monkeypatch.setattr(service, "customers_of", down)
        answer = served.post("/v1/track", {"userId": "u-down", "event": "E", "timestamp": TS})
        assert answer.status_code == 503  # the app's StoreError handler
        assert answer.json()["code"] and "store gone" in answer.json()["message"]
        assert answer.headers["retry-after"] == "1"
