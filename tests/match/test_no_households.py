"""The first-name veto is lifted where the records show no households, and only there."""

from __future__ import annotations

import random

import polars as pl

from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.decide import collect_evidence
from idgraph.match.households import no_households, unlike_names_at_one_address
from idgraph.match.model import MatchModel
from idgraph.match.scored import vetoing
from idgraph.match.view import VIEW_FIELDS, match_view
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


def _replaced_first_names(count: int, seed: int) -> tuple[pl.DataFrame, dict[str, str]]:
    """People with three records each, each person at an address of their own, one record
    in four with its first name replaced by another (as Febrl corrupts it); no households."""
    rng = random.Random(seed)
    rows: list[dict[str, str | None]] = []
    truth: dict[str, str] = {}
    for person in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        dob = f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        street, postcode = (
            f"via {rng.choice(['po', 'roma', 'verdi'])} {person}",
            str(10000 + person),
        )
        for copy in range(3):
            key = f"r{len(rows):05d}"
            truth[key] = f"p{person}"
            replaced = copy > 0 and rng.random() < 0.25
            rows.append(
                {
                    "key": key,
                    "first_name": rng.choice([f for f in FIRST if f != first])
                    if replaced
                    else first,
                    "last_name": last,
                    "birth_date": dob,
                    "street": street,
                    "postcode": postcode,
                    "city": "roma",
                }
            )
    return _frame(rows).sort("key"), truth


def _config(lift: bool) -> MatchConfig:
    base = load_match_config(None)
    scoring = base.scoring.model_copy(update={"min_records": 500, "lift_without_households": lift})
    return base.model_copy(update={"scoring": scoring})


def _linked_truly(edges: pl.DataFrame, keys: pl.Series, truth: dict[str, str]) -> tuple[int, int]:
    pairs = [(truth[keys[a]], truth[keys[b]]) for a, b in edges.select("a", "b").iter_rows()]
    return sum(x == y for x, y in pairs), sum(x != y for x, y in pairs)


def test_records_with_a_replaced_first_name_link_when_the_data_hold_no_households() -> None:
    records, truth = _replaced_first_names(800, seed=4)
    lifted = collect_evidence(records, NO_IDS, NO_LINKS, _config(lift=True))
    kept = collect_evidence(records, NO_IDS, NO_LINKS, _config(lift=False))
    assert lifted.model is not None and lifted.model.lifted == ["first_name"]
    assert lifted.model.notes["households"]["found"] is False
    assert kept.model is not None and kept.model.lifted == []
    right_lifted, wrong_lifted = _linked_truly(lifted.edges, records["key"], truth)
    right_kept, _ = _linked_truly(kept.edges, records["key"], truth)
    assert wrong_lifted == 0
    assert right_lifted > right_kept + 100
    assert kept.vetoed > 100 and lifted.vetoed == 0


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
