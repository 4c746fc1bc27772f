"""What the web page asks of the store, run in the process that holds it.

`Service.ui` runs these in that process; an HTTP worker (`--workers N`) asks the main process
to (`idgraph.serve.front.Front.ui`), so every operation takes and returns a pydantic model
that pickles. A problem the user can fix (an unknown customer, a segment condition that does
not validate) comes back as a `Refused` answer naming the field, never as an exception, so
the page shows the same message whichever process ran it.

Reads go through `IdentityGraph` and the segment layer; writes through the same functions as
the CLI (`idgraph.overrides.split_customer` / `link_records` / `unsplit_customers`,
`segment.saved.save_segment` /
`run_saved_segment`), inside `resolver.exclusive()` so they never race a micro-batch, and so
they are recorded in the customers' history as the CLI's are.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict

from idgraph.cluster.review import ReviewItem
from idgraph.errors import IdGraphError, NotFoundError
from idgraph.insights.graphs import GraphView, customer_graph
from idgraph.models import CustomerSummary
from idgraph.overrides import (
    link_records,
    preview_change,
    split_customer,
    splits_between,
    unsplit_customers,
)
from idgraph.query import CustomerHistory, CustomerProfile, EvidencePath
from idgraph.segment.analytics import member_ids
from idgraph.segment.definition import parse_segment
from idgraph.segment.run import segment_size
from idgraph.segment.saved import (
    SavedSegment,
    SegmentRunReport,
    SegmentRunSummary,
    list_segments,
    resolver,
    run_saved_segment,
    save_segment,
    segment_history,
)
from idgraph.serve.ui.graph import parts_after_split
from idgraph.serve.ui.rehearsals import MovesMap, Rehearsals
from idgraph.store.queries import READS

if TYPE_CHECKING:
    from idgraph.serve.service import Service

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Records of one customer drawn and listed at most (the largest are flagged groups).
MAX_RECORDS_SHOWN = 300


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Refused(_Model):
    """A request the page cannot serve, with the form field at fault (or None)."""

    message: str
    field: str | None = None


class Ask(_Model):
    """Parameters of an operation (each uses the ones it needs)."""

    text: str = ""
    customer_id: str = ""
    other: str = ""
    records: list[str] = []
    reason: str = ""
    definition: dict[str, Any] = {}


class SearchResult(_Model):
    query: str
    customers: list[CustomerSummary]
    note: str = ""


class CustomerPage(_Model):
    profile: CustomerProfile
    graph: GraphView
    history: CustomerHistory | None


#: Segment -> {"entered": [customer ids], "exited": [...]}: what a change would move (None
#: when the store cannot rehearse a change).
Moves = MovesMap


class SplitPreview(_Model):
    customer_id: str
    taken: list[str]
    kept: list[str]
    #: The groups of records the customer becomes (linking evidence between the taken records
    #: and the rest no longer counts); the largest keeps the id.
    parts: list[list[str]]
    segments: list[str]
    #: The rehearsal working out the segment moves (`moves`), "" when none was started.
    moves_ticket: str = ""


class LinkPreview(_Model):
    record_a: str
    record_b: str
    customer_a: CustomerSummary
    customer_b: CustomerSummary
    records_b: list[str]
    segments_a: list[str]
    segments_b: list[str]
    #: What could refuse the join (guards, a reviewer's split), from `IdentityGraph.explain`.
    refusals: list[str]
    moves_ticket: str = ""


class ActionDone(_Model):
    kind: str
    customer_id: str
    #: Live customers holding the records concerned now.
    into: list[str]
    linked: bool = True
    #: Segment -> {"entered (cause)": n, "exited (cause)": n}.
    segment_changes: dict[str, dict[str, int]] = {}
    merged: list[tuple[str, str]] = []
    #: For a link: the records that came from the other customer, which a split takes back.
    undo_records: list[str] = []
    #: For a split: the customers holding the records taken out, which an undo joins back.
    undo_parts: list[str] = []


class UnsplitPreview(_Model):
    customer_id: str
    other: str
    records_other: list[str]
    #: The reviewer's cannot-links that go: (record a, record b, the split's reason).
    removed: list[tuple[str, str, str]]
    segments_a: list[str]
    segments_b: list[str]
    moves_ticket: str = ""


class PreviewMoves(_Model):
    """A preview's segment moves, once its rehearsal is done (`ready`)."""

    ready: bool
    moves: Moves = None
    #: Why the moves could not be worked out ("" when they were).
    problem: str = ""


