"""The first-name veto and the birth-date guard are lifted where the records show no
households, and only there."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import polars as pl

from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.decide import collect_evidence
from idgraph.match.households import no_households, unlike_names_at_one_address
from idgraph.match.model import MatchModel
from idgraph.match.scored import vetoing
from idgraph.match.view import VIEW_FIELDS, match_view
from idgraph.match.waterfall import score_pair
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph
from tests.match.test_model import NO_IDS, NO_LINKS, _frame, _people

FIRST = ["Maria", "Giulia", "Anna", "Luca", "Marco", "Paolo", "Sara", "Elena", "Pietro", "Ugo"]
FIRST += ["Chloe", "Eboni", "Tiarna", "Sophie", "Joel", "Madison", "Kylie", "Robin", "Hugh"]
LAST = ["Rossi", "Bianchi", "Ferri", "Conti", "Galli", "Moretti", "Greco", "Lombardi"]
LAST += ["Kirchbauer", "Ottolenghi", "Zanardelli", "Quadrelli", "Vianello", "Scarpellini"]


def _at_one_address(rows: list[tuple[str, str]]) -> pl.DataFrame:
    """Records (first name, birth date) of the Rossis at one address."""
    return match_view(
        _frame(
            [
                {
                    "key": f"r{i}",
                    "first_name": first,
                    "last_name": "Rossi",
                    "birth_date": dob,
                    "street": "via roma 1",
                    "postcode": "00100",
                }
                for i, (first, dob) in enumerate(rows)
            ]
        ),
        VIEW_FIELDS,
    )


def test_a_family_is_born_on_different_days_and_twins_on_one() -> None:
    family = _at_one_address(
        [
            ("Marco", "1970-03-02"),
            ("Giulia", "1972-11-20"),
            ("Anna", "2001-05-05"),
            ("Luca", "2001-05-05"),  # Anna's twin
            ("Marco", "1970-03-20"),  # Marco again, a date typo: one name, not counted
        ]
    )
    # Marco-Giulia, Marco-Anna, Marco-Luca (twice each for the two Marcos), Giulia-Anna,
    # Giulia-Luca, Anna-Luca: 9 pairs of different first names; only the twins share a date.
    assert unlike_names_at_one_address(family) == (9, 1)


def test_few_pairs_say_nothing_and_many_born_on_one_day_say_no_households() -> None:
    one_person = [(name, "1986-08-07") for name in FIRST[:4]]
    assert no_households(_at_one_address(one_person)) == (
        False,
        {"pairs": 6, "same_birth_date": 6},
    )
    views = [
        _at_one_address(one_person).with_columns(pl.lit(str(n)).alias("street")) for n in (1, 2)
    ]
    assert no_households(pl.concat(views))[0]


def _date(rng: random.Random) -> str:
    return f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def replaced_first_names(
    count: int, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]:
    """People with three records each, each person at an address of their own with a
    national id, one record in four with its first name replaced by another (as Febrl
    corrupts it), and of those one in three with another birth date too; no households.
    Records, their (record, kind, value) identifiers and the truth by record key."""
    rng = random.Random(seed)
    rows: list[dict[str, str | None]] = []
    ids: list[tuple[str, str, str]] = []
    truth: dict[str, str] = {}
    for person in range(count):
        first, last, dob = rng.choice(FIRST), rng.choice(LAST), _date(rng)
        street = f"via {rng.choice(['po', 'roma', 'verdi'])} {person}"
        for copy in range(3):
            key = f"r{len(rows):05d}"
            truth[key] = f"p{person}"
            ids.append((key, "customer_id", f"N{person:06d}"))
            replaced = copy > 0 and rng.random() < 0.25
            other = rng.choice([f for f in FIRST if f != first])
            rows.append(
                {
                    "key": key,
                    "first_name": other if replaced else first,
                    "last_name": last,
                    "birth_date": _date(rng) if replaced and rng.random() < 0.33 else dob,
                    "street": street,
                    "postcode": str(10000 + person),
                    "city": "roma",
                }
            )
    identifiers = pl.DataFrame(
        {"record": [i[0] for i in ids], "kind": [i[1] for i in ids], "value": [i[2] for i in ids]}
    )
    return _frame(rows).sort("key"), identifiers, truth


def _config(lift: bool) -> MatchConfig:
    base = load_match_config(None)
    scoring = base.scoring.model_copy(update={"min_records": 500, "lift_without_households": lift})
    return base.model_copy(update={"scoring": scoring})


def _linked_truly(edges: pl.DataFrame, keys: pl.Series, truth: dict[str, str]) -> tuple[int, int]:
    pairs = [(truth[keys[a]], truth[keys[b]]) for a, b in edges.select("a", "b").iter_rows()]
    return sum(x == y for x, y in pairs), sum(x != y for x, y in pairs)


def test_records_with_a_replaced_first_name_link_when_the_data_hold_no_households() -> None:
    records, _, truth = replaced_first_names(800, seed=4)
    lifted = collect_evidence(records, NO_IDS, NO_LINKS, _config(lift=True))
    kept = collect_evidence(records, NO_IDS, NO_LINKS, _config(lift=False))
    assert lifted.model is not None and lifted.model.lifted == ["first_name", "birth_date"]
    assert lifted.model.notes["households"]["found"] is False
    assert kept.model is not None and kept.model.lifted == []
    right_lifted, wrong_lifted = _linked_truly(lifted.edges, records["key"], truth)
    right_kept, _ = _linked_truly(kept.edges, records["key"], truth)
    assert wrong_lifted == 0
    assert right_lifted > right_kept + 100
    assert kept.vetoed > 100 and lifted.vetoed == 0


def test_the_waterfall_names_the_lifted_veto() -> None:
    records, _, truth = replaced_first_names(800, seed=4)
    config = _config(lift=True)
    model = collect_evidence(records, NO_IDS, NO_LINKS, config).model
    assert model is not None
    keys = records["key"].to_list()
    firsts = dict(zip(keys, records["first_name"].to_list(), strict=True))
    a, b = next(
        (x, y) for x, y in pairwise(keys) if truth[x] == truth[y] and firsts[x] != firsts[y]
    )
    lifted = score_pair(records, a, b, config, model)
    assert lifted.lifted == ["first_name", "birth_date"] and lifted.disagree_on == []
    model.lifted = []
    kept = score_pair(records, a, b, config, model)
    assert kept.lifted == [] and kept.disagree_on == ["first_name"]


def test_households_keep_the_veto() -> None:
    records, truth = _people(1200, seed=3)
    evidence = collect_evidence(records, NO_IDS, NO_LINKS, _config(lift=True))
    assert evidence.model is not None and evidence.model.lifted == []
    assert evidence.model.notes["households"]["found"] is True
    assert _linked_truly(evidence.edges, records["key"], truth)[1] == 0


def test_the_lift_is_kept_with_the_model() -> None:
    model = MatchModel({"first_name": [0.9, 0.1]}, {"first_name": [0.1, 0.9]}, 0.01)
    model.lifted = ["first_name"]
    again = MatchModel.from_json(model.to_json())
    config = load_match_config(None)
    assert vetoing(config, again) == []
    assert vetoing(config, None) == ["first_name"]
    older = MatchModel.from_json(model.to_json().replace('"lifted":["first_name"]', '"x":0'))
    assert vetoing(config, older) == ["first_name"]


def test_without_households_a_national_id_joins_a_record_with_another_name_and_date(
    tmp_path: Path,
) -> None:
    records, identifiers, truth = replaced_first_names(800, seed=5)
    rows = records.join(
        identifiers.select(pl.col("record").alias("key"), pl.col("value").alias("national_id")),
        on="key",
    ).rename({"key": "id"})
    rows.write_csv(tmp_path / "people.csv")
    columns = ", ".join(f"{c}: {c}" for c in rows.columns if c not in ("id", "national_id"))
    mapping = f"source: people\nid: id\ncolumns: {{{columns}, customer_id: national_id}}\n"
    (tmp_path / "people.mapping.yaml").write_text(mapping, encoding="utf-8")
    found = {}
    for lift in (True, False):
        store = tmp_path / f"lift-{lift}" / "idgraph.db"
        store.parent.mkdir()
        report = run_ingest(
            [tmp_path / "people.csv"],
            store=store,
            match_config=_config(lift=lift),
            rejects_path=store.with_name("r.jsonl"),
        )
        assert report.guards_lifted == (["first_name", "birth_date"] if lift else [])
        with IdentityGraph(store) as graph:
            found[lift] = {key.removeprefix("people:"): c for key, c in graph.clusters()}
    people = len(set(truth.values()))
    assert len(set(found[True].values())) == people
    assert len(set(found[False].values())) > people + 50
    by_customer: dict[str, set[str]] = {}
    for key, customer in found[True].items():
        by_customer.setdefault(customer, set()).add(truth[key])
    assert all(len(persons) == 1 for persons in by_customer.values())


def _write_people(folder: Path, records: pl.DataFrame) -> Path:
    rows = records.rename({"key": "id"})
    rows.write_csv(folder / "people.csv")
    columns = ", ".join(f"{c}: {c}" for c in rows.columns if c != "id")
    mapping = f"source: people\nid: id\ncolumns: {{{columns}}}\n"
    (folder / "people.mapping.yaml").write_text(mapping, encoding="utf-8")
    return folder / "people.csv"


def test_without_households_another_birth_date_keeps_no_records_apart(tmp_path: Path) -> None:
    """One person's records under one name at one address, some with the birth date
    replaced (as Febrl corrupts it) and no identifier to vouch: the birth-date guard would
    keep those apart as a father and a son, but these records hold no households."""
    records, _, truth = replaced_first_names(800, seed=6)
    rng = random.Random(6)
    keys, firsts = records["key"].to_list(), records["first_name"].to_list()
    dates = records["birth_date"].to_list()
    first_record: dict[str, int] = {}
    dated = []
    for i, key in enumerate(keys):
        head = first_record.setdefault(truth[key], i)
        if head != i and firsts[i] == firsts[head] and rng.random() < 0.2:
            dates[i] = _date(rng)
            dated.append((key, keys[head]))
    # Surnames as varied as Febrl's: on the twenty-odd of `LAST`, a name and an address
    # agreeing would not outweigh two birth dates.
    suffix = [
        chr(97 + int(truth[key][1:]) % 26) + chr(97 + int(truth[key][1:]) // 26) for key in keys
    ]
    records = records.with_columns(
        pl.Series("birth_date", dates), pl.col("last_name") + pl.Series(suffix)
    )
    assert len(dated) > 50
    found = {}
    for lift in (True, False):
        folder = tmp_path / f"lift-{lift}"
        folder.mkdir()
        report = run_ingest(
            [_write_people(folder, records)],
            store=folder / "idgraph.db",
            match_config=_config(lift=lift),
            rejects_path=folder / "r.jsonl",
        )
        assert ("birth_date" in report.guards_lifted) is lift
        with IdentityGraph(folder / "idgraph.db") as graph:
            found[lift] = {key.removeprefix("people:"): c for key, c in graph.clusters()}
    # These records keep the person's first name: the first-name veto is not what keeps
    # them apart, the birth-date guard is.
    joined = {lift: sum(found[lift][a] == found[lift][b] for a, b in dated) for lift in found}
    assert joined[True] >= 0.95 * len(dated), joined
    assert joined[False] < len(dated) // 2, joined
    by_customer: dict[str, set[str]] = {}
    for key, customer in found[True].items():
        by_customer.setdefault(customer, set()).add(truth[key])
    assert all(len(persons) == 1 for persons in by_customer.values())
    # `explain` judges as the run did: where the guard is lifted, a pair left apart is not
    # said to be kept apart by its birth dates; where it stands, it is.
    apart = [(a, b) for a, b in dated if found[True][a] != found[True][b]]
    assert apart
    a, b = apart[0]
    reasons = {}
    for lift in (True, False):
        with IdentityGraph(tmp_path / f"lift-{lift}" / "idgraph.db") as graph:
            path = graph.explain(f"people:{a}", f"people:{b}")
        reasons[lift] = " ".join(refusal.reason for refusal in path.refusals)
    assert "birth_date" not in reasons[True]
    assert "records disagree on birth_date" in reasons[False]
