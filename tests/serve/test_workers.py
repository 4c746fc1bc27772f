"""`idgraph serve --workers 2` as a user runs it: the workers answer every endpoint as one
process does, asking the main process for what needs the store."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import TS
from tests.serve.test_kill import free_port, server


def test_two_workers_answer_as_one_process_does(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server(tmp_path, port, workers=2), httpx.Client(base_url=url, timeout=30) as http:
        body = {"userId": "w-1", "traits": {"email": "w1@x.it"}, "timestamp": TS}
        answer = http.post("/v1/identify", json=body, params={"wait": "true"}).json()
        assert answer["resolved"] is True and len(answer["customers"]) == 1
        (customer,) = answer["customers"]
        assert http.get("/v1/lookup", params={"identifier": "w1@x.it"}).json()["customer_ids"] == [
            customer
        ]
        profile = http.get(f"/v1/customers/{customer}").json()
        assert profile["id"] == customer
        missing = http.get("/v1/lookup", params={"identifier": "nobody@x.it"})
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        bad = http.get("/v1/segments/none/members", params={"limit": 0})
        assert bad.status_code == 400
        for i in range(40):  # spread over both workers by the kernel
            call = {"userId": f"w-{i}", "event": "Viewed", "timestamp": TS, "messageId": f"w{i}"}
            assert http.post("/v1/track", json=call).status_code == 200
        refused = http.post("/v1/track", json={"userId": "w-x", "timestamp": TS})
        assert refused.status_code == 400
        deadline = time.monotonic() + 30
        while True:
            status = http.get("/v1/status").json()
            stats = http.get("/v1/stats").json()
            if status["depth"] == 0 and stats["received"] == 42:
                break
            assert time.monotonic() < deadline, (status, stats)
            time.sleep(0.2)
        assert (stats["accepted"], stats["rejected"], stats["reconciles"]) == (41, 1, True)
        assert status["applied_offset"] == status["appended_offset"] == 41
        assert [lane["lane"] for lane in status["lanes"]] == ["lane-00", "lane-01"]
        assert http.get("/health").json()["resolver"] == "running"
        assert len(http.get(f"/v1/customers/{customer}").json()["events"]) == 1


def test_admin_calls_through_a_worker_run_in_the_main_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDGRAPH_ADMIN_KEYS", "admin-key")
    admin = {"Authorization": "Bearer admin-key"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server(tmp_path, port, workers=2), httpx.Client(base_url=url, timeout=30) as http:
        body = {"userId": "gone", "traits": {"email": "gone@x.it"}, "timestamp": TS}
        assert http.post("/v1/identify", json=body).status_code == 200
        forgot = http.post("/v1/admin/forget", json={"identifier": "gone@x.it"}, headers=admin)
        assert forgot.status_code == 200, forgot.text
        assert forgot.json()["records"] == 1
        assert http.get("/v1/lookup", params={"identifier": "gone"}).status_code == 404
        missing = http.get("/v1/admin/history/C-nobody", headers=admin)
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["field"] == "customer_id"
        assert http.post("/v1/admin/forget", json={"identifier": "x"}).status_code == 401
