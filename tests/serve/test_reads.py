"""Read endpoints over the query module: lookup, profile, segment pages, explain; 404s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from idgraph.segment.definition import parse_segment
from idgraph.segment.saved import run_saved_segment, save_segment
from tests.serve.conftest import TS, Served, serving

BUYERS = 7


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Seven buyers and a browser, a saved segment of buyers run once."""
    with serving(tmp_path_factory.mktemp("reads")) as s:
        batch = [
            call
            for i in range(BUYERS)
            for call in (
                {"type": "identify", "userId": f"buyer-{i}", "traits": {"email": f"b{i}@x.it"}},
                {
                    "type": "track",
                    "userId": f"buyer-{i}",
                    "event": "Order Completed",
                    "properties": {"total": 10 * i},
                    "timestamp": TS,
                },
            )
        ]
        batch.append({"type": "page", "anonymousId": "browser-1", "timestamp": TS})
        assert s.post("/v1/batch", {"batch": batch}).status_code == 200
        definition = parse_segment(
            {"name": "buyers", "where": {"event": "Order Completed"}}, source="test"
        )
        save_segment(s.store, definition)
        run_saved_segment(s.store, "buyers")
        yield s


@pytest.mark.parametrize("identifier", ["b3@x.it", " B3@X.IT ", "buyer-3", "http:user:buyer-3"])
def test_lookup_by_any_identifier(shop: Served, identifier: str) -> None:
    response = shop.get("/v1/lookup", identifier=identifier)
    assert response.status_code == 200
    assert response.json()["customer_ids"] == shop.graph.lookup("buyer-3")


def test_profile(shop: Served) -> None:
    (customer,) = shop.graph.lookup("buyer-2")
    answer = shop.get(f"/v1/customers/{customer}").json()
    assert answer["id"] == customer
    assert answer["golden"]["email"] == "b2@x.it"
    assert [e["properties"]["total"] for e in answer["events"]] == [20]
    assert [s["name"] for s in answer["segments"]] == ["buyers"]


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/v1/lookup", {"identifier": "nobody@x.it"}, "no customer found"),
        ("/v1/customers/C-missing", {}, "no customer with id"),
        ("/v1/segments/nosuch/members", {}, "no saved segment"),
        ("/v1/explain", {"a": "http:user:buyer-1", "b": "http:user:ghost"}, "no record"),
    ],
)
def test_unknown_things_get_404_with_a_message(
    shop: Served, path: str, params: dict[str, str], message: str
) -> None:
    response = shop.get(path, **params)
    assert response.status_code == 404
    assert message in response.json()["message"]


@pytest.mark.parametrize(("offset", "limit"), [(0, 3), (3, 3), (6, 3), (0, 100), (10, 5)])
def test_segment_members_page(shop: Served, offset: int, limit: int) -> None:
    everyone = sorted(shop.graph.lookup(f"buyer-{i}")[0] for i in range(BUYERS))
    page = shop.get("/v1/segments/buyers/members", offset=offset, limit=limit).json()
    assert page["total"] == BUYERS
    assert [m["id"] for m in page["members"]] == everyone[offset : offset + limit]


def test_segment_page_size_is_capped(shop: Served) -> None:
    response = shop.get("/v1/segments/buyers/members", limit=1001)
    assert response.status_code == 400
    assert "maximum page size 1000" in response.json()["message"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http:user:buyer-1", "http:user:buyer-1", True),
        ("http:user:buyer-1", "http:user:buyer-2", False),
        ("http:anon:browser-1", "http:user:buyer-2", False),
    ],
)
def test_explain(shop: Served, a: str, b: str, same: bool) -> None:
    answer = shop.get("/v1/explain", a=a, b=b).json()
    assert answer["same_customer"] is same and answer["record_a"] == a


def test_openapi_documents_every_endpoint_and_call_model(shop: Served) -> None:
    spec = shop.client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {f"/v1/{k}" for k in ("identify", "track", "page", "screen", "alias", "batch")} <= paths
    assert {"/v1/lookup", "/v1/customers/{customer_id}", "/v1/explain", "/health"} <= paths
    assert "/v1/segments/{name}/members" in paths
    track = spec["paths"]["/v1/track"]["post"]["requestBody"]["content"]["application/json"]
    assert "event" in track["schema"]["required"]
    assert "CustomerProfile" in spec["components"]["schemas"]


def test_lookup_of_a_junk_value_and_explain_say_why(tmp_path: Path) -> None:
    """The service answers as the CLI does: a junk value is named junk, and two logins on one
    tablet are apart because the tablet's id joins two distinct user ids (limit 1)."""
    with serving(tmp_path) as s:
        batch = [
            {"type": "identify", "userId": "kid", "anonymousId": "tablet", "timestamp": TS},
            {"type": "identify", "userId": "mum", "anonymousId": "tablet", "timestamp": TS},
            {"type": "identify", "userId": "dad", "traits": {"email": "dad@example.com"}},
        ]
        assert s.post("/v1/batch", {"batch": batch}).status_code == 200
        junk = s.get("/v1/lookup", identifier="dad@example.com")
        assert junk.status_code == 404
        assert "treats it as junk" in junk.json()["message"]
        answer = s.get("/v1/explain", a="http:user:kid", b="http:user:mum").json()
    assert answer["same_customer"] is False
    (refusal,) = answer["refusals"]
    assert refusal["identifier"] == "anonymous_id:tablet"
    assert refusal["reason"] == "joins 2 distinct user_id (limit 1)"
    assert refusal["setting"] == "limits.user_id"
