"""Check a collection request's calls for the answer, and read logged calls into a batch.

A request is checked with `check_event_calls`: the event-stream reader's call-by-call rules,
without its columns, so a call refused here would be refused the same way in a JSONL file,
with the same reason, and the check costs microseconds rather than the ~10 ms it takes to
build a batch's frames. The kept calls go to the call log; the resolver reads a whole
micro-batch of them at once with `read_event_calls` (`parse_logged`), which also applies the
checks of values: a call carrying an erased identifier is refused there, and a value that is
unusable (an email that is not one, a future birth date) is dropped from a call that is
stored all the same. Both are written to the rejects file under the call's request label and
number, as a `line` and a `field` reject.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from idgraph.errors import FieldError
from idgraph.ingest.collect import SourceBatch
from idgraph.ingest.jsonl_events import check_event_calls, read_event_calls
from idgraph.ingest.rejects import Reject, render_raw
from idgraph.normalize.fields import parse_timestamp
from idgraph.serve.models import CallError
from idgraph.serve.rejects import RequestRejects
from idgraph.serve.settings import ServeSettings


@dataclass(slots=True)
class ParsedRequest:
    """One request's calls and what the checks said: the numbers (1-based) of the kept calls,
    the rejects, and the keys of the records the kept calls make; `message_ids` holds each
    call's messageId (None where the call is not an object)."""

    request_id: str
    label: str
    received: int
    kept: list[int]
    rejects: list[Reject]
    message_ids: list[str | None] = field(default_factory=list)
    #: The calls as read (stamped), and the size each was measured at: what the call log keeps.
    calls: list[Any] = field(default_factory=list)
    sizes: list[int] | None = None
    record_keys: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.kept)

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


#: Request ids come from a generator seeded once per process (and again in a forked child):
#: `uuid4` asks the kernel for randomness on every call, 5% of a worker's time under load.
_IDS = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _IDS.seed(os.urandom(16)))


def new_label(path: str) -> tuple[str, str]:
    """A fresh request id and the label its rejects carry, e.g. `http:/v1/batch#3f2a...`."""
    request_id = f"{_IDS.getrandbits(64):016x}"
    return request_id, f"http:{path}#{request_id}"


def whole_request_reject(
    label: str, reason: str, raw: bytes, *, field: str | None = None, total_bytes: int | None = None
) -> ParsedRequest:
    """A request refused as a whole (unreadable body, no `batch`): one reject on line 0."""
    request_id = label.rpartition("#")[2]
    reject = Reject(label, 0, reason, field, render_raw(raw, total_bytes=total_bytes))
    return ParsedRequest(request_id, label, 1, [], [reject])


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
            return ParsedRequest(request_id, label, 1, [], [reject], [_message_id(value)])
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
    check = check_event_calls(
        calls, source=settings.source, max_call_bytes=settings.max_call_bytes, sizes=sizes
    )
    refused = {number for number, _, _ in check.refused}
    rejects = [
        Reject(label, number, reason, field, render_raw(_raw(calls[number - 1])))
        for number, reason, field in check.refused
    ]
    request_id = label.rpartition("#")[2]
    return ParsedRequest(
        request_id,
        label,
        len(calls),
        [n for n in range(1, len(calls) + 1) if n not in refused],
        rejects,
        [_message_id(call) for call in calls],
        calls,
        sizes,
        check.record_keys,
    )


def _raw(call: Any) -> bytes:
    return call if isinstance(call, bytes) else orjson.dumps(call)


def log_body(parsed: ParsedRequest) -> bytes:
    """What the call log keeps of a request: its kept calls, their numbers in the request and
    the sizes they were measured at, read again by `parse_logged`, and when it was logged
    (`at`, for the resolution lag)."""
    calls, sizes = parsed.calls, parsed.sizes
    return orjson.dumps(
        {
            "label": parsed.label,
            "n": parsed.accepted,
            "at": time.time(),
            "lines": parsed.kept,
            "calls": [calls[n - 1] for n in parsed.kept],
            "sizes": [sizes[n - 1] for n in parsed.kept] if sizes is not None else None,
        }
    )


@dataclass(slots=True)
class LoggedCalls:
    """The calls of several log records read as one batch (None: none of them is valid any
    more), and their rejects in call order, named by their request and number: the calls
    refused (an erased identifier) and the values dropped from the calls that are stored."""

    batch: SourceBatch | None
    rejects: list[Reject] = field(default_factory=list)

    @property
    def refused(self) -> list[Reject]:
        """The calls refused whole (`line` rejects)."""
        return [r for r in self.rejects if r.kind == "line"]

    @property
    def dropped(self) -> list[Reject]:
        """The values dropped from calls that were stored (`field` rejects)."""
        return [r for r in self.rejects if r.kind == "field"]


def parse_logged(bodies: Sequence[bytes], settings: ServeSettings) -> LoggedCalls:
    """Read the calls of log records (one micro-batch) in one pass of `read_event_calls`."""
    calls: list[Any] = []
    sizes: list[int] = []
    where: list[tuple[str, int]] = []
    for body in bodies:
        value = orjson.loads(body)
        logged = value["calls"]
        calls.extend(logged)
        sizes.extend(value["sizes"] or [len(orjson.dumps(call)) for call in logged])
        where.extend((value["label"], line) for line in value["lines"])
    collected = RequestRejects()
    batch = read_event_calls(
        calls,
        label="http:resolver",
        source=settings.source,
        options=settings.options,
        rejects=collected,
        max_call_bytes=settings.max_call_bytes,
        sizes=sizes,
    )
    rejects = [
        Reject(*where[r.line - 1], r.reason, r.field, r.raw, r.kind)
        for r in collected.all
        if r.line
    ]
    return LoggedCalls(batch if batch.counts.ingested else None, rejects)


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
