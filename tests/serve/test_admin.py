"""Admin endpoints (issue 19, point 6): forget, history, link and split over the same library
functions as the CLI, behind admin keys that write keys do not open, and the other way round."""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.erasure import forget
from idgraph.pipeline import erased_hashes
from idgraph.serve import admin_keys_from_env
from idgraph.serve.service import Service
from tests.serve.conftest import KEY, TS, Served, basic, serving

ADMIN_KEY = "admin-key-1"
#: Listed as a write key and as an admin key: opens both.
BOTH_KEY = "both-key-1"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
WRITE = {"Authorization": f"Bearer {KEY}"}
ROUTES = [
    ("POST", "/v1/admin/forget", {"identifier": "x@x.it", "dry_run": True}),
    ("POST", "/v1/admin/link", {"record_a": "http:user:a", "record_b": "http:user:b"}),
    ("POST", "/v1/admin/split", {"customer_id": "C-1", "records": ["http:user:a"]}),
    ("GET", "/v1/admin/history/C-1", None),
]


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A service with write keys KEY and BOTH_KEY, admin keys ADMIN_KEY and BOTH_KEY."""
    with serving(
        tmp_path_factory.mktemp("admin"),
        api_keys=(KEY, BOTH_KEY),
        admin_keys=(ADMIN_KEY, BOTH_KEY),
    ) as s:
        yield s


def _call(s: Served, method: str, path: str, body: Any = None, headers: Any = None) -> Any:
    return s.client.request(method, path, json=body, headers=ADMIN if headers is None else headers)


def _person(s: Served, name: str, *, events: int = 1) -> str:
    """One person (a login with an email and a phone, and their orders); their customer id."""
    batch: list[dict[str, Any]] = [
        {
            "type": "identify",
            "userId": f"{name}-user",
            "traits": {"email": f"{name}@shop.it", "phone": _phone(name)},
            "timestamp": TS,
        }
    ]
    batch += [
        {
            "type": "track",
            "userId": f"{name}-user",
            "event": "Order Completed",
            "messageId": f"{name}-order-{i}",
            "timestamp": TS,
        }
        for i in range(events)
    ]
    assert s.post("/v1/batch", {"batch": batch}).json()["resolved"] is True
    (customer,) = s.graph.lookup(f"{name}-user")
    return customer


def _phone(name: str) -> str:
    """A mobile number of the person's own (people sharing a phone would not be erased alike)."""
    return f"+39 347 {zlib.crc32(name.encode()) % 10_000_000:07d}"


def _visitors(s: Served, name: str, count: int) -> None:
    """Anonymous visitors who give `name`'s email: records that join the person by email."""
    batch = [
        {
            "type": "page",
            "anonymousId": f"{name}-visit-{i}",
            "context": {"traits": {"email": f"{name}@shop.it"}},
            "timestamp": TS,
        }
        for i in range(count)
    ]
    assert s.post("/v1/batch", {"batch": batch}).json()["resolved"] is True


def _count(s: Served, cypher: str) -> int:
    return int(s.store.query("test", cypher, {})[0]["n"])


