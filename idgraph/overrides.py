"""A reviewer's overrides on a stored graph: link two records, split records off a customer,
undo a split.

Each stores the decision (`Overrides`: must-link or cannot-link pairs, kept and obeyed by every
later run, or the removal of a split's cannot-links) and re-resolves the stored records under
it, in one transaction, on a store the caller holds open. `idgraph link` / `split` / `unsplit`,
the service's admin endpoints and the web page call these.

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
from idgraph.store.queries import READS
from idgraph.traits.config import TraitsConfig

__all__ = [
    "LinkReport",
    "SplitReport",
    "UnsplitReport",
    "link_records",
    "preview_change",
    "split_customer",
    "splits_between",
    "unsplit_customers",
]


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
    reader = IdentityGraph.over(graph, match_config=match_config)
    taken, members, overrides = _split_overrides(reader, customer, records, reason)
    report = ingest_batches(
        graph, [], match_config=match_config, traits=traits, overrides=overrides, summary=False
    )
    after = sorted({cid for key in members for cid in reader.lookup(key)})
    return SplitReport(customer=customer, taken=taken, into=after, resolution=report)


class UnsplitReport(BaseModel):
    """What `unsplit_customers` did: the reviewer's cannot-links removed, and where the records
    of both customers are now."""

    model_config = ConfigDict(frozen=True)

    customer_a: str
    customer_b: str
    #: The cannot-link pairs removed: (record a, record b, the split's reason).
    removed: list[tuple[str, str, str]]
    #: True when the records of both customers are one customer again; False when nothing
    #: joins them any more (evidence changed since the split) or a guard refuses the join.
    joined: bool
    #: Customers holding the records of both now, sorted.
    into: list[str]
    resolution: IngestReport


def splits_between(
    graph: GraphStore,
    records_a: Sequence[str],
    records_b: Sequence[str],
) -> list[tuple[str, str, str]]:
    """The reviewer's cannot-links between two sets of records: (a, b, reason), a < b."""
    side_a, side_b = set(records_a), set(records_b)
    rows = graph.keyed_read(
        "records_cannot_link", READS["records_cannot_link"], "keys", sorted(side_a | side_b)
    )
    found = {
        (row["a"], row["b"], row["reason"] or "")
        for row in rows
        if (row["a"] in side_a and row["b"] in side_b)
        or (row["a"] in side_b and row["b"] in side_a)
    }
    return sorted(found)


def unsplit_customers(
    graph: GraphStore,
    customer_a: str,
    customer_b: str,
    *,
    match_config: MatchConfig | None = None,
    traits: TraitsConfig | None = None,
    reason: str = "",
    by: str = "",
) -> UnsplitReport:
    """Undo a reviewer's split: remove every cannot-link between the two customers' records
    and re-resolve them, so what evidence still joins them joins them again.

    The merge is recorded in both ids' history (`idgraph history`) with who undid the split,
    why, and the split's own reason; the split stays in history too.

    Args:
        graph: a writable store.
        customer_a: one customer id (an id merged into another names the survivor).
        customer_b: the other customer id, e.g. the part a split took out.
        match_config: the config the store is resolved with; None for the shipped default.
        traits: the computed traits config; None for the shipped default.
        reason: why, kept in the history.
        by: who undid it (a name, kept in the history).

    Raises:
        NotFoundError: a customer id was never issued; nothing was written.
        ConfigError: both ids name one customer, or no reviewer's split keeps the two apart;
            nothing was written.
    """
    reader = IdentityGraph.over(graph, match_config=match_config)
    (id_a, records_a), (id_b, records_b), removed, overrides = _unsplit_overrides(
        reader, customer_a, customer_b, reason, by
    )
    report = ingest_batches(
        graph, [], match_config=match_config, traits=traits, overrides=overrides, summary=False
    )
    into = sorted({cid for key in [*records_a, *records_b] for cid in reader.lookup(key)})
    return UnsplitReport(
        customer_a=id_a,
        customer_b=id_b,
        removed=removed,
        joined=len(into) == 1,
        into=into,
        resolution=report,
    )


