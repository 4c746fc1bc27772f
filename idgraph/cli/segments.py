"""Segment and persona commands: save, run, stats, discover, personas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from idgraph.cli._app import (
    _MEMBER_COLUMNS,
    AsOfOption,
    DatabaseOption,
    DestinationsOption,
    FormatOption,
    OutputOption,
    StoreOption,
    _as_of_ms,
    _check_format,
    _definition_arg,
    _emit,
    _errors,
    _iso,
    _names,
    _pairs,
    _rows_as,
    _summary_cell,
    console,
    out,
    persona_app,
    segment_app,
)


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
    deliver: Annotated[
        bool,
        typer.Option("--deliver", help="Then deliver the changes (see `idgraph deliver`)."),
    ] = False,
    destinations: DestinationsOption = None,
) -> None:
    """Run a segment and print its members and count.

    A saved segment's membership is materialised as IN_SEGMENT edges, and the customers who
    entered or exited since its last run are reported (--changes prints just those, the
    deltas a channel syncs); --deliver then sends them to the destinations (idgraph deliver).
    A YAML file is evaluated without saving anything.

    In Python: idgraph.segment.saved.run_saved_segment(store, name, as_of_ms=...) or
    idgraph.segment.run.run_segment(store, load_segment(path), as_of_ms=...).
    """
    from idgraph.segment.definition import load_segment
    from idgraph.segment.saved import evaluate, get_segment, run_saved_segment
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    moment = _as_of_ms(as_of)
    path = _definition_arg(target)
    with _errors():
        if path is not None:
            if changes or deliver:
                raise typer.BadParameter(
                    "--changes and --deliver need a saved segment (see `idgraph segment save`)",
                    param_hint="--changes" if changes else "--deliver",
                )
            defn = load_segment(path)
            with open_store(store, read_only=True, database=database) as graph:
                result = evaluate(graph, defn, as_of_ms=moment, folder=path.parent)
                _warn_unseen_events(graph, defn)
            rows = [m.model_dump() for m in result.members]
            title = f"segment {result.name}: {result.count} member(s)"
            _emit(_rows_as(fmt, _MEMBER_COLUMNS, rows, title), output)
            console.print(f"{result.name}: {result.count} member(s)", highlight=False)
            return
        with open_store(store, database=database) as graph:
            report = run_saved_segment(graph, target, as_of_ms=moment)
            _warn_unseen_events(graph, get_segment(graph, target).parsed())
            if deliver:
                from idgraph.cli.deliver import deliver_now

                deliver_now(graph, destinations)
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


def _warn_unseen_events(graph: Any, defn: Any) -> None:
    """A misspelt event name runs and matches nobody: say so on stderr, with the nearest."""
    from idgraph.segment.event_names import unseen_events

    for line in unseen_events(graph, defn):
        console.print(f"warning: {defn.name}: {line}", highlight=False, markup=False)


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
            _warn_unseen_events(graph, defn)
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


@segment_app.command("changes")
def segment_changes_command(
    name: Annotated[str, typer.Argument(help="A saved segment's name.", show_default=False)],
    since: Annotated[
        str | None,
        typer.Option(help="Only changes at or after this date (YYYY-MM-DD) or ISO time."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many changes.", min=1)] = 1000,
    offset: Annotated[int, typer.Option(help="Skip this many changes first.", min=0)] = 0,
    store: StoreOption = None,
    database: DatabaseOption = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
) -> None:
    """List who entered and left a saved segment, when, and why: the delta a channel syncs.

    Ingests, `idgraph link` / `split` / `forget` and the HTTP service move a run segment's
    members as soon as they re-resolve a customer; each change carries its cause (new event,
    record change, merge, split, erasure); `segment run` records its own as "segment run".

    In Python: idgraph.segment.saved.segment_changes(store, name, since_ms=...).
    """
    from idgraph.segment.saved import segment_changes
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    since_ms = _as_of_ms(since) if since is not None else 0
    with _errors(), open_store(store, read_only=True, database=database) as graph:
        found = segment_changes(graph, name, since_ms=since_ms, offset=offset, limit=limit)
    rows = [
        {"when": _iso(c.ts), "customer": c.customer, "change": c.change, "cause": c.cause}
        for c in found
    ]
    columns = ["when", "customer", "change", "cause"]
    _emit(_rows_as(fmt, columns, rows, f"changes of {name}"), output)


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
        _warn_unseen_events(graph, defn)
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
    """A saved segment's size, traits, history, overlaps and conversion.

    Size and share, trait distributions, size history and overlap with every other saved
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
    """List micro-segments: cross-cells of chosen traits above a minimum size.

    Largest first, with their key figures; each can be saved as a segment (--save).

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
    """Print a persona beside the live data of its segments.

    Each segment's size, share of all customers and a summary of their traits, as of its
    last run.

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
