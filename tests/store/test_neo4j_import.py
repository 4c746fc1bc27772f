"""`idgraph export neo4j-import`: files for `neo4j-admin database import full`.

No Neo4j and no neo4j-admin here, so the files are checked against what can be: the real
embedded store they came from (counts, every relationship's endpoints), the header grammar of
Neo4j's operations manual ("Import header format"), the schema's property types, a CSV
reader that follows the importer's rules (RFC 4180 quotes; an empty field is no property, `""`
an empty string), and what the Neo4j store's own `UNWIND` writes send over the wire for the
same input (through the Bolt stand-in).
"""

from __future__ import annotations

import csv
import doctest
import re
import shlex
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import idgraph.store.neo4j_import as neo4j_import
from idgraph.cli import app
from idgraph.errors import ConfigError, StoreError
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, Overrides, run_ingest
from idgraph.store.dialect import NEO4J_WRITES
from idgraph.store.ladybug import LadybugStore
from idgraph.store.neo4j_import import ImportFiles, export_neo4j_import
from idgraph.store.schema import NODE_TABLES, PRIMARY_KEYS, REL_TABLES
from tests.conftest import AS_OF, FIXTURE_INPUTS, FIXTURES, as_of_ms
from tests.store.bolt_stub import BoltStub
from tests.store.test_neo4j_adapter import AUTH, empty_database

# -- the manual's header grammar, written out for the test ---------------------------------

#: `<name>:<field_type>`; the name may be empty, the type may be absent (then `string`).
_FIELD = re.compile(r"^(?P<name>[^:]*)(?::(?P<type>.+))?$")
_ID = re.compile(r"^(?P<kind>ID|START_ID|END_ID)(?:\((?P<group>[^()]+)\))?$")
_SCALARS = {"int", "long", "float", "double", "boolean", "byte", "short", "char", "string"}
_SCALARS |= {"point", "date", "localtime", "time", "localdatetime", "datetime", "duration"}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "ID", "START_ID", "END_ID", "LABEL", "TYPE", "IGNORE" or "property"
    group: str | None = None
    type: str | None = None  # property type, e.g. "long" or "string[]"


def parse_header(line: str) -> list[Field]:
    """A header line by the manual's grammar; raises on anything it does not allow."""
    fields = []
    for text in next(csv.reader([line])):
        match = _FIELD.match(text)
        assert match, text
        name, kind = match["name"], match["type"]
        special = _ID.match(kind or "")
        if special:
            fields.append(Field(name, special["kind"], group=special["group"]))
        elif kind in ("LABEL", "TYPE", "IGNORE"):
            fields.append(Field(name, kind))
        else:
            kind = kind or "string"
            assert kind.removesuffix("[]") in _SCALARS, f"unknown type in {text!r}"
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), f"property name {text!r}"
            fields.append(Field(name, "property", type=kind))
    return fields


def test_the_grammar_refuses_what_the_manual_does_not_allow() -> None:
    assert parse_header("key:ID(Record),n:long,tags:string[],x") == [
        Field("key", "ID", group="Record"),
        Field("n", "property", type="long"),
        Field("tags", "property", type="string[]"),
        Field("x", "property", type="string"),
    ]
    for bad in ("n:integer", "n:map", ":ID(", "a b:long"):
        with pytest.raises(AssertionError):
            parse_header(bad)


# -- a CSV reader with the importer's rules --------------------------------------------------


