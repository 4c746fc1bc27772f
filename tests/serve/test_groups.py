"""`group` calls: stored as account memberships with the account's traits, on the real
embedded store, and asked for by segments (`account:` conditions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from idgraph.errors import SegmentDefinitionError
from idgraph.segment import parse_segment, run_segment
from idgraph.segment.run import explain_segment
from tests.serve.conftest import TS, Served

AS_OF_MS = int(dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def accounts(served: Served) -> dict[str, dict[str, Any]]:
    rows = served.store.query(
        "test:accounts",
        "MATCH (a:Account) RETURN a.id AS id, a.traits AS traits, "
        "a.first_seen_ts AS first_seen_ts, a.updated_ts AS updated_ts",
        {},
    )
    return {row["id"]: row for row in rows}


def account_property(served: Served, account: str, name: str) -> Any:
    assert name.isidentifier()
    rows = served.store.query(
        "test:account_property",
        f"MATCH (a:Account {{id: $id}}) RETURN a.`{name}` AS v",
        {"id": account},
    )
    return rows[0]["v"]


def members(served: Served) -> set[tuple[str, str]]:
    rows = served.store.query(
        "test:members",
        "MATCH (r:Record)-[:MEMBER_OF]->(a:Account) RETURN r.key AS record, a.id AS account",
        {},
    )
    return {(row["record"], row["account"]) for row in rows}


def group(user: str, account: Any, ts: str = TS, **traits: Any) -> dict[str, Any]:
    return {"type": "group", "userId": user, "groupId": account, "traits": traits, "timestamp": ts}


def test_group_endpoint_stores_membership_and_account_traits(fresh: Served) -> None:
    call = {
        "userId": "g-1",
        "groupId": "acme",
        "timestamp": TS,
        "traits": {
            "name": "Acme Inc",
            "plan": "enterprise",
            "employees": 120,
            "paying": True,
            "address": {"city": "Milan"},
        },
    }
    response = fresh.post("/v1/group", call)
    assert response.status_code == 200, response.text
    assert response.json()["customers"] == fresh.graph.lookup("g-1")
    (acme,) = accounts(fresh).values()
    assert acme["id"] == "acme"
    assert orjson.loads(acme["traits"]) == {
        "name": "Acme Inc",
        "plan": "enterprise",
        "employees": 120.0,
        "paying": True,
    }
    assert account_property(fresh, "acme", "plan") == "enterprise"
    assert account_property(fresh, "acme", "employees") == 120.0
    assert account_property(fresh, "acme", "paying") is True
    assert members(fresh) == {("http:user:g-1", "acme")}


def test_group_calls_in_a_batch_merge_traits_newest_first(fresh: Served) -> None:
    batch = [
        group("g-1", "acme", "2024-05-01T00:00:00Z", plan="pro", region="eu"),
        group("g-2", "acme", "2024-05-03T00:00:00Z", plan="enterprise"),
        {"type": "group", "anonymousId": "visitor-9", "groupId": 42, "timestamp": TS},
        {"type": "group", "userId": "g-3"},
    ]
    answer = fresh.post("/v1/batch", {"batch": batch}).json()
    assert (answer["accepted"], answer["rejected"]) == (3, 1)
    assert answer["errors"][0]["field"] == "groupId"
    assert account_property(fresh, "acme", "plan") == "enterprise"
    assert account_property(fresh, "acme", "region") == "eu"
    assert members(fresh) == {
        ("http:user:g-1", "acme"),
        ("http:user:g-2", "acme"),
        ("http:anon:visitor-9", "42"),
    }
    # A late retry of an older call changes nothing; a newer one overwrites what it sends.
    fresh.post("/v1/batch", {"batch": [group("g-1", "acme", "2024-04-01T00:00:00Z", plan="free")]})
    assert account_property(fresh, "acme", "plan") == "enterprise"
    fresh.post("/v1/batch", {"batch": [group("g-2", "acme", "2024-06-01T00:00:00Z", plan="pro")]})
    assert account_property(fresh, "acme", "plan") == "pro"
    assert account_property(fresh, "acme", "region") == "eu"
    acme = accounts(fresh)["acme"]
    assert acme["first_seen_ts"] < acme["updated_ts"]
    assert len(members(fresh)) == 3  # repeated calls add no second membership


def test_a_trait_of_another_type_stays_in_traits_only(fresh: Served) -> None:
    fresh.post("/v1/group", group("g-1", "a1", employees=10))
    fresh.post("/v1/group", group("g-2", "a2", "2024-05-05T00:00:00Z", employees="many"))
    assert account_property(fresh, "a2", "employees") is None
    assert orjson.loads(accounts(fresh)["a2"]["traits"]) == {"employees": "many"}


@pytest.fixture
def b2b(fresh: Served) -> Served:
    calls = [
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.it"}, "timestamp": TS},
        {
            "type": "identify",
            "userId": "bob",
            "traits": {"email": "bob@globex.it"},
            "timestamp": TS,
        },
        {"type": "identify", "userId": "cat", "traits": {"email": "cat@x.it"}, "timestamp": TS},
        group("ann", "acme", plan="enterprise", employees=900),
        group("bob", "globex", plan="starter", employees=12),
        {"type": "group", "anonymousId": "anon-dan", "groupId": "acme", "timestamp": TS},
        {
            "type": "identify",
            "userId": "dan",
            "anonymousId": "anon-dan",
            "traits": {"email": "dan@acme.it"},
            "timestamp": TS,
        },
    ]
    assert fresh.post("/v1/batch", {"batch": calls}).json()["accepted"] == len(calls)
    return fresh


def emails(served: Served, where: dict[str, Any]) -> set[str | None]:
    defn = parse_segment({"name": "b2b", "where": where}, source="test")
    result = run_segment(served.store, defn, as_of_ms=AS_OF_MS)
    return {member.email for member in result.members}


def test_segment_of_customers_of_enterprise_accounts(b2b: Served) -> None:
    enterprise = {"account": "plan", "op": "=", "value": "enterprise"}
    assert emails(b2b, enterprise) == {"ann@acme.it", "dan@acme.it"}
    assert emails(b2b, {"account": "employees", "op": "<", "value": 100}) == {"bob@globex.it"}
    assert emails(b2b, {"account": "id", "op": "in", "value": ["globex"]}) == {"bob@globex.it"}
    assert emails(b2b, {"not": enterprise}) == {"bob@globex.it", "cat@x.it"}
    both = {"all": [enterprise, {"trait": "email", "op": "starts_with", "value": "d"}]}
    assert emails(b2b, both) == {"dan@acme.it"}


def test_account_condition_is_checked_against_the_store(b2b: Served) -> None:
    defn = parse_segment(
        {"name": "x", "where": {"account": "seats", "op": ">", "value": 3}}, source="test"
    )
    with pytest.raises(SegmentDefinitionError, match=r"unknown account property 'seats'.*plan"):
        explain_segment(b2b.store, defn, as_of_ms=AS_OF_MS)
    wrong = parse_segment(
        {"name": "x", "where": {"account": "employees", "op": "=", "value": "many"}},
        source="test",
    )
    with pytest.raises(SegmentDefinitionError, match="holds numbers"):
        explain_segment(b2b.store, wrong, as_of_ms=AS_OF_MS)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"account": "Plan", "op": "=", "value": "x"}, "not a valid property name"),
        ({"account": "plan`) DETACH DELETE (a", "op": "=", "value": "x"}, "not a valid"),
        ({"account": "plan", "op": "="}, "needs a value"),
        ({"account": "plan", "op": "like", "value": "x"}, "op"),
    ],
)
def test_bad_account_conditions_are_refused_by_name(where: dict[str, Any], message: str) -> None:
    with pytest.raises(SegmentDefinitionError, match=message):
        parse_segment({"name": "x", "where": where}, source="test")


def test_account_values_travel_as_parameters(b2b: Served) -> None:
    defn = parse_segment(
        {"name": "x", "where": {"account": "plan", "op": "=", "value": "enterprise' OR 1=1"}},
        source="test",
    )
    query = explain_segment(b2b.store, defn, as_of_ms=AS_OF_MS)
    assert "enterprise" not in query.cypher and "enterprise' OR 1=1" in query.params.values()
    assert emails(b2b, defn.where.model_dump()) == set()


def test_profile_lists_the_customers_accounts(b2b: Served) -> None:
    (dan,) = b2b.graph.lookup("dan@acme.it")
    (account,) = b2b.graph.profile(dan).accounts
    assert account.id == "acme" and account.records == ["http:anon:anon-dan"]
    assert account.traits == {"plan": "enterprise", "employees": 900.0}
    answer = b2b.get(f"/v1/customers/{dan}").json()
    assert answer["accounts"][0]["traits"]["plan"] == "enterprise"
    (cat,) = b2b.graph.lookup("cat@x.it")
    assert b2b.graph.profile(cat).accounts == []


def test_saved_segments_follow_group_calls(fresh: Served) -> None:
    """A group call moves its caller into a saved `account:` segment, and an account whose
    plan changes moves all its members out, though none of them was re-resolved."""
    from idgraph.segment.saved import run_saved_segment, save_segment

    for user in ("s-1", "s-2"):
        call = {"userId": user, "traits": {"email": f"{user}@x.it"}, "timestamp": TS}
        assert fresh.post("/v1/identify", call).status_code == 200
    fresh.post("/v1/group", group("s-0", "acme", plan="enterprise"))
    where = {"account": "plan", "op": "=", "value": "enterprise"}
    save_segment(fresh.store, parse_segment({"name": "ent", "where": where}, source="t"))
    run_saved_segment(fresh.store, "ent")

    def in_segment() -> set[str]:
        rows = fresh.store.query(
            "test:in_segment",
            "MATCH (c:Customer)-[:IN_SEGMENT]->(:Segment {name: $name}) "
            "MATCH (c)-[:HAS_RECORD]->(r:Record) RETURN r.source_id AS user",
            {"name": "ent"},
        )
        return {row["user"] for row in rows}

    assert in_segment() == {"s-0"}
    fresh.post("/v1/group", group("s-1", "acme"))  # same time as its identify: no re-resolve
    fresh.post("/v1/group", group("s-2", "acme"))
    assert in_segment() == {"s-0", "s-1", "s-2"}
    fresh.post("/v1/group", group("s-0", "acme", "2024-06-01T00:00:00Z", plan="starter"))
    assert in_segment() == set()


def test_many_accounts_in_one_commit(fresh: Served) -> None:
    """More accounts than one write statement takes (2,000), with a trait that only some of
    them carry: each statement sets the columns its own rows hold."""
    calls = [
        group(f"many-{n}", f"acc-{n:04d}", **({"seats": n} if n < 10 else {"tier": "x"}))
        for n in range(2010)
    ]
    answer = fresh.post("/v1/batch", {"batch": calls})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2010
    assert account_property(fresh, "acc-0003", "seats") == 3.0
    assert account_property(fresh, "acc-2009", "tier") == "x"
    assert account_property(fresh, "acc-2009", "seats") is None
    assert len(members(fresh)) == 2010
