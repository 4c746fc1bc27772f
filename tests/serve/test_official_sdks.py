"""The official Segment and RudderStack Python SDKs, with their default settings (gzip on for
RudderStack), against a real service on a loopback port over a real embedded store.

Each SDK sends a small shop's traffic: anonymous page views, an older login, identify (with
`context.traits`), product views, orders with revenue, alias and group calls. The test then
compares what the store holds with what was sent (people, events, revenue, memberships) and
checks that neither SDK reported a failure. A second test makes the first upload of every
batch fail after the service stored it, so both SDKs retry it: nothing may be stored twice.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from idgraph.query import IdentityGraph
from idgraph.serve import ServeSettings, create_app
from idgraph.settings import open_store
from idgraph.store.base import GraphStore
from tests.serve.conftest import KEY

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from rudderstack.analytics import Client as RudderClient
    from segment.analytics import Client as SegmentClient

ASGI = Callable[..., Any]
PEOPLE = 6


@dataclass
class Sent:
    """What one SDK was asked to send, per person (by userId)."""

    events: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, float] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    errors: list[tuple[str, int]] = field(default_factory=list)

    def on_error(self, error: Exception, batch: list[Any]) -> None:
        self.errors.append((repr(error), len(batch)))


def drive(client: Any, prefix: str, sent: Sent) -> None:
    """Every call type, as a shop's site and backend make them, for `PEOPLE` people."""
    offset = timezone(timedelta(hours=2))
    for n in range(PEOPLE):
        user, anon, old = f"{prefix}-u{n}", f"{prefix}-a{n}", f"{prefix}-old{n}"
        email = f"{prefix}.person{n}@shop{n}.example.com"
        company = f"{prefix}-company{n % 2}"
        plan = "enterprise" if n % 2 == 0 else "starter"
        client.page(anonymous_id=anon, name="Home", properties={"path": "/"})
        client.track(user_id=old, event="Signed Up", timestamp=datetime(2025, 1, n + 1, 9, 0))
        client.identify(
            user_id=user,
            anonymous_id=anon,
            traits={"email": email},
            context={"traits": {"loyalty_tier": "gold" if n % 3 == 0 else "silver"}},
        )
        client.track(user_id=user, event="Product Viewed", properties={"sku": f"SKU-{n}"})
        revenue = 0.0
        for order in range(n % 3):
            amount = round(10.5 * (n + 1) + order, 2)
            revenue += amount
            client.track(
                user_id=user,
                event="Order Completed",
                properties={"order_id": f"{user}-o{order}", "revenue": amount},
                timestamp=datetime(2025, 6, 1, 12, order, tzinfo=offset),
            )
        client.alias(previous_id=old, user_id=user)
        client.group(
            user_id=user, group_id=company, traits={"plan": plan, "name": f"Company {n % 2}"}
        )
        sent.events[user] = 3 + n % 3
        sent.revenue[user] = revenue
        sent.ids[user] = [anon, old, email]
        sent.accounts[user] = (company, plan)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FailFirstUploads:
    """Stores each of the first `n` batches of each SDK (told apart by their encoding: only
    RudderStack's gzips), then answers 500 as if the answer were lost: the SDK retries a
    batch the service already holds."""

    def __init__(self, app: ASGI, n: int) -> None:
        self.app = app
        self.n = n
        self.failed: dict[str, int] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers", []))
        sdk = "rudderstack" if headers.get(b"content-encoding") == b"gzip" else "segment"
        if (
            scope["type"] != "http"
            or scope["path"] != "/v1/batch"
            or self.failed.get(sdk, 0) >= self.n
        ):
            await self.app(scope, receive, send)
            return
        self.failed[sdk] = self.failed.get(sdk, 0) + 1

        async def drop(_message: dict[str, Any]) -> None:
            return None

        await self.app(scope, receive, drop)
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        body = b'{"success": false, "code": "internal_error", "message": "injected"}'
        await send({"type": "http.response.body", "body": body})


