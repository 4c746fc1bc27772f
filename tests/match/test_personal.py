"""A personal identifier vouches for a mistyped birth date; a household's never does.

Two records holding one customer number under one name are one person even when one system
typed the birth date wrong beyond a typo (Febrl corrupts dates that way). Two different first
names under one customer number, or a shared email, stay apart: that is a household.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from idgraph.match.config import load_match_config
from idgraph.match.decide import identifier_verdicts
from idgraph.match.tolerance import personal_pairs, tolerant_classes
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph
from idgraph.store.plan import LINK_ROWS
from tests.match.rows import identifiers as id_rows
from tests.match.rows import records as record_rows

CONFIG = load_match_config()
NO_LINKS = pl.DataFrame(schema=LINK_ROWS)


def _pair(
    first: tuple[str | None, str | None], second: tuple[str | None, str | None], kind: str
) -> pl.DataFrame:
    records = record_rows(
        {"key": "a", "first_name": first[0], "last_name": first[1]},
        {"key": "b", "first_name": second[0], "last_name": second[1]},
    )
    ids = id_rows(("a", kind, "C-1"), ("b", kind, "C-1"))
    return personal_pairs(records, ids, CONFIG.personal_kinds)


@pytest.mark.parametrize(
    ("first", "second", "vouched"),
    [
        (("Tahni", "Murton"), ("Tahni", "Skeen"), True),  # a new surname
        (("Robert", "Rossi"), ("Bob", "Rosi"), True),  # a nickname and a typo
        (("Emily", "Berry"), ("Berry", "Emily"), True),  # first and last swapped
        (("Danny", "Stephenson"), ("Stephenson", "Danny"), True),  # swapped, a nickname
        (("Jake", "Mcneill"), (None, "Mcniell"), True),  # no first name on one side
        (("Joshua", "Huxley"), ("Kiana", "Huxley"), False),  # two people of one family
        ((None, "Huxley"), (None, "Smith"), False),
        (("Anna", None), (None, "Verdi"), False),
    ],
)
def test_a_customer_number_vouches_when_the_names_agree(
    first: tuple[str | None, str | None], second: tuple[str | None, str | None], vouched: bool
) -> None:
    found = _pair(first, second, "customer_id")
    assert found.rows() == ([("a", "b")] if vouched else [])


def test_where_no_households_show_a_customer_number_vouches_whatever_the_names() -> None:
    records = record_rows(
        {"key": "a", "first_name": "Joshua", "last_name": "Huxley"},
        {"key": "b", "first_name": "Kiana", "last_name": "Huxley"},
    )
    ids = id_rows(("a", "customer_id", "C-1"), ("b", "customer_id", "C-1"))
    assert personal_pairs(records, ids, CONFIG.personal_kinds).height == 0
    vouched = personal_pairs(records, ids, CONFIG.personal_kinds, any_names=True)
    assert vouched.rows() == [("a", "b")]


def test_a_shared_email_vouches_for_nothing() -> None:
    assert _pair(("Anna", "Verdi"), ("Anna", "Verdi"), "email").height == 0


def test_a_bridge_puts_two_far_dates_in_one_class_only_where_both_records_are() -> None:
    rows = pl.DataFrame(
        {
            "group": ["g1", "g1", "g2", "g2"],
            "record": ["a", "b", "a", "c"],
            "value": ["1950-09-09", "1923-11-10", "1950-09-09", "1923-11-10"],
        }
    )
    bridges = pl.DataFrame({"a": ["a"], "b": ["b"]})
    classes = tolerant_classes(rows, None, bridges=bridges).sort("group", "record")
    cls = dict(
        zip(zip(classes["group"], classes["record"], strict=True), classes["cls"], strict=True)
    )
    assert cls[("g1", "a")] == cls[("g1", "b")]
    assert cls[("g2", "a")] != cls[("g2", "c")]


def _verdict(first_names: tuple[str, str], kind: str) -> dict[str, Any]:
    records = record_rows(
        {"key": "a", "first_name": first_names[0], "last_name": "Priest",
         "birth_date": "1916-05-03"},
        {"key": "b", "first_name": first_names[1], "last_name": "Priest",
         "birth_date": "1971-04-28"},
    )  # fmt: skip
    ids = id_rows(("a", kind, "4570"), ("b", kind, "4570"))
    (row,) = identifier_verdicts(records, ids, NO_LINKS, CONFIG).to_dicts()
    return row


def test_a_customer_number_under_one_name_links_across_two_birth_dates() -> None:
    verdict = _verdict(("Nathan", "Nathan"), "customer_id")
    assert verdict["linking"], verdict["reason"]


@pytest.mark.parametrize(
    ("names", "kind"),
    [(("Nathan", "Ruth"), "customer_id"), (("Nathan", "Nathan"), "email")],
    ids=["two first names", "not personal"],
)
def test_the_birth_date_guard_still_stops(names: tuple[str, str], kind: str) -> None:
    verdict = _verdict(names, kind)
    assert not verdict["linking"]
    assert verdict["reason"] == "joins records with 2 different birth_date"


# --- through a real ingest into the embedded store ----------------------------------------

MAPPING = """\
source: crm
id: id
columns:
  first_name: first_name
  last_name: last_name
  customer_id: customer_no
  email: email
  birth_date: dob
default_region: AU
"""


def _ingest(tmp_path: Path, batches: list[list[str]]) -> Path:
    store = tmp_path / "idgraph.db"
    for number, rows in enumerate(batches):
        table = tmp_path / f"crm{number}.csv"
        body = "".join(f"{row}\n" for row in rows)
        table.write_text("id,first_name,last_name,customer_no,email,dob\n" + body, "utf-8")
        (tmp_path / f"crm{number}.mapping.yaml").write_text(MAPPING, encoding="utf-8")
        report = run_ingest([table], store=store, rejects_path=tmp_path / "rejects.jsonl")
        assert report.rejected == 0
    return store


ROWS = [
    "1,Nathan,Priest,4570123,,1916-05-03",
    "2,Nathan,Priest,4570123,,1971-04-28",
    "3,Ruth,Priest,7001001,family@priest.au,1950-01-01",
    "4,Ruth,Priest,7001001,family@priest.au,1981-06-30",
    "5,Paul,Priest,7001001,family@priest.au,1949-02-02",
]


@pytest.mark.parametrize("batches", [[ROWS], [ROWS[:1] + ROWS[2:3], ROWS[1:2] + ROWS[3:]]],
                         ids=["one run", "incremental"])  # fmt: skip
def test_one_person_with_a_mistyped_date_is_one_customer_and_a_family_stays_apart(
    tmp_path: Path, batches: list[list[str]]
) -> None:
    """Ruth's number is also on Paul's record: the number and the family email join three
    records with three dates and two first names, so it links nobody (a household), while
    Nathan's two records are one customer."""
    store = _ingest(tmp_path, batches)
    with IdentityGraph(store) as graph:
        assert graph.explain("crm:1", "crm:2").same_customer
        assert not graph.explain("crm:3", "crm:5").same_customer
        assert not graph.explain("crm:4", "crm:5").same_customer
