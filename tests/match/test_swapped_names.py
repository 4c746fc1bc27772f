"""A name filled in the wrong order: blocked together, scored as typos, one customer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from idgraph.block.keys import block_key_column
from idgraph.match.config import BlockPart, FuzzyRule, MatchConfig, load_match_config
from idgraph.match.decide import collect_evidence
from idgraph.match.levels import FIELD_LEVELS, ScoringView
from idgraph.match.view import match_view
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph
from idgraph.store.plan import LINK_ROWS
from tests.match.test_model import NO_IDS, _people

NO_LINKS = pl.DataFrame(schema=LINK_ROWS)


def _names(rows: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "key": [f"r{i}" for i in range(len(rows))],
            "first_name": [first for first, _ in rows],
            "last_name": [last for _, last in rows],
        }
    )


def test_the_initials_key_is_one_for_either_order_a_typo_and_a_nickname() -> None:
    view = match_view(
        _names(
            [
                ("Danny", "Stephenson"),
                ("Stephenson", "Daniel"),
                ("Stehpenson", "Dan"),  # a typo, a short form
                ("Carla", "Stephenson"),
                ("Mary Ann", "Mac Kinder"),
                ("Mac Kinder", "Mary Ann"),
            ]
        )
    )
    keys = block_key_column(view, [BlockPart(field="full_name", transform="initials")])
    assert keys[0] == keys[1] == keys[2] == "ds"
    assert keys[3] == "cs"
    assert keys[4] == keys[5] == "akmm"


def test_swapped_names_with_a_nickname_score_as_a_typo_on_both() -> None:
    view = match_view(
        _names([("Danny", "Stephenson"), ("Stephenson", "Danny"), ("Stephenson", "Carla")])
    )
    scoring = ScoringView(view)
    left, right = np.array([0, 0]), np.array([1, 2])
    typo = FIELD_LEVELS["first_name"].index("typo")
    assert scoring.levels("first_name", left, right).tolist() == [
        typo,
        len(FIELD_LEVELS["first_name"]) - 1,
    ]
    typo = FIELD_LEVELS["last_name"].index("typo")
    assert scoring.levels("last_name", left, right)[0] == typo


def test_a_surname_typed_as_the_first_name_with_the_other_name_replaced_is_crossed() -> None:
    view = match_view(
        _names(
            [
                ("Weller", "Ebony"),
                ("Flynn", "Weller"),  # the surname typed first, the first name replaced
                ("Flynn", "Welqer"),  # and a typo
                ("Flynn", "Moody"),
                ("Wellar", None),  # no last name: nothing to cross
                ("Ebony", "Weller"),  # swapped whole: a typo on both names
            ]
        )
    )
    scoring = ScoringView(view)
    levels = scoring.levels("last_name", np.zeros(5, dtype=np.int64), np.arange(1, 6))
    assert [FIELD_LEVELS["last_name"][v] if v >= 0 else None for v in levels] == [
        "crossed",
        "crossed",
        "else",
        None,
        "typo",
    ]
    reverse = scoring.levels("last_name", np.array([1]), np.array([0]))
    assert FIELD_LEVELS["last_name"][reverse[0]] == "crossed"


def _with_rule(config: MatchConfig, *, train: bool) -> MatchConfig:
    extra = FuzzyRule(
        name="swapped_extra",
        block_on=[BlockPart(field="full_name", transform="initials"), BlockPart(field="city")],
        train=train,
    )
    rules = [rule for rule in config.fuzzy if rule.name != "swapped_name_and_birth_date"]
    return config.model_copy(update={"fuzzy": [*rules, extra]})


def test_a_rule_that_does_not_train_leaves_the_weights_as_they_were() -> None:
    records, _ = _people(1200, seed=3)
    base = load_match_config(None)
    base = base.model_copy(update={"scoring": base.scoring.model_copy(update={"min_records": 500})})
    without = _with_rule(base, train=False).model_copy(
        update={"fuzzy": [r for r in base.fuzzy if r.name != "swapped_name_and_birth_date"]}
    )
    models = {
        name: collect_evidence(records, NO_IDS, NO_LINKS, config).model
        for name, config in (
            ("without", without),
            ("scored only", _with_rule(base, train=False)),
            ("trained", _with_rule(base, train=True)),
        )
    }
    m = {name: model.m for name, model in models.items() if model is not None}

    def moved(name: str) -> float:
        return max(
            float(np.abs(np.subtract(m[name][field], m["without"][field])).max())
            for field in m["without"]
        )

    assert moved("scored only") < 1e-12
    assert moved("trained") > 1e-4


MAPPING = """source: crm
id: id
columns: {first_name: first, last_name: last, birth_date: dob, street: street,
          postcode: postcode, city: city}
