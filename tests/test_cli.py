"""The CLI as a user drives it: exit codes, messages naming file/line/field, help everywhere."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from idgraph.cli import app
from tests.conftest import AS_OF, FIXTURE_INPUTS, FIXTURES

runner = CliRunner()
COMMANDS = [
    [],
    ["ingest"],
    ["segment"],
    ["segment", "run"],
    ["profile"],
    ["stats"],
    ["export"],
    ["export", "clusters"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "idgraph")
def test_every_command_explains_itself(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) > 4


def _every_command() -> list[list[str]]:
    import typer

    def walk(command: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, sub in (getattr(command, "commands", None) or {}).items():
            found += walk(sub, [*path, name])
        return found

    return walk(typer.main.get_command(app), [])


def test_every_command_group_holds_a_command() -> None:
    """A group left without commands (once `idgraph model`) is listed by --help and does
    nothing."""
    import typer

    groups = {
        name: sorted(getattr(sub, "commands", {}))
        for name, sub in typer.main.get_command(app).commands.items()  # type: ignore[attr-defined]
        if hasattr(sub, "commands")
    }
    assert groups and not [name for name, commands in groups.items() if not commands]


@pytest.mark.parametrize("command", _every_command(), ids=lambda c: " ".join(c) or "idgraph")
def test_help_paragraphs_fill_an_80_column_terminal(command: list[str]) -> None:
    """A docstring wrapped at the source's width must not come out as long and short lines."""
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    description = result.output.split("╭")[0].split("Usage:")[1].splitlines()[1:]
    paragraphs = "\n".join(line.strip() for line in description).split("\n\n")
    for paragraph in paragraphs:
        lines = paragraph.strip().splitlines()
        # Broken early: the next line's first word would have fitted on this one.
        ragged = [a for a, b in itertools.pairwise(lines) if len(a) + 1 + len(b.split()[0]) <= 78]
        assert not ragged, f"{' '.join(command)}: ragged help lines {ragged}"


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    store = folder / "idgraph.db"
    result = runner.invoke(
        app,
        [
            "ingest",
            *map(str, FIXTURE_INPUTS),
            "--store",
            str(store),
            "--default-region",
            "IT",
            "--rejects",
            str(folder / "rejects.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ingest summary" in result.output and "cluster sizes" in result.output
    return store


def test_export_clusters_matches_truth_keys(cli_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "clusters.csv"
    result = runner.invoke(
        app, ["export", "clusters", "--store", str(cli_store), "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    truth = list(csv.DictReader(io.StringIO((FIXTURES / "truth.csv").read_text("utf-8"))))
    assert {r["record_key"] for r in rows} == {r["record_key"] for r in truth}
    stdout = runner.invoke(app, ["export", "clusters", "--store", str(cli_store)])
    assert stdout.output.splitlines()[0] == "record_key,customer_id"


def test_binary_lines_and_files_leave_the_rest_ingested_and_the_summary_printed(
    tmp_path: Path,
) -> None:
    """Issue 21: one NUL line no longer refuses its file; a gzip file is refused alone; an
    escaped NUL in an id is a reject, so no export holds one; CSV exports end lines in \\n."""
    calls = [
        b'{"type":"identify","userId":"u%d","timestamp":"2024-05-04T10:00:00Z",'
        b'"traits":{"email":"p%d@shop.it"}}' % (n, n)
        for n in range(1, 20)
    ]
    lines = [*calls[:23], b'{"type":"identify","userId":"x\x00y"}']
    lines.insert(7, b'{"type":"identify","userId":"bad\\u0000id"}')
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    zipped = tmp_path / "zipped.jsonl"
    zipped.write_bytes(gzip.compress(b"\n".join(calls)))
    store, rejects = tmp_path / "db", tmp_path / "rejects.jsonl"
    inputs = [str(events), str(empty), str(zipped)]
    result = runner.invoke(
        app,
        ["ingest", *inputs, "--store", str(store), "--rejects", str(rejects), "--as-of", AS_OF],
    )
    assert result.exit_code == 2, result.output
    assert "ingest summary" in result.output
    assert "refused, binary file (gzip data)" in " ".join(result.output.split())
    reasons = {r["line"]: r["reason"] for r in map(orjson.loads, rejects.read_bytes().splitlines())}
    assert reasons[21] == "binary data: NUL byte at byte 31"
    assert reasons[8].startswith("userId holds a control character")
    assert len(reasons) == 2

    exported = runner.invoke(app, ["export", "clusters", "--store", str(store)])
    assert exported.exit_code == 0, exported.output
    text = exported.stdout_bytes
    assert b"\0" not in text and b"\r" not in text
    assert text.count(b"\n") == 1 + 19


def _run_lapsed(store: Path, *options: str) -> Result:
    segment = FIXTURES / "segments" / "lapsed_high_spenders.yaml"
    return runner.invoke(
        app, ["segment", "run", str(segment), "--store", str(store), "--as-of", AS_OF, *options]
    )


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_segment_run_formats(cli_store: Path, fmt: str) -> None:
    result = _run_lapsed(cli_store, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "member(s)" in result.output
    if fmt == "json":
        members = orjson.loads(result.stdout)
        assert members and all(m["id"].startswith("C-") for m in members)
    if fmt == "csv":
        header = next(csv.reader(io.StringIO(result.stdout)))
        assert header[:2] == ["id", "email"]


def test_segment_output_file(cli_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "members.csv"
    result = _run_lapsed(cli_store, "-f", "csv", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith("id,email")


def test_profile_by_email_and_unknown(cli_store: Path) -> None:
    truth = list(csv.DictReader(io.StringIO((FIXTURES / "crm.csv").read_text("utf-8"))))
    email = next(r["email"] for r in truth if r["email"] and "test@" not in r["email"])
    result = runner.invoke(app, ["profile", email, "--store", str(cli_store)])
    assert result.exit_code == 0, result.output
    assert "identifiers" in result.output and "records" in result.output
    missing = runner.invoke(app, ["profile", "nobody@nowhere.example", "--store", str(cli_store)])
    assert missing.exit_code == 2
    assert "no customer found" in missing.output


def test_stats(cli_store: Path) -> None:
    result = runner.invoke(app, ["stats", "--store", str(cli_store), "-f", "json"])
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.output)
    assert data["records"] == sum(data["records_per_source"].values())
    assert data["customers"] == sum(data["cluster_sizes"].values())


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    # A path longer than the terminal is wide stays whole, to be copied or searched for.
    folder = tmp_path / ("exports-from-the-point-of-sale-" * 3)
    folder.mkdir()
    garbage = folder / "garbage.jsonl"
    garbage.write_bytes(b"\x00\x01\x02binary\xff" * 100)
    result = runner.invoke(app, ["ingest", str(garbage), "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 2
    assert f"{garbage}: refused, binary file" in result.output
    assert "ingest summary" in result.output
    assert "Traceback" not in result.output


def test_rejected_lines_are_reported(tmp_path: Path) -> None:
    events = tmp_path / "web.jsonl"
    events.write_text(
        '{"type":"track","userId":"u1","event":"Signed Up","timestamp":"2026-01-01T00:00:00Z"}\n'
        "{not json\n"
        '{"type":"group","userId":"u1","timestamp":"2026-01-01T00:00:00Z"}\n',
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.jsonl"
    result = runner.invoke(
        app, ["ingest", str(events), "--store", str(tmp_path / "s.db"), "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    assert "2 line(s) rejected" in result.output
    lines = [orjson.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["line"], r["file"]) for r in lines] == [(2, str(events)), (3, str(events))]
    assert lines[1]["field"] == "groupId"  # a group call needs its groupId


def test_bad_option_values(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stats", "--store", str(tmp_path / "x.db"), "-f", "xml"])
    assert result.exit_code == 2
    missing = runner.invoke(app, ["stats", "--store", str(tmp_path / "nope.db")])
    assert missing.exit_code == 3
    assert "idgraph ingest" in missing.output


def test_store_from_environment(cli_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGRAPH_STORE", str(cli_store))
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 0, result.output
    assert "customers" in result.output


def test_junk_list_is_configurable(tmp_path: Path) -> None:
    events = tmp_path / "web.jsonl"
    events.write_text(
        "".join(
            '{"type":"identify","anonymousId":"a' + str(i) + '",'
            '"timestamp":"2026-01-01T00:00:00Z","traits":{"email":"info@myshop.it"}}\n'
            for i in range(2)
        ),
        encoding="utf-8",
    )
    junk = tmp_path / "junk.yaml"
    junk.write_text("kinds:\n  email:\n    values: [info@myshop.it]\n", encoding="utf-8")
    plain = tmp_path / "plain.db"
    guarded = tmp_path / "guarded.db"
    assert runner.invoke(app, ["ingest", str(events), "--store", str(plain)]).exit_code == 0
    result = runner.invoke(
        app, ["ingest", str(events), "--store", str(guarded), "--junk", str(junk)]
    )
    assert result.exit_code == 0, result.output
    customers = {}
    for name, store in (("plain", plain), ("guarded", guarded)):
        data = orjson.loads(
            runner.invoke(app, ["stats", "--store", str(store), "-f", "json"]).stdout
        )
        customers[name] = data["customers"]
    assert customers == {"plain": 1, "guarded": 2}
    bad = tmp_path / "bad.yaml"
    bad.write_text("kinds:\n  shoe: {values: [x]}\n", encoding="utf-8")
    failed = runner.invoke(app, ["ingest", str(events), "--store", str(plain), "--junk", str(bad)])
    assert failed.exit_code == 2
    assert "bad.yaml" in failed.output and "kinds.shoe" in failed.output


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_profile_machine_formats(cli_store: Path, fmt: str) -> None:
    """The family tablet's id links nobody, so it finds the tablet and the three who logged in."""
    result = runner.invoke(app, ["profile", "tab-7f3a", "--store", str(cli_store), "-f", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        profiles = orjson.loads(result.stdout)
        assert len(profiles) == 4
        (tablet,) = [
            p for p in profiles if any(r["key"] == "web:anon:tab-7f3a" for r in p["records"])
        ]
        assert len(tablet["records"]) == 1
        for profile in profiles:
            linking = {i["value"]: i["linking"] for i in profile["identifiers"]}
            assert linking["tab-7f3a"] is False
    else:
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert len({row["id"] for row in rows}) == len(rows) == 4


def _summary_rows(output: str) -> list[list[str]]:
    """The ingest summary's rows, each cell's wrapped lines joined back together."""
    table = output.split("ingest summary", 1)[1].split("┡", 1)[1].split("└", 1)[0]
    rows: list[list[str]] = []
    for line in table.splitlines()[1:]:
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[2]:  # a row starts where its counts are; wrapped lines carry none
            rows.append(cells)
        else:
            rows[-1] = [a + b for a, b in zip(rows[-1], cells, strict=True)]
    return rows


def test_ingest_summary_shows_whole_file_names_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    long = tmp_path / "mixed_normalization_problems_customer_export_2026_q3_final.csv"
    long.write_bytes((FIXTURES / "crm.csv").read_bytes())
    mapping = (FIXTURES / "crm.mapping.yaml").read_text(encoding="utf-8")
    long.with_name(f"{long.stem}.mapping.yaml").write_text(
        mapping.replace("source: crm\n", "source: crm_mixed_normalization_problems_export\n"),
        encoding="utf-8",
    )
    pos = FIXTURES / "pos.csv"
    result = runner.invoke(
        app,
        ["ingest", str(long), str(pos), "--store", str(tmp_path / "s.db")],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    assert "…" not in result.output.split("resolution", 1)[0]
    rows = _summary_rows(result.output)
    assert [row[:3] for row in rows] == [
        [str(long), "crm_mixed_normalization_problems_export", "84"],
        [str(pos), "pos", "166"],
        ["total", "", "250"],
    ]


def test_timings_print_each_stage_with_its_count(tmp_path: Path) -> None:
    crm = FIXTURES / "crm.csv"
    result = runner.invoke(
        app,
        ["ingest", str(crm), "--store", str(tmp_path / "s.db"), "--timings"],
        env={"COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    table = result.output.split("stages", 1)[1]
    rows = {
        cells[0]: cells
        for line in table.splitlines()
        if len(cells := [c.strip() for c in line.replace("┃", "│").strip("│ ").split("│")]) == 5
    }
    assert rows["stage"][-1] == "count"
    assert rows["read"][-1] == "84 lines"
    assert rows["fold"][-1].endswith(" records")
    assert rows["resolve"][-1].endswith(" customers")
    assert rows["write"][-1].endswith(" rows")
    # Not a terminal: the progress bars draw nothing, not even their last state.
    assert "rows normalized" not in result.output
    assert "candidate pairs " not in result.output.replace("candidate pairs compared", "")


def test_stage_bars_show_counts_and_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from idgraph.cli import ingest as ingest_cli

    terminal = Console(file=io.StringIO(), force_terminal=True, width=140)
    monkeypatch.setattr(ingest_cli, "console", terminal)
    bars = ingest_cli._StageBars()
    with bars as step:
        step("read", 0, 3_000_000)
        step("read: /data/people.csv", 1_500_000, 2_000_000)
        step("read", 1_500_000, 3_000_000)
        step("resolve", 0, 1)
        step("resolve: candidate pairs", 0, 1)
        step("resolve: candidate pairs", 2_345_678, 2_345_678)
        step("write", 0, 1)
        step("write: rows", 0, 10_000)
        step("write: Customer", 0, 4_000)
        step("segments", 0, 1)
        step("segments", 0, 0)
        shown = Console(file=io.StringIO(), width=140, record=True)
        shown.print(bars._bar.make_tasks_table(bars._bar.tasks))
    lines = {line.split()[0]: line for line in shown.export_text().splitlines() if line.strip()}
    assert "1.5/3.0 MB" in lines["read"] and "people.csv 1.5/2.0 MB" in lines["read"]
    assert "/data" not in lines["read"]
    assert "candidate pairs 2,345,678" in lines["resolve"]
    assert "0/10,000 rows" in lines["write"] and "Customer 0/4,000" in lines["write"]
    assert "0 changes" in lines["segments"]


def test_missing_mapping_points_at_the_doc_and_the_guess(tmp_path: Path) -> None:
    table = tmp_path / "crm.csv"
    table.write_bytes((FIXTURES / "crm.csv").read_bytes())
    result = runner.invoke(app, ["ingest", str(table), "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 2
    assert "no mapping found" in result.output and "docs/mapping.md" in result.output
    assert f"idgraph mapping init {table} --write" in result.output
