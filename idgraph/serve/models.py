"""Request and response models: what `/docs` shows and what the endpoints answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from idgraph.serve.lag import LagSummary


class CallError(BaseModel):
    """Why one call was not stored: its position, messageId, the JSON field at fault, the
    reason."""

    index: int | None = Field(
        description="0-based position of the call in `batch` (0 for a single call); null "
        "when the whole request is at fault."
    )
    messageId: str | None = Field(
        default=None,
        description="The call's messageId (as sent, or derived when it had none); null when "
        "the call is not a JSON object or the whole request is at fault.",
    )
    field: str | None = Field(
        default=None, description="JSON key path at fault, e.g. `traits.email`."
    )
    reason: str


class CollectResult(BaseModel):
    """The answer to a collection call, sent once the accepted calls are durably logged
    (and, with `?wait=true`, resolved)."""

    success: bool = Field(
        description="True: the request was taken. Calls refused inside it are counted in "
        "`rejected` and listed in `errors`."
    )
    request_id: str = Field(description="Names this request in the rejects file (`http:...#id`).")
    accepted: int = Field(description="Calls durably logged; the resolver applies them.")
    rejected: int = Field(description="Calls refused; each is listed in `errors`.")
    errors: list[CallError] = []
    customers: list[str] | None = Field(
        default=None,
        description="With `?wait=true`, for a single identify/track/page/screen/alias call: "
        "the customer id(s) its identity now belongs to.",
    )
    resolved: bool = Field(
        default=False,
        description="True when the calls were resolved before this answer (`?wait=true` "
        "within the wait timeout).",
    )


class Problem(BaseModel):
    """Every non-200 answer: what is wrong and, for calls, which call and field."""

    success: Literal[False] = False
    code: str = Field(
        description="Machine-readable kind of error, e.g. `invalid_request`, `unauthorized`, "
        "`payload_too_large`, `unavailable` (what Segment's and RudderStack's SDKs read)."
    )
    message: str
    errors: list[CallError] = []
    accepted: int | None = None
    rejected: int | None = None
    request_id: str | None = None


class LookupResult(BaseModel):
    """Customer ids for an identifier (several when it sits on records of several customers)."""

    identifier: str
    customer_ids: list[str]


class Counters(BaseModel):
    """Running totals since the service started: received = accepted + rejected + failed."""

    requests: int = 0
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = Field(
        default=0, description="Valid calls not stored because the store failed (answered 503)."
    )
    commits: int = 0
    pending: int = Field(default=0, description="Calls being appended to the call log right now.")
    reconciles: bool = True


class LaneStatus(BaseModel):
    """One call-log lane (one HTTP worker's): its last durable and last resolved offset."""

    lane: str
    appended: int
    applied: int


class Status(BaseModel):
    """The background resolver: how far behind the acknowledged calls it is."""

    resolver: Literal["warming", "running", "paused", "stopped"] = Field(
        description="`warming` while the resolver reads the stored state into memory as the "
        "service starts (calls are acknowledged meanwhile and resolved after)."
    )
    depth: int = Field(description="Calls acknowledged (logged) but not resolved yet.")
    lag_s: float = Field(description="Age in seconds of the oldest unresolved call (0: none).")
    waits: LagSummary = Field(
        default_factory=LagSummary,
        description="Every call resolved since the service started: how long each waited "
        "between its acknowledgement and the commit of its micro-batch (its own resolution "
        "lag, where `lag_s` is the oldest waiting call's now).",
    )
    appended_offset: int = Field(
        description="Records durably written to the call log (the lanes' offsets summed)."
    )
    applied_offset: int = Field(
        description="Records resolved into the store (the lanes' offsets summed)."
    )
    batches: int = Field(description="Micro-batches the resolver applied since start.")
    batch_s: float = Field(
        default=0.0,
        description="Seconds those micro-batches took, summed, from reading their calls to "
        "their commit: under a steady load, how busy the resolver is (a micro-batch waits "
        "for a checkpoint behind it, so this includes such waits).",
    )
    refused: int = Field(
        default=0,
        description="Acknowledged calls the resolver refused since start (an erased "
        "identifier); each is in the rejects file as a `line` reject.",
    )
    values_dropped: int = Field(
        default=0,
        description="Values the resolver dropped from calls it stored, since start (an email "
        "that is not one, a future birth date, a junk phone); each is in the rejects file as "
        "a `field` reject.",
    )
    store_reopens: int = Field(
        default=0,
        description="Times the resolver reopened the embedded store since start, to give back "
        "the memory the engine kept of past writes (`--store-reopen-mb`).",
    )
    store_reopen_s: float = Field(
        default=0.0,
        description="Seconds those reopens took, summed (each checkpoints the store first).",
    )
    store_checkpoints: int = Field(
        default=0,
        description="Checkpoints of the embedded store the resolver ran since start, in lulls "
        "and behind the micro-batches once the store's write-ahead log grew past half of "
        "`IDGRAPH_CHECKPOINT_MB` (a reopen's own checkpoint counts as the reopen).",
    )
    store_checkpoint_s: float = Field(
        default=0.0,
        description="Seconds those checkpoints took, summed. A checkpoint behind the resolver "
        "holds back its next write, so under load the lag rises by about one checkpoint "
        "each time.",
    )
    store_down: str | None = Field(
        default=None,
        description="Why the embedded store is closed: a reopen closed it and could not open "
        "it again. Calls are still acknowledged; the resolver tries to open it before every "
        "micro-batch and applies them once it can. None while the store is open.",
    )
    lanes: list[LaneStatus] = Field(default_factory=list, description="Per call-log lane.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    resolver: Literal["running", "stopped"]
    pending: int


class _Call(BaseModel):
    model_config = ConfigDict(extra="allow")

    userId: str | int | None = Field(default=None, description="The logged-in user's id.")
    anonymousId: str | int | None = Field(
        default=None,
        description="The visitor's id before login; userId or anonymousId is required.",
    )
    timestamp: str | int | None = Field(
        default=None,
        description="ISO 8601 or epoch; else originalTimestamp, sentAt, then the time the "
        "service received the call (`receivedAt`).",
    )
    messageId: str | None = Field(
        default=None, description="Makes retries idempotent; derived from the call if absent."
    )
    context: dict[str, Any] | None = Field(
        default=None, description="`context.traits` and `context.device.id` are read."
    )


class IdentifyCall(_Call):
    """`identify`: who the user is; `traits.email`, `phone`, names, birthday, address feed
    the golden fields, other scalar traits are kept as traits."""

    type: Literal["identify"] | None = None
    traits: dict[str, Any] | None = None


class TrackCall(_Call):
    """`track`: an event the user performed."""

    type: Literal["track"] | None = None
    event: str
    properties: dict[str, Any] | None = None


class PageCall(_Call):
    """`page` (stored as the event `Page Viewed`)."""

    type: Literal["page"] | None = None
    name: str | None = None
    properties: dict[str, Any] | None = None


class ScreenCall(_Call):
    """`screen` (stored as the event `Screen Viewed`)."""

    type: Literal["screen"] | None = None
    name: str | None = None
    properties: dict[str, Any] | None = None


class AliasCall(BaseModel):
    """`alias`: `previousId` (an anonymous id or an older user id) is the same person as
    `userId`."""

    model_config = ConfigDict(extra="allow")

    type: Literal["alias"] | None = None
    userId: str | int
    previousId: str | int
    timestamp: str | int | None = None
    messageId: str | None = None


class GroupCall(_Call):
    """`group`: the user belongs to the account `groupId` (a company, household, team);
    `traits` describe the account (e.g. `name`, `plan`, `employees`), not the person."""

    type: Literal["group"] | None = None
    groupId: str | int = Field(description="The account's id.")
    traits: dict[str, Any] | None = Field(
        default=None, description="The account's traits; scalar ones become its properties."
    )


class BatchBody(BaseModel):
    """Segment's batch: up to `max_batch_calls` calls, each with its `type`. A top-level
    `context` is merged into every call's context (the call's own keys win)."""

    model_config = ConfigDict(extra="allow")

    batch: list[dict[str, Any]] = Field(
        description="Calls of type identify, track, page, screen, alias or group."
    )
    context: dict[str, Any] | None = None


CALL_MODELS: dict[str, type[BaseModel]] = {
    "identify": IdentifyCall,
    "track": TrackCall,
    "page": PageCall,
    "screen": ScreenCall,
    "alias": AliasCall,
    "group": GroupCall,
}