"""


HEADER = "id,first,last,dob,street,postcode,city"


def _customers(folder: Path, rows: list[str], config: MatchConfig | None = None) -> dict[str, str]:
    """Ingest the crm `rows` (after `HEADER`) into a store in `folder`: record -> customer."""
    folder.mkdir(exist_ok=True)
    (folder / "crm.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    (folder / "crm.mapping.yaml").write_text(MAPPING, encoding="utf-8")
    store = folder / "idgraph.db"
    run_ingest(
        [folder / "crm.csv"], store=store, rejects_path=folder / "r.jsonl", match_config=config
    )
    with IdentityGraph(store) as graph:
        return dict(graph.clusters())


def test_a_name_in_the_wrong_order_is_one_customer(tmp_path: Path) -> None:
    customers = _customers(
        tmp_path,
        [
            "1,Danny,Stephenson,1983-10-19,16 O'Shanassy Street,3130,Armidale",
            "2,Stephenson,Danny,1983-10-19,16 O'Shanassy Street,3133,Armidale",
            # The same surname, birth date and address under another first name: a twin.
            "3,Carla,Stephenson,1983-10-19,16 O'Shanassy Street,3130,Armidale",
        ],
    )
    assert customers["crm:1"] == customers["crm:2"]
    assert customers["crm:3"] != customers["crm:1"]


def test_a_surname_typo_and_a_date_typo_at_one_postcode_are_one_customer(
    tmp_path: Path,
) -> None:
    """No key of the other rules holds both: the surnames sound apart, the dates differ, the
    street is written two ways. The initials and the postcode (`initials_and_postcode`) bring
    them together."""
    rows = [
        "1,Benjamin,Camens,1975-07-06,16 Harrison Street,4505,Lindfield",
        "2,Benjamin,Cames,1975-06-06,16 Harrison St,4505,Lindfield",
        # The same initials at the same postcode, nothing else in common: a neighbour.
        "3,Bianca,Cole,1990-02-11,3 Kent Road,4505,Lindfield",
    ]
    config = load_match_config(None)
    assert "initials_and_postcode" in {rule.name for rule in config.fuzzy}
    without = [r for r in config.fuzzy if r.name != "initials_and_postcode"]
    found = _customers(tmp_path / "with", rows, config)
    apart = _customers(tmp_path / "without", rows, config.model_copy(update={"fuzzy": without}))
    assert found["crm:1"] == found["crm:2"] != found["crm:3"]
    assert apart["crm:1"] != apart["crm:2"]


def _without(config: MatchConfig, rule: str) -> MatchConfig:
    assert rule in {r.name for r in config.fuzzy}
    return config.model_copy(update={"fuzzy": [r for r in config.fuzzy if r.name != rule]})


#: A person whose postcode has two digits swapped or one off, so no postcode block holds both
#: records, and whom no name or date block holds either; the rule that brings them together,
#: and a third record that shares its key with neither.
ONE_STREET = {
    # A surname typo and no birth date on one record; a neighbour with the same initials
    # on another house of the street.
    "initials_and_street": [
        "1,Emily,Hingston,1971-12-19,15 Paul Coe Crescent,2565,Mooroolbark",
        "2,Emily,Hingstxon,,15 Paul Coe Crescent,2556,Mooroolbark",
        "3,Eric,Hall,1958-03-02,17 Paul Coe Crescent,2565,Mooroolbark",
    ],
    # The name in the wrong order with a space typed into it changes the initials; someone
    # born the same day in the same street shares nothing else.
    "birth_date_and_street": [
        "1,Leon,Mason,1954-10-05,545 Hawkesbury Crescent,3137,Ballina",
        "2,Mason,Leo N,1954-10-05,545 Hawkesbury Crescent,3138,Ballina",
        "3,Ruby,Carter,1954-10-05,12 Hawkesbury Crescent,3137,Ballina",
    ],
}


@pytest.mark.parametrize("rule", sorted(ONE_STREET))
def test_a_postcode_typed_wrong_at_one_street_keeps_a_person_together(
    tmp_path: Path, rule: str
) -> None:
    config = load_match_config(None)
    found = _customers(tmp_path / "with", ONE_STREET[rule], config)
    apart = _customers(tmp_path / "without", ONE_STREET[rule], _without(config, rule))
    assert found["crm:1"] == found["crm:2"] != found["crm:3"]
    assert apart["crm:1"] != apart["crm:2"]
