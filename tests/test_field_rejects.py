"""Field-level rejects (issue 18, point 3): a bad value is dropped, its line is stored.

Real CSV and JSONL files go through `run_ingest` into a real embedded store, read back through
the query module; the rejects file is read as a user would read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.pipeline import IngestReport, run_ingest
from idgraph.query import CustomerProfile, IdentityGraph

CRM_MAPPING = """\
source: crm
id: id
columns:
  email: email
  phone: phone
  first_name: first
  last_name: last
  birth_date: dob
traits:
  ltv: {column: ltv, type: number}
default_region: IT
"""
CRM = """\
id,email,phone,first,last,dob,ltv
c1,anna.rossi@shop.it,347 123 4567,Anna,Rossi,1980-05-04,120
c2,marco.neri@shop.it,not a phone,Marco,Neri,2090-01-01,80
c3,test@example.com,348 765 4321,Lia,Verdi,1975-03-02,lots
c4,n/a,n/a,Ugo,Bassi,,
"""
POS_MAPPING = """\
source: pos
id: card
columns: {email: mail}
event:
  name: Order Completed
  timestamp: at
  id: receipt
  properties:
    total: {column: amount, type: number}
"""
POS = """\
receipt,card,mail,at,amount
r1,k1,marco.neri@shop.it,2024-05-04T10:00:00Z,19.90
r2,k2,noreply@shop.it,2024-05-05T10:00:00Z,many
r3,k3,lia@shop.it,,5
"""


def _call(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": "2024-05-04T10:00:00Z", **fields}


WEB = [
    _call(
        "identify",
        userId="u1",
        traits={
            "email": "giulia@shop.it",
            "phone": "12",
            "birthday": "2999-12-31",
            "firstName": "Giulia",
        },
    ),
    _call(
        "track",
        userId="u1",
        event="Product Viewed",
        messageId="m1",
        context={"traits": {"email": "asdf@shop.it"}},
    ),
    _call("track", userId="u2", event="Product Viewed", messageId="m2", timestamp="soon"),
    _call("identify", userId="u3", traits={"email": "u3@shop.it", "phone": "0000000000"}),
]


def _write(folder: Path) -> list[Path]:
    (folder / "crm.mapping.yaml").write_text(CRM_MAPPING, encoding="utf-8")
    (folder / "crm.csv").write_text(CRM, encoding="utf-8")
    (folder / "pos.mapping.yaml").write_text(POS_MAPPING, encoding="utf-8")
    (folder / "pos.csv").write_text(POS, encoding="utf-8")
    web = folder / "web.jsonl"
    web.write_bytes(b"".join(orjson.dumps(call) + b"\n" for call in WEB))
    return [folder / "crm.csv", folder / "pos.csv", web]


def _rejects(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _profile(graph: IdentityGraph, identifier: str) -> CustomerProfile:
    (customer,) = graph.lookup(identifier)
    return graph.profile(customer)


def _fields(profile: CustomerProfile, key: str) -> dict[str, str]:
    (record,) = [r for r in profile.records if r.key == key]
    return record.fields


#: (file, line, field) of every value dropped from the files `_write` writes.
EXPECTED_FIELD_REJECTS = [
    ("crm.csv", 3, "phone"),
    ("crm.csv", 3, "dob"),
    ("crm.csv", 4, "email"),
    ("crm.csv", 4, "ltv"),
    ("pos.csv", 3, "mail"),
    ("pos.csv", 3, "amount"),
    ("web.jsonl", 1, "traits.phone"),
    ("web.jsonl", 1, "traits.birthday"),
    ("web.jsonl", 2, "context.traits.email"),
]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestReport]:
    folder = tmp_path_factory.mktemp("field_rejects")
    report = run_ingest(
        _write(folder), store=folder / "idgraph.db", rejects_path=folder / "rejects.jsonl"
    )
    return folder, report


def test_one_field_reject_per_bad_value_naming_file_line_field_and_reason(
    ingested: tuple[Path, IngestReport],
) -> None:
    folder, _ = ingested
    rejects = _rejects(folder / "rejects.jsonl")
    fields = [
        (Path(r["file"]).name, r["line"], r["field"]) for r in rejects if r["kind"] == "field"
    ]
    assert fields == EXPECTED_FIELD_REJECTS
    by_field = {r["field"]: r for r in rejects if r["kind"] == "field"}
    assert (
        by_field["dob"]["reason"] == "column 'dob' (birth_date): implausible date (in the future)"
    )
    assert by_field["dob"]["raw"] == "2090-01-01"
    assert by_field["email"]["reason"].startswith("column 'email' (email): on the junk list")
    assert by_field["ltv"]["reason"] == "column 'ltv' (trait ltv): not a number"
    assert by_field["traits.phone"]["reason"].startswith("traits.phone: not a possible phone")
    assert by_field["traits.birthday"]["raw"] == "2999-12-31"
    assert by_field["context.traits.email"]["raw"] == "asdf@shop.it"
    lines = [(Path(r["file"]).name, r["line"], r["field"]) for r in rejects if r["kind"] == "line"]
    assert lines == [("pos.csv", 4, "at"), ("web.jsonl", 3, "timestamp")]


def test_counts_reconcile_per_line_and_count_the_dropped_values(
    ingested: tuple[Path, IngestReport],
) -> None:
    _, report = ingested
    counts = {
        Path(f.path).name: (f.read, f.ingested, f.rejected, f.field_rejects) for f in report.files
    }
    assert counts == {"crm.csv": (4, 4, 0, 4), "pos.csv": (3, 2, 1, 2), "web.jsonl": (4, 3, 1, 3)}
    assert all(f.read == f.ingested + f.rejected for f in report.files)
    assert (report.rejected, report.field_rejects) == (2, len(EXPECTED_FIELD_REJECTS))


def test_records_with_dropped_values_are_stored_with_their_other_values(
    ingested: tuple[Path, IngestReport],
) -> None:
    folder, _ = ingested
    with IdentityGraph(folder / "idgraph.db", default_region="IT") as graph:
        marco = _profile(graph, "crm:c2")
        assert _fields(marco, "crm:c2") == {
            "email": "marco.neri@shop.it",
            "first_name": "Marco",
            "last_name": "Neri",
        }
        # The POS card shares Marco's email: the record whose phone and birth date were
        # dropped still links by the email it kept.
        assert {r.key for r in marco.records} == {"crm:c2", "pos:k1"}
        lia = _profile(graph, "crm:c3")
        assert _fields(lia, "crm:c3") == {
            "phone": "+393487654321",
            "first_name": "Lia",
            "last_name": "Verdi",
            "birth_date": "1975-03-02",
        }
        assert "ltv" not in next(r for r in lia.records if r.key == "crm:c3").traits
        anna = _profile(graph, "crm:c1")
        assert next(r for r in anna.records if r.key == "crm:c1").traits["ltv"] == 120.0
        assert graph.lookup("test@example.com") == []
        giulia = _profile(graph, "giulia@shop.it")
        assert _fields(giulia, "web:user:u1") == {"email": "giulia@shop.it", "first_name": "Giulia"}
        assert [e.id for e in giulia.events] == ["web:m1"]


def test_events_of_a_line_with_a_dropped_value_are_stored(
    ingested: tuple[Path, IngestReport],
) -> None:
    folder, _ = ingested
    with IdentityGraph(folder / "idgraph.db", default_region="IT") as graph:
        card = _profile(graph, "pos:k2")
        assert _fields(card, "pos:k2") == {}
        (order,) = card.events
        assert (order.id, order.name, order.properties) == ("pos:r2", "Order Completed", {})
        assert graph.lookup("pos:k3") == []


def test_placeholders_stay_silent(ingested: tuple[Path, IngestReport]) -> None:
    folder, _ = ingested
    rejects = _rejects(folder / "rejects.jsonl")
    assert not [r for r in rejects if r["line"] == 5 and r["file"].endswith("crm.csv")]
    assert not [r for r in rejects if r["line"] == 4 and r["file"].endswith("web.jsonl")]
    with IdentityGraph(folder / "idgraph.db", default_region="IT") as graph:
        assert _fields(_profile(graph, "crm:c4"), "crm:c4") == {
            "first_name": "Ugo",
            "last_name": "Bassi",
        }


def test_the_incremental_path_drops_values_the_same_way(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    paths = _write(first)
    run_ingest(paths[:1], store=store, rejects_path=tmp_path / "r1.jsonl")
    for path in paths[1:]:
        (later / path.name).write_bytes(path.read_bytes())
    (later / "pos.mapping.yaml").write_text(POS_MAPPING, encoding="utf-8")
    report = run_ingest(
        [later / "pos.csv", later / "web.jsonl"], store=store, rejects_path=tmp_path / "r2.jsonl"
    )
    assert report.mode == "incremental"
    fields = [
        (Path(r["file"]).name, r["line"], r["field"])
        for r in _rejects(tmp_path / "r2.jsonl")
        if r["kind"] == "field"
    ]
    assert fields == EXPECTED_FIELD_REJECTS[4:]
    assert [(f.read, f.ingested, f.rejected, f.field_rejects) for f in report.files] == [
        (3, 2, 1, 2),
        (4, 3, 1, 3),
    ]
    with IdentityGraph(store, default_region="IT") as graph:
        marco = _profile(graph, "pos:k1")
        assert {r.key for r in marco.records} == {"crm:c2", "pos:k1"}
        giulia = _profile(graph, "web:user:u1")
        assert _fields(giulia, "web:user:u1") == {"email": "giulia@shop.it", "first_name": "Giulia"}
        assert [e.id for e in giulia.events] == ["web:m1"]


def test_the_cli_summary_shows_the_values_dropped(tmp_path: Path) -> None:
    paths = _write(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            *map(str, paths),
            "--store",
            str(tmp_path / "idgraph.db"),
            "--rejects",
            str(tmp_path / "rejects.jsonl"),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "values dropped" in result.output
    total = next(
        line for line in result.output.splitlines() if line.strip("│ ").startswith("total")
    )
    assert [cell.strip() for cell in total.split("│")][3:7] == ["11", "9", "2", "9"]
    assert "2 line(s) rejected, 9 value(s) dropped" in result.output
