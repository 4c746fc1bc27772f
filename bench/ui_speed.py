"""How fast each `/ui` page answers on a store of N customers (target: under 500 ms).

Usage:
    python bench/ui_speed.py [--customers 100000] [--store PATH] [--workers 1] [--repeat 15]

Builds a store once as bench/serve_load.py does (or reuses `--store`), starts
`idgraph serve --workers W` on a fresh copy of it with a read key and an admin key, signs in
as a browser does (the key in the form, then the cookie), and times every page over real HTTP
`--repeat` times, on customers with the most records (their pages and graphs are the
largest). Pages that change data run once per customer each (a split or link is not
repeatable). Prints a markdown table: median, p95 and max in ms per page. Numbers go to
docs/ui.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.serve_load import KEY, Server, build_store  # noqa: E402
from bench.store_copy import copy_store  # noqa: E402

SEGMENTS = {
    "italians": "where: {trait: country, op: '=', value: IT}",
    "buyers": "where: {event: Order Completed, min_count: 1}",
    "recent_big": (
        "where: {event: Order Completed, within: 365d, "
        "sum: {property: total, op: '>=', value: 300}}"
    ),
}


def pick_customers(store: Path, count: int) -> list[dict[str, Any]]:
    """Customers with the most records, with an email, a record key and a name."""
    from idgraph.query import IdentityGraph

    with IdentityGraph(store=store) as graph:
        rows = graph.store.query(
            "bench_big_customers",
            "MATCH (c:Customer) WHERE c.email IS NOT NULL AND c.last_name IS NOT NULL "
            "RETURN c.id AS id, c.email AS email, c.first_name AS first, c.last_name AS last, "
            "c.phone AS phone ORDER BY c.record_count DESC, id LIMIT $n",
            {"n": count},
        )
        picked = []
        for row in rows:
            records = [r.key for r in graph.profile(row["id"], events=1).records]
            picked.append({**row, "records": records})
    return picked


def save_segments(store: Path) -> None:
    import yaml

    from idgraph.segment.definition import parse_segment
    from idgraph.segment.saved import run_saved_segment, save_segment
    from idgraph.settings import open_store

    with open_store(store) as graph:
        for name, text in SEGMENTS.items():
            save_segment(graph, parse_segment({"name": name, **yaml.safe_load(text)}, source=name))
            run_saved_segment(graph, name)


def timed(
    samples: dict[str, list[float]],
    name: str,
    send: Callable[..., httpx.Response],
    path: str,
    **kwargs: Any,
) -> httpx.Response:
    started = time.perf_counter()
    answer = send(path, **kwargs)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code >= 400:
        problem = re.search(r"id=\"problem\">(.*?)<", answer.text, re.S)
        said = problem.group(1) if problem else answer.text[:300]
        raise SystemExit(f"{name}: HTTP {answer.status_code}: {said}")
    samples.setdefault(name, []).append(elapsed)
    return answer


def previewed(
    samples: dict[str, list[float]],
    name: str,
    http: httpx.Client,
    path: str,
    data: dict[str, Any],
) -> httpx.Response:
    """A change's preview page, then its segment moves as the page's script loads them:
    `name` times the page, `name + ", moves shown"` the click until the moves are on it."""
    started = time.perf_counter()
    page = timed(samples, name, http.post, path, data=data)
    ticket = re.search(r'data-ticket="([0-9a-f]+)"', page.text)
    if ticket is None:
        raise SystemExit(f"{name}: the preview started no rehearsal")
    while True:
        answer = http.get(f"/ui/moves/{ticket.group(1)}")
        if answer.status_code != 202:
            break
    if answer.status_code != 200 or 'id="segment-moves"' not in answer.text:
        raise SystemExit(f"{name}: segment moves: HTTP {answer.status_code}: {answer.text[:300]}")
    samples.setdefault(f"{name}, moves shown", []).append((time.perf_counter() - started) * 1000)
    return page


def changed(
    samples: dict[str, list[float]],
    http: httpx.Client,
    after_preview: bool,
    path: str,
    label: str,
    form: dict[str, str],
) -> httpx.Response:
    """A confirmed change, right after its preview (the rehearsed plan is written) or alone
    (as after some other write to the store: the records are resolved again)."""
    if after_preview:
        previewed(samples, f"{label} preview", http, path, form)
    how = "after its preview" if after_preview else "resolved again"
    data = {**form, "confirm": "yes"}
    return timed(samples, f"{label} (confirmed, {how})", http.post, path, data=data)


BUILDER = {
    "name": "probe",
    "kind": ["trait", "event"],
    "cname": ["country", "Order Completed"],
    "op": ["=", ">="],
    "value": ["IT", "1"],
    "window": ["", "365d"],
}


def run(url: str, customers: list[dict[str, Any]], repeat: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    with httpx.Client(base_url=url, timeout=120) as http:
        http.post("/ui/signin", data={"key": KEY})
        found = re.search(r'name="csrf" value="([0-9a-f]{64})"', http.get("/ui").text)
        assert found is not None, "sign-in failed"
        csrf = found.group(1)
        # The review queue is computed in the background (it reads every customer's records);
        # wait for it first, so it does not share the CPU with the pages timed below.
        started = time.perf_counter()
        deadline = time.monotonic() + 300
        while 'id="review"' not in http.get("/ui/review").text:
            if time.monotonic() > deadline:
                raise SystemExit("the review queue was not computed in 300 s")
            time.sleep(0.1)
        samples["review queue, first computation (background)"] = [
            (time.perf_counter() - started) * 1000
        ]
        get, post = http.get, http.post
        for i in range(repeat):
            c, other = customers[i % len(customers)], customers[(i + 1) % len(customers)]
            page = f"/ui/customers/{c['id']}"
            timed(samples, "search page", get, "/ui")
            timed(samples, "search by email", get, "/ui/search", params={"q": c["email"]})
            if c.get("phone"):
                timed(samples, "search by phone", get, "/ui/search", params={"q": c["phone"]})
            name = f"{c['first']} {c['last']}"
            timed(samples, "search by name", get, "/ui/search", params={"q": name})
            timed(samples, "search by customer id", get, "/ui/search", params={"q": c["id"]})
            timed(samples, "customer page", get, page)
            pair = {"a": c["records"][0], "b": c["records"][1]}
            timed(samples, "explain (edge click)", get, "/ui/explain", params=pair)
            split = {"csrf": csrf, "record": c["records"][-1]}
            previewed(samples, "split preview", http, f"{page}/split", split)
            link = {"csrf": csrf, "other": other["id"]}
            previewed(samples, "link preview", http, f"{page}/link", link)
            timed(samples, "segments overview", get, "/ui/segments")
            timed(samples, "segment builder", get, "/ui/segments/new")
            timed(samples, "builder live size", get, "/ui/segments/size", params=BUILDER)
            preview = {**BUILDER, "preview": "1"}
            timed(
                samples, "builder preview (size + sample)", get, "/ui/segments/new", params=preview
            )
        for _ in range(repeat):
            timed(samples, "review queue", get, "/ui/review")
        # Changes: once per customer pair, each on customers untouched so far. A reviewer
        # confirms on the preview page (the plan the preview worked out is written); every
        # other pair is confirmed without a preview, as when the store changed in between and
        # the change is resolved again.
        for j in range(0, min(len(customers) - 1, 12), 2):
            c, other = customers[j], customers[j + 1]
            page = f"/ui/customers/{c['id']}"
            after = (j // 2) % 2 == 0
            done = changed(
                samples,
                http,
                after,
                f"{page}/split",
                "split",
                {"csrf": csrf, "record": c["records"][-1]},
            )
            part = re.search(r'name="other" value="([^"]+)"', done.text)
            assert part is not None, "the split's result page offers no undo"
            undone = changed(
                samples,
                http,
                after,
                f"{page}/unsplit",
                "undo split",
                {"csrf": csrf, "other": part.group(1)},
            )
            assert "Split undone" in undone.text, "the undo did not join the records again"
            changed(
                samples, http, after, f"{page}/link", "link", {"csrf": csrf, "other": other["id"]}
            )
        save = {**BUILDER, "name": "bench_saved", "csrf": csrf}
        timed(samples, "save segment (+ first run)", post, "/ui/segments/save", data=save)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="reuse this store (copied, never changed)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ui_speed")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.store or build_store(args.customers, args.workdir)
    store = copy_store(source, args.workdir / "run.db")
    save_segments(store)
    customers = pick_customers(store, max(args.repeat, 8))
    # The bench's key opens reads and, as an admin key too, splits, links and saves.
    os.environ["IDGRAPH_ADMIN_KEYS"] = KEY
    server = Server(store, args.workdir, args.workers)
    server.start()
    try:
        samples = run(server.url, customers, args.repeat)
    finally:
        server.stop()
    from idgraph.query import IdentityGraph

    with IdentityGraph(store=store) as graph:
        size = graph.stats()
    print(
        f"\nstore: {size.customers:,} customers, {size.records:,} records, {size.events:,} events; "
        f"--workers {args.workers}; {os.cpu_count()} CPUs\n"
    )
    print("| page | runs | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, values in samples.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"| {name} | {len(values)} | {statistics.median(values):.0f} | {p95:.0f} | "
            f"{max(values):.0f} |"
        )
    shutil.rmtree(args.workdir / "run.db.calls", ignore_errors=True)


if __name__ == "__main__":
    main()
