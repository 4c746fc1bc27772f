"""Read commands: profile, explain, stats, export, schema, cypher."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from idgraph.cli._app import (
    DatabaseOption,
    FormatOption,
    OutputOption,
    RecordA,
    RecordB,
    StoreOption,
    _check_format,
    _emit,
    _errors,
    _iso,
    _rows_as,
    _shown,
    app,
    console,
    export_app,
    out,
    schema_app,
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
    junk: Annotated[
        Path | None,
        typer.Option(
            help="The junk lists YAML the store was ingested with (ingest --junk), so a value "
            "they drop is reported as junk; default the built-in lists."
        ),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Print one customer's 360° view: golden fields, traits, records, identifiers, events.

    A value that finds nobody because idgraph treats it as junk (test@test.com, 0000000000,
    anything at example.com) is reported as such, with the junk rule and how to change it.

    In Python: IdentityGraph(store).profile(IdentityGraph(store).lookup(identifier)[0]);
    IdentityGraph(store).why_not_found(identifier) when the lookup is empty.
    """
    from idgraph.errors import NotFoundError
    from idgraph.normalize.junk import DEFAULT_JUNK, load_junk_config
    from idgraph.query import IdentityGraph

    fmt = _check_format(fmt)
    with _errors():
        lists = load_junk_config(junk) if junk else DEFAULT_JUNK
        with IdentityGraph(
            store, default_region=default_region.upper(), database=database, junk=lists
        ) as graph:
            ids = graph.lookup(identifier)
            if not ids:
                raise NotFoundError(graph.why_not_found(identifier))
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


