"""Mapping commands: a starting mapping for a CSV, guessed for a person to review."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from idgraph.cli._app import _errors, console, mapping_app


@mapping_app.command("init")
def mapping_init(
    table: Annotated[
        Path, typer.Argument(help="The CSV table to guess a mapping for.", show_default=False)
    ],
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="Write it beside the CSV as FILE.mapping.yaml instead of printing it."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --write, replace an existing mapping file.")
    ] = False,
    sample: Annotated[int, typer.Option(min=1, help="How many data rows to guess from.")] = 1000,
    delimiter: Annotated[
        str | None,
        typer.Option(help="The cell delimiter; default: sniffed among , ; tab and |."),
    ] = None,
) -> None:
    """Print a starting mapping (YAML) for a CSV, guessed from its header and values.

    Emails, phones, dates and ids are recognised by their values as well as by common header
    names in several languages (e-mail, telefono, cognome, nachname, dob, geburtsdatum, ...);
    a column holding whole names (name, full name, nominativo, ...) becomes `full_name`, split
    into first and last name; the other columns become traits typed number, boolean, date or
    string. Comments in the YAML
    say what was guessed and why: review it, then `idgraph ingest FILE.csv`. The keys are
    explained in docs/mapping.md. In Python:
    idgraph.ingest.guess_mapping.guess_mapping(path).to_yaml().
    """
    from idgraph.errors import InputError
    from idgraph.ingest.batch import TABLE_SUFFIXES
    from idgraph.ingest.guess_mapping import guess_mapping
    from idgraph.ingest.mapping import sidecar_path

    if delimiter is not None and len(delimiter) != 1:
        raise typer.BadParameter("give one character", param_hint="--delimiter")
    with _errors():
        if table.suffix.lower() not in TABLE_SUFFIXES:
            raise InputError(
                "mapping init reads CSV tables (.csv); event streams (.jsonl) need no mapping, "
                "see docs/mapping.md#event-streams",
                path=table,
            )
        target = sidecar_path(table)
        if write and target.exists() and not force:
            raise InputError(
                f"{target} exists; pass --force to replace it, or leave out --write to print "
                "the guess",
                path=table,
            )
        text = guess_mapping(table, sample_rows=sample, delimiter=delimiter).to_yaml()
    if not write:
        sys.stdout.write(text)
        return
    target.write_text(text, encoding="utf-8")
    console.print(
        f"wrote {target}: review it (each comment says why), then: idgraph ingest {table}",
        highlight=False,
    )
