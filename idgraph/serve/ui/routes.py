"""The `/ui` pages: sign in, search, customer, split/link, segments, builder, review.

Pages are rendered on the server (Jinja2, every value escaped); the only script is
`static/ui.js` (the identity graph, the builder's live size), served here, so the page works
without internet. Every page asks the store through `Backend.ui` (this process or the main
one, `--workers N`). A problem the user can fix is shown on the page with the field named;
anything else is a short message and a log line, never a stack trace.
"""

from __future__ import annotations

import logging
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel

from idgraph.errors import IdGraphError
from idgraph.segment.definition import TRAIT_OPS
from idgraph.serve.service import Backend
from idgraph.serve.ui.forms import BuilderForm, condition_number, first, parse_form
from idgraph.serve.ui.ops import Ask, Refused
from idgraph.serve.ui.session import (
    Visitor,
    clear_key,
    csrf_ok,
    same_origin,
    set_key,
    sign_in_problem,
    visitor,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/ui", include_in_schema=False)

_ENV = Environment(
    loader=PackageLoader("idgraph.serve.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_STATIC = {"ui.js": "text/javascript", "ui.css": "text/css"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class _Failed(Exception):
    """The store could not answer: shown as a short message with a status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _ts(value: int | None) -> str:
    if value is None:
        return ""
    import datetime as dt

    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


_ENV.filters["ts"] = _ts


def render(
    request: Request, template: str, who: Visitor, status: int = 200, **values: Any
) -> HTMLResponse:
    html = _ENV.get_template(template).render(who=who, path=request.url.path, **values)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _backend(request: Request) -> Backend:
    backend: Backend = request.app.state.service
    return backend


async def ask(request: Request, op: str, **fields: Any) -> Any:
    """Run a page operation where the store is; store failures become `_Failed`."""
    try:
        return await run_in_threadpool(_backend(request).ui, op, Ask(**fields))
    except IdGraphError as exc:
        logger.warning("ui %s: the store failed: %s", op, type(exc).__name__)
        raise _Failed(503, "the store cannot answer right now; try again shortly") from None
    except Exception as exc:
        logger.error("ui %s failed: %s", op, type(exc).__name__)
        logger.debug("ui failure", exc_info=exc)
        raise _Failed(500, "something went wrong; the service log has details") from None


def _sign_in(request: Request, who: Visitor, message: str = "", status: int = 200) -> Response:
    return render(request, "signin.html", who, status=status, message=message)


def _forbidden(request: Request, who: Visitor, what: str) -> Response:
    return render(
        request,
        "error.html",
        who,
        status=403,
        title="Admin key needed",
        message=f"{what} needs an admin key (IDGRAPH_ADMIN_KEYS): sign out and sign in with one",
    )


def _failed(request: Request, who: Visitor, exc: _Failed) -> Response:
    return render(request, "error.html", who, status=exc.status, title="Error", message=exc.message)


def _expired(request: Request, who: Visitor) -> Response:
    """A changing form without this session's token (stale, or forged elsewhere)."""
    return render(
        request,
        "error.html",
        who,
        status=403,
        title="Form expired",
        message="this form's token does not match your session: reload the page and retry",
    )


async def _changing(request: Request, what: str) -> tuple[Visitor, dict[str, list[str]]] | Response:
    """The visitor and form of a POST that changes data: admin key and CSRF token checked."""
    who = visitor(request)
    form = parse_form(await request.body())
    if not same_origin(request):
        return _cross_site(request, who)
    if not who.signed_in:
        return _sign_in(request, who, "sign in first", status=401)
    if not csrf_ok(who, first(form, "csrf")):
        return _expired(request, who)
    if not who.can_admin:
        return _forbidden(request, who, what)
    return who, form


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in _STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    body = files("idgraph.serve.ui").joinpath("static", name).read_bytes()
    return Response(
        body, media_type=_STATIC[name], headers={"Cache-Control": "max-age=300", **_HEADERS}
    )


@router.get("")
@router.get("/")
async def home(request: Request) -> Response:
    who = visitor(request)
    if not who.can_read:
        return _sign_in(request, who)
    return render(request, "search.html", who, query="", result=None)


@router.get("/signin")
async def sign_in_page(request: Request) -> Response:
    return _sign_in(request, visitor(request))


def _cross_site(request: Request, who: Visitor) -> Response:
    return render(
        request,
        "error.html",
        who,
        status=403,
        title="Refused",
        message="this form was sent from another site; open the page here and retry",
    )


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    form = parse_form(await request.body())
    if not same_origin(request):
        return _cross_site(request, visitor(request))
    key = first(form, "key")
    problem = sign_in_problem(_backend(request).settings, key)
    if problem is not None:
        return _sign_in(request, visitor(request), problem, status=401)
    response = RedirectResponse("/ui", status_code=303)
    set_key(response, request, key)
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    who = visitor(request)
    form = parse_form(await request.body())
    if who.signed_in and not csrf_ok(who, first(form, "csrf")):
        return _expired(request, who)
    response = RedirectResponse("/ui/signin", status_code=303)
    clear_key(response)
    return response


@router.get("/search")
async def search(request: Request) -> Response:
    who = visitor(request)
    if not who.can_read:
        return _sign_in(request, who)
    query = request.query_params.get("q", "")
    try:
        result = await ask(request, "search", text=query)
    except _Failed as exc:
        return _failed(request, who, exc)
    if isinstance(result, Refused):
        return render(
            request, "search.html", who, status=400, query=query, result=None, problem=result
        )
    if len(result.customers) == 1 and result.customers[0].id == query.strip():
        return RedirectResponse(f"/ui/customers/{quote(query.strip(), safe='')}", status_code=303)
    return render(request, "search.html", who, query=query, result=result)


@router.get("/customers/{customer_id}")
async def customer(request: Request, customer_id: str) -> Response:
    who = visitor(request)
    if not who.can_read:
        return _sign_in(request, who)
    try:
        page = await ask(request, "customer", customer_id=customer_id)
    except _Failed as exc:
        return _failed(request, who, exc)
    if isinstance(page, Refused):
        return render(
            request, "error.html", who, status=404, title="Unknown customer", message=page.message
        )
    graph = page.graph.model_dump(mode="json")
    return render(request, "customer.html", who, page=page, p=page.profile, graph=graph)


@router.get("/explain")
async def explain(request: Request) -> Response:
    """Why two records are (not) one customer, as JSON for the graph's edge clicks."""
    who = visitor(request)
    if not who.can_read:
        return JSONResponse({"error": "sign in first"}, status_code=401, headers=_HEADERS)
    records = [request.query_params.get("a", ""), request.query_params.get("b", "")]
    try:
        path = await ask(request, "explain", records=records)
    except _Failed as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=_HEADERS)
    if isinstance(path, Refused):
        return JSONResponse({"error": path.message}, status_code=404, headers=_HEADERS)
    return JSONResponse(path.model_dump(mode="json"), headers=_HEADERS)


@router.get("/moves/{ticket}")
async def moves(request: Request, ticket: str) -> Response:
    """A preview's segment moves, as the fragment its page shows (202 while its rehearsal is
    still running: the page's script asks again)."""
    who = visitor(request)
    if not who.can_admin:
        return HTMLResponse(
            '<p class="problem">sign in with an admin key</p>', status_code=403, headers=_HEADERS
        )
    try:
        answer = await ask(request, "moves", text=ticket)
    except _Failed as exc:
        return render(request, "_moves_list.html", who, status=exc.status, problem=exc.message)
    if isinstance(answer, Refused):
        return render(request, "_moves_list.html", who, status=404, problem=answer.message)
    status = 200 if answer.ready else 202
    return render(request, "_moves_list.html", who, status=status, answer=answer)


_ACTIONS = {
    "split": "Splitting a customer",
    "link": "Linking customers",
    "unsplit": "Undoing a split",
}


async def _preview_then_act(
    request: Request, customer_id: str, action: str, field_names: tuple[str, ...]
) -> Response:
    """A split, link or undo of a split: the preview (what will change) first, the change
    once confirmed."""
    checked = await _changing(request, _ACTIONS[action])
    if isinstance(checked, Response):
        return checked
    who, form = checked
    fields: dict[str, Any] = {"customer_id": customer_id, "reason": first(form, "reason")}
    for name in field_names:
        fields[name] = form.get("record", []) if name == "records" else first(form, name)
    confirmed = first(form, "confirm") == "yes"
    try:
        answer = await ask(request, action if confirmed else f"{action}_preview", **fields)
    except _Failed as exc:
        return _failed(request, who, exc)
    if isinstance(answer, Refused):
        return render(
            request,
            "error.html",
            who,
            status=400,
            title=f"Cannot {action}",
            message=answer.message,
            back=f"/ui/customers/{customer_id}",
        )
    if confirmed:
        return render(request, "done.html", who, done=answer)
    return render(request, f"{action}_confirm.html", who, preview=answer, **fields)


@router.post("/customers/{customer_id}/split")
async def split(request: Request, customer_id: str) -> Response:
    return await _preview_then_act(request, customer_id, "split", ("records",))


@router.post("/customers/{customer_id}/link")
async def link(request: Request, customer_id: str) -> Response:
    return await _preview_then_act(request, customer_id, "link", ("other",))


@router.post("/customers/{customer_id}/unsplit")
async def unsplit(request: Request, customer_id: str) -> Response:
    return await _preview_then_act(request, customer_id, "unsplit", ("other",))


async def _read_page(request: Request, op: str, template: str, name: str) -> Response:
    """A page that shows one operation's answer to anyone who may read."""
    who = visitor(request)
    if not who.can_read:
        return _sign_in(request, who)
    try:
        answer = await ask(request, op)
    except _Failed as exc:
        return _failed(request, who, exc)
    return render(request, template, who, **{name: answer})


@router.get("/segments")
async def segments(request: Request) -> Response:
    return await _read_page(request, "segments", "segments.html", "overview")


async def _builder(request: Request, who: Visitor, form: BuilderForm, preview: bool) -> Response:
    try:
        vocabulary = await ask(request, "vocabulary")
        result: BaseModel | str | None = None
        if preview:
            definition = form.definition()
            result = (
                definition
                if isinstance(definition, str)
                else await ask(request, "segment_preview", definition=definition)
            )
    except _Failed as exc:
        return _failed(request, who, exc)
    problem = None
    if isinstance(result, str):
        problem = Refused(message=result, field="yaml")
    elif isinstance(result, Refused):
        problem = result
    row = condition_number(problem.field if problem else None)
    return render(
        request,
        "builder.html",
        who,
        status=400 if problem else 200,
        form=form,
        rows=form.padded(),
        vocabulary=vocabulary,
        trait_ops=TRAIT_OPS,
        preview=None if problem else result,
        problem=problem,
        problem_row=row,
    )


@router.get("/segments/new")
async def builder(request: Request) -> Response:
    who = visitor(request)
    if not who.can_read:
        return _sign_in(request, who)
    form = BuilderForm.read({k: request.query_params.getlist(k) for k in request.query_params})
    return await _builder(request, who, form, preview="preview" in request.query_params)


@router.get("/segments/size")
async def live_size(request: Request) -> Response:
    """The builder's live size while someone edits (JSON for the page's script)."""
    who = visitor(request)
    if not who.can_read:
        return JSONResponse({"error": "sign in first"}, status_code=401, headers=_HEADERS)
    form = BuilderForm.read({k: request.query_params.getlist(k) for k in request.query_params})
    definition = form.definition()
    if isinstance(definition, str):
        return JSONResponse({"error": definition}, status_code=400, headers=_HEADERS)
    try:
        result = await ask(request, "segment_preview", definition=definition)
    except _Failed as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=_HEADERS)
    if isinstance(result, Refused):
        row = condition_number(result.field)
        where = f"condition {row}: " if row else ""
        return JSONResponse({"error": where + result.message}, status_code=400, headers=_HEADERS)
    return JSONResponse({"count": result.count}, headers=_HEADERS)


@router.post("/segments/save")
async def save(request: Request) -> Response:
    checked = await _changing(request, "Saving a segment")
    if isinstance(checked, Response):
        return checked
    who, form_data = checked
    form = BuilderForm.read(form_data)
    definition = form.definition()
    if isinstance(definition, str):
        return await _builder(request, who, form, preview=True)
    try:
        answer = await ask(request, "segment_save", definition=definition)
    except _Failed as exc:
        return _failed(request, who, exc)
    if isinstance(answer, Refused):
        return await _builder(request, who, form, preview=True)
    return render(request, "saved.html", who, saved=answer)


@router.get("/review")
async def review(request: Request) -> Response:
    return await _read_page(request, "review", "review.html", "queue")
