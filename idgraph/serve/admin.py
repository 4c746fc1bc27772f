"""Admin endpoints over what the CLI does: erasure (`forget`), `history`, `link`, `split`,
`unsplit`.

They need an admin key (`IDGRAPH_ADMIN_KEYS`, see `auth.require_admin_key`); what they do is
`idgraph.serve.admin_ops`, run in the process that holds the store (`Backend.admin`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from idgraph.query import CustomerHistory
from idgraph.serve.admin_models import (
    ForgetRequest,
    ForgetResult,
    HistoryRequest,
    LinkRequest,
    LinkResult,
    SplitRequest,
    SplitResult,
    UnsplitRequest,
    UnsplitResult,
)
from idgraph.serve.auth import require_admin_key
from idgraph.serve.models import Problem
from idgraph.serve.service import Backend

T = TypeVar("T", bound=BaseModel)

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A field is missing or invalid (named in `errors`)."},
    401: {"model": Problem, "description": "Missing or invalid admin key."},
    403: {
        "model": Problem,
        "description": "A write key (not an admin key), or no admin keys configured.",
    },
    404: {"model": Problem, "description": "No customer, record or identifier with that value."},
    409: {"model": Problem, "description": "The store's state refuses it (named field)."},
    503: {"model": Problem, "description": "The store or the resolver cannot take it now."},
}


def _backend(request: Request) -> Backend:
    backend: Backend = request.app.state.service
    return backend


async def _admin(request: Request, op: str, body: BaseModel, answer: type[T]) -> T:
    """Run a write off the event loop, where the store is (this process or the main one)."""
    result = await run_in_threadpool(_backend(request).admin, op, body)
    assert isinstance(result, answer)
    return result


@router.post("/forget", response_model=ForgetResult, responses=_ERRORS)
async def forget(request: Request, body: ForgetRequest) -> ForgetResult:
    """Erase a person: delete every record and event of the customer the identifier names
    (as `idgraph forget`), re-resolve the customers around them, and refuse their email,
    phone, user and customer ids from now on. Answers counts, never the erased values.

    First waits (at most the wait timeout) for the resolver to apply every call acknowledged
    before this request, so the erasure covers them; `dry_run` changes nothing."""
    return await _admin(request, "forget", body, ForgetResult)


@router.get("/history/{customer_id}", response_model=CustomerHistory, responses=_ERRORS)
def history(request: Request, customer_id: str) -> CustomerHistory:
    """What happened to a customer id (as `idgraph history`): created, merged, split, moved,
    erased, and which live customer holds its records now (`current`)."""
    answer = _backend(request).admin("history", HistoryRequest(customer_id=customer_id))
    assert isinstance(answer, CustomerHistory)
    return answer


@router.post("/link", response_model=LinkResult, responses=_ERRORS)
async def link(request: Request, body: LinkRequest) -> LinkResult:
    """Force two records into one customer (as `idgraph link`): a must-link kept for every
    later run. A guard may move records instead of merging (`moved`); a reviewer's split
    between them wins (`linked` false)."""
    return await _admin(request, "link", body, LinkResult)


@router.post("/split", response_model=SplitResult, responses=_ERRORS)
async def split(request: Request, body: SplitRequest) -> SplitResult:
    """Take records out of a customer as one new customer (as `idgraph split`), kept apart
    in every later run; the part with most records keeps the id."""
    return await _admin(request, "split", body, SplitResult)


@router.post("/unsplit", response_model=UnsplitResult, responses=_ERRORS)
async def unsplit(request: Request, body: UnsplitRequest) -> UnsplitResult:
    """Undo a reviewer's split between two customers (as `idgraph unsplit`): remove the
    cannot-links between their records and re-resolve them; recorded in both ids' history."""
    return await _admin(request, "unsplit", body, UnsplitResult)
