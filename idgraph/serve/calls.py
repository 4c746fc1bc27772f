"""Turn a collection request's body into a `SourceBatch`, and its refused calls into errors.

Parsing and validation are the event-stream reader's (`read_event_calls`), so a call refused
here would be refused the same way in a JSONL file, with the same reason.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from idgraph.errors import FieldError
from idgraph.ingest.collect import SourceBatch
from idgraph.ingest.jsonl_events import read_event_calls
from idgraph.ingest.rejects import Reject, render_raw
from idgraph.normalize.fields import parse_timestamp
from idgraph.serve.models import CallError
from idgraph.serve.rejects import RequestRejects
from idgraph.serve.settings import ServeSettings


@dataclass(slots=True)
class ParsedRequest:
    """One request's calls: the batch to store (None if nothing is valid) and the rejects;
    `message_ids` holds each call's messageId (None where the call is not an object)."""

    request_id: str
    label: str
    received: int
    batch: SourceBatch | None
    rejects: list[Reject]
    message_ids: list[str | None] = field(default_factory=list)
    #: The calls as read (stamped), and the size each was measured at: what the call log keeps.
    calls: list[Any] = field(default_factory=list)
    sizes: list[int] | None = None

    @property
    def accepted(self) -> int:
        return self.batch.counts.ingested if self.batch is not None else 0

    @property
    def errors(self) -> list[CallError]:
        ids = self.message_ids
        return [
            CallError(
                index=r.line - 1 if r.line else None,
                messageId=ids[r.line - 1] if 0 < r.line <= len(ids) else None,
                field=r.field,
                reason=r.reason,
            )
            for r in self.rejects
        ]


def new_label(path: str) -> tuple[str, str]:
    """A fresh request id and the label its rejects carry, e.g. `http:/v1/batch#3f2a...`."""
    request_id = uuid.uuid4().hex[:16]
    return request_id, f"http:{path}#{request_id}"


def whole_request_reject(
    label: str, reason: str, raw: bytes, *, field: str | None = None, total_bytes: int | None = None
) -> ParsedRequest:
    """A request refused as a whole (unreadable body, no `batch`): one reject on line 0."""
    request_id = label.rpartition("#")[2]
    reject = Reject(label, 0, reason, field, render_raw(raw, total_bytes=total_bytes))
    return ParsedRequest(request_id, label, 1, None, [reject])


def parse_single(body: bytes, kind: str, *, label: str, settings: ServeSettings) -> ParsedRequest:
    """One call posted to `/v1/<kind>`: `type` may be omitted, and must match if given."""
    try:
        value: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _read([body], label, settings)
    if isinstance(value, dict):
        given = value.get("type")
        if given is None:
            value["type"] = kind
        elif not isinstance(given, str) or given.strip().lower() != kind:
            reason = (
                f"type {given!r} does not match the endpoint /v1/{kind}; omit it or send {kind!r}"
            )
            request_id = label.rpartition("#")[2]
            reject = Reject(label, 1, reason, "type", render_raw(body))
            return ParsedRequest(request_id, label, 1, None, [reject], [_message_id(value)])
        _stamp(value, _now_iso(), None)
    return _read([value], label, settings, sizes=[len(body)])


def parse_batch(body: bytes, *, label: str, settings: ServeSettings) -> ParsedRequest:
    """Segment's `{"batch": [...], "context": {...}}`; each call is stored or refused alone."""
    try:
        value: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return whole_request_reject(label, f"invalid JSON: {exc}", body)
    if not isinstance(value, dict):
        return whole_request_reject(label, 'not a JSON object (expected {"batch": [...]})', body)
    calls = value.get("batch")
    if not isinstance(calls, list):
        reason = "missing batch (a list of calls)" if calls is None else "batch must be a list"
        return whole_request_reject(label, reason, body, field="batch")
    if not calls:
        return whole_request_reject(label, "batch is empty", body, field="batch")
    if len(calls) > settings.max_batch_calls:
        return whole_request_reject(
            label,
            f"batch has {len(calls)} calls, limit {settings.max_batch_calls}",
            body,
            field="batch",
        )
    context = value.get("context")
    if context is not None and not isinstance(context, dict):
        return whole_request_reject(label, "context must be an object", body, field="context")
    received_at = _now_iso()
    sent_at = value.get("sentAt")
    sizes = [len(orjson.dumps(call)) for call in calls]
    for call in calls:
        if isinstance(call, dict):
            if context:
                own = call.get("context")
                if own is None:
                    call["context"] = dict(context)
                elif isinstance(own, dict):
                    call["context"] = {**context, **own}
            _stamp(call, received_at, sent_at)
    return _read(calls, label, settings, sizes=sizes)


