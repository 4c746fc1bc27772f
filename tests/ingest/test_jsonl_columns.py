"""The columnar read of event streams against the call-by-call checker it stands in for.

`read_events` reads plain calls into columns and sends the rest through the checker; with the
columnar path switched off every call goes through the checker. Both must give the same
frames and the same rejects file, whatever mix of good and bad calls a stream holds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import idgraph.ingest.jsonl_events as jsonl_events
import idgraph.ingest.lines as lines_module
from idgraph.errors import FieldError
from idgraph.ingest.cells import parse_timestamps
from idgraph.ingest.collect import SourceBatch
from idgraph.ingest.jsonl_columns import PlainCalls, sighting_schema
from idgraph.ingest.jsonl_events import check_event_calls, read_event_calls, read_events
from idgraph.ingest.lines import RawLine, read_line_runs, read_lines
from idgraph.ingest.rejects import RejectsWriter
from idgraph.normalize.fields import parse_timestamp
from idgraph.normalize.record import NormalizeOptions

FRAMES = ("sightings", "traits", "events", "event_properties", "links")
TS = "2024-05-04T10:00:00.000Z"
STAMP = TS.encode()


def _checker_only(
    calls: list[Any], lines: list[int], source: str, kinds: dict[str, set[str]]
) -> PlainCalls:
    """A columnar path that takes no call: every call goes through the checker."""
    del lines, source, kinds
    empty = pl.DataFrame(schema=sighting_schema())
    return PlainCalls(
        sightings=empty,
        traits=pl.DataFrame(
            schema={"line": pl.Int64, "sub": pl.Int8, "name": pl.Utf8, "value": pl.Utf8}
        ),
        events=pl.DataFrame(
            schema={
                "line": pl.Int64,
                "id": pl.Utf8,
                "name": pl.Utf8,
                "ts": pl.Int64,
                "record_key": pl.Utf8,
                "properties": pl.Utf8,
            }
        ),
        others=list(range(len(calls))),
    )


def _both(
    folder: Path, read: Callable[[RejectsWriter], SourceBatch]
) -> tuple[tuple[SourceBatch, bytes], tuple[SourceBatch, bytes]]:
    def run(name: str) -> tuple[SourceBatch, bytes]:
        path = folder / f"{name}.rejects.jsonl"
        path.unlink(missing_ok=True)
        with RejectsWriter(path) as writer:
            batch = read(writer)
        return batch, path.read_bytes() if path.exists() else b""

    columnar = run("columnar")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jsonl_events, "plain_calls", _checker_only)
        checker = run("checker")
    return columnar, checker


def _assert_same(columnar: tuple[SourceBatch, bytes], checker: tuple[SourceBatch, bytes]) -> None:
    (batch, rejects), (expected, expected_rejects) = columnar, checker
    for name in FRAMES:
        assert_frame_equal(getattr(batch, name), getattr(expected, name))
    assert batch.counts == expected.counts
    assert batch.counts.read == batch.counts.ingested + batch.counts.rejected
    assert rejects == expected_rejects


def _read_file(path: Path) -> Callable[[RejectsWriter], SourceBatch]:
    def read(writer: RejectsWriter) -> SourceBatch:
        return read_events(path, source="web", options=NormalizeOptions(), rejects=writer)

    return read


# Values chosen to hit every rule: plain ones, and each way of breaking a rule.
_IDS = st.sampled_from(
    ["u1", "u2", "a-7", "", " ", " u1", "u1 ", "u\x01", "\u3000u", "u\x85", "é", 42, 4.0, 4.5,
     True, None, {"id": 1}, [1], 10**30]
)  # fmt: skip
_TIMES = st.sampled_from(
    [TS, "2024-05-04T10:00:00Z", "2024-05-04 10:00:00+02:00", "2024-02-30T10:00:00.000Z",
     "2024-05-04T25:00:00Z", "yesterday", "", " 2024-05-04T10:00:00Z", 1714816800,
     1714816800000, 1.5e9, -5, True, None, {"t": 1}, "1714816800000", "1969-12-31T23:59:59.999Z"]
)  # fmt: skip
_SCALARS = st.one_of(
    st.sampled_from(["", " x ", "ann@shop.it", "Ann Maria Rossi", "+39 06 1234 5678", "12",
                     "1980-05-04", "31/02/1980", "IT", "nope", True, False, None, 0, 1.5, 10**20,
                     [1], {"a": 1}]),
    st.text(max_size=6),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip
_TRAIT_KEYS = st.sampled_from(
    ["email", "phone", "firstName", "first_name", "lastName", "birthday", "name", "address",
     "lifetimeValue", "plan", "Plan Name", "__", "optedIn"]
)  # fmt: skip
_PROP_KEYS = st.sampled_from(["url", "path", "title", "name", "category", "total", "items", "q"])


def _objects(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    objects = st.dictionaries(keys, _SCALARS, max_size=4)
    return st.one_of(objects, objects, st.none(), _SCALARS)


@st.composite
def _calls(draw: st.DrawFn) -> Any:
    call: dict[str, Any] = {}
    plain = st.sampled_from(["identify", "track", "page", "screen", "alias"])
    if draw(st.integers(0, 9)):
        call["type"] = draw(
            st.one_of(plain, plain, plain, st.sampled_from(["Track", " page", "group", 3]))
        )
    for key in ("userId", "anonymousId", "messageId", "previousId"):
        if draw(st.booleans()):
            call[key] = draw(st.one_of(st.sampled_from(["u1", "u2", "a-7"]), _IDS))
    for key in ("timestamp", "originalTimestamp", "sentAt"):
        if draw(st.integers(0, 3)) == 0 or (key == "timestamp" and draw(st.integers(0, 4))):
            call[key] = draw(st.one_of(st.just(TS), _TIMES))
    if draw(st.booleans()):
        call["traits"] = draw(_objects(_TRAIT_KEYS))
    if draw(st.booleans()):
        call["properties"] = draw(_objects(_PROP_KEYS))
    for key in ("event", "name", "category"):
        if draw(st.integers(0, 2)) == 0:
            call[key] = draw(
                st.sampled_from(["Order Completed", " Viewed ", "", "  ", "\u3000", 3, None])
            )
    if draw(st.booleans()):
        context: dict[str, Any] = {"library": {"name": "analytics.js"}}
        if draw(st.booleans()):
            context["device"] = draw(
                st.one_of(st.fixed_dictionaries({"id": _IDS}), st.sampled_from([{}, "x", None]))
            )
        if draw(st.booleans()):
            context["traits"] = draw(_objects(_TRAIT_KEYS))
        if draw(st.booleans()):
            context["page"] = draw(_objects(_PROP_KEYS))
        call["context"] = context if draw(st.integers(0, 9)) else draw(_SCALARS)
    return call if draw(st.integers(0, 19)) else draw(_SCALARS)


def _line(call: Any) -> bytes:
    try:
        return orjson.dumps(call)
    except TypeError:  # an integer past 64 bits: write it as Python's json would
        return repr(call).replace("'", '"').replace("True", "true").encode()


def _parsed(call: Any) -> Any:
    line = _line(call)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return line


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(_calls(), min_size=1, max_size=30))
def test_columnar_read_agrees_with_the_checker(
    tmp_path_factory: pytest.TempPathFactory, calls: list[Any]
) -> None:
    folder = tmp_path_factory.mktemp("streams")
    path = folder / "web.jsonl"
    path.write_bytes(b"\n".join(_line(call) for call in calls) + b"\n")
    _assert_same(*_both(folder, _read_file(path)))


@settings(max_examples=30, deadline=None)
@given(calls=st.lists(_calls(), min_size=1, max_size=20), as_bytes=st.lists(st.booleans()))
def test_columnar_read_of_held_calls_agrees_with_the_checker(
    tmp_path_factory: pytest.TempPathFactory,
    calls: list[Any],
    as_bytes: list[bool],
) -> None:
    # Held calls are what the service parsed from a request body (big integers as floats).
    items: list[Any] = [
        _line(call) if position < len(as_bytes) and as_bytes[position] else _parsed(call)
        for position, call in enumerate(calls)
    ]

    def read(writer: RejectsWriter) -> SourceBatch:
        return read_event_calls(
            items, label="http:test", source="web", options=NormalizeOptions(), rejects=writer
        )

    folder = tmp_path_factory.mktemp("calls")
    _assert_same(*_both(folder, read))


def _good(**fields: Any) -> bytes:
    return orjson.dumps({"type": "track", "event": "X", "timestamp": TS, **fields})


EDGE_LINES: dict[str, list[bytes]] = {
    "mixed types in a field": [_good(userId="u1"), _good(userId=42), _good(userId=4.0)],
    "objects where strings belong": [
        _good(userId={"id": 1}),
        _good(userId="u", event={"x": 1}),
        _good(userId="u", messageId=[1]),
        _good(userId="u", context={"device": {"id": {"a": 1}}}),
        _good(userId="u", timestamp={"t": 1}),
    ],
    "huge numbers": [
        b'{"type":"track","event":"X","userId":"u","timestamp":"' + TS.encode()
        + b'","properties":{"n":123456789012345678901234567890}}',
        b'{"type":"track","event":"X","userId":"u","timestamp":"' + TS.encode()
        + b'","properties":{"n":1e400}}',
        _good(userId="u", sentAt=1e300, timestamp=None),
        b'{"type":"track","event":"X","userId":123456789012345678901234567890,"timestamp":1}',
    ],
    "duplicate keys": [
        b'{"type":"track","event":"X","userId":"a","userId":"b","timestamp":"' + STAMP + b'"}',
        b'{"type":"page","name":"A","name":"B","anonymousId":"a","timestamp":"' + STAMP + b'"}',
    ],
    "byte-order marks": [b"\xef\xbb\xbf" + _good(userId="u"), b"\xef\xbb\xbf" + _good(userId="v")],
    "not UTF-8": [_good(userId="u")[:-2] + b'\xff"}', _good(userId="\u00e9")],
    "NUL bytes": [_good(userId="u").replace(b"{", b"{\x00", 1), b"\x00"],
    "blank lines": [b"", _good(userId="u"), b"   ", b"\t", _good(userId="v"), b"", b""],
    "timestamps as numbers and strings": [
        _good(userId="u", timestamp=1714816800),
        _good(userId="u", timestamp="1714816800000"),
        _good(userId="u", timestamp=1714816800000.0),
        _good(userId="u", timestamp="2024-05-04T10:00:00Z"),
        _good(userId="u", timestamp="2024-05-04T10:00:00.123+02:00"),
        _good(userId="u", timestamp="2024-02-30T10:00:00.000Z"),
        _good(userId="u", timestamp="1969-12-31T23:59:59.999Z"),
        _good(userId="u", timestamp="", sentAt=TS),
    ],
    "padded and blank names": [
        _good(userId="u", event=" Viewed "),
        _good(userId="u", event="  "),
        _good(userId="u", event="\u3000X\x1f"),
        _good(userId="u", type="page", name=" Home ", category=3),
        _good(userId="u", type=" Track "),
    ],
    "padded and control ids": [
        _good(userId=" u "),
        _good(userId="\u3000u"),
        _good(userId="\x1fu"),
        _good(userId="u\x1f"),
        _good(anonymousId="a\u0085"),
        _good(userId="", anonymousId="a"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(EDGE_LINES))
@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_edge_lines_read_as_the_checker_reads_them(
    tmp_path: Path, case: str, ending: bytes
) -> None:
    path = tmp_path / "web.jsonl"
    path.write_bytes(ending.join([_good(userId="first"), *EDGE_LINES[case]]) + ending)
    _assert_same(*_both(tmp_path, _read_file(path)))


VALUE_CALLS: list[bytes] = [
    _good(userId="v1", context={"traits": {"email": "not-an-email"}}),
    _good(userId="v2", type="identify", traits={"birthday": "31/02/2024"}),
    _good(userId="v3", type="identify", traits={"email": "ok@x.it"}),
]


@pytest.mark.parametrize("case", sorted(EDGE_LINES))
def test_the_shape_check_refuses_what_the_reader_refuses_for_shape(case: str) -> None:
    """The service answers with `check_event_calls` and resolves with `read_event_calls`:
    the calls the reader refuses are exactly those the check refuses, with the same field and
    reason; a value the reader drops from a call it keeps (a `field` reject) the check
    leaves alone."""
    items = [c for c in EDGE_LINES[case] if c.strip()] + VALUE_CALLS
    with RejectsWriter(None) as writer:
        collected: list[Any] = []
        writer.write = collected.append  # type: ignore[method-assign]
        batch = read_event_calls(
            items, label="http:t", source="web", options=NormalizeOptions(), rejects=writer
        )
    refused = {r.line: (r.field, r.reason) for r in collected if r.kind == "line"}
    checked = {n: (f, r) for n, r, f in check_event_calls(items, source="web").refused}
    assert refused == checked
    dropped = [(r.line, r.field) for r in collected if r.kind == "field"]
    expected = [(len(items) - 2, "context.traits.email"), (len(items) - 1, "traits.birthday")]
    if case == "objects where strings belong":  # an object as context.device.id
        expected.insert(0, (4, "context.device.id"))
    assert dropped == expected
    assert batch.counts.ingested == len(items) - len(refused)
    assert batch.counts.field_rejects == len(expected)


def test_edge_line_reasons(tmp_path: Path) -> None:
    path = tmp_path / "web.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                b"\xef\xbb\xbf" + _good(userId="bom"),
                _good(userId="u")[:-2] + b'\xff"}',
                b"{\x00}",
                b'{"type":"track","event":"X","userId":"u","properties":{"n":1e400}}',
                _good(userId="a", timestamp="2024-02-30T10:00:00.000Z"),
                _good(userId=None, timestamp="2024-02-30T10:00:00.000Z"),
                _good(userId=" padded "),
            ]
        )
    )
    rejects_path = tmp_path / "rejects.jsonl"
    with RejectsWriter(rejects_path) as writer:
        batch = read_events(path, source="web", options=NormalizeOptions(), rejects=writer)
    found = {
        row["line"]: (row["field"], row["reason"])
        for row in map(orjson.loads, rejects_path.read_bytes().splitlines())
    }
    at = len(_good(userId="u")) - 1
    assert found[2] == (None, f"invalid UTF-8 at byte {at}: invalid start byte")
    assert found[3] == (None, "binary data: NUL byte at byte 2")
    assert found[4][1].startswith("invalid JSON: number is infinity")
    assert found[5][0] == "timestamp"
    # The timestamp is checked before the ids, as the checker's order says.
    assert found[6][0] == "timestamp"
    assert set(found) == {2, 3, 4, 5, 6}
    assert sorted(batch.sightings["source_id"].to_list()) == ["bom", "padded"]


def test_a_deferred_timestamp_no_longer_crashes_a_call_refused_later(tmp_path: Path) -> None:
    """An ISO-shaped but impossible timestamp on a call refused for another reason used to
    reject the line twice and fail the read looking up its text."""
    path = tmp_path / "web.jsonl"
    bad = {"type": "identify", "userId": "u", "timestamp": "2024-05-04T25:00:00Z", "traits": 1}
    path.write_bytes(orjson.dumps(bad) + b"\n" + _good(userId="v") + b"\n")
    rejects_path = tmp_path / "rejects.jsonl"
    with RejectsWriter(rejects_path) as writer:
        batch = read_events(path, source="web", options=NormalizeOptions(), rejects=writer)
    (reject,) = map(orjson.loads, rejects_path.read_bytes().splitlines())
    assert (reject["line"], reject["field"]) == (1, "timestamp")
    assert (batch.counts.read, batch.counts.ingested, batch.counts.rejected) == (2, 1, 1)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.from_regex(
                r"\A(19[0-9]{2}|20[0-9]{2}|0999|9999)-[0-1][0-9]-[0-3][0-9][T ]"
                r"[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\.[0-9]{1,7})?(Z|z|[+-][0-2][0-9]:[0-6][0-9])?\Z"
            ),
            st.text(max_size=30),
        ),
        max_size=20,
    )
)
def test_parse_timestamps_agrees_with_parse_timestamp(values: list[str]) -> None:
    parsed, reasons = parse_timestamps(pl.Series(values, dtype=pl.Utf8))
    for value, got, why in zip(values, parsed.to_list(), reasons.to_list(), strict=True):
        try:
            assert (got, why) == (parse_timestamp(value), None), value
        except FieldError as exc:
            assert (got, why) == (None, exc.reason), value


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(st.binary(max_size=12), st.sampled_from([b"", b"  ", b"\t", b"x" * 40])),
        max_size=40,
    ),
    separator=st.sampled_from([b"\n", b"\r\n"]),
    end=st.sampled_from([b"", b"\n", b"\r", b"\r\n"]),
    limit=st.sampled_from([8, 16, 1000]),
)
def test_line_runs_are_the_lines(
    tmp_path_factory: pytest.TempPathFactory,
    pieces: list[bytes],
    separator: bytes,
    end: bytes,
    limit: int,
) -> None:
    path = tmp_path_factory.mktemp("lines") / "x.jsonl"
    path.write_bytes(separator.join(pieces) + end)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lines_module, "_CHUNK", 64)
        expected = [
            (line.number, line.data, line.size, line.too_long, line.blank)
            for line in read_lines(path, max_line_bytes=limit)
        ]
        items = list(read_line_runs(path, max_line_bytes=limit))
    got: list[tuple[int, bytes, int, bool, bool]] = []
    for item in items:
        if isinstance(item, RawLine):
            got.append((item.number, item.data, item.size, item.too_long, item.blank))
        else:
            first, run = item
            assert run
            got.extend((first + i, data, len(data), False, False) for i, data in enumerate(run))
    assert got == expected


def test_a_run_spans_many_lines(tmp_path: Path) -> None:
    path = tmp_path / "web.jsonl"
    path.write_bytes(b"".join(_good(userId=f"u{i}") + b"\n" for i in range(5000)))
    runs = [item for item in read_line_runs(path) if not isinstance(item, RawLine)]
    assert sum(len(run) for _, run in runs) == 5000
    assert len(runs) < 5
