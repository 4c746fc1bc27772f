"""`idgraph mapping init`: a mapping guessed from a CSV loads, ingests, and matches the hand-made
ones on the fixtures; docs/mapping.md documents every key the model accepts."""

from __future__ import annotations

import csv
import doctest
import io
import re
import shutil
from pathlib import Path
from typing import get_args

import orjson
import pytest
import yaml
from typer.testing import CliRunner

import idgraph.ingest.guess_mapping as guess_module
from idgraph.cli import app
from idgraph.errors import InputError
from idgraph.ingest.guess_mapping import guess_mapping
from idgraph.ingest.mapping import EventMapping, MappedField, SourceMapping, load_mapping
from idgraph.query import IdentityGraph
from tests.conftest import FIXTURES, ROOT

runner = CliRunner()
MAPPING_DOC = (ROOT / "docs" / "mapping.md").read_text(encoding="utf-8")


def _bare_copy(tmp_path: Path, name: str) -> Path:
    """The fixture CSV alone in a folder: no mapping beside it."""
    target = tmp_path / f"{name}.csv"
    shutil.copyfile(FIXTURES / f"{name}.csv", target)
    return target


@pytest.mark.parametrize("name", ["crm", "pos"])
def test_the_guess_makes_the_fixture_mappings_choices(tmp_path: Path, name: str) -> None:
    guess = guess_mapping(_bare_copy(tmp_path, name))
    assert guess.mapping == load_mapping(FIXTURES / f"{name}.mapping.yaml")
    assert guess.rows == len((FIXTURES / f"{name}.csv").read_text("utf-8").splitlines()) - 1


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark generator's multi-source files, each with the mapping it writes by hand."""
    from bench.generate import run

    out = tmp_path_factory.mktemp("generated")
    run(records=2000, seed=7, noise=1.0, out=out, sources=True)
    return out


@pytest.mark.parametrize("name", ["crm", "support", "pos"])
def test_the_guess_makes_the_generator_mappings_choices(generated: Path, name: str) -> None:
    bare = generated / "bare"
    bare.mkdir(exist_ok=True)
    table = bare / f"{name}.csv"
    shutil.copyfile(generated / f"{name}.csv", table)
    assert guess_mapping(table).mapping == load_mapping(generated / f"{name}.mapping.yaml")


def test_the_yaml_says_why_and_loads_back(tmp_path: Path) -> None:
    table = _bare_copy(tmp_path, "pos")
    text = guess_mapping(table).to_yaml()
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "docs/mapping.md" in text
    assert re.search(r"^id: card_number$", text, re.M)
    assert "repeats across rows" in text  # the reason the card, not the receipt, is the id
    assert re.search(r"total: \{column: amount, type: number\}  # every value is a number", text)
    written = tmp_path / "pos.mapping.yaml"
    written.write_text(text, encoding="utf-8")
    assert load_mapping(written) == guess_mapping(table).mapping


def _clusters(store: Path) -> set[frozenset[str]]:
    with IdentityGraph(store) as graph:
        groups: dict[str, set[str]] = {}
        for record, customer in graph.clusters():
            groups.setdefault(customer, set()).add(record)
    return {frozenset(g) for g in groups.values()}


