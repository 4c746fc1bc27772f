"""What the admin endpoints do, in the process that holds the store.

Each operation calls the same library function as its CLI command (`erasure.forget`,
`overrides.link_records`, `overrides.split_customer`, `overrides.unsplit_customers`,
`IdentityGraph.history`) with the
service's configs. A write runs inside `resolver.exclusive()`, so it never races a
micro-batch; an erasure first waits for the resolver to apply every call acknowledged before
it, so it covers them. Errors are `ApiError`s naming the request field at fault. Logs carry
customer ids and counts, never the identifiers or record keys sent.

`Service.admin` runs them in the process that holds the store; an HTTP worker process asks
that process to (`idgraph.serve.front.Front.admin`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel

from idgraph.erasure import ForgetReport
from idgraph.erasure import forget as forget_person
from idgraph.errors import ConfigError, NotFoundError
from idgraph.overrides import link_records, split_customer, unsplit_customers
from idgraph.query import CustomerHistory
from idgraph.serve.admin_models import (
    ForgetRequest,
    ForgetResult,
    HistoryRequest,
    LinkRequest,
    LinkResult,
    Merge,
    Move,
    Split,
    SplitRequest,
    SplitResult,
    UnsplitRequest,
    UnsplitResult,
)
from idgraph.serve.errors import ApiError
from idgraph.serve.models import CallError

if TYPE_CHECKING:
    from idgraph.serve.service import Service

logger = logging.getLogger(__name__)


def _refused(status: int, field: str, reason: str) -> ApiError:
    """An error answer naming the request field at fault."""
    return ApiError(
        status, f"{field}: {reason}", errors=[CallError(index=None, field=field, reason=reason)]
    )


def forget(service: Service, body: ForgetRequest) -> ForgetResult:
    _settle(service)
    region = (body.default_region or service.settings.options.default_region).upper()

    def run() -> ForgetReport:
        return forget_person(
            service.store,
            body.identifier,
            default_region=region,
            match_config=service.match_config,
            traits=service.traits,
            dry_run=body.dry_run,
        )

    try:
        if body.dry_run:
            done = run()
        else:
            with service.resolver.exclusive():
                done = run()
                service.refresh_erased()
    except NotFoundError:
        raise _refused(404, "identifier", service.graph.why_not_found(body.identifier)) from None
    except ConfigError as exc:  # on records of several customers: names no one person
        raise _refused(409, "identifier", str(exc)) from None
    resolution = done.resolution
    if not done.dry_run:
        logger.info(
            "admin forget: customer %s erased (%d record(s), %d event(s))",
            done.customer,
            len(done.records),
            done.events,
        )
    return ForgetResult(
        customer=done.customer,
        dry_run=done.dry_run,
        records=len(done.records),
        events=done.events,
        identifiers=done.identifiers,
        remembered=done.remembered,
        records_resolved=None if resolution is None else resolution.records_resolved,
        customers_touched=None if resolution is None else resolution.customers_touched,
    )


def _settle(service: Service) -> None:
    """Wait until the resolver has applied every call acknowledged so far."""
    if not service.resolver.catch_up(service.settings.wait_timeout_s):
        depth, _lag = service.resolver.depth()
        raise ApiError(
            503,
            f"the resolver has not applied the {depth} call(s) acknowledged before this "
            "erasure yet, and the erasure must cover them: retry shortly",
            headers={"Retry-After": "1"},
        )


def history(service: Service, body: HistoryRequest) -> CustomerHistory:
    try:
        return service.graph.history(body.customer_id)
    except NotFoundError as exc:
        raise _refused(404, "customer_id", str(exc)) from None


def link(service: Service, body: LinkRequest) -> LinkResult:
    if body.record_a == body.record_b:
        raise _refused(400, "record_b", "the same record as record_a; give two different records")
    for field, key in (("record_a", body.record_a), ("record_b", body.record_b)):
        if not service.customers_of([key]):
            raise _refused(404, field, f"no record with key {key!r}")
    try:
        with service.resolver.exclusive():
            done = link_records(
                service.store,
                body.record_a,
                body.record_b,
                match_config=service.match_config,
                traits=service.traits,
                reason=body.reason,
            )
    except NotFoundError as exc:  # erased since the check above
        raise _refused(404, "record_a", str(exc)) from None
    except ConfigError as exc:  # the pair was split apart by a reviewer
        raise _refused(409, "record_b", str(exc)) from None
    logger.info(
        "admin link: customers %s and %s (%d merge(s), %d split(s), %d move(s))",
        done.customer_a,
        done.customer_b,
        len(done.merged_ids),
        len(done.split_ids),
        len(done.moved_records),
    )
    return LinkResult(
        record_a=done.record_a,
        record_b=done.record_b,
        linked=done.linked,
        customer_a=done.customer_a,
        customer_b=done.customer_b,
        merged=[Merge(absorbed=a, survivor=s) for a, s in done.merged_ids],
        split=[Split(part=p, origin=o) for p, o in done.split_ids],
        moved=[Move(origin=o, target=t, records=n) for o, t, n in done.moved_records],
    )


def split(service: Service, body: SplitRequest) -> SplitResult:
    try:
        with service.resolver.exclusive():
            done = split_customer(
                service.store,
                body.customer_id,
                body.records,
                match_config=service.match_config,
                traits=service.traits,
                reason=body.reason,
            )
    except NotFoundError as exc:
        raise _refused(404, "customer_id", str(exc)) from None
    except ConfigError as exc:  # not the customer's records, or none would be left
        raise _refused(400, "records", str(exc)) from None
    logger.info("admin split: customer %s into %s", done.customer, ", ".join(done.into))
    return SplitResult(customer_id=done.customer, taken=done.taken, into=done.into)


def unsplit(service: Service, body: UnsplitRequest) -> UnsplitResult:
    try:
        with service.resolver.exclusive():
            done = unsplit_customers(
                service.store,
                body.customer_a,
                body.customer_b,
                match_config=service.match_config,
                traits=service.traits,
                reason=body.reason,
                by=body.by,
            )
    except NotFoundError as exc:
        field = "customer_b" if repr(body.customer_b) in str(exc) else "customer_a"
        raise _refused(404, field, str(exc)) from None
    except ConfigError as exc:  # one customer, or no reviewer's split between them
        raise _refused(409, "customer_b", str(exc)) from None
    logger.info(
        "admin unsplit: customers %s and %s into %s",
        done.customer_a,
        done.customer_b,
        ", ".join(done.into),
    )
    return UnsplitResult(
        customer_a=done.customer_a,
        customer_b=done.customer_b,
        removed=len(done.removed),
        joined=done.joined,
        into=done.into,
    )


#: The operations by name, with the request model each takes.
OPERATIONS: Final[dict[str, Callable[[Service, Any], BaseModel]]] = {
    "forget": forget,
    "history": history,
    "link": link,
    "split": split,
    "unsplit": unsplit,
}