def _read(
    calls: list[Any],
    label: str,
    settings: ServeSettings,
    *,
    sizes: list[int] | None = None,
) -> ParsedRequest:
    rejects = RequestRejects()
    batch = read_event_calls(
        calls,
        label=label,
        source=settings.source,
        options=settings.options,
        rejects=rejects,
        max_call_bytes=settings.max_call_bytes,
        sizes=sizes,
    )
    request_id = label.rpartition("#")[2]
    return ParsedRequest(
        request_id,
        label,
        len(calls),
        batch if batch.counts.ingested else None,
        rejects.all,
        [_message_id(call) for call in calls],
        calls,
        sizes,
    )


def log_body(parsed: ParsedRequest) -> bytes:
    """What the call log keeps of a request: its calls, read again by `parse_logged`.

    The rejected calls go too: reading them again refuses them again, which keeps the valid
    ones exactly those of the request (a call with one bad field is stored without it).
    """
    return orjson.dumps(
        {"label": parsed.label, "n": parsed.accepted, "calls": parsed.calls, "sizes": parsed.sizes}
    )


def parse_logged(body: bytes, settings: ServeSettings) -> SourceBatch | None:
    """The batch a call-log record holds (None when none of its calls is valid any more)."""
    value = orjson.loads(body)
    batch = read_event_calls(
        value["calls"],
        label=value["label"],
        source=settings.source,
        options=settings.options,
        rejects=RequestRejects(),
        max_call_bytes=settings.max_call_bytes,
        sizes=value["sizes"],
    )
    return batch if batch.counts.ingested else None


def _message_id(call: Any) -> str | None:
    if not isinstance(call, dict):
        return None
    value = call.get("messageId")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _stamp(call: dict[str, Any], received_at: str, batch_sent_at: Any) -> None:
    """Add what Segment's servers add: a `messageId` (if absent), `receivedAt`, and the
    clock-skew corrected `timestamp`.

    The derived messageId hashes the call as sent, so a retried call stores its event once,
    and the reject or replay of a call carries the same id and time.

    When the call (or its batch) says when it was sent (`sentAt`, the sender's clock), its
    time is corrected as Segment's servers do: `timestamp = receivedAt - (sentAt -
    originalTimestamp)`, where the original is the call's own `timestamp` (kept as
    `originalTimestamp`), so a device whose clock is off stores its events at the right time;
    a call without a time of its own was made when it was sent: its time is `receivedAt`.
    Values that do not parse are left alone for the reader to reject by name.
    """
    if call.get("messageId") in (None, ""):
        canonical = orjson.dumps(call, option=orjson.OPT_SORT_KEYS)
        call["messageId"] = hashlib.sha1(canonical).hexdigest()[:20]
    call["receivedAt"] = received_at
    sent_at = call.get("sentAt") or batch_sent_at
    original = call.get("originalTimestamp") or call.get("timestamp")
    if not sent_at:
        return
    try:
        sent_ms = _epoch_ms(sent_at)
        original_ms = _epoch_ms(original) if original else sent_ms
    except (FieldError, TypeError, AttributeError):
        return
    corrected = original_ms + (_epoch_ms(received_at) - sent_ms)
    if "originalTimestamp" not in call and call.get("timestamp"):
        call["originalTimestamp"] = call["timestamp"]
    call["timestamp"] = _iso(max(corrected, 0))


def _epoch_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(value)
    return parse_timestamp(value)


def _iso(millis: int) -> str:
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now_iso() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