def test_cli_writes_guesses_that_ingest_like_the_hand_made_mappings(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    tables = [_bare_copy(bare, "crm"), _bare_copy(bare, "pos")]
    refused = runner.invoke(app, ["ingest", *map(str, tables), "--store", str(tmp_path / "x.db")])
    assert refused.exit_code == 2
    assert "docs/mapping.md" in refused.output
    assert f"idgraph mapping init {tables[0]} --write" in refused.output
    for table in tables:
        result = runner.invoke(app, ["mapping", "init", str(table), "--write"])
        assert result.exit_code == 0, result.output
        assert table.with_name(f"{table.stem}.mapping.yaml").is_file()
        assert "review it" in result.output
    guessed, by_hand = tmp_path / "guessed.db", tmp_path / "by_hand.db"
    for store, inputs in (
        (guessed, tables),
        (by_hand, [FIXTURES / "crm.csv", FIXTURES / "pos.csv"]),
    ):
        result = runner.invoke(
            app,
            ["ingest", *map(str, inputs), "--store", str(store), "--rejects", str(tmp_path / "r")],
        )
        assert result.exit_code == 0, result.output
    assert _clusters(guessed) == _clusters(by_hand)
    stats = runner.invoke(app, ["stats", "--store", str(guessed), "-f", "json"])
    data = orjson.loads(stats.stdout)
    assert data["records_per_source"] == {"crm": 84, "pos": 51}
    assert data["events_per_name"] == {"Order Completed": 166}


def test_write_refuses_to_replace_a_mapping_unless_forced(tmp_path: Path) -> None:
    table = _bare_copy(tmp_path, "crm")
    sidecar = tmp_path / "crm.mapping.yaml"
    sidecar.write_text("# mine\nsource: crm\nid: customer_number\n", encoding="utf-8")
    refused = runner.invoke(app, ["mapping", "init", str(table), "--write"])
    assert refused.exit_code == 2
    assert "exists" in refused.output and "--force" in refused.output
    assert sidecar.read_text(encoding="utf-8").startswith("# mine")
    printed = runner.invoke(app, ["mapping", "init", str(table)])
    assert printed.exit_code == 0 and printed.stdout.startswith("# Source mapping guessed")
    assert sidecar.read_text(encoding="utf-8").startswith("# mine")  # printing writes nothing
    forced = runner.invoke(app, ["mapping", "init", str(table), "--write", "--force"])
    assert forced.exit_code == 0, forced.output
    assert sidecar.read_text(encoding="utf-8") == printed.stdout


def test_mapping_init_refuses_what_it_cannot_guess(tmp_path: Path) -> None:
    events = tmp_path / "web.jsonl"
    events.write_text('{"type":"page","anonymousId":"a"}\n', encoding="utf-8")
    result = runner.invoke(app, ["mapping", "init", str(events)])
    assert result.exit_code == 2 and "need no mapping" in result.output
    missing = runner.invoke(app, ["mapping", "init", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "nope.csv" in missing.output
    empty = tmp_path / "empty.csv"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        guess_mapping(empty)


ITALIAN = """\
Codice Cliente;Nome;Cognome;E-Mail;Telefono;Data di nascita;CAP;Città;Punti;Newsletter
IT-001;Giulia;Ferrari;giulia.ferrari@libero.it;329 000 3452;23/11/1986;20135;Milano;120;sì
IT-002;Marco;Esposito;m.esposito@gmail.com;+39 320 737 7238;04/07/1962;80127;Napoli;0;no
IT-003;Anna;Bruno;anna.bruno@alice.it;347-599-8917;12/03/1990;00184;Roma;35;no
"""
GERMAN = """\
Kundennummer,Vorname,Nachname,Mail,Handy,Geburtsdatum,PLZ,Ort,Land,Umsatz,Geändert am
K1001,Jürgen,Müller,j.mueller@web.de,0151 23456789,1975-02-14,10115,Berlin,Deutschland,1480.50,\
2025-03-02T11:01:29Z
K1002,Anke,Schmidt,anke.schmidt@gmx.de,0171 9876543,1988-10-01,80331,München,DE,20,\
2025-04-01T09:00:00Z
"""
BY_CONTENT = """\
ref,contact,reach,started,vip,score
A-17,lena.roth@mailbox.org,+49 151 23456789,2024-01-05,true,7
A-18,kai.lenz@posteo.de,+49 171 9876543,2024-02-11,false,3.5
A-19,mia.wolf@web.de,+49 160 1234567,2024-03-02,true,9
"""


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "clienti.csv",
            ITALIAN,
            {
                "id": "Codice Cliente",
                "columns": {
                    "customer_id": "Codice Cliente",
                    "first_name": "Nome",
                    "last_name": "Cognome",
                    "email": "E-Mail",
                    "phone": "Telefono",
                    "birth_date": "Data di nascita",
                    "postcode": "CAP",
                    "city": "Città",
                },
                "traits": {"punti": ("Punti", "number"), "newsletter": ("Newsletter", "string")},
                "delimiter": ";",
                "date_order": "DMY",
                "default_region": "IT",
            },
        ),
        (
            "kunden.csv",
            GERMAN,
            {
                "id": "Kundennummer",
                "columns": {
                    "customer_id": "Kundennummer",
                    "first_name": "Vorname",
                    "last_name": "Nachname",
                    "email": "Mail",
                    "phone": "Handy",
                    "birth_date": "Geburtsdatum",
                    "postcode": "PLZ",
                    "city": "Ort",
                    "country": "Land",
                    "updated_at": "Geändert am",
                },
                "traits": {"umsatz": ("Umsatz", "number")},
                "delimiter": ",",
                "date_order": None,
                "default_region": "DE",
            },
        ),
        (
            "leads.csv",
            BY_CONTENT,
            {
                "id": "ref",
                "columns": {"email": "contact", "phone": "reach"},
                "traits": {
                    "started": ("started", "date"),
                    "vip": ("vip", "boolean"),
                    "score": ("score", "number"),
                },
                "delimiter": ",",
                "date_order": None,
                "default_region": None,
            },
        ),
    ],
    ids=["italian", "german", "by-content"],
)
def test_headers_in_several_languages_and_values_alone(
    tmp_path: Path, name: str, text: str, expected: dict[str, object]
) -> None:
    table = tmp_path / name
    table.write_text(text, encoding="utf-8")
    m = guess_mapping(table).mapping
    assert m.id == expected["id"]
    assert dict(m.columns) == expected["columns"]
    assert {k: (v.column, v.type) for k, v in m.traits.items()} == expected["traits"]
    assert (m.delimiter, m.date_order, m.default_region) == (
        expected["delimiter"],
        expected["date_order"],
        expected["default_region"],
    )
    assert m.event is None
    result = runner.invoke(app, ["mapping", "init", str(table), "--write"])
    assert result.exit_code == 0, result.output
    store = tmp_path / "s.db"
    ingested = runner.invoke(
        app, ["ingest", str(table), "--store", str(store), "--rejects", str(tmp_path / "r.jsonl")]
    )
    assert ingested.exit_code == 0, ingested.output
    assert "0 line(s) rejected" not in ingested.output and "rejected, see" not in ingested.output
    first = next(csv.DictReader(io.StringIO(text), delimiter=m.delimiter))
    with IdentityGraph(store, default_region="IT") as graph:
        assert len(graph.lookup(first[m.columns["email"]])) == 1


