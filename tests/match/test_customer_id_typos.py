"""A customer id typed with one slip: scored as a typo, never as evidence against a pair, and
blocked on by the part of it the slip left as it was."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from idgraph.block.keys import block_key_column
from idgraph.cli import app
from idgraph.match.config import BlockPart, MatchConfig, load_match_config
from idgraph.match.levels import FIELD_LEVELS, ScoringView
from idgraph.match.model import MatchModel
from idgraph.match.tolerance import one_edit
from idgraph.match.view import VIEW_FIELDS, match_view, with_customer_ids
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph
from tests.match.test_model import FIRST, LAST, _frame

runner = CliRunner()


def test_one_edit_is_one_slip_in_a_value_of_four_or_more() -> None:
    a = pl.Series(["2423787", "2423787", "2423787", "2423787", "abc", "C1001"])
    b = pl.Series(["2427387", "2423788", "242378", "2427383", "abd", "C1001"])
    assert one_edit(a, b).tolist() == [True, True, True, False, False, False]


def test_the_levels_read_the_records_customer_ids() -> None:
    records = _frame([{"key": k} for k in ("a", "b", "c", "d")])
    ids = pl.DataFrame(
        {
            "record": ["a", "b", "c", "c"],
            "kind": ["customer_id", "customer_id", "customer_id", "email"],
            "value": ["5851063", "5850163", "7000001", "x@y.it"],
        }
    )
    view = match_view(with_customer_ids(records, ids), VIEW_FIELDS)
    assert view["customer_id"].to_list() == ["5851063", "5850163", "7000001", None]
    levels = ScoringView(view).levels("customer_id", np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert [FIELD_LEVELS["customer_id"][v] if v >= 0 else None for v in levels] == [
        "typo",
        "else",
        None,
    ]


def test_only_the_typo_level_weighs_and_never_against_a_pair() -> None:
    learned = MatchModel(
        {"customer_id": [0.9, 0.06, 0.04]}, {"customer_id": [1e-4, 5e-5, 0.9999]}, 0.01
    )
    assert learned.level_weights("customer_id").tolist() == pytest.approx(
        [0.0, 10.23, 0.0], abs=0.01
    )
    # Ids one apart that are mostly strangers' (numbers handed out in sequence): no evidence.
    sequential = MatchModel(
        {"customer_id": [0.9, 1e-6, 0.1]}, {"customer_id": [1e-4, 1e-3, 0.999]}, 0.01
    )
    assert sequential.level_weights("customer_id").tolist() == [0.0, 0.0, 0.0]


def test_one_slip_leaves_the_front_or_the_back_of_an_id_as_it_was() -> None:
    ids = ["2423787", "2427387", "2423788", "2243787", "123", None]
    view = pl.DataFrame({"customer_id": ids})
    front, back = (
        block_key_column(view, [BlockPart(field="customer_id", transform=side)]).to_list()
        for side in ("front", "back")
    )
    assert front == ["242", "242", "242", "224", None, None]
    assert back == ["787", "387", "788", "787", None, None]
    for slipped in (1, 2, 3):
        assert front[slipped] == front[0] or back[slipped] == back[0]


def _swapped(value: str, rng: random.Random) -> str:
    at = rng.randrange(len(value) - 1)
    while value[at] == value[at + 1]:
        at = rng.randrange(len(value) - 1)
    return value[:at] + value[at + 1] + value[at] + value[at + 2 :]


def _people(count: int, seed: int) -> tuple[pl.DataFrame, dict[str, str], list[tuple[str, str]]]:
    """People with three records each at an address of their own under a national id; each
    copy after the first has, independently, the id's neighbouring digits swapped, no surname
    and no birth date, each one time in three (Febrl corrupts records so). Rows to
    write, the truth, and each copy with all three slips beside its person's first record:
    one whose name and address alone would not join it."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    truth: dict[str, str] = {}
    slipped: list[tuple[str, str]] = []
    for person in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST) + rng.choice("abcdefghij")
        dob = f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        number = str(rng.randint(1_000_000, 9_999_999))
        street = f"via {rng.choice(['po', 'roma', 'verdi'])} {person}"
        head = f"r{len(rows):05d}"
        for copy in range(3):
            key = f"r{len(rows):05d}"
            truth[key] = f"p{person}"
            row = {"id": key, "first_name": first, "last_name": last, "birth_date": dob,
                   "street": street, "postcode": str(10000 + person),
                   "national_id": number}  # fmt: skip
            slips = [copy > 0 and rng.random() < 1 / 3 for _ in range(3)]
            if slips[0]:
                row["national_id"] = _swapped(number, rng)
            if slips[1]:
                row["last_name"] = ""
            if slips[2]:
                row["birth_date"] = ""
            if all(slips):
                slipped.append((key, head))
            rows.append(row)
    return pl.DataFrame(rows), truth, slipped


