"""What the official Segment and RudderStack SDKs rely on, request by request: compressed
bodies, error answers they can parse, messageId dedupe across retries, every ISO-8601 form,
`sentAt` clock-skew correction and `context.traits`."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tests.serve.conftest import TS, Served

GZIP = {"Content-Encoding": "gzip"}


def events_of(served: Served, identifier: str) -> list[Any]:
    (customer,) = served.graph.lookup(identifier)
    return served.graph.profile(customer, events=100).events


def batch(*calls: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"batch": list(calls), **extra})


def test_gzip_batch_is_decoded_and_stored(served: Served) -> None:
    body = batch(
        {"type": "identify", "userId": "gz-1", "traits": {"email": "gz1@x.it"}, "timestamp": TS},
        {"type": "track", "userId": "gz-1", "event": "Signed Up", "timestamp": TS},
    )
    response = served.post("/v1/batch", gzip.compress(body), headers=GZIP)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    assert [e.name for e in events_of(served, "gz1@x.it")] == ["Signed Up"]


@pytest.mark.parametrize(
    "compress",
    [zlib.compress, lambda data: zlib.compress(data)[2:-4]],
    ids=["zlib-framed", "raw-deflate"],
)
def test_deflate_single_call_is_decoded(served: Served, compress: Any) -> None:
    user = f"deflate-{compress is zlib.compress}"
    body = orjson.dumps({"userId": user, "event": "Viewed", "timestamp": TS})
    response = served.post("/v1/track", compress(body), headers={"Content-Encoding": "deflate"})
    assert response.status_code == 200, response.text
    assert served.graph.lookup(user)


@pytest.mark.parametrize(
    ("body", "encoding", "status", "reason"),
    [
        (batch({"type": "identify", "userId": "plain-gz"}), "gzip", 400, "looks like plain JSON"),
        (gzip.compress(b'{"batch": []}')[:-6], "gzip", 400, "not valid gzip"),
        (b"\x00\x01garbage", "deflate", 400, "not valid deflate"),
        (gzip.compress(batch({"type": "identify", "userId": "br"})), "br", 415, "unsupported"),
    ],
    ids=["plain-as-gzip", "truncated-gzip", "garbage-deflate", "brotli"],
)
def test_body_not_what_its_encoding_says_is_refused(
    served: Served, body: bytes, encoding: str, status: int, reason: str
) -> None:
    before = len(served.rejects_lines())
    response = served.post("/v1/batch", body, headers={"Content-Encoding": encoding})
    assert response.status_code == status, response.text
    answer = response.json()
    assert reason in answer["message"] and answer["code"]
    assert answer["errors"][0]["field"] == "Content-Encoding"
    lines = served.rejects_lines()
    assert len(lines) == before + 1 and lines[-1]["line"] == 0
    assert served.graph.lookup("plain-gz") == []


def test_a_decompression_bomb_is_cut_at_the_body_limit(served: Served) -> None:
    limit = 500 * 1024
    bomb = gzip.compress(b'{"batch": [' + b" " * (50 * limit) + b"]}")
    assert len(bomb) < limit // 10
    response = served.post("/v1/batch", bomb, headers=GZIP)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    assert "decoded request body too large" in response.json()["message"]


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "code"),
    [
        ("/v1/batch", {"body": b"{nope"}, 400, "invalid_request"),
        ("/v1/track", {"body": {"userId": "x"}}, 400, "invalid_request"),
        (
            "/v1/batch",
            {"body": {"batch": []}, "headers": {"Authorization": "Bearer no"}},
            401,
            "unauthorized",
        ),
        ("/v1/nowhere", {"body": {}}, 404, "not_found"),
    ],
)
def test_every_error_answer_has_code_and_message(
    served: Served, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    """Both SDKs read `code` and `message` from a non-2xx answer (RudderStack's fails with a
    KeyError without `code`)."""
    response = served.post(path, kwargs["body"], headers=kwargs.get("headers", {}))
    assert response.status_code == status
    answer = response.json()
    assert answer["code"] == code and isinstance(answer["message"], str) and answer["message"]
    assert answer["success"] is False


def test_retried_batch_stores_each_event_once(served: Served) -> None:
    calls = [
        {
            "type": "track",
            "userId": "retry-1",
            "event": "Order Completed",
            "messageId": "r-1",
            "properties": {"revenue": 10},
            "timestamp": TS,
        },
        {"type": "page", "userId": "retry-1", "name": "Home", "messageId": "r-2", "timestamp": TS},
    ]
    for attempt in range(3):
        sent = datetime(2024, 5, 4, 10, 0, attempt, tzinfo=UTC).isoformat()
        response = served.post("/v1/batch", gzip.compress(batch(*calls, sentAt=sent)), headers=GZIP)
        assert response.status_code == 200
    assert sorted(e.name for e in events_of(served, "retry-1")) == [
        "Order Completed",
        "Page Viewed",
    ]


def test_duplicate_message_ids_inside_one_batch_store_one_event(served: Served) -> None:
    call = {
        "type": "track",
        "userId": "dup-1",
        "event": "Clicked",
        "messageId": "dup-m",
        "timestamp": TS,
    }
    assert served.post("/v1/batch", batch(call, call)).status_code == 200
    assert len(events_of(served, "dup-1")) == 1


TS_MS = 1714816800000


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-05-04T10:00:00Z",
        "2024-05-04T10:00:00.000Z",
        "2024-05-04T10:00:00.000000Z",
        "2024-05-04T10:00:00+00:00",
        "2024-05-04T10:00:00.000+00:00",
        "2024-05-04T10:00:00.000000+00:00",
        "2024-05-04T12:00:00+02:00",
        "2024-05-04T05:00:00.000-05:00",
        "2024-05-04T12:00:00.000+0200",
        "2024-05-04T10:00:00",
        "2024-05-04 10:00:00",
        "20240504T100000Z",
        1714816800,
        1714816800000,
    ],
)
def test_every_iso_form_the_sdks_send_is_read(served: Served, stamp: Any) -> None:
    user = f"ts-{stamp}"
    response = served.post("/v1/track", {"userId": user, "event": "E", "timestamp": stamp})
    assert response.status_code == 200, response.text
    (event,) = events_of(served, user)
    assert event.ts == TS_MS


def test_sent_at_corrects_the_senders_clock(served: Served) -> None:
    """Segment's rule: timestamp = receivedAt - (sentAt - originalTimestamp). A device whose
    clock runs a day fast sent a call an hour after making it."""
    now = datetime.now(tz=UTC)
    day, hour = 86_400_000, 3_600_000
    now_ms = int(now.timestamp() * 1000)
    made = datetime.fromtimestamp((now_ms + day - hour) / 1000, tz=UTC).isoformat()
    sent = datetime.fromtimestamp((now_ms + day) / 1000, tz=UTC).isoformat()
    call = {"type": "track", "userId": "skew-1", "event": "E", "timestamp": made}
    own = {"type": "track", "userId": "skew-2", "event": "E", "timestamp": made, "sentAt": sent}
    assert served.post("/v1/batch", batch(call, sentAt=sent)).status_code == 200
    assert served.post("/v1/track", own).status_code == 200
    for user in ("skew-1", "skew-2"):
        (event,) = events_of(served, user)
        assert abs(event.ts - (now_ms - hour)) < 60_000, (user, event.ts - now_ms)


def test_a_call_with_sent_at_but_no_timestamp_is_timed_when_received(served: Served) -> None:
    call = {"userId": "skew-3", "event": "E", "sentAt": "2031-01-01T00:00:00Z"}
    before = int(datetime.now(tz=UTC).timestamp() * 1000)
    assert served.post("/v1/track", call).status_code == 200
    (event,) = events_of(served, "skew-3")
    assert before - 1000 <= event.ts <= int(datetime.now(tz=UTC).timestamp() * 1000)


def test_without_sent_at_the_timestamp_is_kept(served: Served) -> None:
    assert served.post("/v1/track", {"userId": "noskew", "event": "E", "timestamp": TS}).is_success
    (event,) = events_of(served, "noskew")
    assert event.ts == TS_MS


def test_identify_reads_context_traits_under_its_own_traits(served: Served) -> None:
    call = {
        "userId": "ctx-1",
        "timestamp": TS,
        "traits": {"email": "ctx1@x.it", "plan": "gold"},
        "context": {
            "traits": {
                "email": "ctx-old@x.it",
                "phone": "+39 347 123 4567",
                "plan": "silver",
                "city_size": "big",
            }
        },
    }
    assert served.post("/v1/identify", call).status_code == 200
    (customer,) = served.graph.lookup("ctx1@x.it")
    assert served.graph.lookup("+393471234567") == [customer]
    assert served.graph.lookup("ctx-old@x.it") == []
    profile = served.graph.profile(customer)
    assert profile.golden["phone"] == "+393471234567"