def _split_overrides(
    reader: IdentityGraph, customer: str, records: Sequence[str], reason: str
) -> tuple[list[str], list[str], Overrides]:
    """The records taken, the customer's records, and the cannot-links of a split."""
    taken = list(dict.fromkeys(records))
    if not taken:
        raise ConfigError("give the records to take out of the customer")
    members = [r.key for r in reader.profile(customer, events=1).records]
    outside = sorted(set(taken) - set(members))
    if outside:
        raise ConfigError(f"not records of {customer}: {', '.join(outside)}")
    rest = [key for key in members if key not in taken]
    if not rest:
        raise ConfigError("leave at least one record in the customer")
    pairs = [(a, b) for a in taken for b in rest]
    return taken, members, Overrides(cannot_link=pairs, reason=reason)


def _unsplit_overrides(
    reader: IdentityGraph, customer_a: str, customer_b: str, reason: str, by: str
) -> tuple[tuple[str, list[str]], tuple[str, list[str]], list[tuple[str, str, str]], Overrides]:
    """Both customers (id, records), the cannot-links between them, and their removal."""
    profile_a = reader.profile(customer_a, events=1)
    profile_b = reader.profile(customer_b, events=1)
    if profile_a.id == profile_b.id:
        raise ConfigError(f"{customer_a} and {customer_b} are one customer ({profile_a.id})")
    records_a = [r.key for r in profile_a.records]
    records_b = [r.key for r in profile_b.records]
    removed = splits_between(reader.store, records_a, records_b)
    if not removed:
        raise ConfigError(
            f"no reviewer's split keeps {profile_a.id} and {profile_b.id} apart "
            "(`idgraph explain` says what does)"
        )
    undid = "; ".join(sorted({why for _, _, why in removed})) or "no reason"
    note = f"by {by or 'a reviewer'}: {reason or 'no reason given'} (the split was: {undid})"
    overrides = Overrides(uncut=[(a, b) for a, b, _ in removed], reason=note)
    return (profile_a.id, records_a), (profile_b.id, records_b), removed, overrides


def preview_change(
    graph: GraphStore,
    *,
    split: tuple[str, Sequence[str]] | None = None,
    link: tuple[str, str] | None = None,
    unsplit: tuple[str, str] | None = None,
    match_config: MatchConfig | None = None,
    traits: TraitsConfig | None = None,
    reason: str = "",
    by: str = "",
) -> IngestReport:
    """What one split, link or undo of a split would do, without doing it.

    Resolves the customers concerned as the confirmed action would (the same incremental
    scope), writes the result in a transaction that is rolled back, and reads which
    customers would enter and leave each materialised segment there (`segment_moves`;
    None on a store that cannot rehearse), beside the merges and splits (`changes`).

    Args:
        graph: a writable store (the rehearsal writes, then rolls back).
        split: (customer id, record keys to take out), as `split_customer` takes them.
        link: (record a, record b), as `link_records` takes them.
        unsplit: (customer a, customer b), as `unsplit_customers` takes them.
        reason, by: as the action will be given them. The same change, confirmed within
            a couple of minutes while the store has not changed, writes the plan worked out
            here instead of resolving again (`idgraph.rehearsed`).

    Raises:
        NotFoundError, ConfigError: as the action itself would; nothing was written.
    """
    reader = IdentityGraph.over(graph, match_config=match_config)
    if split is not None:
        overrides = _split_overrides(reader, split[0], split[1], reason)[2]
    elif link is not None:
        overrides = Overrides(must_link=[link], reason=reason)
    elif unsplit is not None:
        overrides = _unsplit_overrides(reader, unsplit[0], unsplit[1], reason, by)[3]
    else:
        raise ConfigError("name the change to preview: a split, a link or an undo of a split")
    return ingest_batches(
        graph,
        [],
        match_config=match_config,
        traits=traits,
        overrides=overrides,
        summary=False,
        dry_run=True,
        rehearse=True,
    )
