"""Collection endpoints: each call type is stored and resolved before the answer comes back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.conftest import TS, Served


def one_customer(served: Served, *identifiers: str) -> str:
    found = {tuple(served.graph.lookup(i)) for i in identifiers}
    assert len(found) == 1, found
    (ids,) = found
    assert len(ids) == 1, ids
    return ids[0]


@pytest.mark.parametrize(
    ("path", "body", "record"),
    [
        ("/v1/identify", {"userId": "c-i1", "traits": {"plan": "gold"}}, "http:user:c-i1"),
        ("/v1/track", {"userId": "c-t1", "event": "Order Completed"}, "http:user:c-t1"),
        ("/v1/page", {"anonymousId": "c-p1", "name": "Home"}, "http:anon:c-p1"),
        ("/v1/screen", {"anonymousId": "c-s1", "name": "Cart"}, "http:anon:c-s1"),
        ("/v1/alias", {"userId": "c-a1", "previousId": "c-a0"}, "http:user:c-a1"),
        ("/v1/track", {"type": "track", "userId": "c-t2", "event": "X"}, "http:user:c-t2"),
        ("/v1/identify", {"type": " Identify ", "userId": "c-i2"}, "http:user:c-i2"),
    ],
)
def test_single_call_is_stored_and_resolved(
    served: Served, path: str, body: dict[str, Any], record: str
) -> None:
    response = served.post(path, {**body, "timestamp": TS})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] and answer["accepted"] == 1 and answer["rejected"] == 0
    assert answer["customers"] == served.graph.lookup(record)
    assert len(answer["customers"]) == 1


def test_identify_then_track_is_one_customer_with_the_event(served: Served) -> None:
    served.post("/v1/identify", {"userId": "u-ann", "traits": {"email": "Ann@Shop.IT"}})
    served.post("/v1/track", {"userId": "u-ann", "event": "Order Completed", "timestamp": TS})
    customer = one_customer(served, "ann@shop.it", "u-ann", "http:user:u-ann")
    profile = served.get(f"/v1/customers/{customer}").json()
    assert profile["golden"]["email"] == "ann@shop.it"
    assert [e["name"] for e in profile["events"]] == ["Order Completed"]


def test_calls_without_a_timestamp_get_the_time_received(served: Served) -> None:
    response = served.post("/v1/track", {"userId": "u-now", "event": "Visit"})
    assert response.status_code == 200
    profile = served.graph.profile(response.json()["customers"][0])
    assert profile.events[0].ts > 1_700_000_000_000


def test_alias_joins_an_earlier_anonymous_visitor(served: Served) -> None:
    served.post("/v1/page", {"anonymousId": "anon-bob", "name": "Home", "timestamp": TS})
    served.post("/v1/identify", {"userId": "u-bob", "traits": {"email": "bob@x.it"}})
    assert served.graph.lookup("anon-bob") != served.graph.lookup("u-bob")
    response = served.post("/v1/alias", {"previousId": "anon-bob", "userId": "u-bob"})
    assert response.status_code == 200, response.text
    customer = one_customer(served, "anon-bob", "u-bob", "bob@x.it")
    answer = served.get("/v1/explain", a="http:anon:anon-bob", b="http:user:u-bob")
    assert answer.status_code == 200, answer.text
    explained = answer.json()
    assert explained["same_customer"]
    assert "alias" in [step["rule"] for step in explained["steps"]]
    assert customer in response.json()["customers"]


def test_alias_inside_one_batch(served: Served) -> None:
    batch = [
        {"type": "page", "anonymousId": "anon-cy", "timestamp": TS},
        {"type": "identify", "userId": "u-cy", "traits": {"phone": "+39 06 1234 5678"}},
        {"type": "alias", "previousId": "anon-cy", "userId": "u-cy"},
    ]
    assert served.post("/v1/batch", {"batch": batch}).json()["accepted"] == 3
    one_customer(served, "anon-cy", "u-cy", "+390612345678")


def test_anonymous_visitor_who_logs_in_is_stitched(served: Served) -> None:
    served.post("/v1/page", {"anonymousId": "anon-dee", "timestamp": TS})
    served.post("/v1/identify", {"userId": "u-dee", "anonymousId": "anon-dee"})
    one_customer(served, "anon-dee", "u-dee")


def test_batch_context_is_merged_into_each_call(served: Served) -> None:
    body = {
        "batch": [
            {"type": "track", "userId": "u-eve", "event": "A", "timestamp": TS},
            {
                "type": "track",
                "anonymousId": "anon-eve",
                "event": "B",
                "timestamp": TS,
                "context": {"device": {"id": "dev-eve"}},
            },
        ],
        "context": {"traits": {"email": "eve@x.it"}, "device": {"id": "dev-top"}},
    }
    assert served.post("/v1/batch", body).status_code == 200
    customer = one_customer(served, "eve@x.it", "u-eve", "anon-eve", "dev-eve", "dev-top")
    on = {i.value: i.records for i in served.graph.profile(customer).identifiers}
    assert on["dev-top"] == ["http:user:u-eve"]  # the call's own context.device wins
    assert on["dev-eve"] == ["http:anon:anon-eve"]
    assert sorted(on["eve@x.it"]) == ["http:anon:anon-eve", "http:user:u-eve"]


def test_a_retried_call_stores_its_event_once(served: Served) -> None:
    call = {"userId": "u-retry", "event": "Paid", "timestamp": TS}
    for _ in range(3):
        assert served.post("/v1/track", call).status_code == 200
    with_id = {**call, "event": "Refund", "messageId": "m-retry-1"}
    for _ in range(2):
        served.post("/v1/track", with_id)
    customer = one_customer(served, "u-retry")
    assert served.graph.profile(customer).event_count == 2


def test_batch_of_many_users_all_resolve(served: Served) -> None:
    batch = [
        {"type": "identify", "userId": f"u-many-{i}", "traits": {"email": f"m{i}@x.it"}}
        for i in range(50)
    ]
    assert served.post("/v1/batch", {"batch": batch}).json()["accepted"] == 50
    ids = {served.graph.lookup(f"m{i}@x.it")[0] for i in range(50)}
    assert len(ids) == 50
