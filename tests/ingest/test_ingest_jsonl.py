"""Segment / RudderStack event streams: each call type, bad lines, stitching, idempotence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from idgraph.errors import ConfigError
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph

Write = Callable[[str, str | bytes], Path]
Reader = Callable[..., Any]

TS = "2024-05-04T10:00:00Z"
TS_MS = 1714816800000


def jsonl(*calls: dict[str, Any] | str) -> str:
    return "".join((c if isinstance(c, str) else orjson.dumps(c).decode()) + "\n" for c in calls)


def call(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "timestamp": TS, **fields}


def test_each_call_type(write: Write, read: Reader) -> None:
    path = write(
        "Web.jsonl",
        jsonl(
            call(
                "page",
                anonymousId="a1",
                name="Home",
                messageId="m1",
                properties={"url": "https://shop.it/"},
                context={"device": {"id": "d1"}},
            ),
            call("screen", anonymousId="a2", name="Cart", messageId="m2"),
            call(
                "identify",
                userId="u1",
                anonymousId="a1",
                traits={
                    "email": "Ann@Shop.it",
                    "name": "Ann Maria Rossi",
                    "birthday": "1980-05-04",
                    "address": {"city": "Roma", "postalCode": "00100", "country": "IT"},
                    "lifetimeValue": 12,
                    "plan": "gold",
                    "optedIn": True,
                    "prefs": {"x": 1},
                },
            ),
            call(
                "track",
                userId="u1",
                event="Order Completed",
                messageId="m3",
                properties={"total": 9.5, "items": [1, 2]},
                context={"traits": {"phone": "+39 06 1234 5678"}},
            ),
            call("alias", previousId="a1", userId="u1"),
            call("alias", previousId="legacy-7", userId="u1"),
            call("track", anonymousId=42, event="Coupon Used", messageId=7),
        ),
    )
    run = read(path)
    batch = run.batch
    assert batch.source == "web"
    assert run.rejects == []
    assert (batch.counts.read, batch.counts.ingested) == (7, 7)
    assert set(batch.records) == {
        "web:anon:a1",
        "web:anon:a2",
        "web:anon:42",
        "web:user:u1",
        "web:user:a1",
        "web:user:legacy-7",
    }
    assert batch.records["web:user:a1"].identifiers == {("user_id", "a1"), ("anonymous_id", "a1")}
    user = batch.records["web:user:u1"]
    assert user.kind == "user"
    assert user.fields == {
        "email": "ann@shop.it",
        "first_name": "Ann",
        "last_name": "Maria Rossi",
        "birth_date": "1980-05-04",
        "city": "Roma",
        "postcode": "00100",
        "country": "IT",
        "phone": "+390612345678",
    }
    assert {("user_id", "u1"), ("anonymous_id", "a1"), ("email", "ann@shop.it")} <= user.identifiers
    assert user.traits == {"lifetime_value": 12.0, "plan": "gold", "opted_in": True}
    anon = batch.records["web:anon:a1"]
    assert anon.identifiers == {("anonymous_id", "a1"), ("device_id", "d1")}
    events = {e.id: e for e in batch.events}
    assert set(events) == {"web:m1", "web:m2", "web:m3", "web:7"}
    assert (events["web:m1"].name, events["web:m1"].record_key) == ("Page Viewed", "web:anon:a1")
    assert events["web:m1"].properties == {"url": "https://shop.it/", "name": "Home"}
    assert events["web:m2"].name == "Screen Viewed"
    assert events["web:m3"].name == "Order Completed"
    assert events["web:m3"].record_key == "web:user:u1"
    assert events["web:m3"].ts == TS_MS
    assert events["web:m3"].properties == {"total": 9.5, "items": [1, 2]}
    assert events["web:7"].record_key == "web:anon:42"
    links = {(link.a, link.b, link.rule) for link in batch.links}
    assert links == {
        ("web:user:a1", "web:user:u1", "alias"),
        ("web:user:legacy-7", "web:user:u1", "alias"),
    }


def _write_in(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "web.jsonl").write_text(text, encoding="utf-8")
    return folder / "web.jsonl"


@pytest.mark.parametrize("alias_first", [True, False])
@pytest.mark.parametrize("one_file", [True, False])
def test_an_alias_joins_visitor_and_user_however_the_stream_is_cut(
    write: Write, tmp_path: Path, alias_first: bool, one_file: bool
) -> None:
    """The reader cannot tell an anonymous previousId from an earlier login, and must not
    guess from the rest of the file: the grouping would depend on where files are cut."""
    alias = call("alias", previousId="a9", userId="u9", messageId="al")
    visit = call("page", anonymousId="a9", messageId="p")
    login = call("track", userId="u9", event="Signed In", messageId="s")
    calls = [alias, visit, login] if alias_first else [visit, login, alias]
    files = (
        [write("web.jsonl", jsonl(*calls))]
        if one_file
        else [_write_in(tmp_path / f"part{i}", jsonl(c)) for i, c in enumerate(calls)]
    )
    store = tmp_path / "idgraph.db"
    for group in [files] if one_file else [[f] for f in files]:
        run_ingest(group, store=store, rejects_path=tmp_path / "rejects.jsonl", as_of_ms=TS_MS)
    with IdentityGraph(store) as graph:
        customers = {customer for _, customer in graph.clusters()}
        records = {record for record, _ in graph.clusters()}
    assert records == {"web:anon:a9", "web:user:a9", "web:user:u9"}
    assert len(customers) == 1


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ("{not json", None, "invalid JSON"),
        ("[1, 2, 3]", None, "not a JSON object"),
        ('"identify"', None, "not a JSON object"),
        (call("identify", userId="u"), None, None),
        ({"userId": "u", "timestamp": TS}, "type", "missing type"),
        (call("purchase", userId="u"), "type", "unknown type 'purchase'"),
        (call("group", userId="u"), "groupId", "group call without groupId"),
        (call("identify"), "userId", "missing userId and anonymousId"),
        (call("track", event="X", userId=None, anonymousId=""), "userId", "missing userId"),
        (call("identify", userId={"id": 1}), "userId", "userId must be a string or a number"),
        ({"type": "identify", "userId": "u"}, "timestamp", "missing timestamp"),
        (
            {"type": "identify", "userId": "u", "timestamp": "yesterday"},
            "timestamp",
            "not a timestamp",
        ),
        ({"type": "identify", "userId": "u", "sentAt": -5}, "sentAt", "implausible timestamp"),
        ({"type": "identify", "userId": "u", "timestamp": True}, "timestamp", "must be an ISO"),
        (call("track", userId="u"), "event", "track call without an event name"),
        (call("track", userId="u", event="  "), "event", "track call without an event name"),
        (
            call("track", userId="u", event="X", properties=[1]),
            "properties",
            "properties must be an object",
        ),
        (call("identify", userId="u", traits="vip"), "traits", "traits must be an object"),
        (
            call("identify", userId="u", context={"traits": 3}),
            "context.traits",
            "must be an object",
        ),
        (call("alias", userId="u"), "previousId", "alias call without previousId"),
        (call("alias", previousId="a"), "userId", "alias call without userId"),
    ],
)
def test_bad_line_is_rejected_naming_field(
    write: Write, read: Reader, line: dict[str, Any] | str, field: str | None, reason: str | None
) -> None:
    good = call("identify", userId="ok", traits={"email": "ok@shop.it"})
    path = write("web.jsonl", jsonl(good, line, good))
    run = read(path)
    counts = run.batch.counts
    assert counts.read == 3
    if reason is None and field is None:
        assert counts.rejected == 0
        return
    assert (counts.ingested, counts.rejected) == (2, 1)
    reject = run.reject_at(2)
    assert reject["file"] == str(path)
    assert reject["field"] == field
    if reason is not None:
        assert reason in reject["reason"]
    assert reject["raw"] == (line if isinstance(line, str) else orjson.dumps(line).decode())
    assert "web:user:ok" in run.batch.records


@pytest.mark.parametrize(
    ("line", "field", "raw", "reason"),
    [
        (
            call("identify", userId="u", traits={"birthday": "31/02/1980"}),
            "traits.birthday",
            "31/02/1980",
            "traits.birthday: not a valid calendar date",
        ),
        (
            call("identify", userId="u", traits={"birthday": "2999-01-01"}),
            "traits.birthday",
            "2999-01-01",
            "traits.birthday: implausible date (in the future)",
        ),
        (
            call("identify", userId="u", traits={"email": "nope"}),
            "traits.email",
            "nope",
            "traits.email: not an email address",
        ),
        (
            call("identify", userId="u", traits={"email": "qa@example.com"}),
            "traits.email",
            "qa@example.com",
            "traits.email: on the junk list",
        ),
        (
            call("identify", userId="u", context={"traits": {"phone": "12"}}),
            "context.traits.phone",
            "12",
            "context.traits.phone: not a possible phone number",
        ),
        (
            call("identify", userId="u", traits={"address": {"country": "Atlantis"}}),
            "traits.address.country",
            "Atlantis",
            "traits.address.country: unknown country",
        ),
        (
            call("identify", userId="u", traits={"phone": {"home": "+390612345678"}}),
            "traits.phone",
            '{"home":"+390612345678"}',
            "traits.phone must be a string or a number",
        ),
        (
            call("identify", userId="u", context={"device": {"id": ["d1"]}}),
            "context.device.id",
            '["d1"]',
            "context.device.id must be a string or a number",
        ),
    ],
)
def test_bad_value_is_dropped_and_the_call_kept(
    write: Write, read: Reader, line: dict[str, Any], field: str, raw: str, reason: str
) -> None:
    line = {**line, "traits": {**line.get("traits", {}), "firstName": "Ann"}}
    good = call("identify", userId="ok", traits={"email": "ok@shop.it"})
    path = write("web.jsonl", jsonl(good, line, good))
    run = read(path)
    counts = run.batch.counts
    assert (counts.read, counts.ingested, counts.rejected, counts.field_rejects) == (3, 3, 0, 1)
    reject = run.reject_at(2)
    assert (reject["file"], reject["kind"], reject["field"], reject["raw"]) == (
        str(path),
        "field",
        field,
        raw,
    )
    assert reject["reason"].startswith(reason), reject["reason"]
    record = run.batch.records["web:user:u"]
    assert record.fields == {"first_name": "Ann"}
    assert record.identifiers == {("user_id", "u")}


def test_a_track_call_keeps_its_event_when_a_trait_is_dropped(write: Write, read: Reader) -> None:
    bad = call(
        "track",
        userId="u",
        event="Order Completed",
        messageId="m1",
        context={"traits": {"email": "u@shop.it", "birthday": "2990-01-01", "phone": "x"}},
    )
    run = read(write("web.jsonl", jsonl(bad)))
    assert run.field_rejects() == [
        (1, "context.traits.phone", "x"),
        (1, "context.traits.birthday", "2990-01-01"),
    ]
    assert [(e.id, e.record_key) for e in run.batch.events] == [("web:m1", "web:user:u")]
    assert ("email", "u@shop.it") in run.batch.records["web:user:u"].identifiers


def test_same_message_twice_is_one_event(write: Write, read: Reader) -> None:
    track = call("track", userId="u", event="Viewed", messageId="m1")
    batch = read(write("web.jsonl", jsonl(track, track))).batch
    assert (batch.counts.read, batch.counts.ingested) == (2, 2)
    assert [e.id for e in batch.events] == ["web:m1"]


def test_event_without_message_id_gets_a_stable_id(write: Write, read: Reader) -> None:
    first = '{"type":"track","userId":"u","event":"X","timestamp":"' + TS + '"}'
    reordered = '{ "event": "X", "timestamp": "' + TS + '", "type": "track", "userId": "u" }'
    other = '{"type":"track","userId":"u","event":"Y","timestamp":"' + TS + '"}'
    batch = read(write("web.jsonl", jsonl(first, reordered, other))).batch
    ids = [e.id for e in batch.events]
    assert len(ids) == 2
    assert all(i.startswith("web:") and len(i) == len("web:") + 20 for i in ids)
    again = read(write("web.jsonl", jsonl(other, first))).batch
    assert sorted(e.id for e in again.events) == sorted(ids)


def test_newer_traits_win_within_a_stream(write: Write, read: Reader) -> None:
    path = write(
        "web.jsonl",
        jsonl(
            {
                "type": "identify",
                "userId": "u",
                "timestamp": "2024-02-01T00:00:00Z",
                "traits": {"email": "new@shop.it", "plan": "gold"},
            },
            {
                "type": "identify",
                "userId": "u",
                "timestamp": "2024-01-01T00:00:00Z",
                "traits": {"email": "old@shop.it", "plan": "free", "address": {"city": "Milano"}},
            },
        ),
    )
    user = read(path).batch.records["web:user:u"]
    assert user.fields["email"] == "new@shop.it"
    assert user.fields["city"] == "Milano"
    assert user.traits["plan"] == "gold"


@pytest.mark.parametrize(
    ("timestamps", "expected"),
    [
        ({"originalTimestamp": TS}, TS_MS),
        ({"sentAt": 1714816800}, TS_MS),
        ({"receivedAt": "1714816800000"}, TS_MS),
        ({"timestamp": TS, "sentAt": "2020-01-01T00:00:00Z"}, TS_MS),
    ],
)
def test_timestamp_fallbacks(
    write: Write, read: Reader, timestamps: dict[str, Any], expected: int
) -> None:
    line = {"type": "identify", "userId": "u", **timestamps}
    assert read(write("web.jsonl", jsonl(line))).batch.records["web:user:u"].updated_ts == expected


def test_sidecar_sets_source_and_region(write: Write, read: Reader) -> None:
    write("app.mapping.yaml", "source: mobile\ndefault_region: it\n")
    path = write("app.jsonl", jsonl(call("identify", userId="u", traits={"phone": "06 1234 5678"})))
    batch = read(path).batch
    assert batch.source == "mobile"
    assert batch.records["mobile:user:u"].fields["phone"] == "+390612345678"


def test_sidecar_with_table_keys_is_a_config_error(write: Write, read: Reader) -> None:
    write("app.mapping.yaml", "source: mobile\nid: user\ncolumns: {email: mail}\n")
    path = write("app.ndjson", jsonl(call("identify", userId="u")))
    with pytest.raises(ConfigError) as info:
        read(path)
    message = str(info.value)
    assert "id: not used for event streams" in message
    assert "columns: not used for event streams" in message


def test_a_property_that_is_a_list_here_and_an_object_there_is_read(
    write: Write, read: Reader
) -> None:
    """Neither value is a scalar, so the property is left out; the other properties stay."""
    path = write(
        "web.jsonl",
        jsonl(
            call("track", userId="u", event="X", messageId="m1", properties={"o": [1], "n": 2}),
            call("track", userId="u", event="X", messageId="m2", properties={"o": {"a": 1}}),
        ),
    )
    batch = read(path).batches[0]
    assert batch.event_properties.sort("id", "name").rows() == [("web:m1", "n", "number", "2.0")]
