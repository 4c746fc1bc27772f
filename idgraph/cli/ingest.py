"""Commands that write resolution: ingest, overrides (link, split) and review."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from idgraph.cli._app import (
    DatabaseOption,
    FormatOption,
    MatchConfigOption,
    RecordA,
    RecordB,
    StoreOption,
    _as_of_ms,
    _check_format,
    _counts,
    _emit,
    _errors,
    _names,
    _rows_as,
    app,
    console,
    out,
)
from idgraph.stages import STAGE_UNITS, split_key

if TYPE_CHECKING:
    # Imported lazily at run time: the pipeline pulls in the matching stack.
    from idgraph.ingest.mapping import SourceMapping
    from idgraph.normalize.record import NormalizeOptions
    from idgraph.pipeline import IngestReport


MappingOption = Annotated[
    list[str] | None,
    typer.Option(
        "--mapping",
        help="Explicit mapping for a CSV, as CSV=YAML (repeatable); overrides the sidecar.",
    ),
]
RegionOption = Annotated[
    str, typer.Option(help="Phone region for numbers without a country code (ISO alpha-2).")
]
DateOrderOption = Annotated[
    str, typer.Option(help="How to read ambiguous dates like 04/05/1980: DMY or MDY.")
]
JunkOption = Annotated[
    Path | None,
    typer.Option(
        help="YAML of extra junk values/patterns per identifier kind "
        "(kinds: {email: {values: [...], patterns: [...]}}), added to the built-in lists."
    ),
]
TraitsPathOption = Annotated[
    Path | None,
    typer.Option(
        "--traits",
        help="Computed-traits config YAML (default: the built-in one; see docs/traits.md).",
    ),
]
TraitsAsOfOption = Annotated[
    str | None,
    typer.Option(
        help="Compute trait windows and day counts as of this date (YYYY-MM-DD); default now."
    ),
]


def reading_options(
    mapping: list[str] | None, default_region: str, date_order: str, junk: Path | None
) -> tuple[dict[Path, SourceMapping], NormalizeOptions]:
    """The --mapping, --default-region, --date-order and --junk options of a command that
    reads input files (`ingest`, `resolve --engine spark`)."""
    from idgraph.ingest.mapping import load_mapping
    from idgraph.normalize.junk import DEFAULT_JUNK, load_junk_config
    from idgraph.normalize.record import NormalizeOptions

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
    return mappings, options


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
    match_config: MatchConfigOption = None,
    mapping: MappingOption = None,
    default_region: RegionOption = "US",
    date_order: DateOrderOption = "DMY",
    rejects: Annotated[
        Path,
        typer.Option(
            help="Where rejected lines and dropped values go (JSONL: file, line, kind "
            "line|field, field, reason, raw)."
        ),
    ] = Path("idgraph-rejects.jsonl"),
    junk: JunkOption = None,
    traits: TraitsPathOption = None,
    as_of: TraitsAsOfOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Resolve but write nothing; list the customers that would merge or split, and "
            "why. With no files, re-resolves the stored records (e.g. under a new --match-config).",
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Re-resolve every stored record, not only the customers the new records "
            "touch. Use it after changing the match config.",
        ),
    ] = False,
    timings: Annotated[
        bool,
        typer.Option(
            "--timings",
            help="Print the seconds, memory (resident, and peak so far) and count (lines read, "
            "records, customers, rows written) of every stage.",
        ),
    ] = False,
) -> None:
    """Ingest files, resolve identities and store unified customers.

    Every input line ends either ingested or in the rejects file; the summary shows
    read = ingested + rejected per file. A bad value in a usable line (a future birth date,
    a phone that does not parse, a junk email) is dropped alone: the line is ingested and
    the value goes to the rejects file as a `field` reject (the summary's "values dropped").
    A line holding binary data (a NUL byte) is one reject; an empty file reads as no lines; a
    wholly binary file (gzip, zip, images, ...) is refused alone: the others are ingested,
    the summary names it and the exit code is 2.

    Ingesting the same files again adds nothing. Ingest is incremental: only the stored
    customers the new records may join (found through shared identifiers and blocking
    keys) are re-resolved, and their computed traits (--traits) recomputed as of --as-of;
    customer ids stay stable (merges keep the oldest id, see `idgraph history`). --full
    re-resolves everything. --dry-run shows what a changed match config would merge or split
    before applying it.

    On a terminal, a bar per stage counts as it goes (bytes read per file, candidate pairs,
    customers, rows written); logs and pipes get no bars. --timings adds each stage's time,
    memory and count to the summary.

    In Python: idgraph.run_ingest(paths, store=..., traits=..., as_of_ms=..., dry_run=...).
    """
    from idgraph.pipeline import run_ingest

    moment = _as_of_ms(as_of) if as_of is not None else None
    if not paths and not dry_run:
        raise typer.BadParameter("give the files to ingest (none are needed with --dry-run)")
    with _errors():
        mappings, options = reading_options(mapping, default_region, date_order, junk)
        with _StageBars() as step:
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
                full=full,
            )
    summary = Table(title="ingest summary" + (" (dry run)" if dry_run else ""))
    # Names wrap inside their cell rather than end in "…": a count must say whose it is.
    summary.add_column("file", overflow="fold")
    summary.add_column("source", overflow="fold")
    for column in ("read", "ingested", "rejected", "values dropped"):
        summary.add_column(column, justify="right", no_wrap=True)
    notes = any(f.note for f in report.files)
    if notes:
        summary.add_column("note", overflow="fold")
    for f in report.files:
        note = [("refused: " if f.refused else "") + (f.note or "")] if notes else []
        shown = (f.read, f.ingested, f.rejected, f.field_rejects)
        summary.add_row(f.path, f.source, *map(str, shown), *note)
    totals = (report.read, report.ingested, report.rejected, report.field_rejects)
    summary.add_row("total", "", *map(str, totals), style="bold")
    out.print(summary)
    result = _counts(
        "resolution",
        [
            ("records new", report.records_new),
            ("records updated", report.records_updated),
            ("records unchanged", report.records_unchanged),
            ("records in store", report.records_total),
            (f"records re-resolved ({report.mode})", report.records_resolved),
            ("events new", report.events_new),
            ("events already stored", report.events_duplicate),
            ("customers", report.customers),
            ("customers written", report.customers_touched),
            ("customer ids merged away", len(report.merged_ids)),
            ("customers split off", len(report.split_ids)),
            ("records moved between customers", sum(n for *_, n in report.moved_records)),
            ("candidate pairs compared", report.pairs_compared),
            ("links refused by guards", report.links_blocked),
            ("pairs kept apart: households", report.pairs_kept_apart.get("households", 0)),
            ("pairs kept apart: must_agree", report.pairs_kept_apart.get("must_agree", 0)),
            ("customers flagged for review", report.flagged_customers),
            ("oversized components split", len(report.components_split)),
        ],
    )
    for kind, n in report.identifiers_not_linking.items():
        result.add_row(f"{kind} values not linking (among re-resolved)", str(n))
    out.print(result)
    if report.guards_lifted:
        out.print(
            f"guards lifted: {', '.join(report.guards_lifted)} (records at one address under "
            "one surname with different first names mostly share a birth date: no "
            "households; scoring.lift_without_households)"
        )
    sizes = ", ".join(f"{size}: {n}" for size, n in report.cluster_sizes.items())
    out.print(f"cluster sizes (records: customers) {sizes}")
    largest = ", ".join(f"{cid} ({n})" for cid, n in report.largest_clusters)
    out.print(f"largest customers: {largest}")
    for segment, counts in report.segment_changes.items():
        moved = ", ".join(f"{what}: {n}" for what, n in counts.items())
        out.print(f"segment {segment}: {moved}", highlight=False)
    if report.rejects_path:
        console.print(
            f"[yellow]{report.rejected} line(s) rejected, {report.field_rejects} value(s) "
            f"dropped[/], see {report.rejects_path}",
            highlight=False,
        )
    if report.changes is not None:
        _print_changes(report.changes)
    if timings:
        _print_timings(report)
    out.print(
        f"done in {report.seconds:.2f}s" + (" (dry run: nothing written)" if report.dry_run else "")
    )
    refused = [f for f in report.files if f.refused]
    for f in refused:
        console.print(f"[red]error:[/] {f.path}: refused, {f.note}", highlight=False)
    if refused:
        raise typer.Exit(2)  # bad input, as for any input error; the other files are stored


class _StageBars:
    """One progress bar per stage, with its count and the step it is on.

    A stage's bar follows the stage's own count once it is known (bytes read, records,
    customers, rows written) and the current step's count until then; the step's name and
    count stay beside it ("candidate pairs 435,441", "Customer 0/42,244"). Rich draws nothing
    when stderr is not a terminal, so logs and pipes get no bar lines.
    """

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[count]:>22}"),
            TextColumn("{task.fields[step]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, Any] = {}
        self._known: set[str] = set()

    def __enter__(self) -> Callable[[str, int, int], None]:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def __call__(self, key: str, done: int, total: int) -> None:
        stage, what = split_key(key)
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=None, count="", step="")
        task = self._tasks[stage]
        started = done == 0 and total == 1  # begun, count not known yet
        unit = STAGE_UNITS.get(stage, "")
        if what is None or (what == unit and unit):  # the stage's own count
            if started:
                return
            self._known.add(stage)
            text = _count(done, total, unit) if unit else ""
            if total == 0:  # nothing to do: a full bar
                done = total = 1
            self._bar.update(task, completed=done, total=total, count=text)
            return
        if stage == "read" and what != "rows normalized":  # a file, in bytes
            text = _count(done, total, "bytes")
            what = Path(what).name
        else:
            text = "…" if started else _count(done, total, "")
        self._bar.update(task, step=f"{what} {text}")
        if stage not in self._known:
            if started:
                self._bar.update(task, total=None)
            else:
                self._bar.update(task, completed=done, total=max(total, 1))


def _count(done: int, total: int, unit: str) -> str:
    """'12.3/84.1 MB', '435,441 pairs' (done), '1,200/42,244 rows' (under way)."""
    if unit == "bytes":
        return f"{done / 1e6:,.1f}/{total / 1e6:,.1f} MB"
    text = f"{total:,}" if done == total else f"{done:,}/{total:,}"
    return f"{text} {unit}".rstrip()


def _print_timings(report: IngestReport) -> None:
    table = Table(title="stages")
    for column in ("stage", "seconds", "memory MiB", "peak MiB", "count"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for row in report.timings:
        count = "" if row.count is None else f"{row.count:,} {row.unit}".rstrip()
        table.add_row(
            row.stage, f"{row.seconds:.2f}", f"{row.rss_mb:.0f}", f"{row.peak_mb:.0f}", count
        )
    out.print(table)


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


@app.command("link")
def link_records(
    record_a: RecordA,
    record_b: RecordB,
    store: StoreOption = None,
    database: DatabaseOption = None,
    match_config: MatchConfigOption = None,
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "",
) -> None:
    """Force two records into one customer (a must-link override, kept for every later run).

    The customers of both records merge now, unless joining them would break a guard (two
    distinct user ids, say): then the links the guard refuses are dropped, and records may move
    from one customer to the other instead; `idgraph history` shows why. A reviewer's split
    between them wins over this. In Python:
    idgraph.overrides.link_records(open_store(path), a, b).
    """
    from idgraph.match.config import load_match_config
    from idgraph.overrides import link_records as link
    from idgraph.settings import open_store

    with _errors(), open_store(store, database=database) as graph:
        done = link(
            graph,
            record_a,
            record_b,
            match_config=load_match_config(match_config),
            reason=reason,
        )
    if done.linked:
        console.print(f"linked: {record_a} and {record_b} are customer {done.customer_a}")
        for old, survivor in done.merged_ids:
            console.print(f"customer {old} merged into {survivor}")
        for part, origin in done.split_ids:
            console.print(f"customer {part} split off {origin}: `idgraph history {part}` says why")
        for origin, target, count in done.moved_records:
            console.print(
                f"{count} record(s) moved from {origin} to {target}: "
                f"`idgraph history {origin}` says why"
            )
    else:
        console.print(
            f"kept apart: {record_a} ({done.customer_a}) and {record_b} ({done.customer_b}); "
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
    match_config: MatchConfigOption = None,
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "",
) -> None:
    """Take records out of a customer, kept apart in every later run.

    Stores cannot-link overrides between the listed records and the rest, then re-resolves.
    The part with most records keeps the customer id. In Python:
    idgraph.overrides.split_customer(open_store(path), customer, records).
    """
    from idgraph.match.config import load_match_config
    from idgraph.overrides import split_customer as split
    from idgraph.settings import open_store

    taken = _names(records, "--records") or []
    with _errors(), open_store(store, database=database) as graph:
        done = split(
            graph,
            customer,
            taken,
            match_config=load_match_config(match_config),
            reason=reason,
        )
    console.print(f"split {customer} into {', '.join(done.into)}", highlight=False)


@app.command("unsplit")
def unsplit_customers(
    customer_a: Annotated[
        str, typer.Argument(help="One customer id, e.g. the one a split kept.", show_default=False)
    ],
    customer_b: Annotated[
        str, typer.Argument(help="The other, e.g. the part the split took out.", show_default=False)
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    match_config: MatchConfigOption = None,
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "",
    by: Annotated[str, typer.Option(help="Who undoes it, for the record.")] = "",
) -> None:
    """Undo a reviewer's split between two customers.

    Removes every cannot-link `idgraph split` stored between their records, then re-resolves
    them: the evidence that joined them joins them again. Both ids' history keeps the split
    and records the undo (who, why, and the split's own reason). In Python:
    idgraph.overrides.unsplit_customers(open_store(path), a, b).
    """
    from idgraph.match.config import load_match_config
    from idgraph.overrides import unsplit_customers as unsplit
    from idgraph.settings import open_store

    with _errors(), open_store(store, database=database) as graph:
        done = unsplit(
            graph,
            customer_a,
            customer_b,
            match_config=load_match_config(match_config),
            reason=reason,
            by=by,
        )
    console.print(
        f"removed {len(done.removed)} cannot-link(s) between {done.customer_a} and "
        f"{done.customer_b}",
        highlight=False,
    )
    if done.joined:
        console.print(f"their records are customer {done.into[0]}", highlight=False)
    else:
        console.print(
            f"their records stay apart as {', '.join(done.into)}: nothing joins them now "
            f"(`idgraph explain` says why)",
            highlight=False,
        )


@app.command()
def forget(
    identifier: Annotated[
        str,
        typer.Argument(
            help="The person's email, phone, user id, record key or customer id.",
            show_default=False,
        ),
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    match_config: MatchConfigOption = None,
    default_region: Annotated[str, typer.Option(help="Phone region for a national number.")] = "US",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
) -> None:
    """Erase a person: delete every record and event of the customer the identifier names.

    The customers around them are re-resolved (an identifier the person shared may link
    again), saved segments drop the customer (cause "erasure"), and `idgraph history` shows
    the id as erased. Their email, phone, user and customer ids are kept only as keyed
    one-way hashes (set IDGRAPH_ERASURE_KEY), and any later input line carrying one is
    refused into the rejects file. An identifier on several customers names no one person:
    forget by customer id. Prints counts, never the erased values.

    In Python: idgraph.erasure.forget(store, identifier).
    """
    from idgraph.erasure import forget as forget_person
    from idgraph.match.config import load_match_config
    from idgraph.settings import open_store

    with _errors(), open_store(store, database=database, read_only=dry_run) as graph:
        done = forget_person(
            graph,
            identifier,
            default_region=default_region.upper(),
            match_config=load_match_config(match_config),
            dry_run=dry_run,
        )
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(done.identifiers.items()))
    verb = "would forget" if done.dry_run else "forgot"
    console.print(
        f"{verb} customer {done.customer}: {len(done.records)} record(s), {done.events} "
        f"event(s), identifiers: {kinds or 'none'}; {done.remembered} kept as one-way hashes",
        highlight=False,
    )
    if done.resolution is not None:
        r = done.resolution
        console.print(
            f"re-resolved {r.records_resolved} record(s) around them; "
            f"{r.customers_touched} customer(s) rewritten",
            highlight=False,
        )


@app.command()
def review(
    store: StoreOption = None,
    database: DatabaseOption = None,
    limit: Annotated[int, typer.Option(help="How many suspects to list.")] = 50,
    fmt: FormatOption = "table",
) -> None:
    """List suspect customers for a person to check, worst first, with their reasons.

    Reasons: several dates of birth, names that are not variants of one another, groups
    flagged as oversized, identifiers shared with other customers that were too common to link.

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
