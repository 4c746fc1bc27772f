"""Malformed calls: named by index, messageId, JSON field and reason; nothing valid lost.

A request with no usable call gets a 400; a batch with some valid calls gets a 200 that lists
the refused ones (a 4xx makes the official SDKs drop and report the whole batch).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.serve.conftest import KEY, TS, Served

SINGLE_BAD: list[tuple[str, Any, str | None, str]] = [
    ("/v1/identify", b'{"userId": "x",', None, "invalid JSON"),
    ("/v1/identify", b"", None, "invalid JSON"),
    ("/v1/track", [1, 2], None, "not a JSON object"),
    ("/v1/track", {"userId": "x", "timestamp": TS}, "event", "without an event name"),
    ("/v1/track", {"event": "E", "timestamp": TS}, "userId", "missing userId and anonymousId"),
    ("/v1/track", {"userId": {"id": 1}, "event": "E"}, "userId", "must be a string or a number"),
    ("/v1/identify", {"userId": "x", "timestamp": "yesterday"}, "timestamp", ""),
    ("/v1/identify", {"userId": "x", "traits": "gold"}, "traits", "must be an object"),
    ("/v1/identify", {"type": "track", "userId": "x"}, "type", "does not match the endpoint"),
    ("/v1/page", {"type": 5, "anonymousId": "x"}, "type", "does not match the endpoint"),
    ("/v1/alias", {"userId": "x"}, "previousId", "alias call without previousId"),
    ("/v1/alias", {"previousId": "x"}, "userId", "alias call without userId"),
    ("/v1/page", {"anonymousId": "x", "context": []}, "context", "must be an object"),
]


@pytest.mark.parametrize(("path", "body", "field", "reason"), SINGLE_BAD)
def test_bad_single_call_gets_400_naming_field_and_reason(
    served: Served, path: str, body: Any, field: str | None, reason: str
) -> None:
    before = len(served.rejects_lines())
    response = served.post(path, body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["success"] is False and answer["accepted"] == 0 and answer["rejected"] == 1
    assert answer["code"] == "invalid_request"
    (error,) = answer["errors"]
    assert error["index"] == 0
    assert error["field"] == field
    assert reason in error["reason"]
    assert reason in answer["message"]
    lines = served.rejects_lines()
    assert len(lines) == before + 1
    assert lines[-1]["file"] == f"http:{path}#{answer['request_id']}"
    assert (lines[-1]["line"], lines[-1]["field"]) == (1, field)


def test_a_value_dropped_when_resolved_goes_to_the_rejects_file_and_status(
    served: Served,
) -> None:
    """The answer checks a call's shape; its values (an email that is not one, a future
    birth date, a junk phone) are checked when the resolver reads it: each bad value is
    dropped and named by request, number and field, and the call is stored without it."""
    batch = [
        {"type": "identify", "userId": "late-1", "traits": {"email": "late1@x.it"}},
        {
            "type": "identify",
            "userId": "late-2",
            "traits": {"email": "not-an-email", "birthday": "2999-01-01", "lastName": "Neri"},
        },
        {
            "type": "track",
            "userId": "late-3",
            "event": "Order Completed",
            "messageId": "late-m3",
            "timestamp": TS,
            "context": {"traits": {"email": "late3@x.it", "phone": "+1 415 555 0123"}},
        },
    ]
    before = served.get("/v1/status").json()
    response = served.post("/v1/batch", {"batch": batch})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"], answer["resolved"]) == (3, 0, True)
    graph = served.graph
    assert graph.lookup("late1@x.it") == graph.lookup("late-1") != []
    (late2,) = graph.lookup("late-2")
    (record,) = graph.profile(late2).records
    assert record.fields == {"last_name": "Neri"}
    (late3,) = graph.lookup("late3@x.it")
    assert [e.id for e in graph.profile(late3).events] == ["http:late-m3"]
    status = served.get("/v1/status").json()
    assert status["refused"] == before["refused"]
    assert status["values_dropped"] == before["values_dropped"] + 3
    lines = [line for line in served.rejects_lines() if answer["request_id"] in line["file"]]
    assert [(x["kind"], x["line"], x["field"], x["raw"]) for x in lines] == [
        ("field", 2, "traits.email", "not-an-email"),
        ("field", 2, "traits.birthday", "2999-01-01"),
        ("field", 3, "context.traits.phone", "+1 415 555 0123"),
    ]
    assert lines[1]["reason"] == "traits.birthday: implausible date (in the future)"


BATCH_BAD: list[tuple[Any, str | None, str]] = [
    (b"{nope", None, "invalid JSON"),
    ([], None, "not a JSON object"),
    ({"calls": []}, "batch", "missing batch"),
    ({"batch": {"type": "track"}}, "batch", "batch must be a list"),
    ({"batch": []}, "batch", "batch is empty"),
    ({"batch": [{"type": "page", "anonymousId": "x"}], "context": "web"}, "context", "object"),
]


@pytest.mark.parametrize(("body", "field", "reason"), BATCH_BAD)
def test_unusable_batch_is_refused_as_a_whole(
    served: Served, body: Any, field: str | None, reason: str
) -> None:
    response = served.post("/v1/batch", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    (error,) = response.json()["errors"]
    assert error == {"index": None, "messageId": None, "field": field, "reason": error["reason"]}
    assert reason in error["reason"]
    assert served.rejects_lines()[-1]["line"] == 0


def test_mixed_batch_stores_every_valid_call_and_names_each_bad_one(served: Served) -> None:
    batch: list[Any] = [
        {"type": "identify", "userId": "mix-1", "traits": {"email": "mix1@x.it"}},
        {"type": "track", "userId": "mix-1"},
        {"type": "track", "userId": "mix-1", "event": "Order Completed", "timestamp": TS},
        "identify",
        {"type": "alias", "userId": "mix-2", "messageId": "mix-m4"},
        {"type": "page", "anonymousId": "mix-anon", "timestamp": TS},
        {"type": "telepathy", "userId": "mix-3"},
        {"type": "identify", "userId": "mix-4", "timestamp": "31/02/2024"},
    ]
    response = served.post("/v1/batch", {"batch": batch})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is True
    assert (answer["accepted"], answer["rejected"]) == (3, 5)
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (1, "event"),
        (3, None),
        (4, "previousId"),
        (6, "type"),
        (7, "timestamp"),
    ]
    message_ids = [e["messageId"] for e in answer["errors"]]
    assert message_ids[2] == "mix-m4" and message_ids[1] is None
    assert all(isinstance(m, str) and m for i, m in enumerate(message_ids) if i != 1)
    customer = served.graph.lookup("mix1@x.it")
    assert customer == served.graph.lookup("mix-1")
    assert served.graph.profile(customer[0]).event_count == 1
    assert served.graph.lookup("mix-anon")
    assert served.graph.lookup("mix-4") == []
    lines = [line for line in served.rejects_lines() if answer["request_id"] in line["file"]]
    assert [line["line"] for line in lines] == [2, 4, 5, 7, 8]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/lookup", {}, "identifier"),
        ("/v1/lookup", {"identifier": ""}, "identifier"),
        ("/v1/segments/s/members", {"offset": -1}, "offset"),
        ("/v1/segments/s/members", {"limit": 0}, "limit"),
        ("/v1/segments/s/members", {"limit": "ten"}, "limit"),
        ("/v1/customers/C-1", {"events": -3}, "events"),
        ("/v1/explain", {"a": "x"}, "b"),
    ],
)
def test_bad_read_parameters_get_400_naming_them(
    served: Served, path: str, params: dict[str, Any], field: str
) -> None:
    response = served.get(path, **params)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert field in response.json()["message"]


def test_a_client_hanging_up_mid_body_stores_and_counts_nothing(served: Served) -> None:
    before = served.get("/v1/stats").json()
    sent: list[dict[str, Any]] = []
    parts = iter(
        [
            {"type": "http.request", "body": b'{"userId": "gone", "ev', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(parts)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/track",
        "raw_path": b"/v1/track",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {KEY}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    # On a thread of its own: an earlier test may leave an event loop running on this one.
    failed: list[BaseException] = []

    def call_app() -> None:
        try:  # raises if the disconnect escapes
            asyncio.run(served.client.app(scope, receive, send))
        except BaseException as exc:
            failed.append(exc)

    caller = threading.Thread(target=call_app)
    caller.start()
    caller.join(30)
    assert not caller.is_alive() and not failed, failed
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    assert served.get("/v1/stats").json() == before
