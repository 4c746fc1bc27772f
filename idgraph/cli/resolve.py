"""`idgraph resolve` (the whole store, or files on Spark) and `idgraph load` (a Spark run's
tables into a store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from idgraph.cli._app import (
    DatabaseOption,
    MatchConfigOption,
    StoreOption,
    _as_of_ms,
    _errors,
    _pairs,
    app,
    out,
)
from idgraph.cli.ingest import (
    DateOrderOption,
    JunkOption,
    MappingOption,
    RegionOption,
    TraitsAsOfOption,
    TraitsPathOption,
    reading_options,
)


@app.command()
def resolve(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="With --engine spark: CSV tables and JSONL event streams to resolve into "
            "--output. Without files: re-resolve everything the store holds.",
            show_default=False,
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local (the columnar core) or spark (docs/spark.md).")
    ] = "local",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="With files: the folder of Parquet tables to create (load it with "
            "`idgraph load`).",
        ),
    ] = None,
    store: StoreOption = None,
    database: DatabaseOption = None,
    match_config: MatchConfigOption = None,
    mapping: MappingOption = None,
    default_region: RegionOption = "US",
    date_order: DateOrderOption = "DMY",
    junk: JunkOption = None,
    traits: TraitsPathOption = None,
    as_of: TraitsAsOfOption = None,
    master: Annotated[
        str, typer.Option(help="Spark master: local[N], yarn, spark://host:7077, k8s://...")
    ] = "local[2]",
    conf: Annotated[
        list[str] | None,
        typer.Option(
            "--conf", help="A Spark setting as KEY=VALUE (repeatable), e.g. spark.driver.memory=8g."
        ),
    ] = None,
    buckets: Annotated[
        int | None,
        typer.Option(help="Buckets of shards resolved in parallel (default: from size and cores)."),
    ] = None,
) -> None:
    """Resolve everything again: the store's records, or input files on Apache Spark.

    Without files, re-resolves every record the store holds with the local engine (as
    `idgraph ingest --full` does). With --engine spark and files, reads and resolves them on
    Spark with the same mappings, normalization and matching, and writes Parquet tables
    (records with their customer id, customers, identifiers, links and evidence) to --output;
    the folder appears only when the whole run succeeded. `idgraph load DIR` puts them into a
    store. On the same files the customers are the ones `idgraph ingest` makes.
    In Python: idgraph.spark.resolve_files(paths, output, master=...).
    """
    if engine not in ("local", "spark"):
        raise typer.BadParameter(f"{engine!r} is not one of: local, spark", param_hint="--engine")
    moment = _as_of_ms(as_of) if as_of is not None else None
    with _errors():
        if engine == "local":
            if paths or output is not None:
                raise typer.BadParameter(
                    "the local engine re-resolves the store; resolve files with "
                    "`idgraph ingest`, or on Spark with --engine spark --output DIR"
                )
            from idgraph.pipeline import run_ingest

            resolved = run_ingest(
                [],
                store=store,
                database=database,
                match_config=match_config,
                traits=traits,
                as_of_ms=moment,
                full=True,
            )
            out.print(
                f"re-resolved {resolved.records_total} records into {resolved.customers} "
                f"customers in {resolved.seconds:.1f} s"
            )
            return
        if not paths:
            raise typer.BadParameter(
                "re-resolving a store on Spark is not supported yet: give the input files and "
                "--output DIR, then `idgraph load DIR` into an empty store"
            )
        if output is None:
            raise typer.BadParameter("give --output DIR for the Parquet tables")
        from idgraph.spark.job import resolve_files

        mappings, options = reading_options(mapping, default_region, date_order, junk)
        report = resolve_files(
            paths,
            output,
            master=master,
            conf=_pairs(conf or [], "--conf"),
            match_config=match_config,
            traits=traits,
            options=options,
            mappings=mappings,
            as_of_ms=moment,
            buckets=buckets,
        )
    summary = Table(title="spark resolve")
    summary.add_column("what")
    summary.add_column("count", justify="right")
    for label, value in (
        ("lines read", sum(f["read"] for f in report.files)),
        ("lines rejected", sum(f["rejected"] for f in report.files)),
        ("records", report.records),
        ("customers", report.customers),
        ("candidate pairs compared", report.pairs_compared),
        ("links refused by guards", report.links_blocked),
        ("shards (largest)", f"{report.shards} ({report.largest_shard} records)"),
        ("buckets", report.buckets),
        ("label propagation rounds", report.label_rounds),
    ):
        summary.add_row(label, str(value))
    out.print(summary)
    if report.rejects_path:
        out.print(f"rejected lines: {report.rejects_path}")
    out.print(f"wrote {report.output} in {report.seconds:.1f} s; load it with `idgraph load`")


@app.command()
def load(
    folder: Annotated[
        Path, typer.Argument(help="The --output folder of `idgraph resolve --engine spark`.")
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Load the Parquet tables of a Spark run into an empty store (embedded or Neo4j).

    One bulk write (COPY FROM on the embedded store, UNWIND batches on Neo4j) with the
    resolution state beside it: the store is then as `idgraph ingest` of the same files
    leaves it, and later ingests are incremental. A store that already holds records is
    refused. In Python: idgraph.spark.load.load_output(folder, store=...).
    """
    from idgraph.spark.load import load_output

    with _errors():
        report = load_output(folder, store=store, database=database)
    out.print(
        f"loaded {report.records} records and {report.customers} customers ({report.rows} rows)"
    )
