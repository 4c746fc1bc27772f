"""`idgraph export neo4j-import`: a store's graph as files for Neo4j's offline importer."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from idgraph.cli._app import StoreOption, _errors, console, export_app, out


@export_app.command("neo4j-import")
def export_neo4j_import(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder to write the files into (created if missing).", show_default=False
        ),
    ],
    store: StoreOption = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write into a folder that holds files, replacing ours."),
    ] = False,
    database: Annotated[
        str, typer.Option("--neo4j-database", help="The Neo4j database the printed command loads.")
    ] = "neo4j",
) -> None:
    """Write an embedded store's graph as CSV files for `neo4j-admin database import full`.

    For a first load of millions of records into an EMPTY Neo4j database: ingest into the
    embedded store, export, stop Neo4j, run DIR/import.sh (which replaces the database), start
    Neo4j, then `idgraph schema apply --store bolt://...`. Every label and relationship type
    gets a header file and a data file (nodes-Record.header.csv, nodes-Record.csv,
    relationships-MATCHED.csv, ...) holding the properties and types the Neo4j store writes;
    the store is read a page at a time, so memory stays bounded. See docs/neo4j.md ("First
    load of a large graph"). In Python: idgraph.store.neo4j_import.export_neo4j_import(DIR,
    store=...).
    """
    from idgraph.store.neo4j_import import ImportFile
    from idgraph.store.neo4j_import import export_neo4j_import as export

    def report(item: ImportFile) -> None:
        console.print(f"  {item.kind} {item.name}: {item.rows:,}", highlight=False)

    with _errors():
        files = export(directory, store=store, force=force, on_file=report)
    console.print(
        f"wrote {files.nodes:,} nodes and {files.relationships:,} relationships to {directory}",
        highlight=False,
        soft_wrap=True,
    )
    if files.multiline:
        names = ", ".join(p.name for p in files.multiline_files)
        console.print(
            f"values span lines in {names}: the command adds --multiline-fields=true",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        "Stop Neo4j, run the command below (it REPLACES the database), start Neo4j, then run "
        "`idgraph schema apply --store bolt://HOST:7687`. The same command is in "
        f"{shlex.quote(str(files.script))}:",
        highlight=False,
        soft_wrap=True,
    )
    out.print(files.command(database=database), highlight=False, soft_wrap=True)
