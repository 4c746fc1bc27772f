"""A whole name in one column or one `name` trait, split into first and last name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.ingest.full_name import TITLES, split_full_name, split_full_names
from idgraph.ingest.guess_mapping import guess_mapping
from idgraph.query import IdentityGraph

Write = Callable[[str, str | bytes], Path]


@pytest.mark.parametrize(
    ("whole", "first", "last"),
    [
        ("Ann Smith", "Ann", "Smith"),
        ("  Ann   Smith ", "Ann", "Smith"),
        ("Smith, Ann", "Ann", "Smith"),
        ("O'Neil,  Mary Kate", "Mary Kate", "O'Neil"),
        ("Jan van der Berg", "Jan", "van der Berg"),
        ("Dr. Jan van der Berg", "Jan", "van der Berg"),
        ("Sig.ra Maria Rossi", "Maria", "Rossi"),
        ("mrs ann lee", "ann", "lee"),
        ("Herr Müller", None, "Müller"),
        ("M Smith", "M", "Smith"),
        ("Don Draper", "Don", "Draper"),
        ("Madonna", "Madonna", None),
        ("Dr", "Dr", None),
        ("Smith,", None, "Smith"),
        (",", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_the_split_rule(whole: str | None, first: str | None, last: str | None) -> None:
    assert split_full_name(whole) == (first, last)
    firsts, lasts = split_full_names(pl.Series([whole], dtype=pl.Utf8))
    assert (firsts[0], lasts[0]) == (first, last)


_WORD = st.text(alphabet="abcXYZéøß'.-", min_size=1, max_size=6)
_PIECE = st.one_of(_WORD, st.sampled_from(sorted(TITLES)), st.sampled_from([",", " ", "  "]))


@given(st.lists(st.lists(_PIECE, max_size=6).map(" ".join), min_size=1, max_size=20))
def test_the_column_splits_as_the_scalar_rule(names: list[str]) -> None:
    firsts, lasts = split_full_names(pl.Series(names, dtype=pl.Utf8))
    assert list(zip(firsts, lasts, strict=True)) == [split_full_name(n) for n in names]


def test_a_whole_name_column_gives_first_and_last_names(write: Write, read: Any) -> None:
    write(
        "pos.mapping.yaml",
        "source: pos\nid: card\ncolumns:\n  full_name: Customer\n  first_name: Given\n"
        "  email: Email\n",
    )
    table = write(
        "pos.csv",
        "card,Customer,Given,Email\n"
        "1,Ann Smith,,ann@x.it\n"
        '2,"Rossi, Maria",,maria@x.it\n'
        "3,Bob Jones,Robert,bob@x.it\n"
        "4,,,zoe@x.it\n",
    )
    run = read(table)
    names = {
        k: (r.fields.get("first_name"), r.fields.get("last_name"))
        for k, r in run.batch.records.items()
    }
    assert names == {
        "pos:1": ("Ann", "Smith"),
        "pos:2": ("Maria", "Rossi"),
        "pos:3": ("Robert", "Jones"),
        "pos:4": (None, None),
    }
    assert run.rejects == []


def test_a_guessed_mapping_splits_a_name_column_and_ingests_it(tmp_path: Path) -> None:
    table = tmp_path / "shop.csv"
    table.write_text(
        "id,Full Name,E-mail\n1,Ann Smith,ann@x.it\n2,Dr. Jan van der Berg,jan@x.nl\n",
        encoding="utf-8",
    )
    guess = guess_mapping(table)
    assert guess.mapping.columns.get("full_name") == "Full Name"
    assert "full_name" not in guess.mapping.traits
    (tmp_path / "shop.mapping.yaml").write_text(guess.to_yaml(), encoding="utf-8")
    store = tmp_path / "s.db"
    result = CliRunner().invoke(app, ["ingest", str(table), "--store", str(store)])
    assert result.exit_code == 0, result.output
    with IdentityGraph(store) as graph:
        rows = graph.store.query(
            "names", "MATCH (r:Record) RETURN r.key AS k, r.first_name AS f, r.last_name AS l"
        )
    assert {(r["k"], r["f"], r["l"]) for r in rows} == {
        ("shop:1", "Ann", "Smith"),
        ("shop:2", "Jan", "van der Berg"),
    }


def test_a_name_column_of_single_words_stays_a_trait(tmp_path: Path) -> None:
    """A `name` header over product or store names is not a person's name."""
    table = tmp_path / "stores.csv"
    table.write_text("id,name,Email\n1,Milano,a@x.it\n2,Roma,b@x.it\n", encoding="utf-8")
    guess = guess_mapping(table)
    assert "full_name" not in guess.mapping.columns


def test_a_name_trait_in_a_call_drops_the_title(write: Write, read: Any) -> None:
    calls = [
        {
            "type": "identify",
            "userId": "u1",
            "messageId": "m1",
            "timestamp": "2026-01-02T03:04:05Z",
            "traits": {"name": "Dr. Ann Lee"},
        },
        {
            "type": "identify",
            "userId": "u2",
            "messageId": "m2",
            "timestamp": "2026-01-02T03:04:05Z",
            "traits": {"name": "Herr Müller"},
        },
    ]
    stream = write("web.jsonl", "\n".join(orjson.dumps(c).decode() for c in calls) + "\n")
    records = read(stream).batch.records
    assert records["web:user:u1"].fields.get("first_name") == "Ann"
    assert records["web:user:u1"].fields.get("last_name") == "Lee"
    assert "first_name" not in records["web:user:u2"].fields
    assert records["web:user:u2"].fields.get("last_name") == "Müller"


def test_a_name_column_of_first_names_beside_a_surname_is_the_first_name(tmp_path: Path) -> None:
    table = tmp_path / "members.csv"
    table.write_text("id,Name,Surname,Email\n1,Ann,Smith,a@x.it\n2,Bob,Jones,b@x.it\n", "utf-8")
    columns = guess_mapping(table).mapping.columns
    assert (columns.get("first_name"), columns.get("last_name")) == ("Name", "Surname")
    assert "full_name" not in columns
