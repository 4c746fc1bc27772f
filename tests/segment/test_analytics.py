"""Segment stats, conversion, micro-segments and personas on the real store, checked against
figures computed here from the raw fixture files."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.errors import ConfigError, NotFoundError, SegmentDefinitionError
from idgraph.query import IdentityGraph
from idgraph.segment.analytics import customers_table, segment_stats
from idgraph.segment.definition import load_segment
from idgraph.segment.discover import discover
from idgraph.segment.personas import find_persona, load_persona, persona_report
from idgraph.segment.saved import run_saved_segment, save_segment
from idgraph.settings import open_store
from tests.conftest import AS_OF, FIXTURES, ingest_fixtures, load_truth

AS_OF_MS = int(dt.datetime.fromisoformat(AS_OF).replace(tzinfo=dt.UTC).timestamp() * 1000)
DAY = 86_400_000
SAVED = ["engaged_loyalty_members", "lapsed_high_spenders", "spring_openers_with_coupon"]
PERSONAS = FIXTURES / "personas"


def _ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def raw_events() -> list[tuple[str, str, int, dict[str, object]]]:
    """(person, event name, ts, properties) for every event in the raw files, mapped by the
    README rules."""
    truth = load_truth()
    events = []
    with (FIXTURES / "pos.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            person = truth[f"pos:{row['card_number']}"]
            events.append((person, "Order Completed", _ms(row["purchased_at"]), {}))
    for source in ("web", "email"):
        for line in (FIXTURES / f"{source}.jsonl").read_text(encoding="utf-8").splitlines():
            call = orjson.loads(line)
            if call["type"] != "track":
                continue
            if call.get("userId"):
                record = f"{source}:user:{call['userId']}"
            else:
                record = f"{source}:anon:{call['anonymousId']}"
            props = call.get("properties") or {}
            events.append((truth[record], call["event"], _ms(call["timestamp"]), props))
    return events


def segment_people(name: str) -> set[str]:
    with (FIXTURES / "segment_truth.csv").open(newline="", encoding="utf-8") as handle:
        return {row["person_id"] for row in csv.DictReader(handle) if row["segment"] == name}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("analytics")
    path = folder / "idgraph.db"
    ingest_fixtures(path, folder)
    with open_store(path) as store:
        for name in SAVED:
            save_segment(store, load_segment(FIXTURES / "segments" / f"{name}.yaml"))
            run_saved_segment(store, name, as_of_ms=AS_OF_MS)
    return path


@pytest.fixture(scope="module")
def person_of(store_path: Path) -> dict[str, str]:
    truth = load_truth()
    with IdentityGraph(store_path) as graph:
        return {customer: truth[record] for record, customer in graph.clusters()}


@pytest.mark.parametrize(
    ("within", "campaign"),
    [(1, None), (7, None), (30, None), (14, "summer_sale_2026"), (14, "spring_newsletter_2026")],
)
def test_conversion_rates_match_the_raw_events(
    store_path: Path, person_of: dict[str, str], within: int, campaign: str | None
) -> None:
    sent: dict[str, list[int]] = {}
    orders: dict[str, list[int]] = {}
    for person, name, ts, props in raw_events():
        if ts > AS_OF_MS:
            continue
        if name == "Email Sent" and (campaign is None or props.get("campaign") == campaign):
            sent.setdefault(person, []).append(ts)
        elif name == "Order Completed":
            orders.setdefault(person, []).append(ts)
    converted = {
        p
        for p, starts in sent.items()
        if any(s <= t <= s + within * DAY for s in starts for t in orders.get(p, ()))
    }
    members = segment_people("engaged_loyalty_members")
    with open_store(store_path, read_only=True) as store:
        stats = segment_stats(
            store,
            "engaged_loyalty_members",
            exposure="Email Sent",
            converted_by="Order Completed",
            within_days=within,
            exposure_where={"campaign": campaign} if campaign else None,
            as_of_ms=AS_OF_MS,
        )
    c = stats.conversion
    assert c is not None
    assert (c.members_exposed, c.members_converted) == (
        len(members & sent.keys()),
        len(members & converted),
    )
    assert (c.others_exposed, c.others_converted) == (
        len(sent.keys() - members),
        len(converted - members),
    )


def test_size_share_overlap_and_history(store_path: Path) -> None:
    truth_people = len(set(load_truth().values()))
    with open_store(store_path, read_only=True) as store:
        stats = segment_stats(store, "lapsed_high_spenders", as_of_ms=AS_OF_MS)
    lapsed = segment_people("lapsed_high_spenders")
    assert (stats.size, stats.customers) == (len(lapsed), truth_people)
    assert stats.share == pytest.approx(len(lapsed) / truth_people)
    assert [h.size for h in stats.history] == [len(lapsed)]
    by_name = {o.segment: o for o in stats.overlaps}
    assert set(by_name) == set(SAVED) - {"lapsed_high_spenders"}
    for other, overlap in by_name.items():
        theirs = segment_people(other)
        assert overlap.both == len(lapsed & theirs)
        assert overlap.jaccard == pytest.approx(len(lapsed & theirs) / len(lapsed | theirs))


def test_trait_distributions_count_members_values(
    store_path: Path, person_of: dict[str, str]
) -> None:
    with open_store(store_path, read_only=True) as store:
        stats = segment_stats(
            store, "engaged_loyalty_members", traits=["loyalty_tier"], as_of_ms=AS_OF_MS
        )
        table = customers_table(store)
    (tier,) = stats.traits
    members = [c for c, p in person_of.items() if p in segment_people("engaged_loyalty_members")]
    expected = Counter(table[c]["loyalty_tier"] for c in members)
    assert {v.value: v.count for v in tier.values} == dict(expected)
    assert set(expected) <= {"gold", "platinum"}


def test_stats_refuse_unknown_traits_and_half_a_conversion(store_path: Path) -> None:
    with open_store(store_path, read_only=True) as store:
        with pytest.raises(SegmentDefinitionError, match=r"unknown trait.*shoe_size"):
            segment_stats(store, SAVED[0], traits=["shoe_size"], as_of_ms=AS_OF_MS)
        with pytest.raises(SegmentDefinitionError, match="both the exposure"):
            segment_stats(store, SAVED[0], exposure="Email Sent", as_of_ms=AS_OF_MS)
        with pytest.raises(NotFoundError):
            segment_stats(store, "nope", as_of_ms=AS_OF_MS)


def test_discover_cells_partition_customers_and_save_as_segments(
    store_path: Path, tmp_path: Path
) -> None:
    with open_store(store_path, read_only=True) as store:
        every = discover(store, ["country", "loyalty_tier"], min_size=1)
        table = customers_table(store)
        big = discover(store, ["country", "loyalty_tier"], min_size=4, metrics=["record_count"])
    assert sum(c.size for c in every) == len(table)
    expected = Counter((c.get("country"), c.get("loyalty_tier")) for c in table.values())
    assert {tuple(c.values.values()): c.size for c in every} == dict(expected)
    assert [c.size for c in big] == sorted((n for n in expected.values() if n >= 4), reverse=True)
    for cell in big:
        members = [
            c
            for c in table.values()
            if (c.get("country"), c.get("loyalty_tier")) == tuple(cell.values.values())
        ]
        mean = sum(c["record_count"] for c in members) / len(members)
        assert cell.figures == {"record_count": pytest.approx(mean)}
    with open_store(store_path) as store:
        for cell in big:
            save_segment(store, cell.definition)
            report = run_saved_segment(store, cell.definition.name, as_of_ms=AS_OF_MS)
            assert report.size == cell.size, cell.definition.name


@pytest.mark.parametrize(
    ("by", "metrics", "message"),
    [
        (["shoe_size"], None, "unknown trait"),
        (["country", "country"], None, "distinct"),
        (["country"], ["country"], "not numbers"),
    ],
)
def test_discover_refuses_bad_dimensions(
    store_path: Path, by: list[str], metrics: list[str] | None, message: str
) -> None:
    with (
        open_store(store_path, read_only=True) as store,
        pytest.raises(SegmentDefinitionError, match=message),
    ):
        discover(store, by, metrics=metrics)


def test_persona_report_shows_each_segments_live_size(store_path: Path) -> None:
    persona = find_persona("loyal_lucia", PERSONAS)
    with open_store(store_path, read_only=True) as store:
        report = persona_report(store, persona, traits=["loyalty_tier"])
    sizes = {s.name: s.size for s in report.segments}
    assert sizes == {name: len(segment_people(name)) for name in persona.segments}
    assert all(s.traits[0].trait == "loyalty_tier" for s in report.segments)


def test_persona_naming_an_unsaved_segment(store_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "personas"
    folder.mkdir()
    (folder / "p.yaml").write_text(
        "name: p\ndescription: d\nchannel: sms\ncontent_format: short\nsegments: [ghost]\n",
        encoding="utf-8",
    )
    with (
        open_store(store_path, read_only=True) as store,
        pytest.raises(NotFoundError, match="persona p: no saved segment 'ghost'"),
    ):
        persona_report(store, find_persona("p", folder))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: p\ndescription: d\ncontent_format: x\nsegments: [a]\n", "channel"),
        ("name: Bad Name\ndescription: d\nchannel: e\ncontent_format: x\nsegments: [a]\n", "name"),
        ("name: p\ndescription: d\nchannel: e\ncontent_format: x\nsegments: []\n", "segments"),
        ("name: p\ndescription: d\nchannel: e\ncontent_format: x\nsegments: [a]\nage: 3\n", "age"),
        ("name: [p\n", "invalid YAML: line 2"),
    ],
)
def test_bad_persona_files_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "persona.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_persona(path)
    assert message in str(caught.value) and "persona.yaml" in str(caught.value)


def test_cli_stats_discover_and_persona(store_path: Path) -> None:
    runner = CliRunner()
    store = ["--store", str(store_path)]
    stats = runner.invoke(
        app,
        [
            "segment",
            "stats",
            "engaged_loyalty_members",
            *store,
            "--exposure",
            "Email Sent",
            "--conversion",
            "Order Completed",
            "--within",
            "7",
            "--as-of",
            AS_OF,
            "-f",
            "json",
        ],
    )
    assert stats.exit_code == 0, stats.output
    data = orjson.loads(stats.stdout)
    assert data["size"] == len(segment_people("engaged_loyalty_members"))
    assert data["conversion"]["within_days"] == 7
    found = runner.invoke(
        app, ["segment", "discover", *store, "--by", "country", "--min-size", "5", "-f", "csv"]
    )
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines()[0].startswith("segment,country,size,share")
    shown = runner.invoke(
        app, ["persona", "show", "drifting_davide", *store, "--personas", str(PERSONAS)]
    )
    assert shown.exit_code == 0, shown.output
    assert "lapsed_high_spenders" in shown.stdout and "short subject lines" in shown.stdout
    missing = runner.invoke(app, ["persona", "show", "nobody", *store, "--personas", str(PERSONAS)])
    assert missing.exit_code == 2 and "there are: drifting_davide, loyal_lucia" in missing.output


def _when(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


def test_timestamps_read_as_times_in_profile_and_stats_tables(store_path: Path) -> None:
    """`*_ts` traits hold epoch milliseconds; a table shows when, not 1780601199000."""
    runner = CliRunner()
    store = ["--store", str(store_path)]
    args = ["segment", "stats", "engaged_loyalty_members", *store, "--as-of", AS_OF]
    raw = orjson.loads(runner.invoke(app, [*args, "-f", "json"]).stdout)
    table = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    spans = {t["trait"]: t["numbers"] for t in raw["traits"] if t["trait"].endswith("_ts")}
    assert "last_order_ts" in spans
    for numbers in spans.values():
        assert f"{_when(numbers['minimum'])}..{_when(numbers['maximum'])}" in table.stdout
    with IdentityGraph(store_path) as graph:
        customer = graph.segment_members("engaged_loyalty_members").members[0].id
        traits = graph.profile(customer).traits
    shown = runner.invoke(app, ["profile", customer, *store], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    stamps = {k: v for k, v in traits.items() if k.endswith("_ts") and v is not None}
    assert "last_activity_ts" in stamps
    for value in stamps.values():
        assert _when(value) in shown.stdout and str(value) not in shown.stdout
