"""The match model: levels, learning without labels, term frequencies, and what it links."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.decide import collect_evidence
from idgraph.match.levels import FIELD_LEVELS, ScoringView
from idgraph.match.model import MatchModel, pair_weights
from idgraph.match.scored import MODEL_KEY, SCORED_RULE
from idgraph.match.view import VIEW_FIELDS, match_view
from idgraph.match.waterfall import score_pair
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph
from idgraph.settings import open_store
from idgraph.state.model import stored_model
from idgraph.state.rebuild import open_mirror
from idgraph.store.plan import LINK_ROWS

FIRST = ["Maria", "Giulia", "Anna", "Luca", "Marco", "Paolo", "Sara", "Elena", "Pietro", "Ugo"]
LAST = ["Rossi"] * 8 + ["Bianchi", "Ferri", "Conti", "Galli", "Moretti", "Greco", "Lombardi"]
RARE = ["Kirchbauer", "Ottolenghi", "Zanardelli", "Quadrelli", "Vianello", "Scarpellini"]


def _frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    columns = ["key", "first_name", "last_name", "birth_date", "email", "phone", "street"]
    columns += ["postcode", "city"]
    return pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.Utf8)
    )


def _people(count: int, seed: int) -> tuple[pl.DataFrame, dict[str, str]]:
    """People with two records each (one with a typo or a missing field), in households of
    two that share a surname, an address and a landline; the truth by record key."""
    rng = random.Random(seed)
    rows: list[dict[str, str | None]] = []
    truth: dict[str, str] = {}
    for household in range(count // 2):
        last = rng.choice(LAST + RARE)
        street = f"via {rng.choice(['roma', 'dante', 'verdi', 'mazzini'])} {rng.randint(1, 200)}"
        postcode = f"{rng.randint(10000, 99999)}"
        landline = f"+3906{rng.randint(1000000, 9999999)}"
        firsts = rng.sample(FIRST, 2)
        for member, first in enumerate(firsts):
            person = f"p{household}-{member}"
            dob = f"19{rng.randint(40, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            for copy in range(2):
                key = f"r{len(rows):05d}"
                truth[key] = person
                typo = copy == 1 and rng.random() < 0.3
                rows.append(
                    {
                        "key": key,
                        "first_name": first if not typo else first[:-2] + first[-1] + first[-2],
                        "last_name": last,
                        "birth_date": dob if copy == 0 or rng.random() < 0.7 else None,
                        "email": f"{first.lower()}.{household}@mail.it" if copy == 0 else None,
                        "phone": landline if rng.random() < 0.5 else None,
                        "street": street,
                        "postcode": postcode,
                        "city": "roma",
                    }
                )
    return _frame(rows).sort("key"), truth


def _config(**scoring: object) -> MatchConfig:
    base = load_match_config(None)
    return base.model_copy(update={"scoring": base.scoring.model_copy(update=scoring)})


NO_IDS = pl.DataFrame(schema={"record": pl.Utf8, "kind": pl.Utf8, "value": pl.Utf8})
NO_LINKS = pl.DataFrame(schema=LINK_ROWS)


def test_levels_of_each_field() -> None:
    records = _frame(
        [
            {"key": "a", "first_name": "Maria", "last_name": "Rossi", "birth_date": "1980-03-01",
             "email": "maria.rossi@a.it", "street": "Via Roma 1", "postcode": "00100"},
            {"key": "b", "first_name": "Mraia", "last_name": "Rosi", "birth_date": "1980-01-03",
             "email": "maria.rossi@b.it", "street": "Via Roma 1", "postcode": "00100"},
            {"key": "c", "first_name": "Marco", "last_name": "Rossi", "birth_date": "1980-07-30",
             "email": "mr@c.it", "street": "Via Roma 9", "postcode": "00100"},
        ]
    )  # fmt: skip
    scoring = ScoringView(match_view(records, VIEW_FIELDS))
    left, right = np.array([0, 0]), np.array([1, 2])

    def named(field: str) -> list[str]:
        return [FIELD_LEVELS[field][v] for v in scoring.levels(field, left, right)]

    assert named("first_name") == ["typo", "else"]
    assert named("last_name") == ["typo", "exact"]
    assert named("birth_date") == ["typo", "year"]
    assert named("address") == ["exact", "postcode"]
    assert named("email_local") == ["echo", "else"]
    assert scoring.levels("phone", left, right).tolist() == [-1, -1]


def test_one_street_with_a_postcode_a_typo_apart_is_an_address_typo() -> None:
    base = {"street": "34 lumholtz place", "city": "perth"}
    records = _frame(
        [
            {"key": "a", **base, "postcode": "6403"},
            {"key": "b", **base, "postcode": "6430"},  # two digits swapped
            {"key": "c", **base, "postcode": "6408"},  # one digit changed
            {"key": "d", **base, "postcode": "2000"},  # the same street elsewhere
            {"key": "e", "street": "34 lumholtz plcae", "postcode": "6430", "city": "perth"},
            {"key": "f", "street": "9 other road", "postcode": "6430", "city": "perth"},
        ]
    )
    scoring = ScoringView(match_view(records, VIEW_FIELDS))
    left, right = np.array([0, 0, 0, 0, 0]), np.array([1, 2, 3, 4, 5])
    levels = [FIELD_LEVELS["address"][v] for v in scoring.levels("address", left, right)]
    assert levels == ["street_typo", "street_typo", "city", "street_typo", "city"]


def test_a_town_typed_wrong_is_the_same_town() -> None:
    records = _frame(
        [
            {"key": "a", "street": "4 barnett close", "postcode": "5235", "city": "Modbury"},
            {"key": "b", "street": "4 marawa place", "postcode": "5253", "city": "modnury"},
            {"key": "c", "street": "7 other way", "postcode": "5253", "city": "Brown Hill"},
            {"key": "d", "street": "9 other road", "postcode": "5253", "city": "brownphill"},
            {"key": "e", "street": "9 other road", "postcode": "3000", "city": "Modbury Heights"},
        ]
    )
    scoring = ScoringView(match_view(records, VIEW_FIELDS))
    left, right = np.array([0, 2, 0, 1]), np.array([1, 3, 4, 2])
    levels = [FIELD_LEVELS["address"][v] for v in scoring.levels("address", left, right)]
    # c and d share a postcode: that level stands above the town's.
    assert levels == ["city", "postcode", "else", "postcode"]
    far = _frame(
        [
            {"key": "a", "postcode": "5235", "city": "Modbury"},
            {"key": "b", "postcode": "2000", "city": "Brown Hill"},
            {"key": "c", "postcode": "2001", "city": "Brownphill"},
        ]
    )
    scoring = ScoringView(match_view(far, VIEW_FIELDS))
    levels = [
        FIELD_LEVELS["address"][v]
        for v in scoring.levels("address", np.array([0, 1]), np.array([1, 2]))
    ]
    assert levels == ["else", "city"]


def test_learned_without_labels_the_model_links_people_and_not_their_households() -> None:
    records, truth = _people(1200, seed=3)
    evidence = collect_evidence(records, NO_IDS, NO_LINKS, _config(min_records=500))
    assert evidence.model is not None and evidence.model_trained
    model = evidence.model
    for field in ("first_name", "last_name", "birth_date", "address"):
        weights = model.level_weights(field)
        assert weights[0] > 0 > weights.min(), (field, weights)
    keys = records["key"]
    pairs = [
        (truth[keys[a]], truth[keys[b]]) for a, b in evidence.edges.select("a", "b").iter_rows()
    ]
    right = sum(x == y for x, y in pairs)
    persons_with_pairs = len(set(truth.values()))
    assert right >= 0.75 * persons_with_pairs
    # Households share a surname, an address and a landline: never linked.
    assert right == len(pairs), [p for p in pairs if p[0] != p[1]][:5]
    assert set(evidence.edges["rule"].to_list()) == {SCORED_RULE}
    for fields in evidence.edges["fields"].to_list():
        assert {f.split(":")[0] for f in fields.split(",")} <= set(FIELD_LEVELS)


def test_a_thousand_records_learn_their_model_and_fewer_use_the_shipped_one() -> None:
    config = load_match_config(None)
    records, _ = _people(500, seed=8)
    assert records.height == 1000
    learned = collect_evidence(records, NO_IDS, NO_LINKS, config)
    assert learned.model_trained and learned.model is not None
    assert not learned.model.notes.get("shipped")
    fewer = collect_evidence(records.head(999), NO_IDS, NO_LINKS, config)
    assert not fewer.model_trained
    assert fewer.model is not None and fewer.model.notes.get("shipped")


def test_a_common_surname_weighs_less_than_a_rare_one() -> None:
    records = _frame(
        [{"key": f"k{i:03d}", "last_name": "Rossi"} for i in range(40)]
        + [{"key": "z1", "last_name": "Kirchbauer"}, {"key": "z2", "last_name": "Kirchbauer"}]
    )
    scoring = ScoringView(match_view(records, VIEW_FIELDS))
    model = MatchModel({"last_name": [0.9, 0.05, 0.05]}, {"last_name": [0.01, 0.01, 0.98]}, 0.01)
    codes = scoring.tf_codes("last_name")
    counts = codes.counts()
    shares = {"last_name": counts / counts.sum()}
    weights, levels, _ = pair_weights(model, scoring, np.array([0, 40]), np.array([1, 41]), shares)
    assert levels["last_name"].tolist() == [0, 0]
    assert weights[1] - weights[0] == pytest.approx(np.log2(40 / 2))


def test_a_full_run_keeps_its_model_and_an_incremental_run_scores_with_it(
    tmp_path: Path,
) -> None:
    records, _ = _people(700, seed=5)
    path = tmp_path / "people.csv"
    records.rename({"key": "id"}).write_csv(path)
    columns = ", ".join(f"{c}: {c}" for c in records.columns if c != "key")
    mapping = f"source: people\nid: id\ncolumns: {{{columns}}}\n"
    (tmp_path / "people.mapping.yaml").write_text(mapping, encoding="utf-8")
    config = _config(min_records=500)
    store = tmp_path / "s" / "idgraph.db"
    store.parent.mkdir()
    run_ingest([path], store=store, match_config=config, rejects_path=tmp_path / "r.jsonl")
    with open_store(store) as graph:
        model = stored_model(graph, config)
        text = graph.query("m", "MATCH (m:Meta {key: $k}) RETURN m.value AS v", {"k": MODEL_KEY})
    assert model is not None and text and not model.notes.get("shipped")
    later = tmp_path / "later"
    later.mkdir()
    extra = records.head(2).with_columns(pl.concat_str([pl.col("key"), pl.lit("x")]).alias("key"))
    extra.rename({"key": "id"}).write_csv(later / "people.csv")
    (later / "people.mapping.yaml").write_text(mapping, encoding="utf-8")
    report = run_ingest(
        [later / "people.csv"], store=store, match_config=config, rejects_path=tmp_path / "r2.jsonl"
    )
    assert report.mode == "incremental"
    with open_store(store) as graph:
        rows = graph.query(
            "e",
            "MATCH (a:Record)-[m:MATCHED]->(b:Record) WHERE a.key ENDS WITH 'x' OR b.key ENDS "
            "WITH 'x' RETURN a.key AS a, b.key AS b, m.score AS score",
        )
        assert stored_model(graph, config) == model
        mirror = open_mirror(graph, config)
        stored = mirror.view("records").collect()
        refused = mirror.view("verdicts").filter(~pl.col("linking")).collect()["key"]
    assert rows
    for row in rows:
        # The store's model and the whole store's value counts: as a full run would score it.
        again = score_pair(stored, row["a"], row["b"], config, model, refused)
        assert again.probability == pytest.approx(row["score"], abs=1e-9)


def test_a_store_grown_past_min_records_learns_its_model_once(tmp_path: Path) -> None:
    records, _ = _people(600, seed=7)
    columns = ", ".join(f"{c}: {c}" for c in records.columns if c != "key")
    mapping = f"source: people\nid: id\ncolumns: {{{columns}}}\n"
    config = _config(min_records=800)
    store = tmp_path / "s" / "idgraph.db"
    store.parent.mkdir()
    modes = []
    for part, rows in enumerate((records.head(700), records.slice(700, 400), records.tail(100))):
        folder = tmp_path / f"part{part}"
        folder.mkdir()
        rows.rename({"key": "id"}).write_csv(folder / "people.csv")
        (folder / "people.mapping.yaml").write_text(mapping, encoding="utf-8")
        report = run_ingest(
            [folder / "people.csv"], store=store, match_config=config,
            rejects_path=tmp_path / f"r{part}.jsonl",
        )  # fmt: skip
        with open_store(store) as graph:
            modes.append((report.mode, stored_model(graph, config) is not None))
    # 700 records: too few, shipped weights; 1,100: a full run learns; then incremental.
    assert modes == [("full", False), ("full", True), ("incremental", True)]


def test_the_scope_leaves_out_namesakes_the_model_could_not_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new record shares its common full name with many stored strangers (the `full_name`
    rule makes them candidates): with the store's model and value counts, an incremental run
    leaves them out of its scope, and resolves exactly as with every candidate taken in."""
    records, _ = _people(700, seed=11)
    columns = ", ".join(f"{c}: {c}" for c in records.columns if c != "key")
    mapping = f"source: people\nid: id\ncolumns: {{{columns}}}\n"
    config = _config(min_records=500)
    base = tmp_path / "base"
    base.mkdir()
    records.rename({"key": "id"}).write_csv(base / "people.csv")
    (base / "people.mapping.yaml").write_text(mapping, encoding="utf-8")
    later = tmp_path / "later"
    later.mkdir()
    # Namesakes of stored people with nothing else in common, and one stored person's copy.
    common = records.filter(pl.col("last_name") == "Rossi").head(6)
    newcomers = common.with_columns(
        pl.concat_str([pl.col("key"), pl.lit("n")]).alias("key"),
        pl.lit(None, dtype=pl.Utf8).alias("email"),
        pl.lit(None, dtype=pl.Utf8).alias("phone"),
        pl.lit("via nuova 1").alias("street"),
        pl.lit("00100").alias("postcode"),
        pl.lit("1990-01-01").alias("birth_date"),
    )
    twin = records.head(1).with_columns(pl.concat_str([pl.col("key"), pl.lit("x")]).alias("key"))
    pl.concat([newcomers, twin]).rename({"key": "id"}).write_csv(later / "people.csv")
    (later / "people.mapping.yaml").write_text(mapping, encoding="utf-8")

    def run(margin: float) -> tuple[int, list[tuple[str, str]]]:
        monkeypatch.setattr("idgraph.match.scored.SCOPE_MARGIN", margin)
        store = tmp_path / f"s{margin}" / "idgraph.db"
        store.parent.mkdir()
        rejects = tmp_path / f"r{margin}.jsonl"
        run_ingest([base / "people.csv"], store=store, match_config=config, rejects_path=rejects)
        report = run_ingest(
            [later / "people.csv"], store=store, match_config=config, rejects_path=rejects
        )
        assert report.mode == "incremental"
        with IdentityGraph(store) as graph:
            clusters = sorted(graph.clusters())
        return report.records_resolved, clusters

    pruned, taken = run(2.0), run(1e9)
    assert pruned[1] == taken[1]
    assert pruned[0] < taken[0]
