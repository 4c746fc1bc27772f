"""CSV tables read through their mapping: good rows, bad rows, whole-file problems."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.errors import ConfigError, InputError
from idgraph.ingest import RejectsWriter, SourceMapping, csv_rows, csv_table
from idgraph.ingest.collect import BatchBuilder
from idgraph.ingest.csv_rows import ends_in_quotes
from idgraph.ingest.rejects import Reject, render_raw
from idgraph.normalize.record import NormalizeOptions

Write = Callable[[str, str | bytes], Path]
Reader = Callable[..., Any]
CRM_HEADER = (
    "customer_number,email_address,phone,first_name,last_name,dob,country,ltv,tier,vip,"
    "last_modified"
)

GOOD_ROWS = """\
1001,Ann.Rossi@Shop.com,06 1234 5678,ANN,Rossi,04/05/1980,Italy,12.5,gold,yes,2024-01-01T10:00:00Z
1002,bob@mail.it,+1 202 456 1414,Bob,Smith,1975-12-31,US,3,silver,0,2024-01-02
"""


def test_good_csv_becomes_records(crm: Callable[[str], Path], read: Reader) -> None:
    run = read(crm(GOOD_ROWS))
    batch = run.batch
    assert (batch.counts.read, batch.counts.ingested, batch.counts.rejected) == (2, 2, 0)
    assert batch.source == "crm"
    assert run.rejects == []
    assert not run.rejects_path.exists()
    ann = batch.records["crm:1001"]
    assert ann.kind == "row"
    assert ann.fields["email"] == "ann.rossi@shop.com"
    assert ann.fields["phone"] == "+390612345678"
    assert ann.fields["birth_date"] == "1980-05-04"
    assert ann.updated_ts == 1704103200000
    assert ann.traits == {"lifetime_value": 12.5, "loyalty_tier": "gold", "vip": True}
    assert ("customer_id", "1001") in ann.identifiers
    bob = batch.records["crm:1002"]
    assert bob.traits["vip"] is False
    assert bob.updated_ts == 1704153600000
    assert batch.events == [] and batch.links == []


def test_row_without_updated_at_takes_file_mtime(crm: Callable[[str], Path], read: Reader) -> None:
    path = crm("1003,c@mail.it,,,,,,,,,\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    assert read(path).batch.records["crm:1003"].updated_ts == 1_700_000_000_000


def test_quoted_cell_spanning_lines_keeps_physical_line_numbers(
    crm: Callable[[str], Path], read: Reader
) -> None:
    rows = '1001,a@mail.it,,Ann,"Rossi\nBianchi",,,,,,\n1002,b@mail.it,,,,,,oops,,,\n'
    run = read(crm(rows))
    assert run.batch.records["crm:1001"].fields["last_name"] == "Rossi Bianchi"
    assert run.reject_at(4)["field"] == "ltv"


def test_blank_line_inside_a_quoted_cell_is_content(
    crm: Callable[[str], Path], read: Reader
) -> None:
    rows = '1001,a@mail.it,,Ann,"Rossi\n\nBianchi",,,,,,\n1002,b@mail.it,,,,,,,,,\n'
    run = read(crm(rows))
    assert run.rejects == []
    assert set(run.batch.records) == {"crm:1001", "crm:1002"}


def test_stray_quote_inside_a_cell_is_a_plain_character(
    crm: Callable[[str], Path], read: Reader
) -> None:
    rows = '1001,a@mail.it,,,,,,,TV 42" fan,,\n\n1002,b@mail.it,,,,,,,,,\n'
    run = read(crm(rows))
    assert run.batch.records["crm:1001"].traits["loyalty_tier"] == 'TV 42" fan'
    assert run.reject_at(3)["reason"] == "blank line"
    assert "crm:1002" in run.batch.records


def test_unterminated_quote_is_rejected(crm: Callable[[str], Path], read: Reader) -> None:
    run = read(crm('1001,a@mail.it,,,,,,,,,\n1002,"b@mail.it,,,,,,,,,\n1003,c@mail.it,,,,,,,,,\n'))
    assert set(run.batch.records) == {"crm:1001"}
    reject = run.reject_at(3)
    assert reject["reason"].startswith("unterminated quoted cell")
    assert "1003" in reject["raw"]


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (",a@mail.it,,,,,,,,,", "customer_number", "column 'customer_number' (id): missing id"),
        ("1001,a@mail.it", None, "expected 11 cells, found 2"),
        ("1001,a@mail.it,,,,,,,,,,,", None, "expected 11 cells, found 13"),
    ],
)
def test_bad_row_is_rejected_naming_column(
    crm: Callable[[str], Path], read: Reader, row: str, field: str | None, reason: str
) -> None:
    run = read(crm(f"1000,z@mail.it,,,,,,,,,\n{row}\n1002,y@mail.it,,,,,,,,,\n"))
    counts = run.batch.counts
    assert (counts.read, counts.ingested, counts.rejected, counts.field_rejects) == (3, 2, 1, 0)
    reject = run.reject_at(3)
    assert reject["file"] == str(counts.path)
    assert reject["kind"] == "line"
    assert reject["field"] == field
    assert reject["reason"].startswith(reason), reject["reason"]
    assert reject["raw"] == row
    assert set(run.batch.records) == {"crm:1000", "crm:1002"}


@pytest.mark.parametrize(
    ("row", "field", "raw", "reason"),
    [
        (
            "1001,a@mail.it,,,,,,lots,,,",
            "ltv",
            "lots",
            "column 'ltv' (trait lifetime_value): not a number",
        ),
        (
            "1001,a@mail.it,,,,,,nan,,,",
            "ltv",
            "nan",
            "column 'ltv' (trait lifetime_value): not a finite",
        ),
        ("1001,a@mail.it,,,,,,,,maybe,", "vip", "maybe", "column 'vip' (trait vip): not a boolean"),
        (
            "1001,a@mail.it,,,,31/02/1980,,,,,",
            "dob",
            "31/02/1980",
            "column 'dob' (birth_date): not a",
        ),
        (
            "1001,a@mail.it,,,,someday,,,,,",
            "dob",
            "someday",
            "column 'dob' (birth_date): not a date",
        ),
        (
            "1001,a@mail.it,,,,2999-01-01,,,,,",
            "dob",
            "2999-01-01",
            "column 'dob' (birth_date): implausible date (in the future)",
        ),
        (
            "1001,a@mail.it,call me,,,,,,,,",
            "phone",
            "call me",
            "column 'phone' (phone): not a phone number",
        ),
        (
            "1001,a@mail.it,+1 415 555 0123,,,,,,,,",
            "phone",
            "+1 415 555 0123",
            "column 'phone' (phone): on the junk list",
        ),
        (
            "1001,a@mail.it,,,,,,,,,yesterday",
            "last_modified",
            "yesterday",
            "column 'last_modified' (updated_at): not a timestamp",
        ),
    ],
)
def test_bad_value_is_dropped_and_the_row_kept(
    crm: Callable[[str], Path], read: Reader, row: str, field: str, raw: str, reason: str
) -> None:
    run = read(crm(f"1000,z@mail.it,,,,,,,,,\n{row}\n1002,y@mail.it,,,,,,,,,\n"))
    counts = run.batch.counts
    assert (counts.read, counts.ingested, counts.rejected, counts.field_rejects) == (3, 3, 0, 1)
    reject = run.reject_at(3)
    assert (reject["file"], reject["kind"], reject["field"], reject["raw"]) == (
        str(counts.path),
        "field",
        field,
        raw,
    )
    assert reject["reason"].startswith(reason), reject["reason"]
    records = run.batch.records
    assert set(records) == {"crm:1000", "crm:1001", "crm:1002"}
    assert ("email", "a@mail.it") in records["crm:1001"].identifiers
    assert "phone" not in records["crm:1001"].fields
    assert "birth_date" not in records["crm:1001"].fields
    assert records["crm:1001"].traits == {}


def test_several_bad_values_are_each_a_field_reject_in_column_order(
    crm: Callable[[str], Path], read: Reader
) -> None:
    run = read(crm("1001,test@example.com,12,Ann,,2090-05-04,Italy,lots,gold,yes,\n"))
    assert run.field_rejects() == [
        (2, "email_address", "test@example.com"),
        (2, "phone", "12"),
        (2, "dob", "2090-05-04"),
        (2, "ltv", "lots"),
    ]
    ann = run.batch.records["crm:1001"]
    assert ann.fields == {"first_name": "Ann", "country": "IT"}
    assert ann.traits == {"loyalty_tier": "gold", "vip": True}
    assert ann.identifiers == {("customer_id", "1001")}


def test_placeholders_are_dropped_silently(crm: Callable[[str], Path], read: Reader) -> None:
    run = read(crm("1001,n/a,0000000000,unknown,-,,,,,,\n"))
    assert run.rejects == []
    assert run.batch.records["crm:1001"].fields == {}


def test_a_rejected_row_has_no_field_rejects(crm: Callable[[str], Path], read: Reader) -> None:
    run = read(crm(",test@example.com,12,,,2090-05-04,,,,,\n"))
    assert [(r["kind"], r["field"]) for r in run.rejects] == [("line", "customer_number")]


def test_same_id_twice_is_one_record_with_newest_values(
    crm: Callable[[str], Path], read: Reader
) -> None:
    rows = (
        "1001,new@mail.it,,Ann,,,,20,,,2024-03-01\n1001,old@mail.it,,Anna,Rossi,,,10,,,2024-01-01\n"
    )
    batch = read(crm(rows)).batch
    assert (batch.counts.read, batch.counts.ingested) == (2, 2)
    assert list(batch.records) == ["crm:1001"]
    ann = batch.records["crm:1001"]
    assert ann.fields["email"] == "new@mail.it"
    assert ann.fields["first_name"] == "Ann"
    assert ann.fields["last_name"] == "Rossi"
    assert ann.traits["lifetime_value"] == 20.0
    assert {("email", "new@mail.it"), ("email", "old@mail.it")} <= ann.identifiers


def test_identical_rows_twice_add_nothing(crm: Callable[[str], Path], read: Reader) -> None:
    once = read(crm(GOOD_ROWS)).batch.records
    twice = read(crm(GOOD_ROWS + GOOD_ROWS)).batch.records
    assert once == twice


POS_MAPPING = """\
id: card
columns: {email: mail}
event:
  name: Order Completed
  timestamp: purchased_at
  id: receipt
  properties:
    total: {column: amount, type: number}
    store: store_id
