"""Delivery throughput: the changes of N customers entering a segment, to a local webhook.

Usage:
    python bench/deliver_speed.py [--customers 100000] [--batch-size 1000] [--store DIR]

Builds a store of N customers (written directly: this measures delivery, not resolution),
saves and runs a segment every customer enters (the real run path writes N changes to the
outbox in the run's transaction), then drains the outbox to a webhook receiver running in
another process on a loopback port, with HMAC signing. Prints changes/s, peak RSS, and the
largest outbox seen after each batch next to what was still pending then (the outbox must
never hold more than what is pending).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from idgraph.activate.config import load_destinations
from idgraph.activate.deliver import Deliverer
from idgraph.activate.outbox import mark_done as _mark_done
from idgraph.activate.status import outbox_size
from idgraph.segment.definition import parse_segment
from idgraph.segment.saved import run_saved_segment, save_segment
from idgraph.settings import open_store

_CREATE = (
    "UNWIND $rows AS row CREATE (:Customer {id: row.id, email: row.email, country: row.country, "
    "record_count: 1})"
)


def _receive(port_out: multiprocessing.connection.Connection) -> None:  # type: ignore[name-defined]
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.send(server.server_address[1])
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    folder = args.store or Path(tempfile.mkdtemp(prefix="idgraph-deliver-"))
    ours, theirs = multiprocessing.Pipe()
    receiver = multiprocessing.Process(target=_receive, args=(theirs,), daemon=True)
    receiver.start()
    port = ours.recv()
    os.environ["BENCH_HOOK_SECRET"] = "bench-secret"
    config_path = folder / "destinations.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    config_path.write_text(
        "destinations:\n  - name: hook\n    kind: webhook\n"
        f"    url: http://127.0.0.1:{port}/hook\n    secret_env: BENCH_HOOK_SECRET\n"
        f"    segments: [everyone]\n    traits: [email, country]\n"
        f"    batch_size: {args.batch_size}\n",
        encoding="utf-8",
    )
    config = load_destinations(config_path)
    with open_store(folder / "idgraph.db") as graph:
        start = time.perf_counter()
        for base in range(0, args.customers, 50_000):
            rows = [
                {"id": f"C-{n:09d}", "email": f"person{n}@example.com", "country": "IT"}
                for n in range(base, min(base + 50_000, args.customers))
            ]
            graph.write("bench_customers", _CREATE, {"rows": rows})
        save_segment(
            graph,
            parse_segment(
                {"name": "everyone", "where": {"trait": "record_count", "op": ">=", "value": 1}},
                source="-",
            ),
        )
        report = run_saved_segment(graph, "everyone")
        setup = time.perf_counter() - start
        pending = outbox_size(graph)
        print(f"setup {setup:.1f}s: {len(report.entered):,} entered, outbox {pending:,}")
        largest_excess = 0
        sent_so_far = 0

        def watched(*a: object, **k: object) -> object:
            # Measure the outbox against what is pending after every batch is marked.
            nonlocal largest_excess, sent_so_far
            result = _mark_done(*a, **k)  # type: ignore[arg-type]
            sent_so_far += int(k["sent"]) + int(k["dead"])  # type: ignore[call-overload]
            if sent_so_far % (args.batch_size * 20) == 0:
                size = outbox_size(graph)
                largest_excess = max(largest_excess, size - (pending - sent_so_far))
            return result

        import idgraph.activate.deliver as deliver_module

        deliver_module.mark_done = watched  # type: ignore[assignment]
        deliverer = Deliverer(graph, config)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        done = deliverer.drain()
        wall = time.perf_counter() - start
        deliverer.close()
        left = outbox_size(graph)
    receiver.terminate()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"delivered {done.sent:,} changes in {wall:.2f}s: {done.sent / wall:,.0f} changes/s, "
        f"batch {args.batch_size}, peak RSS {peak:,.0f} MiB ({before:,.0f} MiB before the "
        f"drain, after building the store and running the segment); outbox after: {left}, "
        f"largest (outbox - pending) seen: {largest_excess}"
    )


if __name__ == "__main__":
    main()