class SegmentPreview(_Model):
    name: str
    count: int
    sample: list[CustomerSummary]
    #: The saved segment of that name, which saving replaces.
    existing: SavedSegment | None
    definition_yaml: str


class SegmentSaved(_Model):
    name: str
    size: int
    entered: int
    exited: int


class SegmentRow(_Model):
    saved: SavedSegment
    history: list[SegmentRunSummary]


class SegmentsOverview(_Model):
    segments: list[SegmentRow]
    #: overlap[a][b]: customers in both a and b (as of their last runs).
    overlap: dict[str, dict[str, int]]


class ReviewQueue(_Model):
    items: list[ReviewItem]
    #: False while the queue is being computed for the first time (the page says so).
    ready: bool
    computed_ts: int | None


class BuilderVocabulary(_Model):
    traits: dict[str, str]
    events: list[str]


def search(service: Service, ask: Ask) -> SearchResult | Refused:
    """Customers for an id, email, phone, record key or name; a lookup first, then names."""
    text = ask.text.strip()
    if not text:
        return Refused(message="type an email, phone, name or customer id", field="q")
    if len(text) > 512:
        return Refused(message="at most 512 characters", field="q")
    graph = service.graph
    found = graph.lookup(text)
    customers = graph.summaries(found) if found else []
    if not customers and not any(c.isdigit() for c in text) and "@" not in text:
        customers = graph.find_by_name(text)
    note = "" if customers else graph.why_not_found(text)
    return SearchResult(query=text, customers=customers, note=note)


def customer(service: Service, ask: Ask) -> CustomerPage | Refused:
    graph = service.graph
    try:
        profile = graph.profile(ask.customer_id, events=20)
    except NotFoundError:
        return Refused(message=f"no customer with id {ask.customer_id!r}", field="customer_id")
    try:
        history: CustomerHistory | None = graph.history(profile.id)
    except NotFoundError:
        history = None
    return CustomerPage(
        profile=profile,
        graph=customer_graph(profile, limit=MAX_RECORDS_SHOWN),
        history=history,
    )


def _profile(service: Service, ask: Ask) -> CustomerProfile | Refused:
    """The customer a change starts from: records and segments, without the page's events
    and history, which a preview does not show."""
    try:
        return service.graph.profile(ask.customer_id, events=1)
    except NotFoundError:
        return Refused(message=f"no customer with id {ask.customer_id!r}", field="customer_id")


def explain(service: Service, ask: Ask) -> EvidencePath | Refused:
    if len(ask.records) != 2:
        return Refused(message="give two record keys", field="records")
    try:
        return service.graph.explain(ask.records[0], ask.records[1])
    except NotFoundError as exc:
        return Refused(message=str(exc), field="records")


def split_preview(service: Service, ask: Ask, *, rehearse: bool = True) -> SplitPreview | Refused:
    """What the change would do; `rehearse=False` (the change itself, once confirmed) checks
    the request without working out the segment moves."""
    profile = _profile(service, ask)
    if isinstance(profile, Refused):
        return profile
    members = [r.key for r in profile.records]
    taken = list(dict.fromkeys(ask.records))
    if not taken:
        return Refused(message="tick the records to take out of the customer", field="records")
    outside = sorted(set(taken) - set(members))
    if outside:
        return Refused(
            message=f"not records of {profile.id}: {', '.join(outside)}", field="records"
        )
    kept = [key for key in members if key not in taken]
    if not kept:
        return Refused(message="leave at least one record in the customer", field="records")
    ticket = (
        _rehearse(service, split=(profile.id, taken), reason=_split_reason(ask)) if rehearse else ""
    )
    return SplitPreview(
        customer_id=profile.id,
        taken=taken,
        kept=kept,
        parts=parts_after_split(profile, taken),
        segments=[s.name for s in profile.segments],
        moves_ticket=ticket,
    )


