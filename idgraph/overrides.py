"""A reviewer's overrides on a stored graph: link two records, split records off a customer.

Both store the decision (`Overrides`: a must-link or cannot-link pairs, kept and obeyed by every
later run) and re-resolve the stored records under it, in one transaction, on a store the caller
holds open. `idgraph link` / `idgraph split` and the service's admin endpoints call these.

Examples:
    >>> from idgraph.settings import open_store
    >>> with open_store("idgraph.db") as store:  # doctest: +SKIP
    ...     link_records(store, "crm:C1026", "crm:C1028", reason="same person, checked")
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from idgraph.errors import ConfigError
from idgraph.match.config import MatchConfig
from idgraph.pipeline import IngestReport, ingest_batches
from idgraph.query import IdentityGraph
from idgraph.resolve import Overrides
from idgraph.store.base import GraphStore
from idgraph.traits.config import TraitsConfig

__all__ = ["LinkReport", "SplitReport", "link_records", "split_customer"]


class LinkReport(BaseModel):
    """What `link_records` did: whether the two records are one customer now, and what moved."""

    model_config = ConfigDict(frozen=True)

    record_a: str
    record_b: str
    #: True when both records are one customer now; False when a reviewer's earlier split
    #: between their records keeps them apart.
    linked: bool
    customer_a: str | None
    customer_b: str | None
    resolution: IngestReport

    @property
    def merged_ids(self) -> list[tuple[str, str]]:
        """(absorbed id, surviving id) for every customer merged by the link."""
        return self.resolution.merged_ids

    @property
    def split_ids(self) -> list[tuple[str, str]]:
        """(new id, origin id) for parts a guard split off a customer to let the link in."""
        return self.resolution.split_ids

    @property
    def moved_records(self) -> list[tuple[str, str, int]]:
        """(origin id, target id, records) for records a guard moved rather than merged."""
        return self.resolution.moved_records


class SplitReport(BaseModel):
    """What `split_customer` did: the customer asked for, the records taken out, and the
    customers the customer's records belong to now."""

    model_config = ConfigDict(frozen=True)

    customer: str
    taken: list[str]
    #: Customers holding the split customer's records now (the part with most records keeps
    #: the id), sorted.
    into: list[str]
    resolution: IngestReport


def link_records(
    graph: GraphStore,
    record_a: str,
    record_b: str,
    *,
    match_config: MatchConfig | None = None,
    traits: TraitsConfig | None = None,
    reason: str = "",
) -> LinkReport:
    """Force two records into one customer: a must-link override, kept for every later run.

    The customers of both records merge, unless joining them would break a guard (two distinct
    user ids, say): then the links the guard refuses are dropped and records may move from one
    customer to the other (`moved_records`; `history` says why). A reviewer's split between
    them wins (`linked` is False).

    Args:
        graph: a writable store.
        record_a: a record key, e.g. `crm:C1026`.
        record_b: another record key.
        match_config: the config the store is resolved with; None for the shipped default.
        traits: the computed traits config; None for the shipped default.
        reason: why, kept with the override.

    Raises:
        NotFoundError: a record key is not in the store; nothing was written.
        ConfigError: the two keys are the same record, or the pair itself was split apart by a
            reviewer; nothing was written.
    """
    report = ingest_batches(
        graph,
        [],
        match_config=match_config,
        traits=traits,
        overrides=Overrides(must_link=[(record_a, record_b)], reason=reason),
        summary=False,
    )
    path = IdentityGraph.over(graph, match_config=match_config).explain(record_a, record_b)
    return LinkReport(
        record_a=record_a,
        record_b=record_b,
        linked=path.same_customer,
        customer_a=path.customer_a,
        customer_b=path.customer_b,
        resolution=report,
    )


def split_customer(
    graph: GraphStore,
    customer: str,
    records: Sequence[str],
    *,
    match_config: MatchConfig | None = None,
    traits: TraitsConfig | None = None,
    reason: str = "",
) -> SplitReport:
    """Take records out of a customer, as one new customer kept apart in every later run.

    Stores cannot-link overrides between the listed records and the rest of the customer,
    then re-resolves. The part with most records keeps the customer id.

    Args:
        graph: a writable store.
        customer: the customer id (an id merged into another names the survivor).
        records: keys of the customer's records to take out.
        match_config: the config the store is resolved with; None for the shipped default.
        traits: the computed traits config; None for the shipped default.
        reason: why, kept with the override.

    Raises:
        NotFoundError: no customer has that id; nothing was written.
        ConfigError: no records given, a record is not the customer's, or no record would be
            left; nothing was written.
    """
    taken = list(dict.fromkeys(records))
    if not taken:
        raise ConfigError("give the records to take out of the customer")
    reader = IdentityGraph.over(graph, match_config=match_config)
    members = [r.key for r in reader.profile(customer, events=1).records]
    outside = sorted(set(taken) - set(members))
    if outside:
        raise ConfigError(f"not records of {customer}: {', '.join(outside)}")
    rest = [key for key in members if key not in taken]
    if not rest:
        raise ConfigError("leave at least one record in the customer")
    report = ingest_batches(
        graph,
        [],
        match_config=match_config,
        traits=traits,
        overrides=Overrides(cannot_link=[(a, b) for a in taken for b in rest], reason=reason),
        summary=False,
    )
    after = sorted({cid for key in members for cid in reader.lookup(key)})
    return SplitReport(customer=customer, taken=taken, into=after, resolution=report)
