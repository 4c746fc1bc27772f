"""Saved segments: definitions kept in the store, runs that materialise membership.

A saved segment is a `Segment` node holding its definition (YAML text). Running it evaluates
the definition, then moves the `IN_SEGMENT` edges to match in one transaction: customers who
entered get an edge stamped with the run time, those who left lose theirs, and a `SegmentRun`
node records the sizes for history. The entered / exited lists are what a channel syncs.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from idgraph.errors import NotFoundError, SegmentDefinitionError
from idgraph.models import CustomerSummary
from idgraph.segment.definition import SegmentDefinition, parse_segment
from idgraph.segment.run import SegmentResult, explain_segment, folder_resolver, run_segment
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS, SEGMENT_WRITES

__all__ = [
    "SavedSegment",
    "SegmentChange",
    "SegmentRunReport",
    "SegmentRunSummary",
    "delete_segment",
    "get_segment",
    "list_segments",
    "resolver",
    "run_saved_segment",
    "save_segment",
    "segment_history",
]


class SavedSegment(BaseModel):
    """A segment definition kept in the store, with what its last run found."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str | None
    definition: str
    updated_ts: int | None
    last_run_ts: int | None
    size: int | None

    def parsed(self) -> SegmentDefinition:
        """The definition, validated (errors name the saved segment)."""
        return parse_segment(yaml.safe_load(self.definition), source=f"saved segment {self.name}")


class SegmentRunSummary(BaseModel):
    """One past run: when, as of when, and how many were in, entered and exited."""

    model_config = ConfigDict(frozen=True)

    ts: int
    as_of_ts: int
    size: int
    entered: int
    exited: int


class SegmentRunReport(BaseModel):
    """The members after a run and the changes since the previous one."""

    model_config = ConfigDict(frozen=True)

    name: str
    ran_at: dt.datetime
    as_of: dt.datetime
    size: int
    members: list[CustomerSummary]
    entered: list[CustomerSummary]
    #: Ids of customers who left; a customer merged away since may no longer exist.
    exited: list[str]
    first_run: bool


class SegmentChange(BaseModel):
    """One customer entering or leaving one segment, and why.

    `cause` is what moved the customer: "new event", "new record", "record change",
    "merge", "split" or "erasure" when an ingest, override or erasure re-resolved it;
    "segment run" when a run re-evaluated the definition (time windows, a changed definition).
    """

    model_config = ConfigDict(frozen=True)

    segment: str
    customer: str
    change: Literal["entered", "exited"]
    cause: str
    ts: int


def moves(
    name: str,
    entered: Sequence[str],
    exited: Sequence[str],
    cause: Callable[[str], str],
    ts: int,
) -> list[SegmentChange]:
    """The changes of one segment: who entered, who exited, each with its cause."""
    changes = [
        SegmentChange(segment=name, customer=c, change="entered", cause=cause(c), ts=ts)
        for c in entered
    ]
    changes += [
        SegmentChange(segment=name, customer=c, change="exited", cause=cause(c), ts=ts)
        for c in exited
    ]
    return changes


def change_rows(changes: Sequence[SegmentChange]) -> list[dict[str, Any]]:
    """`SegmentChange` nodes to create, each with a fresh id."""
    return [{"id": uuid.uuid4().hex, **c.model_dump()} for c in changes]


def segment_changes(
    store: GraphStore, name: str, *, since_ms: int = 0, offset: int = 0, limit: int = 1000
) -> list[SegmentChange]:
    """Entered/exited changes of a saved segment since an instant, oldest first, by page."""
    get_segment(store, name)
    rows = store.query(
        "segment_changes",
        READS["segment_changes"],
        {"name": name, "since": since_ms, "offset": offset, "limit": limit},
    )
    return [SegmentChange(segment=name, **row) for row in rows]


def definition_text(defn: SegmentDefinition) -> str:
    """The definition as YAML, the form a `Segment` node keeps."""
    data = defn.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_defaults=True, warnings=False
    )
    text = yaml.safe_dump({"name": defn.name, **data}, sort_keys=False, allow_unicode=True)
    if parse_segment(yaml.safe_load(text), source=defn.name) != defn:
        raise SegmentDefinitionError(
            f"segment {defn.name!r} cannot be written back as YAML; save it from its file"
        )
    return text


def get_segment(store: GraphStore, name: str) -> SavedSegment:
    """The saved segment `name`.

    Raises:
        NotFoundError: no segment of that name is saved.
    """
    rows = store.query("segment_get", READS["segment_get"], {"name": name})
    if not rows:
        known = [s.name for s in list_segments(store)]
        hint = f"; saved: {', '.join(known)}" if known else "; none is saved yet"
        raise NotFoundError(f"no saved segment {name!r}{hint}")
    return SavedSegment(**rows[0])


def list_segments(store: GraphStore) -> list[SavedSegment]:
    """Every saved segment, by name."""
    return [SavedSegment(**row) for row in store.query("segment_list", READS["segment_list"])]


def resolver(
    store: GraphStore | None, folder: Path | str | None = None
) -> Callable[[str], SegmentDefinition | None]:
    """Find definitions by name for `segment:` conditions: saved segments first, then
    `<folder>/<name>.yaml` (the definition files beside the one being run)."""
    from_folder = folder_resolver(folder) if folder is not None else None

    def resolve(name: str) -> SegmentDefinition | None:
        if store is not None:
            rows = store.query("segment_get", READS["segment_get"], {"name": name})
            if rows:
                return SavedSegment(**rows[0]).parsed()
        return from_folder(name) if from_folder is not None else None

    return resolve