def _split_reason(ask: Ask) -> str:
    return ask.reason or "split in the web page"


def _link_reason(ask: Ask) -> str:
    return ask.reason or "linked in the web page"


def _unsplit_reason(ask: Ask) -> str:
    return ask.reason or "undone in the web page"


_BY = "the web page"


def _rehearse(service: Service, **change: Any) -> str:
    """Start working out who would enter and leave each saved segment — the change resolved
    for the customers concerned and written in a transaction that is rolled back
    (`overrides.preview_change`) — and return the ticket the page asks `moves` with."""

    def moves() -> tuple[Moves, str]:
        report = _write(
            service,
            "",
            lambda: preview_change(
                service.store, match_config=service.match_config, traits=service.traits, **change
            ),
        )
        if isinstance(report, Refused):
            return None, report.message
        return report.segment_moves, ""

    return _REHEARSALS.start(moves)


def moves(service: Service, ask: Ask) -> PreviewMoves | Refused:
    """The segment moves of a preview (`ask.text`: its ticket), waiting a few seconds for its
    rehearsal."""
    waited = _REHEARSALS.wait(ask.text, timeout_s=_MOVES_WAIT_S)
    if not waited.known:
        return Refused(message="this preview has expired: open it again", field="ticket")
    return PreviewMoves(ready=waited.ready, moves=waited.moves, problem=waited.problem)


def _write(service: Service, field: str, change: Callable[[], T]) -> T | Refused:
    """Run a change to the store while the resolver waits; its refusal names `field`."""
    try:
        with service.resolver.exclusive():
            return change()
    except IdGraphError as exc:
        return Refused(message=str(exc), field=field)


def split(service: Service, ask: Ask) -> ActionDone | Refused:
    preview = split_preview(service, ask, rehearse=False)
    if isinstance(preview, Refused):
        return preview
    done = _write(
        service,
        "records",
        lambda: split_customer(
            service.store,
            preview.customer_id,
            preview.taken,
            match_config=service.match_config,
            traits=service.traits,
            reason=_split_reason(ask),
        ),
    )
    if isinstance(done, Refused):
        return done
    logger.info("ui split: customer %s into %s", done.customer, ", ".join(done.into))
    return ActionDone(
        kind="split",
        customer_id=done.customer,
        into=done.into,
        segment_changes=done.resolution.segment_changes,
        undo_parts=[c for c in service.customers_of(preview.taken) if c != done.customer],
    )


def unsplit_preview(
    service: Service, ask: Ask, *, rehearse: bool = True
) -> UnsplitPreview | Refused:
    mine = _profile(service, ask)
    if isinstance(mine, Refused):
        return mine
    try:
        other = service.graph.profile(ask.other.strip(), events=1)
    except NotFoundError:
        return Refused(message=f"no customer with id {ask.other.strip()!r}", field="other")
    if other.id == mine.id:
        return Refused(message="that is this customer already", field="other")
    records_other = [r.key for r in other.records]
    removed = splits_between(service.store, [r.key for r in mine.records], records_other)
    if not removed:
        return Refused(
            message=f"no reviewer's split keeps {mine.id} and {other.id} apart",
            field="other",
        )
    ticket = (
        _rehearse(service, unsplit=(mine.id, other.id), reason=_unsplit_reason(ask), by=_BY)
        if rehearse
        else ""
    )
    return UnsplitPreview(
        moves_ticket=ticket,
        customer_id=mine.id,
        other=other.id,
        records_other=records_other,
        removed=removed,
        segments_a=[s.name for s in mine.segments],
        segments_b=[s.name for s in other.segments],
    )


