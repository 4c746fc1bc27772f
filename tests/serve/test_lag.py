"""Each resolved call's own wait: the histogram's quantiles, and what `/v1/status` reports."""

from __future__ import annotations

import random
import time
from pathlib import Path

from idgraph.serve.lag import LagHistogram
from tests.serve.conftest import TS, serving


def exact(waits: list[float], q: float) -> float:
    ordered = sorted(waits)
    return ordered[max(int(q * len(ordered) + 0.999999) - 1, 0)]


def test_quantiles_are_within_one_bucket_of_the_exact_ones() -> None:
    draw = random.Random(7)
    waits = [draw.lognormvariate(-1.0, 1.2) for _ in range(20_000)]
    histogram = LagHistogram()
    for wait in waits:
        histogram.add(wait)
    for q in (0.5, 0.9, 0.95, 0.99):
        true = exact(waits, q)
        assert true <= histogram.quantile(q) <= true * 1.05 + 0.001, q
    summary = histogram.summary()
    assert summary.calls == 20_000
    assert summary.max_s == round(max(waits), 3)


def test_a_record_of_many_calls_weighs_as_many() -> None:
    histogram = LagHistogram()
    histogram.add(0.010)
    histogram.add(2.0, calls=99)
    assert histogram.summary().calls == 100
    assert 1.9 <= histogram.quantile(0.5) <= 2.0
    assert histogram.quantile(0.01) <= 0.0105


def test_waits_past_the_last_bucket_and_below_zero_are_kept() -> None:
    histogram = LagHistogram()
    histogram.add(-0.5)  # a clock step back: counted as no wait, not lost
    histogram.add(50_000.0)
    assert histogram.summary().calls == 2
    assert histogram.quantile(0.5) <= 0.001
    assert histogram.quantile(1.0) == 50_000.0


def test_no_calls_is_all_zero() -> None:
    assert LagHistogram().summary().model_dump() == {
        "calls": 0, "p50_s": 0.0, "p95_s": 0.0, "p99_s": 0.0, "max_s": 0.0,
    }  # fmt: skip


def test_the_status_reports_how_long_the_resolved_calls_waited(tmp_path: Path) -> None:
    with serving(tmp_path, resolver_paused=True) as served:
        for number in range(3):
            body = {"userId": f"u{number}", "event": "Viewed", "timestamp": TS}
            assert served.post("/v1/track", body, params={}).status_code == 200
        held = 0.6
        time.sleep(held)
        waits = served.get("/v1/status").json()["waits"]
        assert waits["calls"] == 0  # acknowledged, not resolved: no wait counted yet
        served.client.app.state.service.resolver.resume()  # type: ignore[attr-defined]
        served.settle()
        waits = served.get("/v1/status").json()["waits"]
        assert waits["calls"] == 3
        assert held <= waits["p50_s"] <= waits["p95_s"] <= waits["p99_s"] <= waits["max_s"] < 30


def test_the_status_counts_calls_that_arrive_while_a_micro_batch_is_in_flight(
    tmp_path: Path,
) -> None:
    """The lag is the age of the oldest call not yet resolved at the time of asking: a status
    call that waited for the resolver to look at the lanes answered after the micro-batch in
    flight, without the calls it held and without those that arrived meanwhile."""
    with serving(tmp_path) as served:
        resolver = served.client.app.state.service.resolver  # type: ignore[attr-defined]
        with resolver.exclusive():  # the micro-batch that takes the first call cannot write
            first = {"userId": "u1", "event": "Viewed", "timestamp": TS}
            assert served.post("/v1/track", first, params={}).status_code == 200
            held = 0.5
            time.sleep(held)  # the resolver has taken the first call and waits to write it
            second = {"userId": "u2", "event": "Viewed", "timestamp": TS}
            assert served.post("/v1/track", second, params={}).status_code == 200
            state = served.get("/v1/status").json()
            assert state["depth"] == 2
            assert held <= state["lag_s"] < 30
        served.settle()
        state = served.get("/v1/status").json()
        assert (state["depth"], state["lag_s"]) == (0, 0)
