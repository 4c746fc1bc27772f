"""`idgraph serve`: the real-time HTTP service (FastAPI on uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from idgraph.cli._app import (
    DatabaseOption,
    DestinationsOption,
    MatchConfigOption,
    StoreOption,
    TraitsOption,
    _errors,
    app,
    console,
)

if TYPE_CHECKING:
    from idgraph.activate.config import DestinationsConfig


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind; --no-auth only on a loopback one.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    store: StoreOption = None,
    database: DatabaseOption = None,
    match_config: MatchConfigOption = None,
    traits: TraitsOption = None,
    destinations: DestinationsOption = None,
    rejects: Annotated[
        Path,
        typer.Option(
            help="Rejected calls and values dropped from stored calls are appended here "
            "(JSONL: file, line, kind line|field, field, reason, raw)."
        ),
    ] = Path("idgraph-serve-rejects.jsonl"),
    source: Annotated[
        str, typer.Option(help="Source name of every record and event the service stores.")
    ] = "http",
    default_region: Annotated[
        str, typer.Option(help="Phone region for numbers without a country code (ISO alpha-2).")
    ] = "US",
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Accept collection and reads without an API key (loopback hosts only); the "
            "admin endpoints still need a key from IDGRAPH_ADMIN_KEYS.",
        ),
    ] = False,
    max_body: Annotated[
        int, typer.Option(help="Body limit of a single call, and of each call in a batch (bytes).")
    ] = 32 * 1024,
    max_batch_body: Annotated[
        int, typer.Option(help="Body limit of a /v1/batch request (bytes).")
    ] = 500 * 1024,
    max_batch_calls: Annotated[int, typer.Option(help="Calls one batch may hold.")] = 2500,
    checkpoint_idle: Annotated[
        float,
        typer.Option(
            help="After this many seconds without calls, fold the commits into the store file "
            "(embedded store; 0: only past IDGRAPH_CHECKPOINT_MB of log, and at stop).",
            min=0,
        ),
    ] = 10.0,
    log_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="IDGRAPH_LOG_DIR",
            help="Folder of the durable call log. Default: <store>.calls beside the store.",
        ),
    ] = None,
    log_group_wait_ms: Annotated[
        float,
        typer.Option(
            envvar="IDGRAPH_LOG_GROUP_WAIT_MS",
            help="Wait this long for more calls before each fsync of the call log.",
            min=0,
        ),
    ] = 0.0,
    resolve_max_calls: Annotated[
        int,
        typer.Option(
            envvar="IDGRAPH_RESOLVE_MAX_CALLS",
            help="Calls the background resolver applies in one transaction at most.",
            min=1,
        ),
    ] = 5000,
    resolve_wait_ms: Annotated[
        float,
        typer.Option(
            envvar="IDGRAPH_RESOLVE_WAIT_MS",
            help="After the oldest unresolved call, wait this long for more before resolving.",
            min=0,
        ),
    ] = 50.0,
    wait_timeout: Annotated[
        float,
        typer.Option(
            envvar="IDGRAPH_WAIT_TIMEOUT_S",
            help="Longest a ?wait=true request waits for resolution (seconds).",
            min=0.001,
        ),
    ] = 10.0,
    workers: Annotated[
        int,
        typer.Option(
            envvar="IDGRAPH_WORKERS",
            min=1,
            max=64,
            help="HTTP worker processes. 1: one process answers HTTP and resolves. More: "
            "this process resolves and the workers answer, each appending to a call-log lane "
            "of its own (about one per core).",
        ),
    ] = 1,
    resolver_nice: Annotated[
        int,
        typer.Option(
            envvar="IDGRAPH_RESOLVER_NICE",
            min=0,
            max=19,
            help="With --workers > 1: CPU priority (nice) of the resolver below the workers, "
            "so calls are acknowledged fast even when resolving falls behind (0: equal).",
        ),
    ] = 10,
    resolver_cpu: Annotated[
        str,
        typer.Option(
            envvar="IDGRAPH_RESOLVER_CPU",
            help="Pin the resolver and Polars' thread pool to one CPU while a micro-batch "
            "runs: auto (the CPU the resolver woke up on; Linux, two or more CPUs), off, or a "
            "CPU number. Its many small operations then hand work to the pool without waking "
            "another CPU (docs/serve.md).",
        ),
    ] = "auto",
    store_cache: Annotated[
        int | None,
        typer.Option(
            "--store-cache-mb",
            envvar="IDGRAPH_BUFFER_POOL_MB",
            min=64,
            help="Bound the embedded store's buffer pool (MiB); default the engine's, most of "
            "the machine's RAM, which a long run fills. The engine also works in it: too small "
            "and resolving fails (the calls stay in the log) — see docs/serve.md.",
        ),
    ] = None,
    store_reopen: Annotated[
        int,
        typer.Option(
            "--store-reopen-mb",
            envvar="IDGRAPH_STORE_REOPEN_MB",
            min=0,
            help="Reopen the embedded store between micro-batches once the resolver's process "
            "has grown by this many MiB more than the store's file size (the engine's page "
            "cache): the engine keeps memory from every write until it is closed (0: never).",
        ),
    ] = 512,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP API: Segment-compatible collection and customer reads.

    POST /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/alias, /v1/group and /v1/batch
    append each call to a durable log and answer; a background resolver applies them
    (?wait=true answers once resolved; GET /v1/status shows the queue); GET /v1/lookup,
    /v1/customers/{id}, /v1/segments/{name}/members and /v1/explain read the graph. API keys
    come from IDGRAPH_API_KEYS (comma-separated); clients send HTTP Basic with the key as user
    name, or `Authorization: Bearer KEY`. The admin endpoints (POST /v1/admin/forget,
    /v1/admin/link, /v1/admin/split, /v1/admin/unsplit; GET /v1/admin/history/{id}) take only
    keys from
    IDGRAPH_ADMIN_KEYS (comma-separated, separate from the write keys); without them they
    are off (403), --no-auth included. OpenAPI docs at /docs. With --workers N, N processes
    answer HTTP and this one resolves. With destinations (--destinations, or a
    destinations.yaml found), this process also delivers segment changes continuously;
    GET /v1/destinations shows the delivery status. A web page for people is at /ui: sign in
    with a write key to search customers, see their identity graph and build segments; an
    admin key that is also a write key splits, links and saves (docs/ui.md). See
    docs/serve.md, docs/destinations.md.

    In Python: idgraph.serve.create_app(open_store(store), ServeSettings(...)).
    """
    import uvicorn

    from idgraph.match.config import load_match_config
    from idgraph.normalize.record import NormalizeOptions
    from idgraph.serve import ServeSettings, admin_keys_from_env, api_keys_from_env, create_app
    from idgraph.serve.affinity import check_cpu, parse_cpu
    from idgraph.serve.heap import settle_heap
    from idgraph.serve.settings import check_auth_setup
    from idgraph.serve.workers import serve_with_workers
    from idgraph.settings import open_store
    from idgraph.traits.config import load_traits_config

    with _errors():
        try:
            settings = ServeSettings(
                api_keys=api_keys_from_env(),
                admin_keys=admin_keys_from_env(),
                auth=not no_auth,
                source=source,
                options=NormalizeOptions(default_region=default_region),
                match_config=load_match_config(match_config),
                traits=load_traits_config(traits),
                destinations=_destinations(destinations),
                rejects_path=rejects,
                max_call_bytes=max_body,
                max_batch_bytes=max_batch_body,
                checkpoint_idle_s=checkpoint_idle,
                store_reopen_mb=store_reopen,
                max_batch_calls=max_batch_calls,
                log_path=log_dir,
                log_group_wait_ms=log_group_wait_ms,
                resolve_max_calls=resolve_max_calls,
                resolve_wait_ms=resolve_wait_ms,
                wait_timeout_s=wait_timeout,
                resolver_cpu=check_cpu(parse_cpu(resolver_cpu)),
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        check_auth_setup(settings, host)
        with open_store(store, database=database, cache_mb=store_cache) as graph:
            auth = "off (loopback only)" if no_auth else f"{len(settings.api_keys)} key(s)"
            admins = len(settings.admin_keys)
            admin = f"{admins} admin key(s)" if admins else "admin endpoints off"
            console.print(
                f"idgraph serve: store {graph.location}, http://{host}:{port} (docs at /docs), "
                f"auth {auth}, {admin}, rejects to {rejects}, {workers} worker(s)"
            )
            if workers > 1:
                serve_with_workers(
                    graph,
                    settings,
                    host=host,
                    port=port,
                    workers=workers,
                    log_level=log_level,
                    resolver_nice=resolver_nice,
                )
                return
            app_ = create_app(graph, settings)
            settle_heap()
            uvicorn.run(app_, host=host, port=port, log_level=log_level, access_log=False)


def _destinations(path: Path | None) -> DestinationsConfig | None:
    """The destinations to deliver to: the file given, else one found in the usual places."""
    from idgraph.activate.config import find_destinations, load_destinations
    from idgraph.errors import ConfigError

    try:
        found = find_destinations(path)
    except ConfigError:
        if path is not None:
            raise
        return None
    return load_destinations(found)