def read_rows(path: Path) -> list[list[str | None]]:
    """Rows of a data file: RFC 4180 quoting, an unquoted empty field is None (no property).

    Python's csv module (3.11) reads both as "", so this small reader tells them apart; the
    test below checks that the two agree on everything else.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        text = handle.read()
    rows: list[list[str | None]] = []
    row: list[str | None] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            value, i = [], i + 1
            while True:
                j = text.index('"', i)
                value.append(text[i:j])
                if j + 1 < n and text[j + 1] == '"':
                    value.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            row.append("".join(value))
        else:
            j = i
            while j < n and text[j] not in ",\n":
                j += 1
            assert '"' not in text[i:j], f"{path.name}: bare quote in {text[i:j]!r}"
            row.append(text[i:j] or None)
            i = j
        if i < n and text[i] == ",":
            i += 1
            if i < n and text[i] != "\n":
                continue
            row.append(None)  # an empty last field
        assert i >= n or text[i] == "\n", f"{path.name}: {text[i]!r} after a field"
        rows.append(row)
        row = []
        i += 1
    return rows


def typed(value: str | None, kind: str) -> Any:
    """A field as the importer types it (the manual: booleans are `true` exactly)."""
    if value is None:
        return None
    if kind.endswith("[]"):
        return [typed(v, kind[:-2]) for v in value.split(neo4j_import.ARRAY_DELIMITER)]
    if kind == "long":
        return int(value)
    if kind == "double":
        return float(value)
    if kind == "boolean":
        return value == "true"
    return value


def records(files: ImportFiles, name: str) -> Iterator[dict[str, Any]]:
    """The rows of one file group as property maps (absent properties left out); `@id`,
    `@start`, `@end` hold the IDs."""
    item = next(f for f in files.files if f.name == name)
    header = parse_header(item.header.read_text(encoding="utf-8").strip())
    for row in read_rows(item.data):
        assert len(row) == len(header), (item.data.name, row)
        out: dict[str, Any] = {}
        for field, value in zip(header, row, strict=True):
            if field.kind in ("ID", "START_ID", "END_ID"):
                assert value is not None
                out[f"@{field.kind.lower()}"] = value
                if field.kind == "ID" and field.name:
                    out[field.name] = value
            elif value is not None:
                out[field.name] = typed(value, field.type or "string")
        yield out


# -- stores to export ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every relationship type: the fixtures and two group calls, then a reviewer's decisions
    (records moved to another customer, two customers merged, one split) and a saved segment
    that ran."""
    folder = tmp_path_factory.mktemp("busy_store")
    store = folder / "idgraph.db"
    ingest = {
        "store": store,
        "options": NormalizeOptions(default_region="IT"),
        "rejects_path": folder / "rejects.jsonl",
        "as_of_ms": as_of_ms(),
    }
    groups = folder / "groups.jsonl"
    groups.write_text(
        '{"type": "group", "userId": "g-1", "groupId": "acme", "timestamp": "2026-01-01",'
        ' "traits": {"plan": "enterprise", "employees": 40}}\n'
        '{"type": "group", "anonymousId": "g-2", "groupId": "acme", "timestamp": "2026-01-02"}\n'
    )
    run_ingest([*FIXTURE_INPUTS, groups], **ingest)  # type: ignore[arg-type]
    with LadybugStore(store, read_only=True) as graph:
        rows = graph.query(
            "members", "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN c.id AS c, r.key AS k"
        )
    members: dict[str, list[str]] = {}
    for row in rows:
        members.setdefault(row["c"], []).append(row["k"])
    big = [sorted(members[c]) for c in sorted(members) if len(members[c]) >= 3]
    pairs = [sorted(members[c]) for c in sorted(members) if len(members[c]) == 2]
    moved, split = big[0], big[2]
    overrides = Overrides(
        cannot_link=[(moved[0], k) for k in moved[1:]] + [(split[0], k) for k in split[1:]],
        must_link=[(moved[0], big[1][0]), (pairs[0][0], pairs[1][0])],
    )
    run_ingest([], overrides=overrides, **ingest)  # type: ignore[arg-type]
    segment = FIXTURES / "segments" / "lapsed_high_spenders.yaml"
    runner = CliRunner()
    for args in (
        ["segment", "save", str(segment)],
        ["segment", "run", "lapsed_high_spenders", "--as-of", AS_OF],
    ):
        result = runner.invoke(app, [*args, "--store", str(store)])
        assert result.exit_code == 0, result.output
    return store


@pytest.fixture(scope="module")
def busy_files(busy_store: Path, tmp_path_factory: pytest.TempPathFactory) -> ImportFiles:
    # Small pages: every table is read in several of them.
    target = tmp_path_factory.mktemp("busy_import") / "out"
    return export_neo4j_import(target, store=busy_store, page_rows=7)


def _counts(store: Path) -> tuple[dict[str, int], dict[str, int]]:
    with LadybugStore(store, read_only=True) as graph:
        nodes = {
            label: graph.query("n", f"MATCH (n:{label}) RETURN count(n) AS n")[0]["n"]
            for label in NODE_TABLES
        }
        rels = {
            rel: graph.query("n", f"MATCH ()-[r:{rel}]->() RETURN count(r) AS n")[0]["n"]
            for rel in REL_TABLES
        }
    return nodes, rels


def test_counts_equal_the_store_and_every_type_is_present(
    busy_store: Path, busy_files: ImportFiles
) -> None:
    nodes, rels = _counts(busy_store)
    written = {f.name: f.rows for f in busy_files.files}
    assert written == {**nodes, **rels}
    for item in busy_files.files:
        assert len(read_rows(item.data)) == item.rows, item.data.name
    # The store exercises every relationship type but the erasure's (and no delivery ran):
    # the check means something.
    assert [rel for rel, n in rels.items() if n == 0] == []
    assert [label for label, n in nodes.items() if n == 0] == ["DeliveryState", "ErasedIdentifier"]
    assert busy_files.nodes == sum(nodes.values())
    assert busy_files.relationships == sum(rels.values())