# -- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_write_key_is_refused_on_admin_routes(
    admin: Served, method: str, path: str, body: Any
) -> None:
    response = _call(admin, method, path, body, headers=WRITE)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "IDGRAPH_ADMIN_KEYS" in response.json()["message"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Bearer nope"}, "invalid admin key"),
        ({"Authorization": f"Bearer {ADMIN_KEY}x"}, "invalid admin key"),
        ({"Authorization": "Basic %%%"}, "unreadable Authorization header"),
    ],
)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_missing_or_wrong_keys_get_401_on_admin_routes(
    admin: Served, method: str, path: str, body: Any, headers: dict[str, str], message: str
) -> None:
    response = _call(admin, method, path, body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert message in response.json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/identify", {"userId": "admin-intruder", "timestamp": TS}),
        ("POST", "/v1/batch", {"batch": [{"type": "identify", "userId": "admin-intruder"}]}),
        ("GET", "/v1/lookup?identifier=x", None),
        ("GET", "/v1/customers/C-1", None),
        ("GET", "/v1/status", None),
    ],
)
def test_an_admin_key_is_refused_on_collection_and_reads(
    admin: Served, method: str, path: str, body: Any
) -> None:
    response = _call(admin, method, path, body, headers=ADMIN)
    assert response.status_code == 401
    assert "invalid API key" in response.json()["message"]
    assert admin.graph.lookup("admin-intruder") == []


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {ADMIN_KEY}"}, basic(ADMIN_KEY), basic(BOTH_KEY)]
)
def test_admin_keys_open_admin_routes_by_bearer_or_basic(
    admin: Served, headers: dict[str, str]
) -> None:
    customer = _person(admin, f"opens-{headers['Authorization'][-5:].lower()}")
    response = _call(admin, "GET", f"/v1/admin/history/{customer}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == customer


def test_a_key_listed_as_both_opens_both(admin: Served) -> None:
    both = {"Authorization": f"Bearer {BOTH_KEY}"}
    body = {"userId": "both-key-user", "timestamp": TS}
    response = admin.client.post("/v1/identify", json=body, headers=both, params={"wait": "true"})
    assert response.status_code == 200
    (customer,) = admin.graph.lookup("both-key-user")
    assert _call(admin, "GET", f"/v1/admin/history/{customer}", headers=both).status_code == 200


@pytest.mark.parametrize("auth", [True, False], ids=["auth", "no-auth"])
def test_without_admin_keys_admin_routes_are_off(tmp_path: Path, auth: bool) -> None:
    with serving(tmp_path, auth=auth) as s:
        customer = _person(s, "kept")
        for headers in (WRITE, ADMIN, {}):
            body = {"identifier": "kept@shop.it"}
            response = _call(s, "POST", "/v1/admin/forget", body, headers=headers)
            assert response.status_code == 403
            assert response.json()["code"] == "admin_disabled"
            assert "set IDGRAPH_ADMIN_KEYS" in response.json()["message"]
        assert s.graph.lookup("kept@shop.it") == [customer]


def test_no_auth_leaves_collection_open_and_admin_routes_keyed(tmp_path: Path) -> None:
    with serving(tmp_path, auth=False, api_keys=(), admin_keys=(ADMIN_KEY,)) as s:
        body = {"userId": "open-user", "timestamp": TS}
        assert s.client.post("/v1/identify", json=body).status_code == 200
        assert _call(s, "GET", "/v1/admin/history/C-1", headers={}).status_code == 401
        assert _call(s, "GET", "/v1/admin/history/C-1", headers=WRITE).status_code == 401
        assert _call(s, "GET", "/v1/admin/history/C-1").status_code == 404  # past the key


@pytest.mark.parametrize(
    ("env", "keys"),
    [
        ({}, ()),
        ({"IDGRAPH_ADMIN_KEYS": " a1 ,, a2"}, ("a1", "a2")),
        ({"IDGRAPH_API_KEYS": "k"}, ()),
    ],
)
def test_admin_keys_come_from_their_own_variable(env: dict[str, str], keys: tuple[str]) -> None:
    assert admin_keys_from_env(env) == keys


def test_serve_help_names_the_admin_keys_variable() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "IDGRAPH_ADMIN_KEYS" in result.stdout and "/v1/admin/forget" in result.stdout


def test_admin_routes_are_in_the_openapi_schema(admin: Served) -> None:
    paths = admin.client.get("/openapi.json").json()["paths"]
    assert {"/v1/admin/forget", "/v1/admin/link", "/v1/admin/split"} <= set(paths)
    assert "/v1/admin/history/{customer_id}" in paths


# -- forget ---------------------------------------------------------------------------------


def test_forget_removes_the_person_and_answers_counts_only(
    admin: Served, caplog: pytest.LogCaptureFixture
) -> None:
    customer = _person(admin, "erin", events=3)
    expected = forget(admin.store, "erin@shop.it", default_region="US", dry_run=True)
    records = _count(admin, "MATCH (r:Record) RETURN count(r) AS n")
    with caplog.at_level(logging.DEBUG):
        response = _call(admin, "POST", "/v1/admin/forget", {"identifier": "erin@shop.it"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["customer"] == customer == expected.customer
    assert answer["dry_run"] is False
    assert (answer["records"], answer["events"]) == (len(expected.records), expected.events)
    assert (answer["records"], answer["events"]) == (1, 3)
    assert answer["identifiers"] == expected.identifiers
    assert answer["identifiers"]["email"] == answer["identifiers"]["phone"] == 1
    assert answer["remembered"] == expected.remembered == 3  # email, phone, user id
    assert answer["records_resolved"] is not None
    phone = _phone("erin").replace(" ", "")
    for value in ("erin@shop.it", "erin-user", phone, phone[3:], "http:user:erin-user"):
        assert value not in response.text
        assert value not in caplog.text
    assert _count(admin, "MATCH (r:Record) RETURN count(r) AS n") == records - 1
    assert admin.get("/v1/lookup", identifier="erin@shop.it").status_code == 404
    assert admin.graph.lookup("erin-user") == []
    history = _call(admin, "GET", f"/v1/admin/history/{customer}").json()
    assert history["status"] == "erased" and history["current"] is None
    assert "erased" in [e["kind"] for e in history["entries"]]


def test_after_forget_the_service_refuses_the_identifiers(admin: Served) -> None:
    _person(admin, "fred")
    assert _call(admin, "POST", "/v1/admin/forget", {"identifier": "fred-user"}).status_code == 200
    refused = admin.get("/v1/status").json()["refused"]
    again = admin.post(
        "/v1/identify", {"userId": "someone-new", "traits": {"email": "fred@shop.it"}}
    )
    # The call's shape is fine, so it is acknowledged; the resolver refuses it.
    assert again.json()["accepted"] == 1 and again.json()["resolved"] is True
    assert admin.get("/v1/status").json()["refused"] == refused + 1
    assert "erased" in admin.rejects_lines()[-1]["reason"]
    assert admin.graph.lookup("fred@shop.it") == [] == admin.graph.lookup("someone-new")


def test_a_dry_run_changes_nothing(admin: Served) -> None:
    customer = _person(admin, "dora", events=2)
    records = _count(admin, "MATCH (r:Record) RETURN count(r) AS n")
    events = _count(admin, "MATCH (e:Event) RETURN count(e) AS n")
    hashes = erased_hashes(admin.store)
    body = {"identifier": "dora@shop.it", "dry_run": True}
    response = _call(admin, "POST", "/v1/admin/forget", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["dry_run"] is True and answer["customer"] == customer
    assert (answer["records"], answer["events"]) == (1, 2)
    assert answer["records_resolved"] is None
    assert _count(admin, "MATCH (r:Record) RETURN count(r) AS n") == records
    assert _count(admin, "MATCH (e:Event) RETURN count(e) AS n") == events
    assert erased_hashes(admin.store) == hashes
    assert admin.graph.lookup("dora@shop.it") == [customer]
    again = admin.post("/v1/identify", {"userId": "dora-user", "traits": {"email": "dora@shop.it"}})
    assert again.json()["accepted"] == 1


def test_forget_by_customer_id(admin: Served) -> None:
    customer = _person(admin, "cid")
    response = _call(admin, "POST", "/v1/admin/forget", {"identifier": customer})
    assert response.status_code == 200 and response.json()["customer"] == customer
    assert admin.graph.lookup("cid@shop.it") == []


def test_forget_waits_for_calls_acknowledged_before_it(tmp_path: Path) -> None:
    """The erasure must cover every call acknowledged before it: with those calls still
    unresolved it answers 503 and erases nothing; once they are resolved it erases them too."""
    with serving(tmp_path, admin_keys=(ADMIN_KEY,), resolver_paused=True, wait_timeout_s=0.3) as s:
        body = {"userId": "late-user", "traits": {"email": "late@shop.it"}, "timestamp": TS}
        assert s.post("/v1/identify", body, params={}).json()["accepted"] == 1
        refused = _call(s, "POST", "/v1/admin/forget", {"identifier": "late@shop.it"})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert "resolver" in refused.json()["message"]
        service: Service = s.client.app.state.service  # type: ignore[attr-defined]
        service.resolver.resume()
        s.settle()
        response = _call(s, "POST", "/v1/admin/forget", {"identifier": "late@shop.it"})
        assert response.status_code == 200, response.text
        assert response.json()["records"] == 1
        assert s.graph.lookup("late-user") == []


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"identifier": "nobody@shop.it"}, 404, "identifier", "no customer found"),
        ({"identifier": "test@test.com"}, 404, "identifier", "junk"),
        ({"identifier": "   "}, 400, "identifier", "at least 1 character"),
        ({"identifier": "x" * 513}, 400, "identifier", "at most 512"),
        ({}, 400, "identifier", "Field required"),
        ({"identifier": "ivy@shop.it", "dryrun": True}, 400, "dryrun", "Extra inputs"),
        ({"identifier": "ivy@shop.it", "dry_run": "maybe"}, 400, "dry_run", "boolean"),
        ({"identifier": "ivy@shop.it", "default_region": "ITA"}, 400, "default_region", "match"),
    ],
)
def test_forget_refuses_bad_input_naming_the_field(
    admin: Served, body: dict[str, Any], status: int, field: str, message: str
) -> None:
    customer = _person(admin, "ivy")
    response = _call(admin, "POST", "/v1/admin/forget", body)
    assert response.status_code == status
    problem = response.json()
    assert problem["success"] is False and problem["code"]
    assert field in [e["field"] for e in problem["errors"]]
    assert message in problem["message"]
    assert admin.graph.lookup("ivy@shop.it") == [customer]


