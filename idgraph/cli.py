"""The `idgraph` command: a thin typer adapter over the library.

Each command parses its options, calls one library function and turns an `IdGraphError` into a
one-line message and exit code 2 (bad input or config) or 3 (store failure).
"""

from __future__ import annotations

import csv
import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from idgraph import __version__
from idgraph._logging import enable as enable_logging
from idgraph.errors import IdGraphError, StoreError

app = typer.Typer(
    name="idgraph",
    help=(
        "Graph-based identity resolution and segmentation for customer data.\n\n"
        "Ingest CRM/POS tables and tracking events, resolve them into unified customers in a "
        "graph store (embedded LadybugDB by default, ./idgraph.db), then look customers up "
        "and run marketing segments."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
segment_app = typer.Typer(help="Run marketing segments (YAML definitions) over unified customers.")
export_app = typer.Typer(help="Export resolution results as files.")
schema_app = typer.Typer(help="Create or print the graph schema (constraints, indexes, tables).")
persona_app = typer.Typer(help="Personas: who a segment is and how to speak to them.")
model_app = typer.Typer(help="Probabilistic (Fellegi-Sunter) linkage models for any CSV schema.")
blocking_app = typer.Typer(help="How candidate pairs are found, and what blocking misses.")
app.add_typer(segment_app, name="segment")
app.add_typer(export_app, name="export")
app.add_typer(schema_app, name="schema")
app.add_typer(persona_app, name="persona")
app.add_typer(model_app, name="model")
app.add_typer(blocking_app, name="blocking")

console = Console(stderr=True)
out = Console()

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        "-s",
        envvar="IDGRAPH_STORE",
        help=(
            "Store: a path (embedded LadybugDB) or a Neo4j URL (bolt://host:7687, neo4j://...). "
            "Default: ./idgraph.db."
        ),
        show_default=False,
    ),
]
RecordA = Annotated[str, typer.Argument(help="A record key, e.g. crm:C1003.", show_default=False)]
RecordB = Annotated[str, typer.Argument(help="Another record key.", show_default=False)]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        envvar="NEO4J_DATABASE",
        help="Neo4j database name (bolt:// and neo4j:// stores only). Default: the server's.",
        show_default=False,
    ),
]
FormatOption = Annotated[
    str,
    typer.Option("--format", "-f", help="Output format: table, csv or json."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of standard output."),
]


def _version(value: bool) -> None:
    if value:
        out.print(f"idgraph {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="-v for info, -vv for debug logs.")
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Graph-based identity resolution and segmentation for customer data."""
    if verbose:
        enable_logging(logging.DEBUG if verbose > 1 else logging.INFO)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn idgraph's own errors into one line on stderr and an exit code."""
    try:
        yield
    except IdGraphError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(3 if isinstance(exc, StoreError) else 2) from None


def _check_format(value: str) -> Literal["table", "csv", "json"]:
    if value not in ("table", "csv", "json"):
        raise typer.BadParameter(
            f"{value!r} is not one of: table, csv, json", param_hint="--format"
        )
    return value  # type: ignore[return-value]


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def _rows_as(fmt: str, columns: list[str], rows: list[dict[str, Any]], title: str) -> str:
    if fmt == "json":
        return orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        # Text, not markup: values such as "[surname, dob]" are data, not rich tags.
        table.add_row(*(Text("" if row.get(c) is None else str(row.get(c))) for c in columns))
    capture = Console(width=160, record=True, file=io.StringIO())
    capture.print(table)
    return capture.export_text()


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="CSV tables (mapping in X.mapping.yaml beside X.csv) and JSONL event streams.",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    database: DatabaseOption = None,
    match_config: Annotated[
        Path | None,
        typer.Option("--match-config", "-m", help="Match config YAML (default: the built-in one)."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--mapping",
            help="Explicit mapping for a CSV, as CSV=YAML (repeatable); overrides the sidecar.",
        ),
    ] = None,
    default_region: Annotated[
        str, typer.Option(help="Phone region for numbers without a country code (ISO alpha-2).")
    ] = "US",
    date_order: Annotated[
        str, typer.Option(help="How to read ambiguous dates like 04/05/1980: DMY or MDY.")
    ] = "DMY",
    rejects: Annotated[
        Path, typer.Option(help="Where rejected lines go (JSONL: file, line, field, reason, raw).")
    ] = Path("idgraph-rejects.jsonl"),
    junk: Annotated[
        Path | None,
        typer.Option(
            help="YAML of extra junk values/patterns per identifier kind "
            "(kinds: {email: {values: [...], patterns: [...]}}), added to the built-in lists."
        ),
    ] = None,
    traits: Annotated[
        Path | None,
        typer.Option(
            "--traits",
            help="Computed-traits config YAML (default: the built-in one; see docs/traits.md).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Compute trait windows and day counts as of this date (YYYY-MM-DD); default now."
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Resolve but write nothing; list the customers that would merge or split, and "
            "why. With no files, re-resolves the stored records (e.g. under a new --match-config).",
        ),
    ] = False,
) -> None:
    """Ingest files, resolve identities and store unified customers.

    Every input line ends either ingested or in the rejects file; the summary shows
    read = ingested + rejected per file. Ingesting the same files again adds nothing.
    Computed traits (--traits) are recomputed for every customer as of --as-of.
    --dry-run shows what a changed match config would merge or split before applying it.
    In Python: idgraph.run_ingest(paths, store=..., traits=..., as_of_ms=..., dry_run=...).
    """
    from idgraph.ingest.mapping import load_mapping
    from idgraph.normalize.junk import DEFAULT_JUNK, load_junk_config
    from idgraph.normalize.record import NormalizeOptions
    from idgraph.pipeline import run_ingest

    moment = _as_of_ms(as_of) if as_of is not None else None
    if not paths and not dry_run:
        raise typer.BadParameter("give the files to ingest (none are needed with --dry-run)")
    with _errors():
        if date_order not in ("DMY", "MDY"):
            raise typer.BadParameter("use DMY or MDY", param_hint="--date-order")
        mappings = {}
        for item in mapping or []:
            csv_path, sep, yaml_path = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"{item!r} is not CSV=YAML", param_hint="--mapping")
            mappings[Path(csv_path)] = load_mapping(Path(yaml_path))
        options = NormalizeOptions(
            default_region=default_region.upper(),
            date_order=date_order,  # type: ignore[arg-type]
            junk=load_junk_config(junk) if junk else DEFAULT_JUNK,
        )
        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            tasks: dict[str, Any] = {}

            def step(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=max(total, 1))
                bar.update(tasks[stage], completed=done, total=max(total, 1))

            report = run_ingest(
                paths or [],
                store=store,
                database=database,
                match_config=match_config,
                options=options,
                mappings=mappings,
                rejects_path=rejects,
                progress=step,
                traits=traits,
                as_of_ms=moment,
                dry_run=dry_run,
            )
    summary = Table(title="ingest summary" + (" (dry run)" if dry_run else ""))
    for column in ("file", "source", "read", "ingested", "rejected"):
        summary.add_column(
            column, justify="right" if column in ("read", "ingested", "rejected") else "left"
        )
    for f in report.files:
        summary.add_row(f.path, f.source, str(f.read), str(f.ingested), str(f.rejected))
    summary.add_row(
        "total", "", str(report.read), str(report.ingested), str(report.rejected), style="bold"
    )
    out.print(summary)
    result = Table(title="resolution")
    result.add_column("what")
    result.add_column("count", justify="right")
    for label, value in (
        ("records new", report.records_new),
        ("records updated", report.records_updated),
        ("records unchanged", report.records_unchanged),
        ("records in store", report.records_total),
        ("events new", report.events_new),
        ("events already stored", report.events_duplicate),
        ("customers", report.customers),
        ("candidate pairs compared", report.pairs_compared),
        ("links refused by guards", report.links_blocked),
        ("customers flagged for review", report.flagged_customers),
        ("oversized components split", len(report.components_split)),
    ):
        result.add_row(label, str(value))
    for kind, n in report.identifiers_not_linking.items():
        result.add_row(f"{kind} values not linking", str(n))
    out.print(result)
    sizes = ", ".join(f"{size}: {n}" for size, n in report.cluster_sizes.items())
    out.print(f"cluster sizes (records: customers) {sizes}")
    largest = ", ".join(f"{cid} ({n})" for cid, n in report.largest_clusters)
    out.print(f"largest customers: {largest}")
    if report.rejects_path:
        console.print(
            f"[yellow]{report.rejected} line(s) rejected[/], see {report.rejects_path}",
            highlight=False,
        )
    if report.changes is not None:
        _print_changes(report.changes)
    out.print(
        f"done in {report.seconds:.2f}s" + (" (dry run: nothing written)" if report.dry_run else "")
    )