def test_every_relationship_names_nodes_of_its_groups(busy_files: ImportFiles) -> None:
    ids: dict[str, set[str]] = {}
    for label in NODE_TABLES:
        found = [row["@id"] for row in records(busy_files, label)]
        assert len(found) == len(set(found)), f"duplicate IDs in {label}"
        ids[label] = set(found)
    for rel, (src, dst, _) in REL_TABLES.items():
        rows = list(records(busy_files, rel))
        missing = [
            r for r in rows if r["@start_id"] not in ids[src] or r["@end_id"] not in ids[dst]
        ]
        assert missing == [], rel


def test_headers_follow_the_manual_and_the_schema_types(
    busy_store: Path, busy_files: ImportFiles
) -> None:
    # The manual's names for the schema's column types, written out here, not taken from the code.
    types = {
        "string": "STRING",
        "long": "INT64",
        "double": "DOUBLE",
        "boolean": "BOOLEAN",
        "string[]": "STRING[]",
    }
    with LadybugStore(busy_store, read_only=True) as graph:
        columns = {label: graph.columns(label) for label in NODE_TABLES}
    for item in busy_files.files:
        fields = parse_header(item.header.read_text(encoding="utf-8").strip())
        props = {f.name: types[f.type or "string"] for f in fields if f.kind == "property"}
        if item.kind == "nodes":
            (key,) = [f for f in fields if f.kind == "ID"]
            assert (key.name, key.group) == (PRIMARY_KEYS[item.name], item.name)
            assert {**props, key.name: "STRING"} == columns[item.name]
            assert set(NODE_TABLES[item.name]) <= set(props) | {key.name}
        else:
            src, dst, schema = REL_TABLES[item.name]
            kinds = [(f.kind, f.group) for f in fields if f.kind != "property"]
            assert kinds == [("START_ID", src), ("END_ID", dst)]
            assert props == schema
    # Traits and event properties are typed columns too, not strings.
    customer = parse_header(
        (busy_files.directory / "nodes-Customer.header.csv").read_text(encoding="utf-8")
    )
    assert {f.name: f.type for f in customer}["lifetime_value"] == "double"


def test_the_command_loads_every_non_empty_group_with_its_label(busy_files: ImportFiles) -> None:
    args = shlex.split(busy_files.command(database="graph"))
    assert args[:5] == ["neo4j-admin", "database", "import", "full", "graph"]
    options = args[5:]
    assert "--overwrite-destination=true" in options and "--id-type=string" in options
    assert "--array-delimiter=U+001F" in options
    # A saved segment's YAML definition spans lines.
    assert "--multiline-fields=true" in options
    assert [p.name for p in busy_files.multiline_files] == ["nodes-Segment.csv"]
    groups = [o.split("=", 2) for o in options if o.startswith(("--nodes=", "--relationships="))]
    loaded = {(flag[2:], name): files.split(",") for flag, name, files in groups}
    expected = {(f.kind, f.name) for f in busy_files.files if f.rows}
    assert set(loaded) == expected
    folder = str(busy_files.directory.resolve())
    for (kind, name), files in loaded.items():
        assert files == [f"{folder}/{kind}-{name}.header.csv", f"{folder}/{kind}-{name}.csv"]
    script = busy_files.script.read_text(encoding="utf-8")
    assert script.startswith("#!/bin/sh\n")
    assert '"--relationships=MATCHED=$DIR/relationships-MATCHED.header.csv,' in script
    assert "ErasedIdentifier" not in script.split("set -eu", 1)[1]