def evaluate(
    store: GraphStore,
    defn: SegmentDefinition,
    *,
    as_of_ms: int,
    folder: Path | str | None = None,
) -> SegmentResult:
    """Members of `defn` now, resolving `segment:` references to saved segments (or files in
    `folder`)."""
    return run_segment(store, defn, as_of_ms=as_of_ms, resolve=resolver(store, folder))


def save_segment(
    store: GraphStore,
    defn: SegmentDefinition,
    *,
    text: str | None = None,
    now_ms: int | None = None,
) -> SavedSegment:
    """Validate `defn` against the store (traits exist, references resolve) and save it.

    Saving again under the same name replaces the definition and keeps the membership, so
    the next run reports changes against the last one.

    Args:
        store: A writable store.
        defn: The definition; its name is the saved name.
        text: The YAML to keep (e.g. the file as written, with its comments); default a dump.
        now_ms: The save time; default now.

    Raises:
        SegmentDefinitionError: the definition does not compile against this store.
    """
    # Compile against the store's customers and saved segments: fails early, runs nothing.
    explain_segment(store, defn, as_of_ms=_now(now_ms), resolve=resolver(store))
    store.write_all(
        f"segment_save:{defn.name}",
        [
            (
                SEGMENT_WRITES["segment_upsert"],
                {
                    "name": defn.name,
                    "description": defn.description,
                    "definition": text if text is not None else definition_text(defn),
                    "ts": _now(now_ms),
                },
            )
        ],
    )
    return get_segment(store, defn.name)


def run_saved_segment(
    store: GraphStore, name: str, *, as_of_ms: int | None = None, now_ms: int | None = None
) -> SegmentRunReport:
    """Evaluate a saved segment and materialise its membership as `IN_SEGMENT` edges.

    Args:
        store: A writable store.
        name: The saved segment.
        as_of_ms: The instant time windows are evaluated at; default now.
        now_ms: The run time, stamped on new edges and on the history; default now.

    Raises:
        NotFoundError: no segment of that name is saved.
        SegmentDefinitionError: the saved definition no longer compiles (e.g. a trait is gone).
    """
    saved = get_segment(store, name)
    ran = _now(now_ms)
    moment = as_of_ms if as_of_ms is not None else ran
    result = evaluate(store, saved.parsed(), as_of_ms=moment)
    before = {
        row["id"]
        for row in store.query("segment_member_ids", READS["segment_member_ids"], {"name": name})
    }
    now_in = {m.id for m in result.members}
    entered = sorted(now_in - before)
    exited = sorted(before - now_in)
    steps: list[tuple[str, dict[str, Any]]] = []
    if exited:
        steps.append((SEGMENT_WRITES["segment_remove_members"], {"name": name, "ids": exited}))
    if entered:
        steps.append(
            (SEGMENT_WRITES["segment_add_members"], {"name": name, "ids": entered, "ts": ran})
        )
    size = len(now_in)
    steps.append((SEGMENT_WRITES["segment_mark_run"], {"name": name, "ts": ran, "size": size}))
    moved = moves(name, entered, exited, lambda _: "segment run", ran)
    if moved:
        steps.append((SEGMENT_WRITES["segment_record_changes"], {"rows": change_rows(moved)}))
    steps.append(
        (
            SEGMENT_WRITES["segment_record_run"],
            {
                "id": f"{name}:{ran}",
                "name": name,
                "ts": ran,
                "as_of_ts": moment,
                "size": size,
                "entered": len(entered),
                "exited": len(exited),
            },
        )
    )
    store.write_all(f"segment_run:{name}", steps)
    entered_set = set(entered)
    return SegmentRunReport(
        name=name,
        ran_at=_instant(ran),
        as_of=_instant(moment),
        size=size,
        members=result.members,
        entered=[m for m in result.members if m.id in entered_set],
        exited=exited,
        first_run=saved.last_run_ts is None,
    )


def delete_segment(store: GraphStore, name: str) -> None:
    """Remove a saved segment, its membership and its history.

    Raises:
        NotFoundError: no segment of that name is saved.
        SegmentDefinitionError: another saved segment refers to it.
    """
    get_segment(store, name)
    users = [
        s.name
        for s in list_segments(store)
        if s.name != name and _refers_to(s.parsed().model_dump(by_alias=True), name)
    ]
    if users:
        raise SegmentDefinitionError(
            f"segment {name!r} is used by {', '.join(users)}: change or delete those first"
        )
    store.write_all(
        f"segment_delete:{name}",
        [
            (SEGMENT_WRITES["segment_delete_runs"], {"name": name}),
            (SEGMENT_WRITES["segment_delete_changes"], {"name": name}),
            (SEGMENT_WRITES["segment_delete"], {"name": name}),
        ],
    )


def segment_history(store: GraphStore, name: str) -> list[SegmentRunSummary]:
    """Every run of a saved segment, oldest first."""
    get_segment(store, name)
    rows = store.query("segment_runs", READS["segment_runs"], {"name": name})
    return [SegmentRunSummary(**row) for row in rows]


def _refers_to(data: object, name: str) -> bool:
    if isinstance(data, dict):
        if data.get("segment") == name:
            return True
        return any(_refers_to(v, name) for v in data.values())
    if isinstance(data, list):
        return any(_refers_to(v, name) for v in data)
    return False


def _now(now_ms: int | None) -> int:
    return now_ms if now_ms is not None else int(time.time() * 1000)


def _instant(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