def unsplit(service: Service, ask: Ask) -> ActionDone | Refused:
    preview = unsplit_preview(service, ask, rehearse=False)
    if isinstance(preview, Refused):
        return preview
    done = _write(
        service,
        "other",
        lambda: unsplit_customers(
            service.store,
            preview.customer_id,
            preview.other,
            match_config=service.match_config,
            traits=service.traits,
            reason=_unsplit_reason(ask),
            by=_BY,
        ),
    )
    if isinstance(done, Refused):
        return done
    logger.info("ui unsplit: customers %s and %s", done.customer_a, done.customer_b)
    return ActionDone(
        kind="unsplit",
        customer_id=done.into[0] if done.joined else done.customer_a,
        into=done.into,
        linked=done.joined,
        segment_changes=done.resolution.segment_changes,
        merged=done.resolution.merged_ids,
    )


def link_preview(service: Service, ask: Ask, *, rehearse: bool = True) -> LinkPreview | Refused:
    graph = service.graph
    mine = _profile(service, ask)
    if isinstance(mine, Refused):
        return mine
    other = ask.other.strip()
    if not other:
        return Refused(
            message="name the other customer (id, email, phone or record key)", field="other"
        )
    found = graph.lookup(other)
    if not found:
        return Refused(message=graph.why_not_found(other), field="other")
    if len(found) > 1:
        return Refused(
            message=f"{other!r} names {len(found)} customers: give one customer id", field="other"
        )
    if found[0] == mine.id:
        return Refused(message="that is this customer already", field="other")
    target = graph.profile(found[0], events=1)
    record_a, record_b = mine.records[0].key, target.records[0].key
    ticket = (
        _rehearse(service, link=(record_a, record_b), reason=_link_reason(ask)) if rehearse else ""
    )
    path = graph.explain(record_a, record_b)
    summaries = {s.id: s for s in graph.summaries([mine.id, target.id])}
    return LinkPreview(
        moves_ticket=ticket,
        record_a=record_a,
        record_b=record_b,
        customer_a=summaries[mine.id],
        customer_b=summaries[target.id],
        records_b=[r.key for r in target.records],
        segments_a=[s.name for s in mine.segments],
        segments_b=[s.name for s in target.segments],
        refusals=[r.reason for r in path.refusals if r.kind in ("guard", "override")],
    )


def link(service: Service, ask: Ask) -> ActionDone | Refused:
    preview = link_preview(service, ask, rehearse=False)
    if isinstance(preview, Refused):
        return preview
    done = _write(
        service,
        "other",
        lambda: link_records(
            service.store,
            preview.record_a,
            preview.record_b,
            match_config=service.match_config,
            traits=service.traits,
            reason=_link_reason(ask),
        ),
    )
    if isinstance(done, Refused):
        return done
    into = service.customers_of([preview.record_a, *preview.records_b])
    logger.info("ui link: customers %s and %s", done.customer_a, done.customer_b)
    return ActionDone(
        kind="link",
        customer_id=done.customer_a or preview.customer_a.id,
        into=into,
        linked=done.linked,
        segment_changes=done.resolution.segment_changes,
        merged=done.merged_ids,
        undo_records=preview.records_b if done.linked else [],
    )


def segment_preview(service: Service, ask: Ask) -> SegmentPreview | Refused:
    store = service.store
    try:
        defn = parse_segment(ask.definition, source="the segment builder")
        size = segment_size(
            store, defn, as_of_ms=int(time.time() * 1000), resolve=resolver(store), sample=20
        )
    except IdGraphError as exc:
        return Refused(message=str(exc), field=getattr(exc, "location", None))
    existing = {s.name: s for s in list_segments(store)}.get(defn.name)
    from idgraph.segment.saved import definition_text

    return SegmentPreview(
        name=defn.name,
        count=size.count,
        sample=service.graph.summaries(size.sample),
        existing=existing,
        definition_yaml=definition_text(defn),
    )


