"""Segment-compatible collection endpoints: `/v1/identify|track|page|screen|alias|batch`.

A 200 comes back once the request's valid calls are appended to the durable call log (group
commit: one fsync for the calls that arrive together); the background resolver applies them
shortly after. With `?wait=true` the answer waits until they are resolved too (up to the wait
timeout), so a lookup made after it finds the customer.

A call refused inside a batch is refused alone: the answer is a 200 that lists it (index,
messageId, JSON field, reason), because Segment's and RudderStack's SDKs drop a whole batch
answered with a 4xx and report every call in it failed. A 4xx comes back only when nothing in
the request is usable (unreadable body, no valid call). Every refused call is appended to the
rejects file.

Bodies may be compressed (`Content-Encoding: gzip` or `deflate`, what RudderStack's SDK
sends by default); they are decoded with the same size limit as a plain body.

The routes below describe the endpoints (OpenAPI at `/docs`); `CollectFirst`, the app's
outermost middleware but one, answers them before FastAPI's own middleware, routing and
dependencies, which took more CPU than the call itself. Both run `_collect`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from idgraph.errors import IdGraphError
from idgraph.ingest.jsonl_events import CALL_TYPES
from idgraph.serve.auth import require_key
from idgraph.serve.body import BadEncoding, BodyTooLarge, decode_body, read_body
from idgraph.serve.calls import (
    ParsedRequest,
    log_body,
    new_label,
    parse_batch,
    parse_single,
    whole_request_reject,
)
from idgraph.serve.errors import ApiError, error_code, json_response, problem_body
from idgraph.serve.log import LogClosed
from idgraph.serve.models import CALL_MODELS, BatchBody, CollectResult, Problem
from idgraph.serve.service import Backend
from idgraph.serve.settings import ServeSettings

logger = logging.getLogger(__name__)

#: Bodies up to this size are checked on the event loop: a call takes ~20 us to check, less
#: than handing it to a thread would.
INLINE_BYTES = 16 * 1024

router = APIRouter(tags=["collect"], dependencies=[Depends(require_key)])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "Nothing usable: unreadable body, body not as its Content-Encoding "
        "says, or no valid call (each refused call named).",
    },
    401: {"model": Problem, "description": "Missing or invalid API key."},
    413: {"model": Problem, "description": "Body (or decoded body) or batch over its limit."},
    415: {"model": Problem, "description": "Content-Encoding other than gzip or deflate."},
    503: {"model": Problem, "description": "Store failed or busy: nothing stored, retry."},
}


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _collect(request: Request, kind: str | None) -> Response:
    service: Backend = request.app.state.service
    settings = service.settings
    limit = settings.max_call_bytes if kind else settings.max_batch_bytes
    request_id, label = new_label(request.url.path)
    try:
        raw = await read_body(request, limit)
        body = decode_body(raw, request.headers.get("content-encoding"), limit)
    except BodyTooLarge as exc:
        what = "decoded request body" if exc.decoded else "request body"
        reason = f"{what} too large: {exc.size} bytes or more, limit {limit}"
        parsed = whole_request_reject(label, reason, exc.head, total_bytes=exc.size)
        service.count_request(parsed)
        return _problem(413, reason, parsed)
    except BadEncoding as exc:
        parsed = whole_request_reject(label, str(exc), raw, field="Content-Encoding")
        service.count_request(parsed)
        return _problem(415 if exc.unsupported else 400, str(exc), parsed)
    if len(body) > INLINE_BYTES:  # a big batch is checked off the event loop
        parsed = await run_in_threadpool(_parse, body, kind, label, settings)
    else:
        parsed = _parse(body, kind, label, settings)
    service.count_request(parsed)
    customers: list[str] | None = None
    resolved = False
    if parsed.accepted:
        offset = await _store(service, parsed)
        if _wants_wait(request):
            resolved = await run_in_threadpool(service.wait_for, offset, settings.wait_timeout_s)
            if kind and resolved:
                customers = await run_in_threadpool(service.customers_of, parsed.record_keys)
    if parsed.rejects and not parsed.accepted:
        first = parsed.rejects[0]
        where = f"call {first.line - 1}" if first.line and not kind else "call"
        field = f" [{first.field}]" if first.field else ""
        message = f"{where}{field}: {first.reason}"
        if len(parsed.rejects) > 1:
            message = f"all {parsed.received} calls rejected; first: {message}"
        return _problem(400, message, parsed)
    answer = CollectResult(
        success=True,
        request_id=request_id,
        accepted=parsed.accepted,
        rejected=len(parsed.rejects),
        errors=parsed.errors,
        customers=customers,
        resolved=resolved,
    )
    # Answered as a Response: FastAPI would validate the model again and encode it through
    # `jsonable_encoder` (see `require_key` for what the two changes saved).
    return json_response(answer.model_dump(mode="json"), 200)


def _parse(body: bytes, kind: str | None, label: str, settings: ServeSettings) -> ParsedRequest:
    if kind:
        return parse_single(body, kind, label=label, settings=settings)
    return parse_batch(body, label=label, settings=settings)


def _wants_wait(request: Request) -> bool:
    value = request.query_params.get("wait") or request.headers.get("x-idgraph-wait") or ""
    return value.strip().lower() in {"1", "true", "yes"}


async def _store(service: Backend, parsed: ParsedRequest) -> int:
    """Append the request's calls to the call log and wait for its fsync; returns the offset.

    Errors become 503 (nothing of the request was acknowledged; the client retries).
    """
    body = log_body(parsed)
    try:
        offset = await asyncio.wrap_future(service.append(body))
    except LogClosed as exc:
        service.count_outcome(failed=parsed.accepted)
        raise ApiError(
            503, f"not stored, retry shortly: {exc}", headers={"Retry-After": "1"}
        ) from None
    except IdGraphError as exc:
        service.count_outcome(failed=parsed.accepted)
        raise ApiError(
            503,
            f"the call log failed and nothing of this request was stored; retry: {exc}",
            headers={"Retry-After": "1"},
        ) from None
    service.count_outcome(accepted=parsed.accepted)
    return offset


def _problem(status: int, message: str, parsed: ParsedRequest) -> Response:
    body = Problem(
        code=error_code(status),
        message=message,
        errors=parsed.errors,
        accepted=parsed.accepted,
        rejected=len(parsed.rejects),
        request_id=parsed.request_id,
    )
    return problem_body(body, status)


def _single(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await _collect(request, kind)

    return endpoint


for _kind in CALL_TYPES:
    router.add_api_route(
        f"/v1/{_kind}",
        _single(_kind),
        methods=["POST"],
        response_model=CollectResult,
        responses=_ERRORS,
        summary=f"Collect one {_kind} call",
        description=(
            f"{CALL_MODELS[_kind].__doc__}\n\nThe body is the call; `type` may be omitted (it "
            f"is `{_kind}`) and must be `{_kind}` if present. Answered once stored and "
            "resolved; `customers` says whose profile the call landed on."
        ),
        openapi_extra=_body_doc(CALL_MODELS[_kind]),
        name=f"collect_{_kind}",
    )


@router.post(
    "/v1/batch",
    response_model=CollectResult,
    responses=_ERRORS,
    summary="Collect a batch of calls",
    openapi_extra=_body_doc(BatchBody),
)
async def collect_batch(request: Request) -> Response:
    """Segment's batch: every valid call is stored even when others are refused; the 200
    then lists each refused call by index, messageId, field and reason (a 400 only when no
    call is valid)."""
    return await _collect(request, None)


#: The collection paths, each with its call type (None: a batch).
PATHS: dict[str, str | None] = {f"/v1/{kind}": kind for kind in CALL_TYPES} | {"/v1/batch": None}


class CollectFirst:
    """ASGI middleware answering `POST` to a collection path itself: the key check, then
    `_collect`; errors go to the app's exception handlers, as a routed request's would.
    Everything else goes on to the app.

    A collection call is the service's hot path (~1,000 a second is the target on two cores,
    beside the resolver). Through FastAPI's middleware, router and dependency solving it cost
    ~0.9 ms of CPU, half of it in those layers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or path not in PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await require_key(request)
            response = await _collect(request, PATHS[path])
        except Exception as exc:
            handler = _handler(request, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler(
    request: Request, exc: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    """The app's exception handler for `exc` (by its class, most specific first)."""
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        if kind in handlers:
            return handlers[kind]  # type: ignore[no-any-return]
    return None
