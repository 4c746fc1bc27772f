"""Shared pieces of the `idgraph` command: the typer apps, option types and output helpers.

Each command parses its options, calls one library function and turns an `IdGraphError` into a
one-line message and exit code 2 (bad input or config) or 3 (store failure).
"""

from __future__ import annotations

import csv
import inspect
import io
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
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
mapping_app = typer.Typer(help="Source mappings: which CSV column is the id, the email, a trait.")
app.add_typer(segment_app, name="segment")
app.add_typer(export_app, name="export")
app.add_typer(schema_app, name="schema")
app.add_typer(persona_app, name="persona")
app.add_typer(mapping_app, name="mapping")

#: Messages on stderr are not wrapped by rich: a long path broken over two lines can be neither
#: copied nor searched for; the terminal wraps them instead.
console = Console(stderr=True, soft_wrap=True)
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
DestinationsOption = Annotated[
    Path | None,
    typer.Option(
        "--destinations",
        envvar="IDGRAPH_DESTINATIONS",
        help="Destinations YAML (docs/destinations.md). Default: segments/destinations.yaml, "
        "else ./destinations.yaml.",
        show_default=False,
    ),
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


def unwrap_help(typer_app: typer.Typer) -> None:
    """Join the line breaks inside each paragraph of every command's docstring.

    Typer keeps a docstring's single line breaks after the first paragraph, so text wrapped
    at 96 columns in the source came out ragged in an 80-column terminal. Paragraphs (blank
    lines between them) stay; the terminal does the wrapping.
    """
    infos: list[Any] = [*typer_app.registered_commands]
    if isinstance(typer_app.info.help, str):
        typer_app.info.help = _unwrapped(typer_app.info.help)
    elif typer_app.registered_callback is not None:
        infos.append(typer_app.registered_callback)
    for info in infos:
        info.help = _unwrapped(info.help or inspect.getdoc(info.callback) or "")
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            unwrap_help(group.typer_instance)


def _unwrapped(text: str) -> str:
    return "\n\n".join(" ".join(p.split("\n")) for p in text.split("\n\n"))


@contextmanager
def _errors() -> Iterator[None]:
    """Turn idgraph's own errors into one line on stderr and an exit code."""
    try:
        yield
    except IdGraphError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
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
        writer = csv.DictWriter(
            buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
        )
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


MatchConfigOption = Annotated[
    Path | None,
    typer.Option("--match-config", "-m", help="Match config YAML (default: the built-in one)."),
]
TraitsOption = Annotated[
    Path | None,
    typer.Option(help="Computed-traits config YAML (default: the built-in one)."),
]
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
        if _is_timestamp(summary.trait):
            # A mean of instants says little; the middle one and the span say when.
            return (
                f"median {_iso(int(n.median))}, "
                f"range {_iso(int(n.minimum))}..{_iso(int(n.maximum))}"
            )
        return f"mean {n.mean:.2f}, median {n.median:.2f}, range {n.minimum:g}..{n.maximum:g}"
    return ", ".join(f"{v.value} {v.share:.0%}" for v in summary.values)


def _is_timestamp(name: str) -> bool:
    """Timestamp traits and columns end in `_ts` and hold epoch milliseconds (docs/traits.md)."""
    return name.endswith("_ts")


def _shown(name: str, value: object) -> str:
    """A golden field or trait as a person reads it: epoch milliseconds as a UTC time."""
    if _is_timestamp(name) and isinstance(value, int) and not isinstance(value, bool):
        return _iso(value)
    return str(value)


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _counts(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    """A two-column summary table: what, and how many."""
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in rows:
        table.add_row(label, str(value))
    return table