def _print_changes(changes: Any) -> None:
    out.print(
        f"would merge: {len(changes.merges)} customer(s); would split: {len(changes.splits)}",
        highlight=False,
    )
    rows = [
        {
            "change": "merge",
            "customer": m.customer,
            "from / into": ", ".join(m.from_customers),
            "records": m.records,
            "why": "; ".join(m.reasons),
        }
        for m in changes.merges
    ]
    rows += [
        {
            "change": "split",
            "customer": sp.customer,
            "from / into": ", ".join(sp.into_customers),
            "records": sp.records,
            "why": "; ".join(sp.reasons),
        }
        for sp in changes.splits
    ]
    if rows:
        columns = ["change", "customer", "from / into", "records", "why"]
        sys.stdout.write(_rows_as("table", columns, rows, "changes"))


def _as_of_ms(as_of: str | None) -> int:
    if as_of is None:
        return int(datetime.now(tz=UTC).timestamp() * 1000)
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise typer.BadParameter(
            f"{as_of!r} is not a date (YYYY-MM-DD) or ISO time", param_hint="--as-of"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


AsOfOption = Annotated[
    str | None,
    typer.Option(help="Evaluate time windows as of this date (YYYY-MM-DD); default now."),
]
_MEMBER_COLUMNS = ["id", "email", "first_name", "last_name", "country", "record_count"]


def _definition_arg(target: str) -> Path | None:
    """A path when `target` names a YAML file, None when it is a saved segment's name."""
    path = Path(target)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return None


@segment_app.command("run")
def segment_run(
    target: Annotated[
        str,
        typer.Argument(
            help="A saved segment's name, or a definition YAML file (evaluated, not saved).",
            show_default=False,
        ),
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    changes: Annotated[
        bool,
        typer.Option("--changes", help="Print only who entered and who exited since the last run."),
    ] = False,
) -> None:
    """Run a segment and print its members and count.

    A saved segment's membership is materialised as IN_SEGMENT edges, and the customers who
    entered or exited since its last run are reported (--changes prints just those, the
    deltas a channel syncs). A YAML file is evaluated without saving anything.
    In Python: idgraph.segment.saved.run_saved_segment(store, name, as_of_ms=...) or
    idgraph.segment.run.run_segment(store, load_segment(path), as_of_ms=...).
    """
    from idgraph.segment.definition import load_segment
    from idgraph.segment.saved import evaluate, run_saved_segment
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    moment = _as_of_ms(as_of)
    path = _definition_arg(target)
    with _errors():
        if path is not None:
            if changes:
                raise typer.BadParameter(
                    "--changes needs a saved segment (see `idgraph segment save`)",
                    param_hint="--changes",
                )
            defn = load_segment(path)
            with open_store(store, read_only=True, database=database) as graph:
                result = evaluate(graph, defn, as_of_ms=moment, folder=path.parent)
            rows = [m.model_dump() for m in result.members]
            title = f"segment {result.name}: {result.count} member(s)"
            _emit(_rows_as(fmt, _MEMBER_COLUMNS, rows, title), output)
            console.print(f"{result.name}: {result.count} member(s)", highlight=False)
            return
        with open_store(store, database=database) as graph:
            report = run_saved_segment(graph, target, as_of_ms=moment)
    summary = (
        f"{report.name}: {report.size} member(s), {len(report.entered)} entered, "
        f"{len(report.exited)} exited" + (" (first run)" if report.first_run else "")
    )
    if changes:
        rows = [{"change": "entered", **m.model_dump()} for m in report.entered]
        rows += [{"change": "exited", "id": cid} for cid in report.exited]
        columns = ["change", *_MEMBER_COLUMNS]
        _emit(_rows_as(fmt, columns, rows, f"{report.name}: changes"), output)
    elif fmt == "json":
        _emit(
            orjson.dumps(report.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode()
            + "\n",
            output,
        )
    else:
        rows = [m.model_dump() for m in report.members]
        _emit(_rows_as(fmt, _MEMBER_COLUMNS, rows, summary), output)
    console.print(summary, highlight=False)


@segment_app.command("explain")
def segment_explain(
    target: Annotated[
        str, typer.Argument(help="A definition YAML file or a saved segment's name.")
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    engine: Annotated[
        str | None,
        typer.Option(help="Write the query for neo4j or ladybug; default the store's engine."),
    ] = None,
    as_of: AsOfOption = None,
) -> None:
    """Print the one parameterised Cypher query a definition compiles to, and its parameters.

    Traits are checked against the store's customers when a store exists; without one, any
    trait name is accepted. In Python: idgraph.segment.run.explain_segment(store, defn, ...).
    """
    from idgraph.segment.definition import load_segment
    from idgraph.segment.run import explain_segment
    from idgraph.segment.saved import get_segment, resolver
    from idgraph.settings import open_store, resolve_store_url
    from idgraph.store.dialect import LADYBUG, NEO4J

    if engine not in (None, "neo4j", "ladybug"):
        raise typer.BadParameter(f"{engine!r} is not one of: neo4j, ladybug", param_hint="--engine")
    dialect = None if engine is None else (NEO4J if engine == "neo4j" else LADYBUG)
    moment = _as_of_ms(as_of)
    path = _definition_arg(target)
    url = resolve_store_url(store)
    has_store = "://" in url or Path(url).exists()
    with _errors():
        if not has_store:
            if path is None:
                raise typer.BadParameter(f"no store at {url} to find saved segment {target!r}")
            defn = load_segment(path)
            query = explain_segment(
                None, defn, as_of_ms=moment, resolve=resolver(None, path.parent), dialect=dialect
            )
        else:
            with open_store(url, read_only=True, database=database) as graph:
                defn = load_segment(path) if path else get_segment(graph, target).parsed()
                folder = path.parent if path else None
                query = explain_segment(
                    graph, defn, as_of_ms=moment, resolve=resolver(graph, folder), dialect=dialect
                )
    out.print(query.cypher, highlight=False, markup=False, soft_wrap=True)
    out.print(
        "// params: " + orjson.dumps(query.params).decode(),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@segment_app.command("save")
def segment_save(
    definition: Annotated[
        Path, typer.Argument(help="Segment definition YAML.", show_default=False)
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Validate a definition against the store and save it under its name (replacing any).

    Saving keeps the segment's membership, so the next run reports changes against the
    last one. In Python: idgraph.segment.saved.save_segment(store, load_segment(path)).
    """
    from idgraph.segment.definition import load_segment
    from idgraph.segment.saved import save_segment
    from idgraph.settings import open_store

    with _errors():
        defn = load_segment(definition)
        with open_store(store, database=database) as graph:
            saved = save_segment(graph, defn, text=definition.read_text(encoding="utf-8"))
    console.print(f"saved segment {saved.name}", highlight=False)


@segment_app.command("list")
def segment_list(
    store: StoreOption = None, database: DatabaseOption = None, fmt: FormatOption = "table"
) -> None:
    """List saved segments with their size and time of the last run.

    In Python: idgraph.segment.saved.list_segments(store).
    """
    from idgraph.segment.saved import list_segments
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    with _errors(), open_store(store, read_only=True, database=database) as graph:
        saved = list_segments(graph)
    rows = [
        {
            "name": s.name,
            "size": s.size,
            "last_run": _iso(s.last_run_ts),
            "updated": _iso(s.updated_ts),
            "description": s.description,
        }
        for s in saved
    ]
    columns = ["name", "size", "last_run", "updated", "description"]
    _emit(_rows_as(fmt, columns, rows, f"{len(rows)} saved segment(s)"), None)


@segment_app.command("show")
def segment_show(
    name: Annotated[str, typer.Argument(help="A saved segment's name.", show_default=False)],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Print a saved segment's definition, last run and run history.

    In Python: idgraph.segment.saved.get_segment(store, name), segment_history(store, name).
    """
    from idgraph.segment.saved import get_segment, segment_history
    from idgraph.settings import open_store

    with _errors(), open_store(store, read_only=True, database=database) as graph:
        saved = get_segment(graph, name)
        history = segment_history(graph, name)
    out.print(f"[bold]{saved.name}[/]: {saved.description or ''}", highlight=False)
    out.print(saved.definition.rstrip(), highlight=False, markup=False)
    if saved.last_run_ts is None:
        out.print("never run: `idgraph segment run " + saved.name + "`", highlight=False)
        return
    runs = [
        {
            "ran": _iso(r.ts),
            "as_of": _iso(r.as_of_ts),
            "size": r.size,
            "entered": r.entered,
            "exited": r.exited,
        }
        for r in history
    ]
    sys.stdout.write(_rows_as("table", ["ran", "as_of", "size", "entered", "exited"], runs, "runs"))


@segment_app.command("preview")
def segment_preview(
    target: Annotated[
        str, typer.Argument(help="A saved segment's name or a definition YAML file.")
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    as_of: AsOfOption = None,
    limit: Annotated[int, typer.Option(help="How many members to show.")] = 10,
    fmt: FormatOption = "table",
) -> None:
    """Count a segment's members and show a few, changing nothing in the store.

    In Python: idgraph.segment.saved.evaluate(store, definition, as_of_ms=...).
    """
    from idgraph.segment.definition import load_segment
    from idgraph.segment.saved import evaluate, get_segment
    from idgraph.settings import open_store
    from idgraph.store.queries import READS

    fmt = _check_format(fmt)
    moment = _as_of_ms(as_of)
    path = _definition_arg(target)
    with _errors(), open_store(store, read_only=True, database=database) as graph:
        defn = load_segment(path) if path is not None else get_segment(graph, target).parsed()
        folder = path.parent if path is not None else None
        result = evaluate(graph, defn, as_of_ms=moment, folder=folder)
        total = graph.query("count_customers", READS["count_customers"])[0]["n"]
    share = f"{result.count / total:.1%}" if total else "n/a"
    rows = [m.model_dump() for m in result.members[:limit]]
    title = f"{result.name}: {result.count} of {total} customers ({share}); first {len(rows)}"
    _emit(_rows_as(fmt, _MEMBER_COLUMNS, rows, title), None)
    console.print(f"{result.name}: {result.count} member(s), {share} of customers", highlight=False)


@segment_app.command("delete")
def segment_delete(
    name: Annotated[str, typer.Argument(help="A saved segment's name.", show_default=False)],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Delete a saved segment with its membership and history.

    Refused while another saved segment refers to it.
    In Python: idgraph.segment.saved.delete_segment(store, name).
    """
    from idgraph.segment.saved import delete_segment
    from idgraph.settings import open_store

    with _errors(), open_store(store, database=database) as graph:
        delete_segment(graph, name)
    console.print(f"deleted segment {name}", highlight=False)


def _names(value: str | None, option: str) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise typer.BadParameter("give one or more comma-separated names", param_hint=option)
    return names


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=option)
        pairs[key.strip()] = text
    return pairs


def _summary_cell(summary: Any) -> str:
    if summary.numbers is not None:
        n = summary.numbers
        return f"mean {n.mean:.2f}, median {n.median:.2f}, range {n.minimum:g}..{n.maximum:g}"
    return ", ".join(f"{v.value} {v.share:.0%}" for v in summary.values)


@segment_app.command("stats")
def segment_stats_command(
    name: Annotated[str, typer.Argument(help="A saved segment's name.", show_default=False)],
    store: StoreOption = None,
    database: DatabaseOption = None,
    traits: Annotated[
        str | None, typer.Option(help="Comma-separated traits to summarise; default all.")
    ] = None,
    exposure: Annotated[
        str | None,
        typer.Option(help="Campaign event whose recipients are measured, e.g. 'Email Sent'."),
    ] = None,
    conversion: Annotated[
        str | None,
        typer.Option(help="Event that counts as converting, e.g. 'Order Completed'."),
    ] = None,
    within: Annotated[int, typer.Option(help="Days after the exposure a conversion counts.")] = 7,
    exposure_where: Annotated[
        list[str] | None,
        typer.Option(
            help="Keep exposures whose property has this value, e.g. campaign=summer_sale_2026."
        ),
    ] = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = "table",
) -> None:
    """Size and share, trait distributions, size history and overlap with every other saved
    segment; with --exposure and --conversion, the conversion rate inside the segment against
    everyone else.

    Figures describe the membership of the last run. In Python:
    idgraph.segment.analytics.segment_stats(store, name, as_of_ms=...).
    """
    from idgraph.segment.analytics import segment_stats
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    moment = _as_of_ms(as_of)
    with _errors(), open_store(store, read_only=True, database=database) as graph:
        stats = segment_stats(
            graph,
            name,
            traits=_names(traits, "--traits"),
            exposure=exposure,
            converted_by=conversion,
            within_days=within,
            exposure_where=_pairs(exposure_where or [], "--exposure-where"),
            as_of_ms=moment,
        )
    if fmt == "json":
        sys.stdout.write(
            orjson.dumps(stats.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return
    if fmt == "csv":
        rows = [
            {"trait": t.trait, "present": t.present, "summary": _summary_cell(t)}
            for t in stats.traits
        ]
        sys.stdout.write(_rows_as("csv", ["trait", "present", "summary"], rows, ""))
        return
    ran = _iso(stats.last_run_ts) or "never run"
    out.print(
        f"[bold]{stats.name}[/]: {stats.size} of {stats.customers} customers "
        f"({stats.share:.1%}), last run {ran}",
        highlight=False,
    )
    rows = [
        {"trait": t.trait, "present": t.present, "summary": _summary_cell(t)} for t in stats.traits
    ]
    sys.stdout.write(_rows_as("table", ["trait", "present", "summary"], rows, "traits"))
    history = [
        {
            "ran": _iso(r.ts),
            "as_of": _iso(r.as_of_ts),
            "size": r.size,
            "entered": r.entered,
            "exited": r.exited,
        }
        for r in stats.history
    ]
    sys.stdout.write(
        _rows_as("table", ["ran", "as_of", "size", "entered", "exited"], history, "size history")
    )
    overlaps = [
        {"segment": o.segment, "both": o.both, "jaccard": f"{o.jaccard:.2f}"}
        for o in stats.overlaps
    ]
    sys.stdout.write(_rows_as("table", ["segment", "both", "jaccard"], overlaps, "overlap"))
    c = stats.conversion
    if c is not None:

        def rate(r: float | None) -> str:
            return "n/a" if r is None else f"{r:.1%}"

        out.print(
            f"{c.exposure} -> {c.conversion} within {c.within_days} days: "
            f"segment {c.members_converted}/{c.members_exposed} = {rate(c.members_rate)}, "
            f"everyone else {c.others_converted}/{c.others_exposed} = {rate(c.others_rate)}"
            + ("" if c.lift is None else f", lift {c.lift:.2f}"),
            highlight=False,
            markup=False,
        )


@segment_app.command("discover")
def segment_discover(
    by: Annotated[
        str, typer.Option(help="Comma-separated traits to cross, e.g. country,age_band.")
    ],
    min_size: Annotated[int, typer.Option(help="Smallest cell to list.")] = 1,
    metrics: Annotated[
        str | None,
        typer.Option(help="Numeric traits to average per cell; default the key figures present."),
    ] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Save every listed cell as a segment (cell_...).")
    ] = False,
    store: StoreOption = None,
    database: DatabaseOption = None,
    fmt: FormatOption = "table",
) -> None:
    """List micro-segments: the non-empty cross-cells of the chosen traits above a minimum
    size, largest first, with their key figures; each can be saved as a segment.

    In Python: idgraph.segment.discover.discover(store, ["country", "age_band"], min_size=5).
    """
    from idgraph.segment.discover import discover
    from idgraph.segment.saved import definition_text, save_segment
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    dims = _names(by, "--by") or []
    with _errors(), open_store(store, read_only=not save, database=database) as graph:
        cells = discover(graph, dims, min_size=min_size, metrics=_names(metrics, "--metrics"))
        if save:
            for cell in cells:
                save_segment(graph, cell.definition, text=definition_text(cell.definition))
    rows = [
        {
            "segment": cell.definition.name,
            **{d: cell.values[d] for d in dims},
            "size": cell.size,
            "share": f"{cell.share:.1%}",
            **{k: None if v is None else round(v, 2) for k, v in cell.figures.items()},
        }
        for cell in cells
    ]
    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["segment", *dims, "size"]
    _emit(_rows_as(fmt, columns, rows, f"{len(rows)} cell(s) of {' x '.join(dims)}"), None)
    if save:
        console.print(f"saved {len(cells)} segment(s)", highlight=False)


PersonasOption = Annotated[
    Path | None,
    typer.Option(
        "--personas",
        envvar="IDGRAPH_PERSONAS",
        help="Folder of persona YAML files. Default: ./personas.",
        show_default=False,
    ),
]


@persona_app.command("list")
def persona_list(personas: PersonasOption = None, fmt: FormatOption = "table") -> None:
    """List the personas in the folder with their channel and segments."""
    from idgraph.segment.personas import load_personas

    fmt = _check_format(fmt)
    with _errors():
        found = load_personas(personas)
    rows = [
        {
            "name": p.name,
            "title": p.title,
            "channel": p.channel,
            "segments": ", ".join(p.segments),
        }
        for p in found.values()
    ]
    _emit(_rows_as(fmt, ["name", "title", "channel", "segments"], rows, "personas"), None)


@persona_app.command("show")
def persona_show(
    name: Annotated[str, typer.Argument(help="The persona's name.", show_default=False)],
    personas: PersonasOption = None,
    store: StoreOption = None,
    database: DatabaseOption = None,
    traits: Annotated[
        str | None,
        typer.Option(help="Comma-separated traits to summarise; default the key ones present."),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Print a persona beside the live data of its segments: size, share of all customers
    and a summary of their traits (as of each segment's last run).

    In Python: idgraph.segment.personas.persona_report(store, find_persona(name)).
    """
    from idgraph.segment.personas import find_persona, persona_report
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    with _errors():
        persona = find_persona(name, personas)
        with open_store(store, read_only=True, database=database) as graph:
            report = persona_report(graph, persona, traits=_names(traits, "--traits"))
    if fmt == "json":
        sys.stdout.write(
            orjson.dumps(report.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return
    p = report.persona
    head = Table(title=f"persona {p.title or p.name}", show_header=False)
    head.add_column("field")
    head.add_column("value")
    head.add_row("description", p.description)
    head.add_row("goals", "; ".join(p.goals))
    head.add_row("channel", p.channel)
    head.add_row("content format", p.content_format)
    if p.tone:
        head.add_row("tone", p.tone)
    out.print(head)
    rows = []
    for seg in report.segments:
        row: dict[str, Any] = {
            "segment": seg.name,
            "size": "never run" if seg.size is None else seg.size,
            "share": "" if seg.share is None else f"{seg.share:.1%}",
        }
        for summary in seg.traits:
            row[summary.trait] = _summary_cell(summary)
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    if fmt == "csv":
        sys.stdout.write(_rows_as("csv", columns, rows, ""))
        return
    sys.stdout.write(
        _rows_as("table", columns, rows, f"segments (of {report.customers} customers)")
    )


@app.command()
def profile(
    identifier: Annotated[
        str,
        typer.Argument(
            help="Customer id, record key, email, phone, user/anonymous/device id.",
            show_default=False,
        ),
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    events: Annotated[int, typer.Option(help="How many recent events to show.")] = 10,
    default_region: Annotated[str, typer.Option(help="Phone region for a national number.")] = "US",
    fmt: FormatOption = "table",
) -> None:
    """Print one customer's 360° view: golden fields, traits, records, identifiers, events.

    In Python: IdentityGraph(store).profile(IdentityGraph(store).lookup(identifier)[0]).
    """
    from idgraph.errors import NotFoundError
    from idgraph.query import IdentityGraph

    fmt = _check_format(fmt)
    with (
        _errors(),
        IdentityGraph(store, default_region=default_region.upper(), database=database) as graph,
    ):
        ids = graph.lookup(identifier)
        if not ids:
            raise NotFoundError(f"no customer found for {identifier!r}")
        profiles = [graph.profile(cid, events=events) for cid in ids]
    if fmt == "json":
        data = [p.model_dump() for p in profiles]
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if fmt == "csv":
        rows = [{"id": p.id, **p.golden, **p.traits} for p in profiles]
        columns = list(dict.fromkeys(key for row in rows for key in row))
        sys.stdout.write(_rows_as("csv", columns, rows, ""))
        return
    if len(profiles) > 1:
        out.print(f"[yellow]{identifier!r} is on records of {len(profiles)} customers[/]")
    for p in profiles:
        _print_profile(p)


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _print_profile(p: Any) -> None:
    head = Table(title=f"customer {p.id}", show_header=False)
    head.add_column("field")
    head.add_column("value")
    for key, value in {**p.golden, **p.traits}.items():
        head.add_row(key, str(value))
    for key in ("record_count", "sources", "flagged", "flag_reason"):
        if p.summary.get(key) not in (None, False):
            head.add_row(key, str(p.summary[key]))
    out.print(head)
    records = Table(title="records")
    for column in ("key", "source", "name", "email", "phone", "birth_date"):
        records.add_column(column)
    for r in p.records:
        name = " ".join(x for x in (r.fields.get("first_name"), r.fields.get("last_name")) if x)
        records.add_row(
            r.key,
            r.source,
            name,
            r.fields.get("email", ""),
            r.fields.get("phone", ""),
            r.fields.get("birth_date", ""),
        )
    out.print(records)
    ids = Table(title="identifiers")
    for column in ("kind", "value", "linking", "records"):
        ids.add_column(column)
    for i in p.identifiers:
        linking = "yes" if i.linking else f"no: {i.reason}"
        ids.add_row(i.kind, i.value, linking, ", ".join(i.records))
    out.print(ids)
    if p.evidence:
        ev = Table(title="match evidence")
        for column in ("record a", "record b", "rule", "fields", "score"):
            ev.add_column(column)
        for e in p.evidence:
            score = "" if e.score is None else f"{e.score:.3f}"
            ev.add_row(e.record_a, e.record_b, e.rule, e.fields or "", score)
        out.print(ev)
    events = Table(title=f"recent events ({len(p.events)} of {p.event_count})")
    for column in ("time", "name", "source", "properties"):
        events.add_column(column)
    for e in p.events:
        props = ", ".join(f"{k}={v}" for k, v in e.properties.items())
        events.add_row(e.time or "", e.name, e.source or "", props)
    out.print(events)
    if p.segments:
        since = {m.name: _iso(m.since_ts) for m in p.segments}
        out.print("segments: " + ", ".join(f"{n} (since {t})" for n, t in since.items()))


@schema_app.command("apply")
def schema_apply(store: StoreOption = None, database: DatabaseOption = None) -> None:
    """Create the schema on the store: Neo4j constraints and indexes, or embedded tables.

    Safe to run again (every statement is IF NOT EXISTS). Run it once on a new Neo4j database
    before the first ingest. In Python: open_store(store).apply_schema().
    """
    from idgraph.settings import open_store

    with _errors(), open_store(store, database=database) as graph:
        statements = graph.apply_schema()
        location = graph.location
    for statement in statements:
        out.print(statement, highlight=False, soft_wrap=True)
    console.print(f"schema applied to {location}: {len(statements)} statement(s)", highlight=False)


@schema_app.command("show")
def schema_show(
    engine: Annotated[
        str, typer.Option(help="Whose DDL to print: neo4j or ladybug (embedded).")
    ] = "neo4j",
) -> None:
    """Print the schema statements `schema apply` runs, without touching any store."""
    from idgraph.store.dialect import LADYBUG, NEO4J

    if engine not in ("neo4j", "ladybug"):
        raise typer.BadParameter(f"{engine!r} is not one of: neo4j, ladybug", param_hint="--engine")
    dialect = NEO4J if engine == "neo4j" else LADYBUG
    for statement in dialect.schema_statements():
        out.print(f"{statement};", highlight=False, soft_wrap=True)


@app.command()
def explain(
    record_a: RecordA,
    record_b: RecordB,
    store: StoreOption = None,
    database: DatabaseOption = None,
    fmt: FormatOption = "table",
    score: Annotated[
        bool,
        typer.Option(
            "--score",
            help="Also score the pair probabilistically: each field's level and weight "
            "(a waterfall), to see why they link or why not.",
        ),
    ] = False,
    model: Annotated[
        Path | None,
        typer.Option(help="A saved link model for --score; default: train on the stored records."),
    ] = None,
    match_config: Annotated[
        Path | None,
        typer.Option("--match-config", "-m", help="Match config for --score (guards, model)."),
    ] = None,
) -> None:
    """Show why two records are one customer: the chain of shared identifiers and matches.

    Exit code 1 when no linking evidence joins them. In Python:
    IdentityGraph(store).explain(record_a, record_b).
    """
    from idgraph.query import IdentityGraph

    fmt = _check_format(fmt)
    pair = None
    with _errors(), IdentityGraph(store, database=database) as graph:
        path = graph.explain(record_a, record_b)
        if score:
            from idgraph.match.config import load_match_config
            from idgraph.match.probabilistic import score_stored_pair

            pair = score_stored_pair(
                graph.store,
                record_a,
                record_b,
                match_config=load_match_config(match_config),
                model_path=model,
            )
    if fmt == "json":
        sys.stdout.write(
            orjson.dumps(path.model_dump(), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    elif path.steps:
        rows = [
            {
                "from": step.from_record,
                "to": step.to_record,
                "via": step.via,
                "evidence": step.identifier or step.rule,
                "fields": ",".join(step.fields),
                "score": "" if step.score is None else f"{step.score:.3f}",
            }
            for step in path.steps
        ]
        columns = ["from", "to", "via", "evidence", "fields", "score"]
        title = f"{record_a} -> {record_b}"
        _emit(_rows_as(fmt, columns, rows, title), None)
    if pair is not None:
        rows = [{"field": "(prior)", "weight": f"{pair.prior_weight:+.2f}"}]
        rows += [
            {
                "field": s.comparison,
                "level": s.level,
                "a": s.left,
                "b": s.right,
                "weight": f"{s.weight:+.2f}",
                "total": f"{s.cumulative:+.2f}",
            }
            for s in pair.steps
        ]
        title = f"score: weight {pair.weight:+.2f}, probability {pair.probability:.4f}"
        _emit(_rows_as("table", ["field", "level", "a", "b", "weight", "total"], rows, title), None)
        verdicts = []
        if pair.conflict:
            verdicts.append("a guard refuses the pair (conflicting values)")
        if pair.blocked_by is None:
            verdicts.append("no blocking rule proposes it")
        verdicts.append(
            f"{'at or above' if pair.probability >= pair.threshold else 'below'} "
            f"the threshold {pair.threshold}"
        )
        console.print("score: " + "; ".join(verdicts), highlight=False, markup=False)
    if path.same_customer and (path.steps or record_a == record_b):
        console.print(f"one customer: {path.customer_a}", highlight=False)
        return
    if path.same_customer:
        console.print(f"same customer {path.customer_a}, but no evidence path", highlight=False)
    else:
        console.print(
            f"different customers: {path.customer_a} and {path.customer_b}", highlight=False
        )
    raise typer.Exit(1)


def _reresolve(
    store: str | None, database: str | None, match_config: Path | None, overrides: Any
) -> None:
    """Store overrides and re-resolve the stored records under them (no input files)."""
    from idgraph.pipeline import run_ingest

    run_ingest(
        [],
        store=store,
        database=database,
        match_config=match_config,
        overrides=overrides,
        rejects_path=Path(".idgraph-override-rejects.jsonl"),
    )


@app.command("link")
def link_records(
    record_a: RecordA,
    record_b: RecordB,
    store: StoreOption = None,
    database: DatabaseOption = None,
    match_config: Annotated[
        Path | None, typer.Option("--match-config", "-m", help="Match config YAML.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "",
) -> None:
    """Force two records into one customer (a must-link override, kept for every later run).

    The customers of both records merge now; a reviewer's split between them wins over this.
    In Python: idgraph.run_ingest([], overrides=Overrides(must_link=[(a, b)])).
    """
    from idgraph.pipeline import Overrides
    from idgraph.query import IdentityGraph

    with _errors():
        _reresolve(
            store,
            database,
            match_config,
            Overrides(must_link=[(record_a, record_b)], reason=reason),
        )
        with IdentityGraph(store, database=database) as graph:
            path = graph.explain(record_a, record_b)
    if path.same_customer:
        console.print(f"linked: {record_a} and {record_b} are customer {path.customer_a}")
    else:
        console.print(
            f"kept apart: {record_a} ({path.customer_a}) and {record_b} ({path.customer_b}); "
            "a reviewer's split between their records wins"
        )


@app.command("split")
def split_customer(
    customer: Annotated[str, typer.Argument(help="The customer id to split.", show_default=False)],
    records: Annotated[
        str, typer.Option(help="Comma-separated record keys to take out, as one new customer.")
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    match_config: Annotated[
        Path | None, typer.Option("--match-config", "-m", help="Match config YAML.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "",
) -> None:
    """Take records out of a customer (cannot-link overrides between them and the rest, kept
    for every later run), then re-resolve.

    The part with most records keeps the customer id. In Python:
    idgraph.run_ingest([], overrides=Overrides(cannot_link=[...])).
    """
    from idgraph.errors import ConfigError
    from idgraph.pipeline import Overrides
    from idgraph.query import IdentityGraph

    taken = _names(records, "--records") or []
    with _errors():
        with IdentityGraph(store, database=database) as graph:
            members = [r.key for r in graph.profile(customer, events=1).records]
        outside = sorted(set(taken) - set(members))
        if outside:
            raise ConfigError(f"not records of {customer}: {', '.join(outside)}")
        rest = [key for key in members if key not in taken]
        if not rest:
            raise ConfigError("leave at least one record in the customer")
        pairs = [(a, b) for a in taken for b in rest]
        _reresolve(store, database, match_config, Overrides(cannot_link=pairs, reason=reason))
        with IdentityGraph(store, database=database) as graph:
            after = sorted({cid for key in members for cid in graph.lookup(key)})
    console.print(f"split {customer} into {', '.join(after)}", highlight=False)


@app.command()
def review(
    store: StoreOption = None,
    database: DatabaseOption = None,
    limit: Annotated[int, typer.Option(help="How many suspects to list.")] = 50,
    fmt: FormatOption = "table",
) -> None:
    """List suspect customers for a person to check, worst first, each with its reasons:
    several dates of birth, names that are not variants of one another, groups flagged as
    oversized, identifiers shared with other customers that were too common to link.

    In Python: IdentityGraph(store).review(limit=50).
    """
    from idgraph.query import IdentityGraph

    fmt = _check_format(fmt)
    with _errors(), IdentityGraph(store, database=database) as graph:
        items = graph.review(limit=limit)
    rows = [
        {
            "customer": item.customer_id,
            "records": item.record_count,
            "score": item.score,
            "reasons": "; ".join(item.reasons),
        }
        for item in items
    ]
    if fmt == "json":
        sys.stdout.write(
            orjson.dumps([i.model_dump() for i in items], option=orjson.OPT_INDENT_2).decode()
            + "\n"
        )
        return
    columns = ["customer", "records", "score", "reasons"]
    _emit(_rows_as(fmt, columns, rows, f"{len(rows)} customer(s) to review"), None)


LinkConfigOption = Annotated[
    str,
    typer.Option(
        "--config",
        "-c",
        help="Link config YAML, or the name of a shipped one (people). See docs/linking.md.",
    ),
]


def _read_table(path: Path) -> Any:
    """A CSV as text columns (empty = missing), for the linkage engine."""
    import pandas as pd

    from idgraph.errors import InputError

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(str(exc).splitlines()[0], path=path) from exc


def _link_config(value: str) -> Any:
    from idgraph.link import load_link_config, shipped_link_config

    return load_link_config(value) if Path(value).exists() else shipped_link_config(value)


@model_app.command("train")
def model_train(
    table: Annotated[Path, typer.Argument(help="Records as CSV, one per row.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model (JSON).")],
    config: LinkConfigOption = "people",
    labels: Annotated[
        str | None,
        typer.Option(help="A truth column: learn m from labelled pairs instead of by EM."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the random pairs u is estimated from.")] = 0,
) -> None:
    """Estimate m and u probabilities (and term frequencies) for a link config and save them.

    u comes from random record pairs; m from expectation-maximisation without labels, or from
    labelled pairs with --labels. In Python: idgraph.link.train_model(df, config).
    """
    from idgraph.link import train_model

    with _errors():
        frame = _read_table(table)
        model = train_model(frame, _link_config(config), labels=labels, seed=seed)
        model.save(output)
    console.print(f"saved model to {output} ({len(frame)} records)", highlight=False)


@model_app.command("show")
def model_show(
    path: Annotated[Path, typer.Argument(help="A saved model (JSON).", show_default=False)],
    fmt: FormatOption = "table",
) -> None:
    """Print a model's parameters: per comparison and level, m, u, Bayes factor and weight.

    In Python: idgraph.link.Model.load(path).describe().
    """
    from idgraph.errors import ConfigError
    from idgraph.link import Model

    fmt = _check_format(fmt)
    with _errors():
        try:
            model = Model.load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"not a saved model: {exc}", path=path) from exc
    rows = [
        {
            **row,
            **{
                k: None if row[k] is None else f"{row[k]:.4g}"
                for k in ("m", "u", "bayes_factor", "weight")
                if fmt != "json"
            },
        }
        for row in model.describe()
    ]
    columns = ["comparison", "level", "m", "u", "bayes_factor", "weight"]
    _emit(_rows_as(fmt, columns, rows, f"model {path.name}"), None)


@model_app.command("explain")
def model_explain(
    table: Annotated[Path, typer.Argument(help="Records as CSV, one per row.", show_default=False)],
    record_a: Annotated[str, typer.Argument(help="A record's unique id.", show_default=False)],
    record_b: Annotated[str, typer.Argument(help="Another record's unique id.")],
    model: Annotated[Path, typer.Option("--model", help="A model saved by `model train`.")],
    fmt: FormatOption = "table",
) -> None:
    """Show why two records score as they do: the prior, then each comparison's level, the
    two values and its weight, adding up to the match weight and probability (a waterfall);
    and whether blocking proposes the pair and a guard refuses it.

    In Python: idgraph.link.explain.explain_pair(df, Model.load(path), a, b).
    """
    from dataclasses import asdict

    from idgraph.errors import ConfigError
    from idgraph.link import Model
    from idgraph.link.explain import explain_pair

    fmt = _check_format(fmt)
    with _errors():
        frame = _read_table(table)
        try:
            trained = Model.load(model)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"not a saved model: {exc}", path=model) from exc
        pair = explain_pair(frame, trained, record_a, record_b)
    if fmt == "json":
        data = {**asdict(pair), "links": pair.links}
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    rows: list[dict[str, Any]] = [
        {
            "step": "(prior)",
            "weight": f"{pair.prior_weight:+.2f}",
            "total": f"{pair.prior_weight:+.2f}",
        }
    ]
    rows += [
        {
            "step": s.comparison,
            "level": s.level,
            "a": s.left,
            "b": s.right,
            "weight": f"{s.weight:+.2f}",
            "total": f"{s.cumulative:+.2f}",
        }
        for s in pair.steps
    ]
    columns = ["step", "level", "a", "b", "weight", "total"]
    _emit(_rows_as(fmt, columns, rows, f"{record_a} vs {record_b}"), None)
    verdict = "links" if pair.links else "does not link"
    why = []
    if pair.blocked_by is None:
        why.append("no blocking rule proposes this pair")
    else:
        why.append(f"proposed by blocking rule {pair.blocked_by}")
    if pair.deterministic:
        why.append("a deterministic key agrees")
    if pair.conflict:
        why.append("a guard refuses it (conflicting values)")
    console.print(
        f"weight {pair.weight:+.2f}, probability {pair.probability:.4f} "
        f"(threshold {pair.threshold}): {verdict}; " + "; ".join(why),
        highlight=False,
        markup=False,
    )


@blocking_app.command("report")
def blocking_report_command(
    table: Annotated[Path, typer.Argument(help="Records as CSV, one per row.", show_default=False)],
    config: LinkConfigOption = "people",
    truth: Annotated[
        str | None,
        typer.Option(
            help="A truth column of the table, or a CSV file of (record id, person id) rows: "
            "also report the share of true pairs blocking keeps (pair recall)."
        ),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Pairs each blocking rule makes, pairs new to the union, blocks skipped for size, and
    with --truth the true matching pairs kept (pair recall).

    In Python: idgraph.link.blocking_report(df, config, labels=...).
    """
    from idgraph.link import blocking_report

    fmt = _check_format(fmt)
    with _errors():
        frame = _read_table(table)
        link_config = _link_config(config)
        labels: Any = truth
        if truth is not None and truth not in frame.columns and Path(truth).is_file():
            pairs = _read_table(Path(truth))
            if len(pairs.columns) < 2:
                raise typer.BadParameter(
                    "needs two columns: record id, person id", param_hint="--truth"
                )
            person = dict(zip(pairs.iloc[:, 0], pairs.iloc[:, 1], strict=True))
            ids = frame[link_config.unique_id]
            missing = [i for i in ids if i not in person]
            if missing:
                raise typer.BadParameter(
                    f"{len(missing)} record(s) have no person in {truth}, e.g. {missing[0]!r}",
                    param_hint="--truth",
                )
            labels = ids.map(person)
        report = blocking_report(frame, link_config, labels=labels)
    rows = report.as_rows()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    recall = report.pair_recall
    title = f"blocking: {len(frame)} records" + (
        "" if recall is None else f", pair recall {recall:.4f}"
    )
    _emit(_rows_as(fmt, columns, rows, title), None)


@model_app.command("link")
def link_command(
    table: Annotated[Path, typer.Argument(help="Records as CSV, one per row.", show_default=False)],
    model: Annotated[Path, typer.Option("--model", help="A model saved by `model train`.")],
    output: OutputOption = None,
    threshold: Annotated[
        float | None, typer.Option(help="Match probability to link at; default the config's.")
    ] = None,
) -> None:
    """Cluster the records of a CSV with a trained probabilistic model; writes
    `unique_id,cluster_id` as CSV and prints the run's counts.

    In Python: idgraph.link.link(df, Model.load(path)).labels.
    """
    from idgraph.errors import ConfigError
    from idgraph.link import Model, link

    with _errors():
        frame = _read_table(table)
        try:
            trained = Model.load(model)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"not a saved model: {exc}", path=model) from exc
        result = link(frame, trained, threshold=threshold)
    unique = trained.config.unique_id
    rows = [
        {unique: rid, "cluster_id": cid}
        for rid, cid in zip(frame[unique], result.labels, strict=True)
    ]
    _emit(_rows_as("csv", [unique, "cluster_id"], rows, ""), output)
    r = result.report
    if r is None:
        return
    console.print(
        f"{r.records} records, {r.candidate_pairs} candidate pairs, {r.links} links, "
        f"{r.clusters} clusters, {len(result.splits)} oversized split(s), "
        f"{r.pairs_per_second:,.0f} pairs/s",
        highlight=False,
    )


@app.command()
def stats(
    store: StoreOption = None, database: DatabaseOption = None, fmt: FormatOption = "table"
) -> None:
    """Print counts: records per source, customers, events, identifiers, cluster sizes.

    In Python: IdentityGraph(store).stats().
    """
    from idgraph.query import IdentityGraph

    fmt = _check_format(fmt)
    with _errors(), IdentityGraph(store, database=database) as graph:
        result = graph.stats()
    if fmt == "json":
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    rows = [
        {"what": "records", "count": result.records},
        {"what": "customers", "count": result.customers},
        {"what": "events", "count": result.events},
    ]
    rows += [
        {"what": f"records from {s}", "count": n} for s, n in result.records_per_source.items()
    ]
    rows += [{"what": f"events {name}", "count": n} for name, n in result.events_per_name.items()]
    for kind, states in result.identifiers.items():
        for state, n in states.items():
            rows.append({"what": f"{kind} identifiers ({state.replace('_', ' ')})", "count": n})
    rows += [
        {"what": f"customers with {size} record(s)", "count": n}
        for size, n in result.cluster_sizes.items()
    ]
    sys.stdout.write(_rows_as(fmt, ["what", "count"], rows, "idgraph store"))


@export_app.command("clusters")
def export_clusters(
    store: StoreOption = None, database: DatabaseOption = None, output: OutputOption = None
) -> None:
    """Write `record_key,customer_id` as CSV for every record (stdout by default).

    In Python: IdentityGraph(store).clusters().
    """
    from idgraph.query import IdentityGraph

    with _errors(), IdentityGraph(store, database=database) as graph:
        pairs = graph.clusters()
    rows = [{"record_key": k, "customer_id": c} for k, c in pairs]
    _emit(_rows_as("csv", ["record_key", "customer_id"], rows, ""), output)


@app.command("cypher")
def cypher_command(
    query: Annotated[
        str | None,
        typer.Argument(
            help=(
                "A .cypher file, the name of a bundled analyst query (see --list), "
                "or inline Cypher in quotes."
            ),
            show_default=False,
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="A query parameter as NAME=VALUE (repeatable); typed as the file's header says.",
        ),
    ] = None,
    list_queries: Annotated[
        bool, typer.Option("--list", help="List the bundled analyst queries and exit.")
    ] = False,
    store: StoreOption = None,
    database: DatabaseOption = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    write: Annotated[
        bool,
        typer.Option("--write", help="Open the store writable, for statements that change it."),
    ] = False,
) -> None:
    """Run an analyst Cypher query (a file in cypher/ or inline) and print its rows.

    The store is opened read-only unless --write. Example:
    idgraph cypher customers_sharing_identifier --param kind=email --param value=a@b.com

    In Python: idgraph.analyst.run_query(store, idgraph.analyst.load_query(path), params).
    """
    from idgraph import analyst
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    if list_queries:
        with _errors():
            found = analyst.list_queries()
        rows = [
            {
                "name": q.name,
                "title": q.title,
                "engines": ", ".join(q.engines) or "any",
                "params": ", ".join(
                    f"{p.name}{'?' if p.optional else ''}:{p.type}" for p in q.params
                ),
            }
            for q in found
        ]
        columns = ["name", "title", "engines", "params"]
        _emit(_rows_as(fmt, columns, rows, "analyst queries (cypher/)"), output)
        return
    if query is None:
        raise typer.BadParameter("give a query file, a bundled query name or Cypher, or --list")
    with _errors():
        parsed = analyst.resolve_query(query)
        params = analyst.parse_params(parsed, param or [])
        with open_store(store, read_only=not write, database=database) as graph:
            rows = analyst.run_query(graph, parsed, params, write=write)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if fmt != "json":
        rows = [
            {
                key: orjson.dumps(value).decode() if isinstance(value, dict | list) else value
                for key, value in row.items()
            }
            for row in rows
        ]
    _emit(_rows_as(fmt, columns, rows, parsed.title), output)
    console.print(f"{parsed.name}: {len(rows)} row(s)", highlight=False)