@contextmanager
def running(folder: Path, *, fail_first: int = 0) -> Iterator[tuple[str, GraphStore, Any]]:
    """`create_app` over an embedded store, served by uvicorn on a loopback port."""
    store = open_store(folder / "idgraph.db")
    settings = ServeSettings(api_keys=(KEY,), rejects_path=folder / "rejects.jsonl")
    app: ASGI = create_app(store, settings)
    wrapper = FailFirstUploads(app, fail_first)
    port = free_port()
    config = uvicorn.Config(
        wrapper, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store, wrapper
    finally:
        server.should_exit = True
        thread.join(30)
        store.close()


def clients(url: str, segment: Sent, rudder: Sent) -> list[tuple[str, Any, Sent]]:
    """Both SDKs with their defaults but the host, the key and an error callback."""
    return [
        ("seg", SegmentClient(write_key=KEY, host=url, on_error=segment.on_error), segment),
        ("rud", RudderClient(write_key=KEY, host=url, on_error=rudder.on_error), rudder),
    ]


def send_all(url: str) -> list[tuple[str, Any, Sent]]:
    made = clients(url, Sent(), Sent())
    for prefix, client, sent in made:
        drive(client, prefix, sent)
    for _, client, _ in made:
        client.flush()
        client.join()
    return made


def settle(url: str, timeout: float = 30.0) -> None:
    """Wait until the background resolver has applied every acknowledged call."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {KEY}"}
    while httpx.get(f"{url}/v1/status", headers=headers).json()["depth"]:
        assert time.monotonic() < deadline, "the resolver did not catch up"
        time.sleep(0.05)


def check_store(store: GraphStore, made: list[tuple[str, Any, Sent]]) -> None:
    graph = IdentityGraph.over(store)
    customers: set[str] = set()
    for prefix, _client, sent in made:
        for user, count in sent.events.items():
            (customer,) = graph.lookup(user)
            customers.add(customer)
            for other in sent.ids[user]:
                assert graph.lookup(other) == [customer], (user, other)
            profile = graph.profile(customer, events=100)
            assert profile.event_count == count, user
            orders = [e for e in profile.events if e.name == "Order Completed"]
            revenue = sum(float(e.properties["revenue"]) for e in orders)
            assert revenue == pytest.approx(sent.revenue[user]), user
            # RudderStack sends identify traits only as `context.traits` (replacing any given).
            assert profile.golden["email"] in sent.ids[user]
            if prefix == "seg":
                (record,) = [r for r in profile.records if r.source_id == user]
                tier = "gold" if int(user.rpartition("u")[2]) % 3 == 0 else "silver"
                assert record.traits.get("loyalty_tier") == tier, user
    people = sum(len(sent.events) for _, _, sent in made)
    assert len(customers) == people
    assert graph.stats().events == sum(sum(sent.events.values()) for _, _, sent in made)
    rows = store.query(
        "test:memberships",
        "MATCH (c:Customer)-[:HAS_RECORD]->(:Record)-[:MEMBER_OF]->(a:Account) "
        "RETURN DISTINCT c.id AS customer, a.id AS account, a.plan AS plan",
    )
    held = {(row["customer"], row["account"], row["plan"]) for row in rows}
    expected = {
        (graph.lookup(user)[0], account, plan)
        for _, _, sent in made
        for user, (account, plan) in sent.accounts.items()
    }
    assert held == expected


@pytest.fixture
def quiet_sdk_logs() -> Iterator[None]:
    # The SDKs log retries at ERROR; the test checks their error callbacks instead.
    loggers = [logging.getLogger(name) for name in ("segment", "rudderstack")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def test_both_sdks_store_what_they_send_and_report_no_failure(tmp_path: Path) -> None:
    with running(tmp_path) as (url, store, _):
        made = send_all(url)
        for prefix, _, sent in made:
            assert sent.errors == [], prefix
        settle(url)
        check_store(store, made)
    assert not (tmp_path / "rejects.jsonl").exists()


@pytest.mark.usefixtures("quiet_sdk_logs")
def test_a_batch_both_sdks_retry_is_stored_once(tmp_path: Path) -> None:
    with running(tmp_path, fail_first=2) as (url, store, wrapper):
        made = send_all(url)
        assert wrapper.failed == {"segment": 2, "rudderstack": 2}
        settle(url)
        stats = IdentityGraph.over(store).stats()
        assert stats.events == sum(sum(sent.events.values()) for _, _, sent in made)
        for prefix, _, sent in made:
            assert sent.errors == [], prefix
        settle(url)
        check_store(store, made)


def test_sdk_clocks_and_timestamps_reach_the_store_corrected(tmp_path: Path) -> None:
    """Explicit timestamps with an offset arrive as the same instant (sentAt skew of a client
    on the same machine is a few milliseconds)."""
    with running(tmp_path) as (url, store, _):
        send_all(url)
        settle(url)
        graph = IdentityGraph.over(store)
        for prefix in ("seg", "rud"):
            (customer,) = graph.lookup(f"{prefix}-u2")
            orders = [e for e in graph.profile(customer).events if e.name == "Order Completed"]
            instant = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
            first = min(e.ts for e in orders)
            assert abs(first - int(instant.timestamp() * 1000)) < 5_000, prefix
