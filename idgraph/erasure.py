"""Erasure: forget a person, and refuse their identifiers when they come back.

`forget` deletes every record and event of the customer an identifier names, re-resolves the
customers around them (an identifier may start linking again, ids are recorded as erased) and
keeps each of the person's identifiers only as a keyed one-way hash (HMAC-SHA256, key from
`IDGRAPH_ERASURE_KEY`), so a later ingest can reject lines that carry them without the store
holding the values.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from idgraph.errors import ConfigError, NotFoundError
from idgraph.match.config import MatchConfig
from idgraph.models import identifier_key
from idgraph.normalize.erased import REMEMBERED_KINDS, erasure_hash, erasure_key
from idgraph.pipeline import IngestReport, ingest_batches
from idgraph.query import IdentityGraph
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS
from idgraph.traits.config import TraitsConfig


class ForgetReport(BaseModel):
    """What `forget` removed (counts only: the values are what is being forgotten)."""

    model_config = ConfigDict(frozen=True)

    customer: str
    records: list[str]
    events: int
    identifiers: dict[str, int]
    remembered: int
    dry_run: bool
    resolution: IngestReport | None = None


def forget(
    graph: GraphStore,
    identifier: str,
    *,
    default_region: str = "US",
    match_config: MatchConfig | None = None,
    traits: TraitsConfig | None = None,
    as_of_ms: int | None = None,
    dry_run: bool = False,
) -> ForgetReport:
    """Delete every record and event of the person `identifier` names, in one transaction.

    Args:
        graph: a writable store.
        identifier: a customer id, record key, email, phone or user id, as `lookup` takes.
        dry_run: say what would be removed, remove nothing.

    Raises:
        NotFoundError: nothing in the store carries that identifier.
        ConfigError: the identifier sits on several customers (a shared value that links
            nobody), so it does not name one person; forget by customer id instead.
    """
    reader = IdentityGraph.over(graph, default_region=default_region)
    customers = reader.lookup(identifier)
    if not customers:
        raise NotFoundError(f"no customer found for {identifier!r}")
    if len(customers) > 1:
        raise ConfigError(
            f"{identifier!r} is on records of {len(customers)} customers, so it names no one "
            "person; forget one of them by customer id (`idgraph profile` shows them)"
        )
    customer = customers[0]
    records = [
        row["record"]["key"]
        for row in graph.query("customer_records", READS["customer_records"], {"id": customer})
    ]
    events = int(
        graph.query("customer_event_count", READS["customer_event_count"], {"id": customer})[0]["n"]
    )
    held = graph.query("customer_identifiers", READS["customer_identifiers"], {"id": customer})
    kinds: dict[str, int] = {}
    for row in held:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    remembered = _remembered(graph, [row for row in held if row["kind"] in REMEMBERED_KINDS])
    report = ForgetReport(
        customer=customer,
        records=records,
        events=events,
        identifiers=kinds,
        remembered=len(remembered),
        dry_run=dry_run,
    )
    if dry_run:
        return report
    now = int(time.time() * 1000)
    resolution = ingest_batches(
        graph,
        [],
        match_config=match_config,
        traits=traits,
        as_of_ms=as_of_ms,
        erase=records,
        remember=[(digest, kind, now) for digest, kind in remembered],
        summary=False,
    )
    return report.model_copy(update={"resolution": resolution})


def _remembered(graph: GraphStore, rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Hashes of the person's identifiers that no one else's record carries.

    A phone shared with a relative stays in the store on the relative's record and is not
    remembered, or the relative's next export would be refused.
    """
    keys = {identifier_key(r["kind"], r["value"]): r for r in rows}
    holders = {
        row["key"]: int(row["n"])
        for row in graph.query(
            "identifier_holder_counts", READS["identifier_holder_counts"], {"keys": sorted(keys)}
        )
    }
    secret = erasure_key()
    return sorted(
        (erasure_hash(r["kind"], r["value"], secret), r["kind"])
        for k, r in keys.items()
        if holders.get(k, 0) <= len(r["records"])
    )