def test_the_documented_examples_are_the_fixture_mappings() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", MAPPING_DOC, re.S)
    documented = {}
    for block in blocks:
        first = block.splitlines()[0]
        if first.startswith("# fixtures/"):
            documented[first.split()[1].rstrip(":")] = SourceMapping.model_validate(
                yaml.safe_load(block)
            )
    assert documented == {
        "fixtures/crm.mapping.yaml": load_mapping(FIXTURES / "crm.mapping.yaml"),
        "fixtures/pos.mapping.yaml": load_mapping(FIXTURES / "pos.mapping.yaml"),
    }


@pytest.mark.parametrize("model", [SourceMapping, EventMapping], ids=lambda m: m.__name__)
def test_every_key_the_model_accepts_is_documented(model: type) -> None:
    keys = re.findall(r"^\| `([a-z_]+)` \|", MAPPING_DOC, re.M)
    assert set(model.model_fields) <= set(keys)  # type: ignore[attr-defined]


def test_every_column_target_is_documented() -> None:
    table = MAPPING_DOC.split("| target | becomes | read as |", 1)[1].split("\n\n", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines()[2:]]
    documented = set(re.findall(r"`([a-z_]+)`", " ".join(first_cells)))
    assert documented == set(get_args(MappedField))


def test_docstring_examples() -> None:
    result = doctest.testmod(guess_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("phones", "region"),
    [
        # "07911 123456" is valid in Britain and in Germany: the +44 numbers decide.
        (["+44 7911 123456", "07911 123457", "0044 7911 123458"], "GB"),
        (["+49 7911 123456", "07911 123457"], "DE"),
        # Without numbers written with a country code, the list's order decides as before.
        (["07911 123457"], "GB"),
        (["+39 333 1234567", "0151 23456780"], "DE"),
    ],
)
def test_national_numbers_are_read_where_the_international_ones_are(
    tmp_path: Path, phones: list[str], region: str
) -> None:
    table = tmp_path / "contacts.csv"
    rows = [f"{n},p{n}@mail.test,{phone}" for n, phone in enumerate(phones, 1)]
    table.write_text("id,email,mobile\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert guess_mapping(table).mapping.default_region == region
