"""The production store: Neo4j 5 over Bolt, through the official `neo4j` driver.

Writes go in batches (`UNWIND $rows ... MERGE`, `batch_size` rows per managed transaction, which
the driver retries on transient errors) rather than as one transaction, because one ingest can
be millions of rows. Each batch is idempotent — `MERGE` on keys backed by uniqueness
constraints — so an ingest that fails half-way is completed by running it again. The statements
themselves live in the dialect layer (`NEO4J_WRITES`); this module only moves rows.

Only this module imports the driver, so `import idgraph.query` stays light.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import neo4j
import polars as pl
from neo4j import GraphDatabase, RoutingControl
from neo4j.exceptions import (
    AuthError,
    ConfigurationError,
    DatabaseUnavailable,
    DriverError,
    Forbidden,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)
from neo4j.graph import Node, Path, Relationship

from idgraph import __version__
from idgraph.errors import ConfigError, StoreError, StoreQueryError, StoreUnavailable
from idgraph.models import EXPLICIT_LINK_RULES
from idgraph.stages import Progress
from idgraph.store.accounts import account_writes
from idgraph.store.base import GraphStore, Row, WriteProgress
from idgraph.store.dialect import NEO4J, NEO4J_CHECKS, NEO4J_WRITES
from idgraph.store.plan import WritePlan
from idgraph.store.queries import STATE_KEY
from idgraph.store.rows import customer_frame, event_frame, node_frame
from idgraph.store.schema import NODE_TABLES, PRIMARY_KEYS, ColumnType, check_property_name

logger = logging.getLogger(__name__)
# The driver logs failures it also raises; idgraph reports those itself, in one line. Without a
# handler of its own, Python's last-resort handler would print them too (`-v` still shows them).
logging.getLogger("neo4j").addHandler(logging.NullHandler())

#: Rows per write transaction: big enough to amortise a round trip, small enough for the heap.
DEFAULT_BATCH_SIZE: Final = 2000
#: The oldest Neo4j major version whose Cypher idgraph writes (`COUNT {}`, `SHOW CONSTRAINTS`).
MIN_MAJOR_VERSION: Final = 5
_START_HINT: Final = (
    "is it running? Start it with `docker compose up -d` and wait until `docker compose ps` "
    "shows it healthy"
)


def auth_from_env(env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """Credentials from `NEO4J_USER` + `NEO4J_PASSWORD`, else `NEO4J_AUTH=user/password`.

    `NEO4J_AUTH=none` (as the Neo4j image accepts) and no variables at all mean no auth.

    Raises:
        ConfigError: `NEO4J_AUTH` is neither `none` nor `user/password`, or only one of
            `NEO4J_USER` / `NEO4J_PASSWORD` is set.
    """
    env = os.environ if env is None else env
    user, password = env.get("NEO4J_USER"), env.get("NEO4J_PASSWORD")
    if user or password:
        if not (user and password):
            raise ConfigError("set both NEO4J_USER and NEO4J_PASSWORD, or neither")
        return user, password
    combined = env.get("NEO4J_AUTH", "").strip()
    if not combined or combined.lower() == "none":
        return None
    user, sep, password = combined.partition("/")
    if not (sep and user and password):
        raise ConfigError("NEO4J_AUTH must be `user/password` (or `none`)")
    return user, password


def check_url(url: str) -> str:
    """The URL itself, after refusing credentials inside it (they belong in the environment).

    Raises:
        ConfigError: the URL carries a user or password.
    """
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ConfigError(
            "do not put credentials in the store URL; set NEO4J_AUTH=user/password "
            "(or NEO4J_USER and NEO4J_PASSWORD) in the environment"
        )
    return url


def check_server_version(agent: str, location: str) -> None:
    """Refuse servers older than Neo4j 5 (`agent` is the Bolt server string, `Neo4j/5.26.1`).

    Raises:
        StoreUnavailable: the server is older, or not Neo4j.
    """
    match = re.match(r"Neo4j/(\d+)\.(\d+)", agent)
    if match is None:
        raise StoreUnavailable(
            f"{location} answered as {agent!r}, not Neo4j: idgraph needs Neo4j "
            f"{MIN_MAJOR_VERSION} or later"
        )
    if int(match.group(1)) < MIN_MAJOR_VERSION:
        raise StoreUnavailable(
            f"{location} runs Neo4j {match.group(1)}.{match.group(2)}; idgraph needs Neo4j "
            f"{MIN_MAJOR_VERSION} or later: upgrade it, or start the one in docker-compose.yml"
        )


def translate_error(
    exc: Exception, *, location: str, name: str, database: str | None, has_auth: bool
) -> StoreError:
    """One actionable idgraph error for a driver exception, never the driver's stack trace."""
    message = _first_line(getattr(exc, "message", None) or str(exc))
    code = getattr(exc, "code", None) or ""
    if isinstance(exc, AuthError) or code.startswith("Neo.ClientError.Security.Unauthorized"):
        given = "the credentials given" if has_auth else "no credentials (none are set)"
        return StoreUnavailable(
            f"Neo4j at {location} refused {given}: set NEO4J_AUTH=user/password, or "
            "NEO4J_USER and NEO4J_PASSWORD, to the server's"
        )
    if code == "Neo.ClientError.Database.DatabaseNotFound":
        return StoreUnavailable(
            f"Neo4j at {location} has no database {database!r}: pass --database (or set "
            "NEO4J_DATABASE) naming one that exists; Community edition has only `neo4j`"
        )
    if isinstance(exc, Forbidden) or code.startswith("Neo.ClientError.Security"):
        return StoreUnavailable(
            f"Neo4j at {location} forbids this for the configured user ({message}): use a user "
            "with the needed role"
        )
    if code == "Neo.ClientError.Statement.AccessMode":
        return StoreQueryError(name, "the statement writes, but the store was opened read-only")
    if "protocol version" in message.lower() or "unsupported bolt" in message.lower():
        return StoreUnavailable(
            f"{location} speaks an older Bolt protocol than this driver: idgraph needs Neo4j "
            f"{MIN_MAJOR_VERSION} or later"
        )
    if isinstance(exc, ServiceUnavailable | SessionExpired | OSError):
        return StoreUnavailable(f"cannot reach Neo4j at {location}: {_START_HINT}")
    if isinstance(exc, DatabaseUnavailable | TransientError):
        return StoreUnavailable(
            f"Neo4j at {location} kept failing with a temporary error ({message}): try again "
            "once the server has settled"
        )
    if isinstance(exc, Neo4jError | DriverError):
        return StoreQueryError(name, message)
    return StoreQueryError(name, message)


