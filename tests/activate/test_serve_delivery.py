"""`idgraph serve` delivers continuously: calls the resolver applies move customers into a
materialised segment, and the delivery thread sends those changes to a live receiver;
`GET /v1/destinations` shows the same numbers as `delivery_status`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from idgraph.activate.config import load_destinations
from idgraph.activate.status import delivery_status, outbox_size
from idgraph.segment.definition import parse_segment
from idgraph.segment.saved import run_saved_segment, save_segment
from idgraph.settings import open_store
from tests.activate.conftest import SECRET, webhook_yaml, write_config
from tests.activate.receiver import Receiver, verifies
from tests.serve.conftest import AUTH, TS, serving


def _everyone(store: Path) -> None:
    with open_store(store) as graph:
        save_segment(
            graph,
            parse_segment(
                {"name": "everyone", "where": {"trait": "record_count", "op": ">=", "value": 1}},
                source="-",
            ),
        )
        run_saved_segment(graph, "everyone")


def test_service_delivers_segment_changes_as_calls_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_HOOK_SECRET", SECRET)
    _everyone(tmp_path / "idgraph.db")
    with Receiver() as hook:
        yaml = webhook_yaml(hook.url).replace("traits: [email, country]", "traits: [record_count]")
        config = load_destinations(write_config(tmp_path, yaml))
        with serving(tmp_path, destinations=config, deliver_interval_s=0.05) as served:
            for n in range(5):
                body = {"type": "identify", "userId": f"u{n}", "timestamp": TS,
                        "traits": {"email": f"person{n}@example.com"}}  # fmt: skip
                assert served.post("/v1/identify", body).status_code == 200
            served.settle()
            deadline = time.monotonic() + 20
            # The receiver has a change before the deliverer, on its answer, takes it out
            # of the outbox: wait for both.
            while time.monotonic() < deadline and (
                len(hook.changes()) < 5 or outbox_size(served.store) > 0
            ):
                time.sleep(0.05)
            answer = served.client.get("/v1/destinations", headers=AUTH)
            assert served.client.get("/v1/destinations").status_code == 401
            direct = delivery_status(served.store, config)
            assert outbox_size(served.store) == 0
    changes = hook.changes()
    assert len(changes) == 5 and {c["change"] for c in changes} == {"entered"}
    assert [c["traits"] for c in changes] == [{"record_count": 1}] * 5
    assert len({c["customer_id"] for c in changes}) == 5
    assert all(verifies(r, SECRET.encode()) for r in hook.accepted)
    assert answer.status_code == 200
    (shown,) = answer.json()
    assert shown["name"] == "crm_hook" and shown["sent"] == 5 and shown["pending"] == 0
    assert [d.model_dump(mode="json") for d in direct] == answer.json()


def test_workers_show_the_main_process_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`idgraph serve --workers 2` as a user runs it, destinations found from the environment."""
    import httpx

    from tests.serve.test_kill import free_port, server

    _everyone(tmp_path / "idgraph.db")
    with Receiver() as hook:
        path = write_config(tmp_path, webhook_yaml(hook.url))
        monkeypatch.setenv("CRM_HOOK_SECRET", SECRET)
        monkeypatch.setenv("IDGRAPH_DESTINATIONS", str(path))
        port = free_port()
        with (
            server(tmp_path, port, workers=2),
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
        ):
            for n in range(3):
                body = {"userId": f"w{n}", "traits": {"email": f"w{n}@x.it"}, "timestamp": TS}
                assert http.post("/v1/identify", json=body).status_code == 200
            deadline = time.monotonic() + 30
            while True:
                (shown,) = http.get("/v1/destinations").json()
                if shown["sent"] == 3:
                    break
                assert time.monotonic() < deadline, shown
                time.sleep(0.1)
    assert shown["pending"] == 0 and shown["name"] == "crm_hook"
    assert len(hook.changes()) == 3 and all(verifies(r, SECRET.encode()) for r in hook.accepted)
