"""Load and latency of `idgraph serve` on loopback, on a store of N customers.

Usage:
    python bench/serve_load.py [--customers 100000] [--seconds 20] [--clients 8]
                               [--batch-size 50] [--store PATH] [--workdir DIR]

Builds a store once (bench/generate.py --sources, then one `run_ingest`), or reuses `--store`;
starts `idgraph serve` as a subprocess on a free loopback port; then, for each mode, drives it
with `--clients` concurrent clients for `--seconds`:

- single: one call per request, a mix of identify on new users (with an email), track on
  existing users and track on new anonymous visitors;
- batch: `--batch-size` calls per `/v1/batch` request, the same mix.

Prints requests/s, calls/s, p50/p95/p99 latency and errors per mode, and checks that a user
created in the last request is found by `/v1/lookup` (the answer came after the commit).
Numbers go to docs/serve.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
RECORDS_PER_CUSTOMER = 2.5
TS = "2026-01-15T10:00:00Z"


@dataclass
class Result:
    mode: str
    seconds: float
    calls_per_request: int
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        done = len(self.latencies)
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(done - 1, int(p * done))] * 1000 if done else float("nan")

        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "0"
        return (
            f"| {self.mode} | {self.calls_per_request} | {done / self.seconds:,.1f} | "
            f"{done * self.calls_per_request / self.seconds:,.0f} | {pct(0.50):,.0f} | "
            f"{pct(0.95):,.0f} | {pct(0.99):,.0f} | {errors} |"
        )


def build_store(customers: int, workdir: Path) -> Path:
    """Generate ~`customers` people's records and ingest them once (skipped if present)."""
    store = workdir / f"store-{customers}.db"
    if store.exists():
        print(f"reusing {store}")
        return store
    sources = workdir / f"src-{customers}"
    records = int(customers * RECORDS_PER_CUSTOMER)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "generate.py"),
            "--records",
            str(records),
            "--out",
            str(sources),
            "--sources",
        ],
        check=True,
    )
    from idgraph.pipeline import run_ingest

    files = [sources / name for name in ("crm.csv", "pos.csv", "support.csv", "web.jsonl")]
    report = run_ingest(
        [f for f in files if f.exists()], store=store, rejects_path=workdir / "rejects.jsonl"
    )
    print(
        f"built {store}: {report.customers:,} customers, {report.records_total:,} records, "
        f"{report.events_new:,} events in {time.perf_counter() - started:.0f} s"
    )
    return store


def existing_users(store: Path, limit: int = 5000) -> list[str]:
    """User ids of stored stream records, to send calls about existing customers."""
    from idgraph.settings import open_store

    with open_store(store, read_only=True) as graph:
        rows = graph.query(
            "bench_user_ids",
            "MATCH (r:Record) WHERE r.kind = 'user' RETURN r.source_id AS id LIMIT $limit",
            {"limit": limit},
        )
    return [row["id"] for row in rows]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(store: Path, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "IDGRAPH_API_KEYS": KEY}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "idgraph",
            "serve",
            "--store",
            str(store),
            "--port",
            str(port),
            "--rejects",
            str(workdir / "serve-rejects.jsonl"),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"idgraph serve exited with {process.returncode}")
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("idgraph serve did not start within 120 s")


class Calls:
    """The call mix: 40% identify a new user, 40% track an existing user, 20% new visitor."""

    def __init__(self, users: list[str], seed: int) -> None:
        self.users = users
        self.random = random.Random(seed)
        self.counter = itertools.count()
        self.last_new = ""

    def one(self) -> dict[str, object]:
        n = next(self.counter)
        roll = self.random.random()
        if roll < 0.4 or not self.users:
            user = f"load-{os.getpid()}-{n}"
            self.last_new = user
            return {
                "type": "identify",
                "userId": user,
                "timestamp": TS,
                "traits": {"email": f"{user}@loadtest.io", "firstName": "Load"},
            }
        if roll < 0.8:
            return {
                "type": "track",
                "userId": self.random.choice(self.users),
                "timestamp": TS,
                "event": "Product Viewed",
                "properties": {"sku": f"S{n % 500}"},
            }
        return {
            "type": "track",
            "anonymousId": f"visitor-{os.getpid()}-{n}",
            "timestamp": TS,
            "event": "Page Viewed",
        }


async def drive(
    base: str, mode: str, calls: Calls, clients: int, seconds: float, batch_size: int
) -> Result:
    size = 1 if mode == "single" else batch_size
    result = Result(mode, seconds, size)
    deadline = time.monotonic() + seconds
    auth = httpx.BasicAuth(KEY, "")
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, auth=auth, timeout=120, limits=limits) as http:

        async def worker() -> None:
            while time.monotonic() < deadline:
                if mode == "single":
                    call = calls.one()
                    path, body = f"/v1/{call.pop('type')}", call
                else:
                    path, body = "/v1/batch", {"batch": [calls.one() for _ in range(size)]}
                started = time.perf_counter()
                try:
                    response = await http.post(path, json=body)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__  # type: ignore[assignment]
                if status == 200:
                    result.latencies.append(time.perf_counter() - started)
                else:
                    result.errors[str(status)] = result.errors.get(str(status), 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        result.seconds = time.monotonic() - started
        found = await http.get("/v1/lookup", params={"identifier": calls.last_new})
        if found.status_code != 200:
            result.errors["lookup-after-200"] = 1
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="reuse this store instead of building one")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/idgraph-serve-load"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--modes", default="single,batch")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    store = args.store or build_store(args.customers, args.workdir)
    users = existing_users(store)
    port = free_port()
    server = start_server(store, port, args.workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        calls = Calls(users, args.seed)
        rows = [
            asyncio.run(drive(base, mode, calls, args.clients, args.seconds, args.batch_size))
            for mode in args.modes.split(",")
        ]
        stats = httpx.get(f"{base}/v1/stats", auth=(KEY, "")).json()
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f"\nstore {store}, {args.clients} clients, {args.seconds:.0f} s per mode")
    print("| mode | calls/request | requests/s | calls/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row.line())
    print(f"server counters: {stats}")


if __name__ == "__main__":
    main()