def test_forget_of_a_value_on_several_customers_is_a_conflict(admin: Served) -> None:
    """Two logins giving one email stay two customers (one user id per customer)."""
    for user in ("twin-1", "twin-2"):
        body = {"userId": user, "traits": {"email": "twins@shop.it"}, "timestamp": TS}
        admin.post("/v1/identify", body)
    assert len(admin.graph.lookup("twins@shop.it")) == 2
    response = _call(admin, "POST", "/v1/admin/forget", {"identifier": "twins@shop.it"})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert response.json()["errors"][0]["field"] == "identifier"
    assert "by customer id" in response.json()["message"]
    assert len(admin.graph.lookup("twins@shop.it")) == 2


def test_a_body_that_is_not_json_is_refused(admin: Served) -> None:
    response = admin.client.post(
        "/v1/admin/forget",
        content=b"{not json",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


# -- history --------------------------------------------------------------------------------


def test_history_is_what_the_query_module_says(admin: Served) -> None:
    customer = _person(admin, "hal")
    response = _call(admin, "GET", f"/v1/admin/history/{customer}")
    assert response.status_code == 200
    assert response.json() == admin.graph.history(customer).model_dump()
    assert response.json()["status"] == "active"
    assert [e["kind"] for e in response.json()["entries"]] == ["created"]


def test_history_of_an_unknown_id_is_404_naming_it(admin: Served) -> None:
    response = _call(admin, "GET", "/v1/admin/history/C-never-issued")
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "customer_id"
    assert "C-never-issued" in response.json()["message"]


# -- link -----------------------------------------------------------------------------------


def test_link_merges_two_customers_as_the_cli_does(admin: Served) -> None:
    person = _person(admin, "lia")
    visit = {"type": "page", "anonymousId": "lia-phone-visit", "timestamp": TS}
    admin.post("/v1/batch", {"batch": [visit]})
    (visitor,) = admin.graph.lookup("lia-phone-visit")
    assert visitor != person
    body = {"record_a": "http:user:lia-user", "record_b": "http:anon:lia-phone-visit"}
    response = _call(admin, "POST", "/v1/admin/link", {**body, "reason": "same phone"})
    assert response.status_code == 200, response.text
    answer = response.json()
    survivor = admin.graph.lookup("lia-user")
    assert answer["linked"] is True
    assert [answer["customer_a"]] == [answer["customer_b"]] == survivor
    assert admin.graph.lookup("lia-phone-visit") == survivor
    (merge,) = answer["merged"]
    assert {merge["absorbed"], merge["survivor"]} == {person, visitor}
    absorbed = _call(admin, "GET", f"/v1/admin/history/{merge['absorbed']}").json()
    assert absorbed["status"] == "merged" and [absorbed["current"]] == survivor
    path = admin.graph.explain(body["record_a"], body["record_b"])
    assert [s.rule for s in path.steps] == ["must_link"]


def test_link_reports_a_part_a_guard_splits_off(admin: Served) -> None:
    """An anonymous visitor shares ann's email; linking them to another login (one user id per
    customer) refuses the email link, and ann's login leaves as a customer of its own."""
    batch = [
        {"type": "identify", "userId": "ann-u1", "traits": {"email": "ann@shop.it"}},
        {"type": "identify", "userId": "ann-u2"},
        {
            "type": "page",
            "anonymousId": "ann-visit",
            "context": {"traits": {"email": "ann@shop.it"}},
        },
    ]
    admin.post("/v1/batch", {"batch": [{**call, "timestamp": TS} for call in batch]})
    assert admin.graph.lookup("ann-u1") == admin.graph.lookup("ann-visit")
    body = {"record_a": "http:anon:ann-visit", "record_b": "http:user:ann-u2"}
    answer = _call(admin, "POST", "/v1/admin/link", body).json()
    assert answer["linked"] is True
    assert admin.graph.lookup("ann-visit") == admin.graph.lookup("ann-u2")
    (part,) = answer["split"]
    assert admin.graph.lookup("ann-u1") == [part["part"]]
    history = _call(admin, "GET", f"/v1/admin/history/{part['part']}").json()
    assert "refused" in history["entries"][-1]["detail"]


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"record_a": "http:user:kit-user", "record_b": "http:user:kit-user"}, 400, "record_b",
         "two different records"),
        ({"record_a": "http:user:ghost", "record_b": "http:user:kit-user"}, 404, "record_a",
         "no record with key 'http:user:ghost'"),
        ({"record_a": "http:user:kit-user", "record_b": "kit@shop.it"}, 404, "record_b",
         "no record with key"),
        ({"record_a": "http:user:kit-user"}, 400, "record_b", "Field required"),
        ({"record_a": "http:user:kit-user", "record_b": ""}, 400, "record_b", "at least 1"),
        ({"record_a": "a", "record_b": "b", "force": True}, 400, "force", "Extra inputs"),
    ],
)  # fmt: skip
def test_link_refuses_bad_input_naming_the_field(
    admin: Served, body: dict[str, Any], status: int, field: str, message: str
) -> None:
    customer = _person(admin, "kit")
    response = _call(admin, "POST", "/v1/admin/link", body)
    assert response.status_code == status
    assert field in [e["field"] for e in response.json()["errors"]]
    assert message in response.json()["message"]
    assert admin.graph.lookup("kit-user") == [customer]
    assert admin.graph.history(customer).entries[-1].kind == "created"