@dataclass(frozen=True, slots=True)
class WriteStep:
    """A statement of `NEO4J_WRITES`, by name, and the rows it is run over, in batches."""

    name: str
    rows: list[dict[str, Any]]


def write_steps(
    plan: WritePlan,
    *,
    customer_columns: Mapping[str, ColumnType],
    event_columns: Mapping[str, ColumnType],
    account_columns: Mapping[str, ColumnType] | None = None,
    version: str = "",
) -> list[WriteStep]:
    """The rows of each batched write of one ingest, in the order they must run.

    Nodes before the relationships that need them; customers merged before records move
    between them, so a failure half-way leaves every record with a customer. Customer and
    event properties are limited to known columns and converted to their column types, as the
    embedded store's typed tables do, so both stores hold the same values. The state version
    goes last: a write that fails half-way leaves the old version, and the mirror is rebuilt.

    Args:
        plan: What the ingest changes.
        customer_columns: `Customer` properties the store already has, with their types.
        event_columns: `Event` properties the store already has, with their types.
        account_columns: `Account` properties the store already has, with their types.
        version: the state version to stamp (`idgraph.state.mirror`).

    Raises:
        ConfigError: a new trait or event-property column fails the allowlist.
    """
    for name in [*plan.customer_columns, *plan.event_columns]:
        check_property_name(name)
    customer_types = {**customer_columns, **plan.customer_columns}
    event_types = {**event_columns, **plan.event_columns}
    customers = _rows(customer_frame(plan.customers, customer_types))
    events = _rows(event_frame(plan.new_events, plan.new_event_properties, event_types))
    records = pl.concat([plan.new_records, plan.changed_records])
    accounts = account_writes(plan.groups, account_columns or {})
    return [
        WriteStep("merge_records", node_frame(records, NODE_TABLES["Record"]).to_dicts()),
        WriteStep(
            "merge_accounts",
            [
                {k: row[k] for k in ("id", "first_seen_ts", "updated_ts", "props")}
                for row in accounts.accounts
            ],
        ),
        WriteStep("merge_member_of", accounts.members),
        WriteStep(
            "merge_identifiers",
            pl.concat([plan.new_identifiers, plan.changed_identifiers]).to_dicts(),
        ),
        WriteStep("merge_record_identifiers", plan.new_record_identifiers.to_dicts()),
        WriteStep("merge_cannot_links", plan.new_apart.to_dicts()),
        WriteStep("drop_cannot_links", plan.removed_apart.to_dicts()),
        WriteStep("merge_events", events),
        WriteStep(
            "merge_matched",
            plan.new_links.with_columns(
                pl.lit("id").alias("fields"), pl.lit(1.0).alias("score")
            ).to_dicts(),
        ),
        *_erase_steps(plan),
        WriteStep("merge_customers", customers),
        WriteStep("detach_moved_records", plan.memberships.to_dicts()),
        WriteStep("merge_memberships", plan.memberships.to_dicts()),
        *(
            [WriteStep("delete_empty_customers", []), WriteStep("delete_computed_evidence", [])]
            if plan.full
            else [
                WriteStep("drop_empty_customers", [{"id": i} for i in plan.retired_customers]),
                WriteStep("drop_computed_evidence", [{"key": k} for k in plan.scope_records]),
            ]
        ),
        WriteStep("merge_matched", plan.evidence.to_dicts()),
        *_id_steps(plan),
        WriteStep("update_rfm", plan.trait_updates.to_dicts()),
        WriteStep("stamp_state", [{"key": STATE_KEY, "value": version}]),
        *(WriteStep("stamp_state", [{"key": k, "value": v}]) for k, v in plan.meta.items()),
    ]


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as maps without nulls: Neo4j stores no null, an absent key is the same."""
    return [{k: v for k, v in row.items() if v is not None} for row in frame.iter_rows(named=True)]


def _erase_steps(plan: WritePlan) -> list[WriteStep]:
    if not plan.erased_records:
        return []
    return [
        WriteStep(
            "remember_erased",
            [{"hash": h, "kind": k, "ts": t} for h, k, t in plan.erased_hashes],
        ),
        WriteStep("drop_records", [{"key": k} for k in plan.erased_records]),
        WriteStep("drop_orphan_identifiers", [{"key": k} for k in plan.erased_identifiers]),
    ]


def _id_steps(plan: WritePlan) -> list[WriteStep]:
    ids = plan.ids
    return [
        WriteStep(
            "merge_customer_ids",
            [{"id": i, "created_ts": ts, "status": "active"} for i, ts in ids.created],
        ),
        WriteStep(
            "retire_customer_ids",
            [{"id": old, "status": "merged", "ts": ts} for old, _, ts, _, _ in ids.merged]
            + [{"id": cid, "status": "erased", "ts": ts} for cid, ts in ids.erased],
        ),
        WriteStep(
            "merge_merged_into",
            [
                {"old": old, "new": new, "ts": ts, "evidence": ev, "records": n}
                for old, new, ts, ev, n in ids.merged
            ],
        ),
        WriteStep(
            "merge_split_from",
            [
                {"new": new, "old": old, "ts": ts, "reason": why, "records": n}
                for new, old, ts, why, n in ids.split
            ],
        ),
        WriteStep(
            "merge_moved_to",
            [
                {"origin": o, "target": t, "ts": ts, "reason": why, "evidence": ev, "records": n}
                for o, t, ts, why, ev, n in ids.moved
            ],
        ),
    ]


def batches(rows: Sequence[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """`rows` in consecutive lists of at most `size`."""
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


class Neo4jStore(GraphStore):
    """A Neo4j 5 database reached at a `bolt://` or `neo4j://` URL.

    Args:
        url: The server, e.g. `bolt://localhost:7687`; credentials come from the environment.
        read_only: Route reads to readers and refuse writes.
        database: The database name; default the server's default database.
        batch_size: Rows per write transaction (default `DEFAULT_BATCH_SIZE`).
        env: Where to read credentials (default `os.environ`).

    Raises:
        ConfigError: bad URL or credentials variables.
        StoreUnavailable: the server cannot be reached, refuses the credentials, or is too old.
    """

    dialect = NEO4J

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        database: str | None = None,
        batch_size: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._url = check_url(url)
        self.location = url if database is None else f"{url} (database {database})"
        self._read_only = read_only
        self._database = database
        self._batch_size = batch_size or DEFAULT_BATCH_SIZE
        auth = auth_from_env(env)
        self._has_auth = auth is not None
        try:
            self._driver = GraphDatabase.driver(
                url,
                auth=auth,
                user_agent=f"idgraph/{__version__}",
                connection_timeout=10.0,
                max_transaction_retry_time=30.0,
            )
        except (ConfigurationError, ValueError) as exc:
            raise ConfigError(f"bad Neo4j URL {url!r}: {_first_line(str(exc))}") from exc
        try:
            agent = self._driver.get_server_info().agent
            check_server_version(agent, url)
        except BaseException as exc:
            self._driver.close()
            if isinstance(exc, StoreError) or not isinstance(exc, Exception):
                raise
            raise self._translate(exc, "connect") from exc
        self.server_agent = agent

    def close(self) -> None:
        self._driver.close()

    def _translate(self, exc: Exception, name: str) -> StoreError:
        return translate_error(
            exc,
            location=self._url,
            name=name,
            database=self._database,
            has_auth=self._has_auth,
        )

    def _execute(self, cypher: str, params: dict[str, Any], routing: RoutingControl) -> list[Row]:
        records, _, keys = self._driver.execute_query(
            cypher, parameters_=params, database_=self._database, routing_=routing
        )
        return [{key: _plain(record[key]) for key in keys} for record in records]

    def _run(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        return self._execute(cypher, params, RoutingControl.READ)

    def _run_write(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        if self._read_only:
            raise StoreQueryError("write", "the store was opened read-only")
        return self._execute(cypher, params, RoutingControl.WRITE)

    def _run_write_all(self, steps: list[tuple[str, dict[str, Any]]]) -> None:
        if self._read_only:
            raise StoreQueryError("write", "the store was opened read-only")
        with self._driver.session(database=self._database) as session:
            session.execute_write(_run_steps, steps)

    def missing_constraints(self) -> list[str]:
        """`Label.key` for every uniqueness constraint idgraph's MERGEs rely on that is absent."""
        present: set[tuple[str, str]] = set()
        for row in self.query("constraints", NEO4J_CHECKS["constraints"]):
            kind = str(row["type"] or "")
            labels, props = row["labels"] or [], row["properties"] or []
            if ("UNIQUENESS" in kind or kind == "NODE_KEY") and len(labels) == len(props) == 1:
                present.add((labels[0], props[0]))
        return [f"{lab}.{key}" for lab, key in PRIMARY_KEYS.items() if (lab, key) not in present]

    def require_schema(self) -> None:
        """Refuse to write before `idgraph schema apply`: without the constraints, MERGE scans.

        Raises:
            StoreUnavailable: a constraint is missing; the message says which and what to run.
        """
        missing = self.missing_constraints()
        if missing:
            raise StoreUnavailable(
                f"Neo4j at {self._url} lacks the uniqueness constraints idgraph writes through "
                f"({', '.join(missing)}): run `idgraph schema apply --store {self._url}` once, "
                "then try again"
            )

    def state_dir(self) -> pathlib.Path:
        """A folder of the user's cache, one per server and database (`IDGRAPH_STATE_DIR`
        overrides the cache folder)."""
        base = os.environ.get("IDGRAPH_STATE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "idgraph"
        )
        name = hashlib.sha1(f"{self._url}|{self._database or ''}".encode()).hexdigest()[:16]
        return pathlib.Path(base) / f"neo4j-{name}"

    def _apply(self, plan: WritePlan, version: str, progress: Progress) -> None:
        if self._read_only:
            raise StoreQueryError("apply", "the store was opened read-only")
        self.require_schema()
        steps = write_steps(
            plan,
            customer_columns=self.columns("Customer"),
            event_columns=self.columns("Event"),
            account_columns=self.columns("Account") if plan.groups.height else {},
            version=version,
        )
        wrote = WriteProgress(progress, sum(len(step.rows) for step in steps))
        with self._driver.session(database=self._database) as session:
            for step in steps:
                key = wrote.key(step.name)
                cypher = NEO4J_WRITES[step.name]
                logger.debug("cypher %s: %d rows", step.name, len(step.rows))
                if step.name.startswith("delete_"):
                    params = {"limit": self._batch_size, "rules": sorted(EXPLICIT_LINK_RULES)}
                    if "$rules" not in cypher:
                        del params["rules"]
                    while session.execute_write(_delete_batch, cypher, params):
                        pass
                    continue
                extra = {"rules": sorted(EXPLICIT_LINK_RULES)} if "$rules" in cypher else {}
                if step.name == "stamp_state":
                    session.execute_write(_run_steps, [(cypher, step.rows[0])])
                    wrote.wrote(key, 1, 1)
                    continue
                done = 0
                for batch in batches(step.rows, self._batch_size):
                    session.execute_write(_write_rows, cypher, batch, extra)
                    done += len(batch)
                    wrote.wrote(key, done, len(step.rows), len(batch))
        wrote.finish()