@app.command()
def history(
    customer_id: Annotated[
        str, typer.Argument(help="A customer id, current or merged away.", show_default=False)
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
    fmt: FormatOption = "table",
) -> None:
    """Show what happened to a customer id: created, merged, split, erased, and where it is now.

    Ids survive re-runs: on a merge the oldest id survives and the others are recorded as
    MERGED_INTO it (with the evidence); on a split the part with most records keeps the id
    and the others are recorded as SPLIT_FROM it; records that leave for another customer
    that lives on are recorded as MOVED_TO it (moved out / moved in). Looking up a merged id
    answers with the survivor. In Python: IdentityGraph(store).history(customer_id).
    """
    from idgraph.query import IdentityGraph

    fmt = _check_format(fmt)
    with _errors(), IdentityGraph(store, database=database) as graph:
        found = graph.history(customer_id)
    if fmt == "json":
        sys.stdout.write(orjson.dumps(found.model_dump(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    rows = [
        {
            "when": _iso(e.ts) if e.ts else "",
            "what": e.kind.replace("_", " "),
            "other id": e.other or "",
            "records": "" if e.records is None else e.records,
            "evidence / reason": e.detail,
        }
        for e in found.entries
    ]
    if fmt == "csv":
        sys.stdout.write(_rows_as("csv", list(rows[0]) if rows else ["when"], rows, ""))
        return
    now = found.current or "nobody (erased or unknown)"
    out.print(f"{found.id}: {found.status}; its records are now customer {now}", highlight=False)
    table = Table(title=f"history of {found.id}")
    for column in ("when", "what", "other id", "records", "evidence / reason"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    out.print(table)


def _print_profile(p: Any) -> None:
    head = Table(title=f"customer {p.id}", show_header=False)
    head.add_column("field")
    head.add_column("value")
    for key, value in {**p.golden, **p.traits}.items():
        head.add_row(key, _shown(key, value))
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


def _score_pair(graph: Any, record_a: str, record_b: str, config: Any) -> Any:
    """The store's match model scoring two stored records (`idgraph.match.waterfall`)."""
    import polars as pl

    from idgraph.match.view import with_customer_ids
    from idgraph.match.waterfall import score_pair
    from idgraph.state.model import stored_model
    from idgraph.state.rebuild import open_mirror

    mirror = open_mirror(graph.store, config)
    records = with_customer_ids(
        mirror.view("records").collect(), mirror.view("identifiers").collect()
    )
    refused = mirror.view("verdicts").filter(~pl.col("linking")).collect()["key"]
    model = stored_model(graph.store, config)
    return score_pair(records, record_a, record_b, config, model, refused)


def _emit_score(pair: Any) -> None:
    rows = [{"field": "(prior)", "weight": f"{pair.prior_weight:+.2f}"}]
    rows += [
        {
            "field": s.field,
            "level": s.level,
            "a": s.left or "",
            "b": s.right or "",
            "weight": f"{s.weight:+.2f}",
            "total": f"{s.cumulative:+.2f}",
        }
        for s in pair.steps
    ]
    title = f"score: weight {pair.weight:+.2f}, probability {pair.probability:.4f}"
    _emit(_rows_as("table", ["field", "level", "a", "b", "weight", "total"], rows, title), None)
    verdicts = []
    if not pair.model_learned:
        verdicts.append("shipped weights (the store has not learned its own)")
    if not pair.proposed_by:
        verdicts.append("no scored rule proposes it (no shared block)")
    if pair.disagree_on:
        verdicts.append(f"{', '.join(pair.disagree_on)} plainly disagree (must_agree)")
    if pair.lifted:
        verdicts.append(
            f"guards {', '.join(pair.lifted)} lifted: the store's records hold no "
            "households (scoring.lift_without_households)"
        )
    verdicts.append(
        f"{'at or above' if pair.probability >= pair.threshold else 'below'} "
        f"the threshold {pair.threshold}"
    )
    console.print("score: " + "; ".join(verdicts), highlight=False, markup=False)


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
            help="Also score the pair with the store's match model: each field's level and "
            "weight (a waterfall), to see why they link or why not. With -f json it goes "
            "inside the answer; not with -f csv.",
        ),
    ] = False,
    match_config: Annotated[
        Path | None,
        typer.Option(
            "--match-config",
            "-m",
            help="The match config the store was resolved with: its guard settings are named "
            "in the refusals, and --score uses it. Default: the built-in one.",
        ),
    ] = None,
) -> None:
    """Show why two records are one customer: the chain of shared identifiers and matches.

    For records of different customers it says why they are not one: each identifier they
    share that does not link, with its stored reason (e.g. "joins 2 distinct user_id (limit
    1)"), guards that refuse a link between their customers, blocking keys too common to
    compare and reviewer splits, each with the match config setting behind it and how to
    change it. Exit code 1 when no linking evidence joins them. In Python:
    IdentityGraph(store).explain(record_a, record_b) (its `steps` and `refusals`).
    """
    from idgraph.match.config import load_match_config
    from idgraph.query import IdentityGraph

    fmt = _check_format(fmt)
    if score and fmt == "csv":
        raise typer.BadParameter(
            "--score adds a second table (the waterfall) and CSV holds one: "
            "use -f json for programs or -f table to read it",
            param_hint="--format",
        )
    pair = None
    with _errors():
        config = load_match_config(match_config)
        with IdentityGraph(store, database=database, match_config=config) as graph:
            path = graph.explain(record_a, record_b)
            if score:
                pair = _score_pair(graph, record_a, record_b, config)
    if fmt == "json":
        # One document: the waterfall goes inside it, or `--score -f json` is not JSON.
        answer = path.model_dump()
        if pair is not None:
            answer["score"] = {**dataclasses.asdict(pair), "links": pair.links}
            pair = None
        sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
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
        _emit_score(pair)
    if path.same_customer and (path.steps or record_a == record_b):
        console.print(f"one customer: {path.customer_a}", highlight=False)
        return
    if path.same_customer:
        console.print(f"same customer {path.customer_a}, but no evidence path", highlight=False)
    else:
        console.print(
            f"different customers: {path.customer_a} and {path.customer_b}", highlight=False
        )
        if fmt != "json":
            _print_refusals(path, fmt)
    raise typer.Exit(1)


def _print_refusals(path: Any, fmt: str) -> None:
    """Why two records are not one customer: what they share, and the setting that refuses it."""
    if not path.refusals:
        out.print(
            "why not one customer: their customers share no identifier, and no guard or split "
            "stands between them; no fuzzy rule matched them (--score shows how they compare)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        return
    rows = [
        {
            "refused": r.kind,
            "identifier": r.identifier or "",
            "records": ", ".join(r.records),
            "reason": r.reason,
            "setting": r.setting or "",
            "to change": r.change,
        }
        for r in path.refusals
    ]
    if fmt == "csv":
        _emit(_rows_as("csv", list(rows[0]), rows, ""), None)
        return
    lines = ["why not one customer:"]
    for row in rows:
        subject = " ".join(x for x in (row["refused"], row["identifier"]) if x)
        held = f" (on {row['records']})" if row["records"] else ""
        lines.append(f"- {subject}{held}: {row['reason']}")
        if row["setting"]:
            lines.append(f"  setting: {row['setting']}; to change: {row['to change']}")
    out.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)


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
