"""`create_app`: the FastAPI application over one open store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from idgraph import __version__
from idgraph.activate.status import DestinationStatus
from idgraph.errors import NotFoundError, StoreError
from idgraph.pipeline import erased_hashes
from idgraph.serve import admin, collect, reads, ui
from idgraph.serve.auth import require_key
from idgraph.serve.errors import (
    ApiError,
    api_error_handler,
    problem_response,
    validation_error_handler,
)
from idgraph.serve.models import Counters, Health, Status
from idgraph.serve.service import Backend, Service
from idgraph.serve.settings import ServeSettings
from idgraph.store.base import GraphStore

_DESCRIPTION = """\
Real-time identity resolution. Collection endpoints take Segment calls (identify, track, page,
screen, alias, group, batch; gzip or deflate bodies too), store them and resolve them into
unified customers in the background (`?wait=true` answers once resolved);
read endpoints look customers up by any identifier, return 360° profiles, page through
segment members and explain merges.

Authenticate with an API key from `IDGRAPH_API_KEYS`: HTTP Basic with the key as user name
(what Segment's libraries send) or `Authorization: Bearer KEY`. The admin endpoints
(`/v1/admin/...`: erasure, history, link, split) take keys from `IDGRAPH_ADMIN_KEYS` only.

A web page for people is at `/ui` (sign in with a key; see docs/ui.md).
"""


async def _not_found(_request: Request, exc: Exception) -> Response:
    return problem_response(ApiError(404, str(exc)))


async def _store_failed(_request: Request, exc: Exception) -> Response:
    return problem_response(
        ApiError(503, f"store unavailable: {exc}", headers={"Retry-After": "1"})
    )


async def _http_error(_request: Request, exc: Exception) -> Response:
    """Unknown paths and methods: the same shape as every other error (with `code`)."""
    assert isinstance(exc, HTTPException)
    return problem_response(ApiError(exc.status_code, str(exc.detail), headers=exc.headers))


async def _bad_value(_request: Request, exc: Exception) -> Response:
    return problem_response(ApiError(400, str(exc)))


def create_app(store: GraphStore, settings: ServeSettings) -> FastAPI:
    """The HTTP service over `store`, which the caller opened (writable) and closes after.

    The HTTP worker, the call log (lane 0) and the resolver all run in this process; the
    resolver thread runs while the app's lifespan does (uvicorn, or `with TestClient(app)`).
    `idgraph serve --workers N` runs HTTP workers in processes of their own instead
    (`idgraph.serve.front`).

    Args:
        store: an open, writable store; the service writes and reads through it alone.
        settings: keys, limits, source name and resolution configs.

    Returns:
        The FastAPI app; OpenAPI docs at `/docs`.
    """
    service = owner_service(store, settings, lane=0)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.close()

    return build_app(service, lifespan)


def owner_service(store: GraphStore, settings: ServeSettings, *, lane: int | None) -> Service:
    """The process state over `store`; calls carrying an identifier someone had erased
    (`idgraph forget`) are refused by its resolver."""
    options = settings.options.model_copy(update={"erased": erased_hashes(store)})
    return Service(store, settings.model_copy(update={"options": options}), lane=lane)


def build_app(
    service: Backend, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> FastAPI:
    """The routes over `service` (in this process, or asking the resolver's process)."""
    app = FastAPI(
        title="idgraph",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(StoreError, _store_failed)
    app.add_exception_handler(ValueError, _bad_value)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_left)
    app.include_router(collect.router)
    app.add_middleware(collect.CollectFirst)
    app.include_router(reads.router)
    app.include_router(admin.router)
    app.include_router(ui.router)

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Liveness, without authentication: is the resolver running, how much is queued."""
        return service.health()

    @app.get(
        "/v1/status",
        response_model=Status,
        tags=["service"],
        dependencies=[Depends(require_key)],
    )
    def status() -> Status:
        """Queue depth (calls acknowledged, not resolved) and resolution lag, per lane too."""
        return service.status()

    @app.get(
        "/v1/stats",
        response_model=Counters,
        tags=["service"],
        dependencies=[Depends(require_key)],
    )
    def stats() -> Counters:
        """Calls received, accepted, rejected and failed since start; they reconcile."""
        return service.counters()

    @app.get(
        "/v1/destinations",
        response_model=list[DestinationStatus],
        tags=["service"],
        dependencies=[Depends(require_key)],
    )
    def destinations() -> list[DestinationStatus]:
        """Segment-change delivery per destination: pending, sent, failed, dead, last error."""
        return service.destinations()

    return app


async def _client_left(_request: Request, _exc: Exception) -> Response:
    """A client that hangs up while sending its body (a load tool stopping, a tracker
    timing out) left nothing to store or to count, and nobody reads the answer: no stack
    trace in the log. 499 is the status proxies log for it."""
    return Response(status_code=499)