def test_an_admin_write_waits_for_the_resolver_to_let_go(admin: Served) -> None:
    """Admin writes run inside `resolver.exclusive()`: while it is held, they wait."""
    _person(admin, "wes")
    admin.post("/v1/batch", {"batch": [{"type": "page", "anonymousId": "wes-visit"}]})
    body = {"record_a": "http:user:wes-user", "record_b": "http:anon:wes-visit"}
    answers: list[Any] = []
    service: Service = admin.client.app.state.service  # type: ignore[attr-defined]
    with service.resolver.exclusive():
        worker = threading.Thread(
            target=lambda: answers.append(_call(admin, "POST", "/v1/admin/link", body))
        )
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and not answers
        assert admin.graph.lookup("wes-user") != admin.graph.lookup("wes-visit")
    worker.join(30)
    assert answers[0].status_code == 200, answers[0].text
    assert admin.graph.lookup("wes-user") == admin.graph.lookup("wes-visit")


# -- split ----------------------------------------------------------------------------------


def test_split_takes_records_out_as_the_cli_does(admin: Served) -> None:
    customer = _person(admin, "sam")
    _visitors(admin, "sam", 2)
    members = sorted(r.key for r in admin.graph.profile(customer).records)
    assert members == ["http:anon:sam-visit-0", "http:anon:sam-visit-1", "http:user:sam-user"]
    body = {"customer_id": customer, "records": ["http:anon:sam-visit-1"], "reason": "a kiosk"}
    response = _call(admin, "POST", "/v1/admin/split", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    (new,) = admin.graph.lookup("sam-visit-1")
    assert new != customer
    assert answer == {
        "customer_id": customer,
        "taken": ["http:anon:sam-visit-1"],
        "into": sorted([customer, new]),
    }
    assert admin.graph.lookup("sam-user") == admin.graph.lookup("sam-visit-0") == [customer]
    entries = _call(admin, "GET", f"/v1/admin/history/{customer}").json()["entries"]
    assert {
        "kind": "split_off",
        "other": new,
        "detail": "split by a reviewer: a kiosk",
    }.items() <= (entries[-1].items())
    again = {"record_a": "http:anon:sam-visit-1", "record_b": "http:user:sam-user"}
    refused = _call(admin, "POST", "/v1/admin/link", again)
    assert refused.status_code == 409
    assert "split apart by a reviewer" in refused.json()["message"]


def test_unsplit_undoes_the_split_as_the_cli_does(admin: Served) -> None:
    customer = _person(admin, "ola")
    _visitors(admin, "ola", 2)
    body = {"customer_id": customer, "records": ["http:anon:ola-visit-1"], "reason": "kiosk"}
    assert _call(admin, "POST", "/v1/admin/split", body).status_code == 200
    (part,) = admin.graph.lookup("ola-visit-1")
    assert part != customer
    undo = {"customer_a": customer, "customer_b": part, "reason": "not a kiosk", "by": "lee"}
    response = _call(admin, "POST", "/v1/admin/unsplit", undo)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "customer_a": customer,
        "customer_b": part,
        "removed": 2,  # the visit was kept apart from the login and from the other visit
        "joined": True,
        "into": [customer],
    }
    assert admin.graph.lookup("ola-visit-1") == admin.graph.lookup("ola-user") == [customer]
    entries = _call(admin, "GET", f"/v1/admin/history/{part}").json()["entries"]
    assert [e["kind"] for e in entries][-2:] == ["split_from", "merged_into"]
    assert entries[-1]["detail"].startswith(
        "split undone: by lee: not a kiosk (the split was: kiosk)"
    )
    again = _call(admin, "POST", "/v1/admin/unsplit", undo)
    assert again.status_code == 409
    assert "one customer" in again.json()["message"]
    ghost = _call(admin, "POST", "/v1/admin/unsplit", {**undo, "customer_b": "C-no-such"})
    assert ghost.status_code == 404
    assert ghost.json()["errors"][0]["field"] == "customer_b"


@pytest.mark.parametrize(
    ("records", "status", "field", "message"),
    [
        (["http:user:other-user"], 400, "records", "not records of"),
        (["http:anon:uma-visit-0", "http:user:uma-user"], 400, "records", "leave at least one"),
        ([], 400, "records", "at least 1 item"),
        ([""], 400, "records.0", "at least 1 character"),
        (None, 404, "customer_id", "no customer with id"),
    ],
)
def test_split_refuses_bad_input_naming_the_field(
    admin: Served, records: list[str] | None, status: int, field: str, message: str
) -> None:
    customer = _person(admin, "uma")
    _visitors(admin, "uma", 1)
    body: dict[str, Any] = {"customer_id": customer, "records": records}
    if records is None:
        body = {"customer_id": "C-no-such", "records": ["http:user:uma-user"]}
    response = _call(admin, "POST", "/v1/admin/split", body)
    assert response.status_code == status
    assert field in [e["field"] for e in response.json()["errors"]]
    assert message in response.json()["message"]
    assert admin.graph.lookup("uma-visit-0") == admin.graph.lookup("uma-user") == [customer]
