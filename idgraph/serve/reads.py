"""Read endpoints over `idgraph.query`: lookup, profile, segment members, explain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from idgraph.errors import NotFoundError
from idgraph.query import CustomerProfile, EvidencePath, SegmentPage
from idgraph.serve.auth import require_key
from idgraph.serve.errors import ApiError
from idgraph.serve.models import LookupResult, Problem
from idgraph.serve.service import Backend

router = APIRouter(tags=["read"], dependencies=[Depends(require_key)])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A parameter is invalid (named)."},
    401: {"model": Problem, "description": "Missing or invalid API key."},
    404: {"model": Problem, "description": "Nothing with that id or name."},
}


def _service(request: Request) -> Backend:
    service: Backend = request.app.state.service
    return service


@router.get("/v1/lookup", response_model=LookupResult, responses=_ERRORS)
def lookup(
    request: Request,
    identifier: Annotated[
        str,
        Query(
            min_length=1,
            max_length=512,
            description="Customer id, record key, email, phone, user/anonymous/device id.",
        ),
    ],
) -> LookupResult:
    """Customer ids for any identifier (several when it sits on records of several
    customers without linking them)."""
    graph = _service(request).graph
    ids = graph.lookup(identifier)
    if not ids:
        raise NotFoundError(graph.why_not_found(identifier))
    return LookupResult(identifier=identifier, customer_ids=ids)


@router.get("/v1/customers/{customer_id}", response_model=CustomerProfile, responses=_ERRORS)
def profile(
    request: Request,
    customer_id: str,
    events: Annotated[int, Query(ge=0, le=1000, description="Recent events to include.")] = 20,
) -> CustomerProfile:
    """The customer's 360° view: golden fields, traits, records, identifiers, recent events,
    evidence and segments."""
    return _service(request).graph.profile(customer_id, events=events)


@router.get("/v1/segments/{name}/members", response_model=SegmentPage, responses=_ERRORS)
def segment_members(
    request: Request,
    name: str,
    offset: Annotated[int, Query(ge=0, description="Members to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, description="Page size (capped, default 100).")] = 100,
) -> SegmentPage:
    """One page of a saved segment's members, ordered by customer id; `total` gives the size."""
    service = _service(request)
    cap = service.settings.segment_page_limit
    if limit > cap:
        raise ApiError(400, f"limit {limit} is over the maximum page size {cap}")
    return service.graph.segment_members(name, offset=offset, limit=limit)


@router.get("/v1/explain", response_model=EvidencePath, responses=_ERRORS)
def explain(
    request: Request,
    a: Annotated[str, Query(min_length=1, description="A record key, e.g. `http:user:u1`.")],
    b: Annotated[str, Query(min_length=1, description="Another record key.")],
) -> EvidencePath:
    """Why two records are (or are not) one customer: the shortest chain of evidence, or
    what they share that does not join them (`refusals`), with the setting behind each."""
    return _service(request).graph.explain(a, b)