def segment_save(service: Service, ask: Ask) -> SegmentSaved | Refused:
    store = service.store
    try:
        defn = parse_segment(ask.definition, source="the segment builder")
    except IdGraphError as exc:
        return Refused(message=str(exc), field=getattr(exc, "location", None))

    def save_and_run() -> SegmentRunReport:
        save_segment(store, defn)
        return run_saved_segment(store, defn.name)

    report = _write(service, "where", save_and_run)
    if isinstance(report, Refused):
        return report
    logger.info("ui segment saved: %s (%d members)", report.name, report.size)
    return SegmentSaved(
        name=report.name, size=report.size, entered=len(report.entered), exited=len(report.exited)
    )


def segments(service: Service, _ask: Ask) -> SegmentsOverview:
    store = service.store
    saved = list_segments(store)
    # Ingests move memberships too (without a run): the store's version is part of the key.
    key = (store.state_version(), tuple((s.name, s.updated_ts, s.last_run_ts) for s in saved))
    members = _CACHE.get(
        ("members", key), lambda: {s.name: frozenset(member_ids(store, s.name)) for s in saved}
    )
    overlap = {
        a.name: {b.name: len(members[a.name] & members[b.name]) for b in saved} for a in saved
    }
    rows = [SegmentRow(saved=s, history=segment_history(store, s.name)[-20:]) for s in saved]
    return SegmentsOverview(segments=rows, overlap=overlap)


def vocabulary(service: Service, _ask: Ask) -> BuilderVocabulary:
    """Trait names (with their types) and event names, for the builder's pickers."""
    store = service.store

    def events() -> list[str]:
        return [row["name"] for row in store.query("events_per_name", READS["events_per_name"])]

    return BuilderVocabulary(
        traits=store.customer_properties(),
        events=_CACHE.get(("events", store.state_version()), events),
    )


def review(service: Service, _ask: Ask) -> ReviewQueue:
    """The review queue, computed in the background and kept until the store changes (it
    scans every customer's records: seconds at 100k customers)."""
    return _REVIEW.queue(service)


class _Cache:
    """Answers kept until their key (which holds the store's state version) changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, Any], Any] = {}

    def get(self, key: tuple[str, Any], compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = compute()
        with self._lock:
            self._values = {k: v for k, v in self._values.items() if k[0] != key[0]}
            self._values[key] = value
        return value


class _ReviewQueue:
    """One background computation of the review queue per store version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: tuple[str, ReviewQueue] | None = None
        self._running: str | None = None

    def queue(self, service: Service, wait_s: float = 0.3) -> ReviewQueue:
        version = service.store.state_version()
        with self._lock:
            if self._done is not None and self._done[0] == version:
                return self._done[1]
            if self._running != version:
                self._running = version
                threading.Thread(
                    target=self._compute, args=(service, version), daemon=True, name="ui-review"
                ).start()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with self._lock:
                if self._done is not None and self._done[0] == version:
                    return self._done[1]
            time.sleep(0.02)
        with self._lock:
            stale = self._done[1] if self._done is not None else None
        if stale is not None:
            return stale
        return ReviewQueue(items=[], ready=False, computed_ts=None)

    def _compute(self, service: Service, version: str) -> None:
        try:
            items = service.graph.review(limit=100)
        except IdGraphError as exc:
            logger.warning("review queue failed: %s", exc)
            items = []
        with self._lock:
            self._done = (
                version,
                ReviewQueue(items=items, ready=True, computed_ts=int(time.time() * 1000)),
            )
            self._running = None


_CACHE = _Cache()
_REVIEW = _ReviewQueue()
_REHEARSALS = Rehearsals()
#: How long one `moves` call waits for a rehearsal (the page's script asks again after).
_MOVES_WAIT_S = 10.0

#: The operations by name.
OPERATIONS: Final[dict[str, Callable[[Service, Any], BaseModel]]] = {
    "search": search,
    "customer": customer,
    "explain": explain,
    "split_preview": split_preview,
    "split": split,
    "link_preview": link_preview,
    "link": link,
    "unsplit_preview": unsplit_preview,
    "unsplit": unsplit,
    "moves": moves,
    "segment_preview": segment_preview,
    "segment_save": segment_save,
    "segments": segments,
    "vocabulary": vocabulary,
    "review": review,
}
