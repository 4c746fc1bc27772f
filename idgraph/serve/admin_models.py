"""Request and response models of the admin endpoints (`/v1/admin/...`).

Requests refuse fields they do not know (`extra="forbid"`): a misspelt `dryrun` must not turn
a dry run into an erasure.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: A record key, identifier or customer id as sent: trimmed, not empty, bounded.
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForgetRequest(_Request):
    """Erase a person (`idgraph forget`)."""

    identifier: Key = Field(
        description="The person's email, phone, user id, record key or customer id."
    )
    dry_run: bool = Field(default=False, description="Say what would be removed; remove nothing.")
    default_region: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2}$",
        description="Phone region for a national number (ISO alpha-2); default the service's.",
    )


class ForgetResult(BaseModel):
    """What was (or, in a dry run, would be) erased: counts only, never the values."""

    customer: str = Field(description="The customer id the identifier named.")
    dry_run: bool
    records: int = Field(description="Records deleted, with their events.")
    events: int
    identifiers: dict[str, int] = Field(description="Identifiers removed, per kind.")
    remembered: int = Field(
        description="Identifiers kept only as one-way hashes, so later calls carrying them "
        "are refused."
    )
    records_resolved: int | None = Field(
        default=None, description="Records re-resolved around the person (null in a dry run)."
    )
    customers_touched: int | None = Field(
        default=None, description="Customers rewritten by that re-resolution (null in a dry run)."
    )


class HistoryRequest(_Request):
    """`GET /v1/admin/history/{customer_id}`, as the operation the main process runs."""

    customer_id: str = Field(min_length=1)


class LinkRequest(_Request):
    """Force two records into one customer (`idgraph link`)."""

    record_a: Key = Field(description="A record key, e.g. `crm:C1003` or `http:user:u-17`.")
    record_b: Key = Field(description="Another record key.")
    reason: Reason = Field(default="", description="Why, kept with the override.")


class Merge(BaseModel):
    """A customer id merged into another."""

    absorbed: str
    survivor: str


class Split(BaseModel):
    """A part split off a customer: a guard refused a link the new one brought in."""

    part: str
    origin: str


class Move(BaseModel):
    """Records that left one surviving customer for another (a guard refused a merge)."""

    origin: str
    target: str
    records: int


class LinkResult(BaseModel):
    """Whether the two records are one customer now, and which customers merged or moved."""

    record_a: str
    record_b: str
    linked: bool = Field(
        description="True: one customer now. False: a reviewer's split between their "
        "records keeps them apart."
    )
    customer_a: str | None
    customer_b: str | None
    merged: list[Merge] = []
    split: list[Split] = Field(
        default=[], description="Parts split off a customer to let the link in; history says why."
    )
    moved: list[Move] = Field(
        default=[], description="Records a guard moved instead of merging; history says why."
    )


class SplitRequest(_Request):
    """Take records out of a customer, as one new customer (`idgraph split`)."""

    customer_id: Key = Field(description="The customer to split.")
    records: list[Key] = Field(
        min_length=1, max_length=10_000, description="Keys of the customer's records to take out."
    )
    reason: Reason = Field(default="", description="Why, kept with the override.")


class SplitResult(BaseModel):
    """The customers the split customer's records belong to now."""

    customer_id: str
    taken: list[str] = Field(description="The records taken out.")
    into: list[str] = Field(
        description="Customers holding the customer's records now (the part with most "
        "records keeps the id)."
    )


class UnsplitRequest(_Request):
    """Undo a reviewer's split between two customers (`idgraph unsplit`)."""

    customer_a: Key = Field(description="One customer id, e.g. the one the split kept.")
    customer_b: Key = Field(description="The other, e.g. the part the split took out.")
    reason: Reason = Field(default="", description="Why, kept in both ids' history.")
    by: Reason = Field(default="", description="Who undoes it, kept in both ids' history.")


class UnsplitResult(BaseModel):
    """The cannot-links removed, and where the records of both customers are now."""

    customer_a: str
    customer_b: str
    removed: int = Field(description="Cannot-link pairs the split had stored, now removed.")
    joined: bool = Field(
        description="True: one customer again. False: nothing joins their records any more "
        "(evidence changed since the split), or a guard refuses the join."
    )
    into: list[str] = Field(description="Customers holding the records of both now.")