def _without_ids(config: MatchConfig) -> MatchConfig:
    fields = [f for f in config.scoring.fields if f != "customer_id"]
    return config.model_copy(
        update={
            "scoring": config.scoring.model_copy(update={"fields": fields}),
            "fuzzy": [r for r in config.fuzzy if not r.name.startswith("customer_id")],
        }
    )


def test_a_record_whose_id_has_two_digits_swapped_joins_its_person(tmp_path: Path) -> None:
    rows, truth, slipped = _people(1500, seed=11)
    rows.write_csv(tmp_path / "people.csv")
    (tmp_path / "people.mapping.yaml").write_text(
        "source: people\nid: id\ncolumns: {first_name: first_name, last_name: last_name, "
        "birth_date: birth_date, street: street, postcode: postcode, customer_id: national_id}\n",
        encoding="utf-8",
    )
    assert len(slipped) > 60, len(slipped)
    config = load_match_config(None)
    found = {}
    for name, used in (("typo", config), ("plain", _without_ids(config))):
        store = tmp_path / name / "idgraph.db"
        store.parent.mkdir()
        run_ingest([tmp_path / "people.csv"], store=store, match_config=used,
                   rejects_path=store.with_name("r.jsonl"))  # fmt: skip
        with IdentityGraph(store) as graph:
            found[name] = {key.removeprefix("people:"): c for key, c in graph.clusters()}
    joined = {name: sum(f[a] == f[b] for a, b in slipped) for name, f in found.items()}
    assert joined["typo"] >= 0.95 * len(slipped), joined
    assert joined["plain"] <= 0.1 * len(slipped), joined
    persons: dict[str, set[str]] = {}
    for key, customer in found["typo"].items():
        persons.setdefault(customer, set()).add(truth[key])
    assert all(len(held) == 1 for held in persons.values())

    a, b = slipped[0]
    store = ["--store", str(tmp_path / "typo" / "idgraph.db")]
    result = runner.invoke(
        app, ["explain", f"people:{a}", f"people:{b}", *store, "--score", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    steps = {s["field"]: s for s in json.loads(result.stdout)["score"]["steps"]}
    assert steps["customer_id"]["level"] == "typo" and steps["customer_id"]["weight"] > 5
    assert steps["last_name"]["level"] == steps["birth_date"]["level"] == "null"


def test_an_incremental_run_joins_a_slipped_record_as_a_full_run_does(tmp_path: Path) -> None:
    """The slipped records arrive after the rest: the scope reads the stored block mates'
    customer ids, and the kept model scores the typo."""
    rows, _, slipped = _people(1500, seed=12)
    late = {key for key, _ in slipped}
    mapping = (
        "source: people\nid: id\ncolumns: {first_name: first_name, last_name: last_name, "
        "birth_date: birth_date, street: street, postcode: postcode, customer_id: national_id}\n"
    )
    files = []
    for name, part in (("early", ~pl.col("id").is_in(late)), ("late", pl.col("id").is_in(late))):
        rows.filter(part).write_csv(tmp_path / f"{name}.csv")
        (tmp_path / f"{name}.mapping.yaml").write_text(mapping, encoding="utf-8")
        files.append(tmp_path / f"{name}.csv")
    store = tmp_path / "idgraph.db"
    for file in files:
        report = run_ingest([file], store=store, rejects_path=tmp_path / "r.jsonl")
    assert report.mode == "incremental"
    with IdentityGraph(store) as graph:
        found = {key.removeprefix("people:"): c for key, c in graph.clusters()}
    joined = sum(found[a] == found[b] for a, b in slipped)
    assert joined >= 0.95 * len(slipped), (joined, len(slipped))
