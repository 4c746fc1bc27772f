"""`idgraph resolve` (the whole store, or files on Spark) and `idgraph load` (a Spark run's
tables into a store)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from idgraph.cli._app import (
    DatabaseOption,
    MatchConfigOption,
    StoreOption,
    _as_of_ms,
    _counts,
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

if TYPE_CHECKING:
    from idgraph.spark.store_run import StoreRunReport


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
    work_dir: Annotated[
        Path | None,
        typer.Option(
            help="With --engine spark and no files: where the store's rows and the run's "
            "parts go (on a cluster: a folder every executor reads at the same path; "
            "default: a temporary folder)."
        ),
    ] = None,
) -> None:
    """Resolve everything again: the store's records, or input files on Apache Spark.

    Without files, re-resolves every record the store holds (as `idgraph ingest --full`
    does), with the local engine or on Spark: the store's rows are read out, resolved on
    Spark and written back through the same write path, with the same customers, ids and
    history; nothing is written unless the whole Spark run succeeds. With --engine spark
    and files, reads and resolves them on
    Spark with the same mappings, normalization and matching, and writes Parquet tables
    (records with their customer id, customers, identifiers, links and evidence) to --output;
    the folder appears only when the whole run succeeded. `idgraph load DIR` puts them into a
    store. On the same files the customers are the ones `idgraph ingest` makes.

    In Python: idgraph.spark.resolve_files(paths, output, master=...) and
    idgraph.spark.resolve_store(store, master=...).
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
        on_spark: dict[str, Any] = {
            "master": master,
            "conf": _pairs(conf or [], "--conf"),
            "match_config": match_config,
            "traits": traits,
            "as_of_ms": moment,
            "buckets": buckets,
        }
        if not paths:
            if output is not None:
                raise typer.BadParameter(
                    "--output is for input files; without files the store is re-resolved in place"
                )
            from idgraph.spark.store_run import resolve_store

            stored = resolve_store(store, database=database, work_dir=work_dir, **on_spark)
            _print_store_run(stored)
            return
        if output is None:
            raise typer.BadParameter("give --output DIR for the Parquet tables")
        from idgraph.spark.job import resolve_files

        mappings, options = reading_options(mapping, default_region, date_order, junk)
        report = resolve_files(paths, output, options=options, mappings=mappings, **on_spark)
    out.print(
        _counts(
            "spark resolve",
            [
                ("lines read", sum(f["read"] for f in report.files)),
                ("lines rejected", sum(f["rejected"] for f in report.files)),
                ("records", report.records),
                ("customers", report.customers),
                ("candidate pairs compared", report.pairs_compared),
                ("links refused by guards", report.links_blocked),
                ("shards (largest)", f"{report.shards} ({report.largest_shard} records)"),
                ("buckets", report.buckets),
                ("label propagation rounds", report.label_rounds),
            ],
        )
    )
    if report.rejects_path:
        out.print(f"rejected lines: {report.rejects_path}")
    out.print(f"wrote {report.output} in {report.seconds:.1f} s; load it with `idgraph load`")


def _print_store_run(report: StoreRunReport) -> None:
    out.print(
        _counts(
            "spark resolve (store)",
            [
                ("records", report.records),
                ("customers", report.customers),
                ("candidate pairs compared", report.pairs_compared),
                ("links refused by guards", report.links_blocked),
                ("customer ids merged", report.merged_ids),
                ("customers split", report.split_ids),
                ("records moved", report.moved_records),
                ("shards (largest)", f"{report.shards} ({report.largest_shard} records)"),
                ("buckets", report.buckets),
                ("label propagation rounds", report.label_rounds),
            ],
        )
    )
    for segment, counts in sorted(report.segment_changes.items()):
        moved = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
        out.print(f"segment {segment}: {moved}")
    out.print(
        f"re-resolved {report.records} records into {report.customers} customers "
        f"in {report.seconds:.1f} s"
    )


@app.command()
def load(
    folder: Annotated[
        Path, typer.Argument(help="The --output folder of `idgraph resolve --engine spark`.")
    ],
    store: StoreOption = None,
    database: DatabaseOption = None,
) -> None:
    """Load the Parquet tables of a Spark run into a store (embedded or Neo4j).

    One bulk write (COPY FROM on the embedded store, UNWIND batches on Neo4j) with the
    resolution state beside it: the store is then as `idgraph ingest` of the same files
    leaves it, and later ingests are incremental. Into a store that already holds records,
    the run must have resolved all of them (a nightly run over every source): its customers
    keep the stored ids, and merges and splits go into the ids' history. A run that misses
    stored records or events, breaks a reviewer's split or link, or holds identifiers erased
    from the store is refused and the store left as it was.

    In Python: idgraph.spark.load.load_output(folder, store=...).
    """
    from idgraph.spark.load import load_output

    with _errors():
        report = load_output(folder, store=store, database=database)
    out.print(
        f"loaded {report.records} records and {report.customers} customers ({report.rows} rows); "
        f"ids merged {report.merged_ids}, customers split {report.split_ids}, "
        f"records moved {report.moved_records}"
    )