def test_the_script_runs_the_same_command(busy_files: ImportFiles, tmp_path: Path) -> None:
    """import.sh with a stand-in neo4j-admin that prints its arguments, one per line."""
    import subprocess

    fake = tmp_path / "neo4j-admin"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    done = subprocess.run(
        ["sh", str(busy_files.script), "graph"],
        env={"NEO4J_ADMIN": str(fake), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    expected = shlex.split(busy_files.command(database="graph"))[1:]
    assert done.stdout.splitlines() == expected
    moved = subprocess.run(
        ["sh", str(busy_files.script)],
        env={"NEO4J_ADMIN": str(fake), "IMPORT_DIR": "/import", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert moved[3] == "neo4j"
    assert "--nodes=Record=/import/nodes-Record.header.csv,/import/nodes-Record.csv" in moved


# -- values ----------------------------------------------------------------------------------

TRICKY = {
    "crm:comma": "Rossi, Mario",
    "crm:quote": 'say "hi"',
    "crm:both": '"a","b"\\',
    "crm:newline": "line one\nline two\r\nthree",
    "crm:unicode": "Zoë 山田 🙂 ß",
    "crm:empty": "",
    "crm:spaces": "  padded  ",
    "crm:null": None,
}


@pytest.fixture(scope="module")
def tricky_files(tmp_path_factory: pytest.TempPathFactory) -> ImportFiles:
    folder = tmp_path_factory.mktemp("tricky")
    with LadybugStore(folder / "idgraph.db") as graph:
        for key, value in TRICKY.items():
            graph.write(
                "tricky",
                "CREATE (:Record {key: $key, first_name: $v, updated_ts: $ts})",
                {"key": key, "v": value, "ts": -(2**62)},
            )
        graph.write("col", "ALTER TABLE Customer ADD tags STRING[]")
        graph.write("col", "ALTER TABLE Customer ADD weight DOUBLE")
        for cid, tags, weight in (
            ("C-1", ["vip", "a,b", 'q"uote', "ünï", ""], 1e-7),
            ("C-2", [], float("inf")),
            ("C-3", None, None),
            ("C-4", ["solo"], -0.0),
        ):
            graph.write(
                "tricky",
                "CREATE (:Customer {id: $id, tags: $tags, weight: $w, flagged: $f})",
                {"id": cid, "tags": tags, "w": weight, "f": cid == "C-1"},
            )
        return export_neo4j_import(folder / "out", store=graph)


def test_values_round_trip(tricky_files: ImportFiles) -> None:
    got = {row["key"]: row.get("first_name") for row in records(tricky_files, "Record")}
    assert got == TRICKY
    assert {row["updated_ts"] for row in records(tricky_files, "Record")} == {-(2**62)}
    customers = {row["id"]: row for row in records(tricky_files, "Customer")}
    assert customers["C-1"]["tags"] == ["vip", "a,b", 'q"uote', "ünï", ""]
    # The importer cannot tell an empty array from none: CSV import leaves both out.
    assert customers["C-2"]["tags"] == [""] or "tags" not in customers["C-2"]
    assert "tags" not in customers["C-3"] and "weight" not in customers["C-3"]
    assert customers["C-1"]["weight"] == 1e-7 and customers["C-4"]["weight"] == 0.0
    assert customers["C-2"]["weight"] == float("inf")
    assert (customers["C-1"]["flagged"], customers["C-2"]["flagged"]) == (True, False)
    assert tricky_files.multiline_files == [tricky_files.directory / "nodes-Record.csv"]
    header = parse_header((tricky_files.directory / "nodes-Customer.header.csv").read_text())
    assert {f.name: f.type for f in header}["tags"] == "string[]"


def test_python_csv_module_reads_the_same_fields(tricky_files: ImportFiles) -> None:
    """The stdlib reader with the importer's dialect agrees, but for null versus ""."""
    for item in tricky_files.files:
        with item.data.open(newline="", encoding="utf-8") as handle:
            stdlib = list(csv.reader(handle, delimiter=",", quotechar='"', doublequote=True))
        ours = [["" if v is None else v for v in row] for row in read_rows(item.data)]
        assert stdlib == ours, item.data.name


def test_an_array_element_holding_the_delimiter_is_refused(tmp_path: Path) -> None:
    with LadybugStore(tmp_path / "idgraph.db") as graph:
        graph.write("col", "ALTER TABLE Customer ADD tags STRING[]")
        graph.write("c", "CREATE (:Customer {id: 'C-1', tags: $t})", {"t": ["a\x1fb"]})
        with pytest.raises(StoreError, match=r"Customer\.tags: .*U\+001F"):
            export_neo4j_import(tmp_path / "out", store=graph)


# -- against the Neo4j store's own writes ----------------------------------------------------


def _wire_graph(sent: list[Any]) -> tuple[dict[str, dict[str, dict[str, Any]]], Counter[Any]]:
    """Nodes (label -> key -> properties) and relationships the UNWIND writes would leave,
    replaying `SET x = row` (nulls dropped), `ON CREATE SET` and the per-property SETs."""
    names = {text: name for name, text in NEO4J_WRITES.items()}
    nodes: dict[str, dict[str, dict[str, Any]]] = {label: {} for label in NODE_TABLES}
    rels: Counter[Any] = Counter()
    whole = {
        "merge_records": "Record",
        "merge_identifiers": "Identifier",
        "merge_events": "Event",
        "merge_customers": "Customer",
    }
    for message in sent:
        name = names.get(message.query)
        rows = message.params.get("rows", [message.params])
        for row in rows:
            if name in whole:
                label = whole[name]
                key = row[PRIMARY_KEYS[label]]
                nodes[label][key] = {k: v for k, v in row.items() if v is not None}
            if name == "merge_events":
                rels["PERFORMED", row["record_key"], row["id"]] += 1
            elif name == "merge_record_identifiers":
                rels["HAS_IDENTIFIER", row["record"], row["identifier"]] += 1
            elif name == "merge_memberships":
                rels["HAS_RECORD", row["customer"], row["record"]] += 1
            elif name == "merge_matched":
                props = (row["rule"], row["fields"], row["score"])
                rels["MATCHED", row["a"], row["b"], props] += 1
            elif name == "merge_customer_ids":
                nodes["CustomerId"].setdefault(
                    row["id"], {"id": row["id"], "created_ts": row["created_ts"]}
                )["status"] = row["status"]
            elif name == "update_rfm":
                nodes["Customer"][row["id"]].update(
                    {k: v for k, v in row.items() if k != "id" and v is not None}
                )
            elif name == "stamp_state":
                nodes["Meta"][row["key"]] = {"key": row["key"], "value": row["value"]}
    return nodes, rels


def test_files_hold_what_the_neo4j_store_writes(
    fixture_store: tuple[Path, IngestReport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in AUTH.items():
        monkeypatch.setenv(name, value)
    with BoltStub(empty_database) as stub:
        run_ingest(
            FIXTURE_INPUTS,
            store=stub.url,
            options=NormalizeOptions(default_region="IT"),
            rejects_path=tmp_path / "rejects.jsonl",
            as_of_ms=as_of_ms(),
        )
        sent = list(stub.sent)
    wire_nodes, wire_rels = _wire_graph(sent)
    files = export_neo4j_import(tmp_path / "out", store=fixture_store[0])
    for label in ("Record", "Identifier", "Event", "Customer", "CustomerId"):
        exported = {row["@id"]: _plain(row) for row in records(files, label)}
        wire = wire_nodes[label]
        clock = {"Customer": "updated_ts", "CustomerId": "created_ts"}.get(label)
        if clock:  # when each of the two runs wrote them
            for props in [*exported.values(), *wire.values()]:
                assert isinstance(props.pop(clock), int)
        assert exported == wire, label
    meta = [_plain(row) for row in records(files, "Meta")]
    # The mirror's version, and the ingest's run record (idgraph.run_record).
    assert all(set(m) == {"key", "value"} for m in meta)
    assert sorted(m["key"].partition(":")[0] for m in meta) == ["run", "state"]
    assert sorted(k.partition(":")[0] for k in wire_nodes["Meta"]) == ["run", "state"]
    exported_rels: Counter[Any] = Counter()
    for rel in ("PERFORMED", "HAS_IDENTIFIER", "HAS_RECORD"):
        for row in records(files, rel):
            exported_rels[rel, row["@start_id"], row["@end_id"]] += 1
    for row in records(files, "MATCHED"):
        props = (row["rule"], row["fields"], row["score"])
        exported_rels["MATCHED", row["@start_id"], row["@end_id"], props] += 1
    assert exported_rels == wire_rels


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("@")}


# -- the command and its refusals ------------------------------------------------------------


def test_cli_writes_the_files_and_prints_the_command(busy_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["export", "neo4j-import", str(target), "--store", str(busy_store)])
    assert result.exit_code == 0, result.output
    assert "neo4j-admin database import full neo4j " in result.stdout
    assert (target / "import.sh").exists() and (target / "nodes-Record.csv").exists()
    again = runner.invoke(app, ["export", "neo4j-import", str(target), "--store", str(busy_store)])
    assert again.exit_code == 2 and "--force" in again.stderr
    forced = runner.invoke(
        app, ["export", "neo4j-import", str(target), "--store", str(busy_store), "--force"]
    )
    assert forced.exit_code == 0, forced.output


def test_refuses_a_neo4j_url_and_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embedded store"):
        export_neo4j_import(tmp_path / "out", store="bolt://localhost:7687")
    result = CliRunner().invoke(
        app, ["export", "neo4j-import", str(tmp_path / "o"), "--store", str(tmp_path / "no.db")]
    )
    assert result.exit_code == 3 and "no idgraph store" in result.stderr


def test_docstring_examples() -> None:
    assert doctest.testmod(neo4j_import).failed == 0
