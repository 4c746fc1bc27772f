"""Delivery commands: drain the outbox to the destinations, resend dead letters, show status."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from idgraph.cli._app import (
    DatabaseOption,
    DestinationsOption,
    FormatOption,
    StoreOption,
    _check_format,
    _emit,
    _errors,
    _rows_as,
    app,
    console,
)

deliver_app = typer.Typer(invoke_without_command=True)
app.add_typer(deliver_app, name="deliver")


def deliver_now(graph: object, destinations: Path | None, *, retry_dead: bool = False) -> int:
    """Drain (or resend dead letters) and print one line per destination."""
    from idgraph.activate.config import find_destinations, load_destinations
    from idgraph.activate.deliver import Deliverer
    from idgraph.store.base import GraphStore

    assert isinstance(graph, GraphStore)
    config = load_destinations(find_destinations(destinations))
    deliverer = Deliverer(graph, config)
    try:
        report = deliverer.retry_dead() if retry_dead else deliverer.drain()
    finally:
        deliverer.close()
    for name, totals in report.destinations.items():
        console.print(
            f"{name}: {totals.sent} sent, {totals.failed_attempts} failed attempt(s), "
            f"{totals.dead} dead-lettered",
            highlight=False,
        )
    return report.dead


@deliver_app.callback()
def deliver(
    ctx: typer.Context,
    store: StoreOption = None,
    database: DatabaseOption = None,
    destinations: DestinationsOption = None,
    retry_dead: Annotated[
        bool,
        typer.Option("--retry-dead", help="Resend what the dead-letter files hold instead."),
    ] = False,
) -> None:
    """Send every pending segment change to the destinations that take its segment.

    Changes are sent oldest first, with retries and exponential backoff; what still fails
    after a destination's retry budget goes to its dead-letter file (--retry-dead resends it).
    Exit code 1 when anything was dead-lettered.

    In Python: idgraph.activate.deliver.drain(store, load_destinations(path)).
    """
    if ctx.invoked_subcommand is not None:
        return
    from idgraph.settings import open_store

    with _errors(), open_store(store, database=database) as graph:
        dead = deliver_now(graph, destinations, retry_dead=retry_dead)
    if dead:
        raise typer.Exit(1)


@deliver_app.command("status")
def deliver_status(
    store: StoreOption = None,
    database: DatabaseOption = None,
    destinations: DestinationsOption = None,
    fmt: FormatOption = "table",
) -> None:
    """Show per destination what is pending, sent, failed and dead, with the last error.

    In Python: idgraph.query.IdentityGraph(store).destinations(config).
    """
    from idgraph.activate.config import find_destinations, load_destinations
    from idgraph.activate.status import delivery_status
    from idgraph.settings import open_store

    fmt = _check_format(fmt)
    with _errors():
        config = load_destinations(find_destinations(destinations))
        with open_store(store, read_only=True, database=database) as graph:
            found = delivery_status(graph, config)
    if fmt == "json":
        text = orjson.dumps([s.model_dump() for s in found], option=orjson.OPT_INDENT_2).decode()
        _emit(text + "\n", None)
        return
    columns = ["name", "kind", "pending", "sent", "failed", "dead", "last_error"]
    rows = [s.model_dump() for s in found]
    _emit(_rows_as(fmt, columns, rows, "destinations"), None)