"""


def test_rows_as_events(write: Write, read: Reader) -> None:
    write("pos.mapping.yaml", POS_MAPPING)
    path = write(
        "pos.csv",
        "receipt,card,mail,purchased_at,amount,store_id\n"
        "r1,c9,c9@mail.it,2024-05-04T10:00:00Z,19.90,s1\n"
        "r2,c9,,2024-05-05T10:00:00Z,5,\n"
        "r2,c9,,2024-05-05T10:00:00Z,5,\n"
        "r3,c9,,not a time,5,s1\n",
    )
    run = read(path)
    batch = run.batch
    assert batch.source == "pos"
    assert list(batch.records) == ["pos:c9"]
    assert batch.records["pos:c9"].updated_ts == 1714903200000
    assert [(e.id, e.name, e.ts, e.record_key) for e in batch.events] == [
        ("pos:r1", "Order Completed", 1714816800000, "pos:c9"),
        ("pos:r2", "Order Completed", 1714903200000, "pos:c9"),
    ]
    assert batch.events[0].properties == {"total": 19.9, "store": "s1"}
    assert batch.events[1].properties == {"total": 5.0}
    assert run.reject_at(5)["field"] == "purchased_at"


def test_control_character_in_a_record_or_event_id_rejects_the_row(
    write: Write, read: Reader
) -> None:
    write("pos.mapping.yaml", POS_MAPPING)
    path = write(
        "pos.csv",
        "receipt,card,mail,purchased_at,amount,store_id\n"
        "r1,c9,c9@mail.it,2024-05-04T10:00:00Z,19.90,s1\n"
        "r2\x07,c9,,2024-05-05T10:00:00Z,5,\n"
        "r3,c\x1b9,,2024-05-05T10:00:00Z,5,\n",
    )
    run = read(path)
    assert [(e.id, e.record_key) for e in run.batch.events] == [("pos:r1", "pos:c9")]
    assert run.reject_at(3)["field"] == "receipt"
    assert run.reject_at(4)["field"] == "card"
    assert "control character" in run.reject_at(4)["reason"]


def test_explicit_mapping_and_delimiter(write: Write, read: Reader) -> None:
    path = write("Loyalty Export.csv", "\ufeffno;mail;born\n7;g@mail.it;12/31/1970\n")
    mapping = SourceMapping(
        id="no", columns={"email": "mail", "birth_date": "born"}, delimiter=";", date_order="MDY"
    )
    batch = read(path, mappings={path: mapping}).batch
    assert batch.source == "loyalty_export"
    assert batch.records["loyalty_export:7"].fields["birth_date"] == "1970-12-31"


def test_mapping_region_overrides_run_region(crm: Callable[[str], Path], read: Reader) -> None:
    path = crm("1001,,06 1234 5678,,,,,,,,\n")
    batch = read(path, options=NormalizeOptions(default_region="GB")).batch
    assert batch.records["crm:1001"].fields["phone"] == "+390612345678"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        (CRM_HEADER.replace("dob", "date_of_birth"), "dob"),
        (CRM_HEADER.replace("customer_number", "id"), "customer_number"),
        (CRM_HEADER.replace(",vip", ""), "vip"),
        (CRM_HEADER + ",dob", "dob"),
    ],
)
def test_header_problem_is_an_input_error(
    write: Write, crm: Callable[[str], Path], read: Reader, header: str, field: str
) -> None:
    crm("")
    path = write("crm.csv", f"{header}\n1001,a@mail.it,,,,,,,,,\n")
    with pytest.raises(InputError) as info:
        read(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 1, field)
    assert f"'{field}'" in str(info.value)


def test_csv_without_mapping_is_an_input_error(write: Write, read: Reader) -> None:
    path = write("orphan.csv", "a,b\n1,2\n")
    with pytest.raises(InputError, match=r"orphan\.mapping\.yaml") as info:
        read(path)
    assert info.value.path == str(path)


def test_csv_mapping_without_id_is_an_input_error(write: Write, read: Reader) -> None:
    write("t.mapping.yaml", "columns: {email: mail}\n")
    path = write("t.csv", "mail\na@mail.it\n")
    with pytest.raises(InputError, match="no `id`"):
        read(path)


def test_bad_sidecar_is_a_config_error(write: Write, read: Reader) -> None:
    write("t.mapping.yaml", "id: no\ncolumns: {emial: mail}\n")
    path = write("t.csv", "no,mail\n1,a@mail.it\n")
    with pytest.raises(ConfigError, match=r"columns\.emial"):
        read(path)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='ab,;" ', max_size=30), st.sampled_from([",", ";"]))
def test_quote_tracking_agrees_with_the_csv_module(text: str, delimiter: str) -> None:
    rows = list(csv.reader([text + "\n", "X\n"], delimiter=delimiter))
    assert ends_in_quotes(text, delimiter) == (len(rows) == 1)


def _split_both(tmp: Path, data: bytes, width: int) -> tuple[object, object] | None:
    """The fast splitter's rows and rejects beside the line-by-line reader's, same file."""
    path = tmp / "t.csv"
    path.write_bytes(data)
    lines = csv_rows.file_lines(path, 1 << 20)
    assert lines is not None
    fast = csv_rows.split_fast(lines, ",", width)
    if fast is None:
        return None
    good, rejected = fast
    collected: list[Reject] = []

    class Collect(RejectsWriter):
        def write(self, reject: Reject) -> None:
            collected.append(reject)

    builder = BatchBuilder(path, "t", Collect(None))
    slow = csv_rows.split_slow(path, ",", builder, 1 << 20, width)
    builder.finish()

    def shown(good: csv_rows.Cells) -> list[tuple[Any, ...]]:
        columns = [c.to_list() for c in good.columns]
        return [
            (line, good.text(line), *(c[i] for c in columns))
            for i, line in enumerate(good.first.to_list())
        ]

    fast_view = (
        shown(good),
        sorted((line, reason, render_raw(text)) for line, reason, text in rejected),
    )
    slow_view = (
        shown(slow),
        sorted((r.line, r.reason, r.raw) for r in collected),
    )
    return fast_view, slow_view


_CELL = st.one_of(
    st.text(alphabet="ab ,", max_size=6),
    st.text(alphabet='ab "\n', max_size=6),
    st.text(alphabet='ab ,"\n\r\t\x00', max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.lists(_CELL, min_size=1, max_size=4), max_size=8),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_fast_split_agrees_with_the_line_by_line_reader(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[list[str]],
    ending: str,
    final_newline: bool,
) -> None:
    text = ending.join(["h1,h2,h3", *(",".join(row) for row in rows)])
    data = (text + ending * final_newline).encode()
    both = _split_both(tmp_path_factory.mktemp("split"), data, 3)
    if both is not None:
        fast, slow = both
        assert fast == slow


def test_fast_split_is_taken_for_plain_and_quoted_rows(tmp_path: Path) -> None:
    data = (
        b'h1,h2,h3\n1,"a, b",x\n\n2,"multi\nline",y\n3,plain,z\n4,too,many,cells\n5,"""q""",w\n \n'
    )
    both = _split_both(tmp_path, data, 3)
    assert both is not None
    fast, slow = both
    assert fast == slow
    rows, rejects = fast  # type: ignore[misc]
    assert [row[0] for row in rows] == [2, 4, 6, 8]
    assert rows[1][1] == '2,"multi\nline",y'
    assert rows[3][2:] == ("5", '"q"', "w")
    assert [(line, reason) for line, reason, _ in rejects] == [
        (3, "blank line"),
        (7, "expected 3 cells, found 4"),
    ]


@pytest.mark.parametrize("data", [b"h1,h2,h3\n,,\r", b"h1,h2,h3\n1,2,3\r", b"h1,h2,h3\n\r"])
def test_final_carriage_return_ends_the_last_line(tmp_path: Path, data: bytes) -> None:
    both = _split_both(tmp_path, data, 3)
    assert both is not None
    fast, slow = both
    assert fast == slow


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), st.text()), max_size=20),
    numbers=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)), max_size=20
    ),
    flags=st.lists(st.one_of(st.none(), st.booleans()), max_size=5),
)
def test_trait_json_texts_are_what_orjson_writes(
    texts: list[str | None], numbers: list[float | None], flags: list[bool | None]
) -> None:
    import orjson
    import polars as pl

    for values, dtype in ((texts, pl.Utf8), (numbers, pl.Float64), (flags, pl.Boolean)):
        expected = [None if v is None else orjson.dumps(v).decode() for v in values]
        assert csv_table._json_texts(pl.Series(values, dtype=dtype)).to_list() == expected
