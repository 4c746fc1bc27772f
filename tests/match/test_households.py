"""Households: holders of one phone or mailbox whose first names say they are two people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from idgraph.match.households import (
    clashing_pairs,
    household_names,
    household_pairs,
    learn_aliases,
)
from idgraph.match.levels import FIELD_LEVELS, ScoringView
from idgraph.match.model import MatchModel
from idgraph.match.view import match_view
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph


def _view(rows: list[tuple[str | None, str | None]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "key": [f"r{i}" for i in range(len(rows))],
            "first_name": [f for f, _ in rows],
            "last_name": [last for _, last in rows],
        },
        schema={"key": pl.Utf8, "first_name": pl.Utf8, "last_name": pl.Utf8},
    )
    return match_view(frame, ("first_name", "last_name"))


def _edges(pairs: list[tuple[int, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "a": [a for a, _, _ in pairs],
            "b": [b for _, b, _ in pairs],
            "key": [k for *_, k in pairs],
        },
        schema={"a": pl.Int64, "b": pl.Int64, "key": pl.Utf8},
    )


NO_ALIASES = pl.DataFrame(schema={"x": pl.Utf8, "y": pl.Utf8})


def test_which_holders_are_kept_apart() -> None:
    view = _view(
        [
            ("Marco", "Rossi"),  # 0
            ("Giulia", "Rossi"),  # 1: his wife
            ("Bob", "Smith"),  # 2
            ("Robert", "Smith"),  # 3: a nickname the table knows
            ("Elisabetta", "Neri"),  # 4
            ("Elisabteta", "Neri"),  # 5: a typo
            ("Neri", "Elisabetta"),  # 6: first and last name swapped
            (None, "Rossi"),  # 7: no first name, on the Rossis' phone
            (None, "Smith"),  # 8: no first name, on the Smiths' phone
            ("Reingard", None),  # 9: no last name
            ("Steinlehuber", "Reingard"),  # 10: her, swapped; 9's first name is her last
        ]
    )
    edges = _edges(
        [
            (0, 1, "phone:rossi"),
            (2, 3, "phone:smith"),
            (4, 5, "email:neri"),
            (4, 6, "email:neri"),
            (0, 7, "phone:rossi"),
            (2, 8, "phone:smith"),
            (9, 10, "email:reingard"),
        ]
    )
    assert household_pairs(edges, view, NO_ALIASES, clashing_pairs(edges, view)).tolist() == [
        True,
        False,
        False,
        False,
        True,
        False,
        False,
    ]


def test_a_learned_alias_is_one_name() -> None:
    view = _view([("Giuseppe", "Verdi"), ("Pino", "Verdi")])
    edges = _edges([(0, 1, "phone:verdi")])
    assert household_pairs(edges, view, NO_ALIASES, clashing_pairs(edges, view)).tolist() == [True]
    aliases = pl.DataFrame({"x": ["giuseppe"], "y": ["pino"]})
    assert household_pairs(edges, view, aliases, clashing_pairs(edges, view)).tolist() == [False]


def _population() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Four families where Giuseppe also goes by Pino, and forty couples: Marco and Giulia
    in twenty families, Luca and Sara in twenty — far more families than Pino's, but no more
    than names that common pair by chance."""
    rows: list[tuple[str | None, str | None]] = []
    pairs: list[tuple[int, int, str]] = []
    for family in ("verdi", "bianchi", "ferrari", "esposito"):
        pairs.append((len(rows), len(rows) + 1, f"phone:{family}"))
        rows += [("Giuseppe", family), ("Pino", family)]
    for i in range(40):
        family = f"family{i}"
        pairs.append((len(rows), len(rows) + 1, f"phone:{family}"))
        rows += [(("Marco", "Luca")[i % 2], family), (("Giulia", "Sara")[i % 2], family)]
    return _view(rows), _edges(pairs)


def test_aliases_are_learned_from_pairs_that_recur_beyond_chance() -> None:
    view, edges = _population()
    learned = learn_aliases(clashing_pairs(edges, view), view)
    assert learned.rows() == [("giuseppe", "pino")]


def test_explain_names_a_household(tmp_path: Path) -> None:
    table = tmp_path / "shop.csv"
    table.write_text(
        "id,first_name,last_name,phone,dob\n"
        "1,Marco,Rossi,+39 02 1234567,1980-04-02\n"
        "2,Giulia,Rossi,+39 02 1234567,\n"
        "3,Anna,Bruno,+39 347 7654321,1975-01-09\n"
        "4,Anna,Bruno,+39 347 7654321,\n",
        encoding="utf-8",
    )
    (tmp_path / "shop.mapping.yaml").write_text(
        "source: shop\nid: id\ncolumns: {first_name: first_name, last_name: last_name, "
        "phone: phone, birth_date: dob}\ndefault_region: IT\n",
        encoding="utf-8",
    )
    store = tmp_path / "idgraph.db"
    report = run_ingest([table], store=store, rejects_path=tmp_path / "rejects.jsonl")
    assert report.customers == 3
    assert report.pairs_kept_apart["households"] == 1
    with IdentityGraph(store) as graph:
        apart = graph.explain("shop:1", "shop:2")
        together = graph.explain("shop:3", "shop:4")
    assert not apart.same_customer and together.same_customer
    reasons = [r.reason for r in apart.refusals]
    assert any("'marco' and 'giulia' are two people" in r for r in reasons), reasons


def test_household_names_reads_stored_names() -> None:
    assert household_names([("Marco", "Rossi")], [("Giulia", "Rossi")], []) == (
        "marco",
        "giulia",
    )
    assert household_names([("Bob", "Smith")], [("Robert", "Smith")], []) is None


def test_the_model_keeps_its_aliases() -> None:
    model = MatchModel({"first_name": [0.9, 0.1]}, {"first_name": [0.1, 0.9]}, 0.01)
    model.aliases = [("giuseppe", "pino")]
    assert MatchModel.from_json(model.to_json()).aliases == [("giuseppe", "pino")]


def test_a_learned_alias_scores_as_a_typo_in_the_model() -> None:
    view = _view([("Giuseppe", "Verdi"), ("Pino", "Verdi"), ("Marco", "Verdi")])
    left, right = np.array([0, 0]), np.array([1, 2])
    names = FIELD_LEVELS["first_name"]
    plain = ScoringView(view).levels("first_name", left, right)
    assert [names[i] for i in plain] == ["else", "else"]
    aliases = pl.DataFrame({"x": ["giuseppe"], "y": ["pino"]})
    taught = ScoringView(view, aliases).levels("first_name", left, right)
    assert [names[i] for i in taught] == ["typo", "else"]
