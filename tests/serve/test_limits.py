"""Body limits (413), enforced while reading, with or without a truthful Content-Length."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.serve.conftest import AUTH, TS, Served, serving


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = {"max_call_bytes": 1000, "max_batch_bytes": 4000, "max_batch_calls": 5}
    with serving(tmp_path_factory.mktemp("limits"), **settings) as s:
        yield s


def padded(size: int, user: str = "big") -> bytes:
    body = {"userId": user, "timestamp": TS, "traits": {"note": ""}}
    pad = size - len(orjson.dumps(body))
    body["traits"]["note"] = "x" * pad
    data = orjson.dumps(body)
    assert len(data) == size
    return data


@pytest.mark.parametrize(("size", "status"), [(999, 200), (1000, 200), (1001, 413), (50_000, 413)])
def test_single_call_limit(small: Served, size: int, status: int) -> None:
    response = small.post("/v1/identify", padded(size, f"big-{size}"))
    assert response.status_code == status, response.text
    if status == 413:
        assert "limit 1000" in response.json()["message"]
        assert small.graph.lookup(f"big-{size}") == []


def test_limit_holds_without_content_length(small: Served) -> None:
    def chunks() -> Iterator[bytes]:
        data = padded(3000, "chunked")
        for start in range(0, len(data), 500):
            yield data[start : start + 500]

    response = small.client.post(
        "/v1/identify", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert small.graph.lookup("chunked") == []


def test_batch_body_limit(small: Served) -> None:
    calls = [{"type": "identify", "userId": f"b{i}", "traits": {"n": "y" * 900}} for i in range(5)]
    response = small.post("/v1/batch", {"batch": calls})
    assert response.status_code == 413
    assert "limit 4000" in response.json()["message"]
    line = small.rejects_lines()[-1]
    assert (line["line"], line["field"]) == (0, None) and "too large" in line["reason"]


def test_batch_call_count_limit(small: Served) -> None:
    calls = [{"type": "identify", "userId": f"n{i}"} for i in range(6)]
    response = small.post("/v1/batch", {"batch": calls})
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "batch has 6 calls, limit 5"


def test_each_call_in_a_batch_has_the_call_limit(small: Served) -> None:
    calls = [
        {"type": "identify", "userId": "fits"},
        {"type": "identify", "userId": "too-big", "traits": {"n": "z" * 1200}},
    ]
    response = small.post("/v1/batch", {"batch": calls})
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["index"] == 1 and error["reason"].startswith("call too large")
    assert small.graph.lookup("fits") and not small.graph.lookup("too-big")


def test_rejects_file_keeps_only_the_head_of_a_huge_body(small: Served, tmp_path: Path) -> None:
    small.post("/v1/identify", padded(200_000, "huge"))
    raw = small.rejects_lines()[-1]["raw"]
    assert len(raw) < 3000 and "truncated" in raw