def _write_rows(
    tx: neo4j.ManagedTransaction,
    cypher: str,
    rows: list[dict[str, Any]],
    extra: dict[str, Any],
) -> None:
    tx.run(cypher, {"rows": rows, **extra}).consume()


def _run_steps(tx: neo4j.ManagedTransaction, steps: list[tuple[str, dict[str, Any]]]) -> None:
    for cypher, params in steps:
        tx.run(cypher, params).consume()


def _delete_batch(tx: neo4j.ManagedTransaction, cypher: str, params: dict[str, Any]) -> int:
    record = tx.run(cypher, params).single()
    return int(record["n"]) if record else 0


def _plain(value: Any) -> Any:
    """Driver graph types as plain data, in the shape the embedded store's values take.

    A node on its own is its properties (as `customer_node` expects) and a relationship its
    properties plus `type`; inside a path, nodes also carry their `label` and relationships the
    keys of their `start` and `end` nodes, so the path can be drawn from the data alone.
    """
    if isinstance(value, Node):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Relationship):
        return {"type": value.type, **{k: _plain(v) for k, v in value.items()}}
    if isinstance(value, Path):
        return {
            "nodes": [{"label": _label(n), **_plain(n)} for n in value.nodes],
            "relationships": [_relationship(r) for r in value.relationships],
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def _label(node: Node) -> str | None:
    return next(iter(sorted(node.labels)), None)


def _node_key(node: Node | None) -> Any:
    if node is None:
        return None
    key = PRIMARY_KEYS.get(_label(node) or "")
    return node.get(key) if key else node.element_id


def _relationship(rel: Relationship) -> dict[str, Any]:
    return {
        "type": rel.type,
        "start": _node_key(rel.start_node),
        "end": _node_key(rel.end_node),
        **{k: _plain(v) for k, v in rel.items()},
    }


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
