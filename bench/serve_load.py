"""Load, latency, resolution lag and kill -9 safety of `idgraph serve`, on a store of N customers.

Usage:
    python bench/serve_load.py [--customers 100000] [--store PATH] [--workers 2]
                               [--seconds 20] [--clients 16] [--batch-size 100]
                               [--rate 1000] [--modes single,batch,rate,kill]
                               [--fresh-rss] [--mix cdp|known]

Needs `wrk` (Debian: `apt-get install -y wrk`), the HTTP load generator: a Python client on
the same two cores would measure itself. Builds a store once (bench/generate.py --sources,
then one `run_ingest`; kept in --workdir), or reuses `--store`; every mode starts
`idgraph serve --workers W` on a fresh copy of it, on a free loopback port, and drives it:

- single: one call per request, as fast as `--clients` keep-alive connections go. The mix
  (`--mix cdp`): 40% identify a new user (with an email), 40% track an existing user, 20%
  page of a new anonymous visitor; `--mix known`: only track calls of existing users, so
  the store gains events and no customers (what memory does when the people stay the same).
- batch: `--batch-size` calls per `/v1/batch` request, the same mix.
- rate: single calls at `--rate` calls/s on a fixed schedule (open loop: how fast the
  answers come does not change when calls are sent; 32 or more connections; the row gives
  the rate reached).
- kill: single calls from 4 client threads; the main process is killed with SIGKILL, started
  again, and the store must hold every call answered 200 exactly once.

During each run `/v1/status` is read every half second: the resolution lag (age of the oldest
acknowledged, unresolved call) is reported as p50/p95/max of those samples, and "drain" is how
long the resolver took to catch up after the load stopped. "wait" is each call's own lag,
from its acknowledgement to its micro-batch's commit, over every call of the run (the
status's `waits`, read once the resolver has caught up). The two come close: a lag sample is
the oldest waiting call's age at the moment of asking, a wait one call's age at its commit.
RSS is the main process and its workers, summed, at the start and the end of the run and
its largest sample ("memory flat" over a long `--seconds`), and just after each store reopen
(where the engine gave its memory back); with `--fresh-rss`, also that of
a service started again on the store the run left, once warm: what the run's data holds on
its own, so the rest of the end figure is what the run kept. Beside it, how often the
resolver reopened the store to give memory back, and how many checkpoints of the store it ran
and their seconds summed: each one behind the resolver holds back its next write, which is
where the lag's spikes come from; and the micro-batches it applied (load and drain) and their
seconds summed: at a steady rate their mean is what one micro-batch costs under the load.
Each load starts once the resolver has read the stored state into memory (`/v1/status` no
longer says `warming`); the note column gives how long that took when it was a second or more.
Numbers go to docs/serve.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.store_copy import copy_store  # noqa: E402

KEY = "bench-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
RECORDS_PER_CUSTOMER = 2.5
#: Start and warm-up together (a 1M store took up to ~3 min to warm on a slow hour).
START_TIMEOUT_S = 600.0
TS = "2026-01-15T10:00:00Z"

LUA = r"""
local users = {}
for line in io.lines("@USERS@") do users[#users + 1] = line end
local mode, size, rate, tag, ts = "@MODE@", @SIZE@, @RATE@, "@TAG@", "@TS@"
local new_users, known_users = @NEW_USERS@, @KNOWN_USERS@
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(tid * 7919)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer @KEY@"
local function call()
  n = n + 1
  local r = math.random()
  if r < new_users then
    return "identify", string.format(
      '{"type":"identify","userId":"load-%s-%d-%d","timestamp":"%s",' ..
      '"traits":{"email":"load-%s-%d-%d@loadtest.io","firstName":"Load"}}',
      tag, tid, n, ts, tag, tid, n)
  elseif r < new_users + known_users then
    return "track", string.format(
      '{"type":"track","userId":"%s","timestamp":"%s","event":"Product Viewed",' ..
      '"properties":{"sku":"S%d","price":9.5},"messageId":"m-%s-%d-%d"}',
      users[math.random(#users)], ts, n % 500, tag, tid, n)
  end
  return "page", string.format(
    '{"type":"page","anonymousId":"visitor-%s-%d-%d","timestamp":"%s","name":"Home"}',
    tag, tid, n, ts)
end
function request()
  if mode == "single" then
    local kind, body = call()
    return wrk.format(nil, "/v1/" .. kind, nil, body)
  end
  local parts = {}
  for i = 1, size do
    local _, body = call()
    parts[i] = body
  end
  return wrk.format(nil, "/v1/batch", nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end
if rate > 0 then
  -- Open loop: each thread sends on a fixed schedule of its share of the rate, whatever
  -- the answers take, and catches up on slots a slow answer made it miss (up to a second).
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *out);
  ]]
  local clock = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, clock)
    return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
  end
  local interval = @THREADS@ * 1000 / rate
  local due = nil
  function delay()
    local now = now_ms()
    if due == nil or due < now - 1000 then due = now end
    due = due + interval
    if due <= now then return 0 end
    return math.floor(due - now)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,' ..
    '"p50":%d,"p95":%d,"p99":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass
class Run:
    mode: str
    clients: int
    calls_per_request: int
    requests: int = 0
    seconds: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    errors: int = 0
    lags: list[float] = field(default_factory=list)
    drain: float = 0.0
    rss_start: float = 0.0
    rss_end: float = 0.0
    rss_max: float = 0.0
    #: RSS of a service started afresh on the store the run left, once warm (`--fresh-rss`).
    rss_fresh: float = 0.0
    #: RSS sampled just after each store reopen (`Sampler.rss_reopened`).
    rss_reopened: list[float] = field(default_factory=list)
    reopens: int = 0
    checkpoints: int = 0
    checkpoint_s: float = 0.0
    #: Micro-batches the resolver applied (load and drain) and their seconds, summed.
    batches: int = 0
    batch_s: float = 0.0
    #: Each resolved call's own wait (`/v1/status` `waits`): p50, p95, p99 in seconds.
    waits: tuple[float, float, float] = (0.0, 0.0, 0.0)
    note: str = ""

    def line(self, workers: int) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        lags = sorted(self.lags) or [0.0]
        p95 = lags[min(len(lags) - 1, int(0.95 * len(lags)))]
        fresh = f"; fresh {self.rss_fresh:,.0f}" if self.rss_fresh else ""
        if self.rss_reopened:
            after = ", ".join(f"{v:,.0f}" for v in self.rss_reopened)
            fresh += f"; after each reopen {after}"
        return (
            f"| {self.mode} | {workers} | {self.clients} | {self.calls_per_request} | "
            f"{rate:,.0f} | {rate * self.calls_per_request:,.0f} | {self.p50:.1f} | "
            f"{self.p95:.1f} | {self.p99:.1f} | {self.errors} | "
            f"{statistics.median(lags):.2f} | {p95:.2f} | {lags[-1]:.2f} | "
            f"{' / '.join(f'{wait:.2f}' for wait in self.waits)} | {self.drain:.1f} | "
            f"{self.rss_start:,.0f} → {self.rss_end:,.0f} (max {self.rss_max:,.0f}{fresh}) | "
            f"{self.reopens} | {self.checkpoints} ({self.checkpoint_s:.1f} s) | "
            f"{self.batches:,} ({self.batch_s:.1f} s) | {self.note} |"
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
    generate = [sys.executable, str(ROOT / "bench" / "generate.py"), "--records", str(records)]
    subprocess.run([*generate, "--out", str(sources), "--sources"], check=True)
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
    return [row["id"] for row in rows] or ["nobody"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`idgraph serve` as a subprocess on a free port."""

    def __init__(self, store: Path, workdir: Path, workers: int) -> None:
        self.store, self.workdir, self.workers = store, workdir, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        #: Seconds the resolver took to read the stored state into memory after start.
        self.warm_s = 0.0

    def start(self) -> None:
        env = {**os.environ, "IDGRAPH_API_KEYS": KEY}
        command = [sys.executable, "-m", "idgraph", "serve", "--store", str(self.store)]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        rejects = str(self.workdir / "serve-rejects.jsonl")
        command += ["--rejects", rejects, "--log-level", "warning"]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    self._wait_warm(deadline)
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"idgraph serve exited with {self.process.returncode}")
            time.sleep(0.2)
        self._give_up("idgraph serve did not start")

    def _give_up(self, what: str) -> None:
        """Stop the server (it would hold the port, and the caller's output pipe) and exit."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        raise SystemExit(f"{what} within {START_TIMEOUT_S:.0f} s")

    def _wait_warm(self, deadline: float) -> None:
        """Wait while the resolver reads the stored state into memory (a start, not load)."""
        started = time.monotonic()
        while self.status().get("resolver") == "warming":
            if time.monotonic() > deadline:
                self._give_up("the resolver did not warm up")
            time.sleep(0.5)
        self.warm_s = time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=300)

    def status(self) -> dict[str, object]:
        return dict(httpx.get(f"{self.url}/v1/status", headers=AUTH, timeout=30).json())

    def rss_mib(self) -> float:
        """RSS of the main process and its children, summed."""
        assert self.process is not None
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{pids[0]}/task/{pids[0]}/children").read_text().split()
        except OSError:
            children = []
        pids += [int(c) for c in children]
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def drain(self, timeout: float) -> tuple[float, int]:
        """Seconds until the resolver caught up (at most `timeout`), and the depth left."""
        started = time.monotonic()
        while True:
            depth = int(str(self.status()["depth"]))
            if not depth or time.monotonic() - started >= timeout:
                break
            time.sleep(0.2)
        return time.monotonic() - started, depth


class Sampler(threading.Thread):
    """Reads `/v1/status` every half second while a run lasts."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.lags: list[float] = []
        self.rss_max = 0.0
        #: RSS just after each reopen was seen: what the process holds once the engine gave
        #: its memory back (flat when nothing leaks and the data stays the same size).
        self.rss_reopened: list[float] = []
        self.reopens = 0
        self.checkpoints = 0
        self.checkpoint_s = 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.5):
            self.rss_max = max(self.rss_max, self.server.rss_mib())
            try:
                status = self.server.status()
            except httpx.HTTPError:
                continue
            self.lags.append(float(status["lag_s"]))  # type: ignore[arg-type]
            reopens = int(status.get("store_reopens", 0))  # type: ignore[call-overload]
            if reopens > self.reopens:
                self.rss_reopened.append(self.server.rss_mib())
            self.reopens = reopens
            self.checkpoints = int(status.get("store_checkpoints", 0))  # type: ignore[call-overload]
            self.checkpoint_s = float(status.get("store_checkpoint_s", 0.0))  # type: ignore[arg-type]


WRK_THREADS = 2


def wrk(server: Server, script: Path, clients: int, seconds: float) -> dict[str, float]:
    duration = f"-d{seconds:.0f}s"
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{clients}", duration, "-s", str(script), server.url]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    return dict(json.loads(line.removeprefix("WRKJSON ")))


#: Shares of identify calls of new users and track calls of existing ones (the rest: pages
#: of new visitors) in each `--mix`.
MIXES = {"cdp": (0.4, 0.4), "known": (0.0, 1.0)}


def lua(workdir: Path, users: Path, mode: str, size: int, rate: float, mix: str = "cdp") -> Path:
    text = LUA
    new_users, known_users = MIXES[mix]
    replacements = {
        "@USERS@": str(users), "@MODE@": mode, "@SIZE@": str(size), "@RATE@": repr(rate),
        "@NEW_USERS@": repr(new_users), "@KNOWN_USERS@": repr(known_users),
        "@THREADS@": str(WRK_THREADS),
        "@TAG@": f"{mode}{int(time.time())}", "@TS@": TS, "@KEY@": KEY,
    }  # fmt: skip
    for old, new in replacements.items():
        text = text.replace(old, new)
    path = workdir / f"load-{mode}.lua"
    path.write_text(text)
    return path


def load_run(args: argparse.Namespace, store: Path, users: Path, mode: str) -> Run:
    size = args.batch_size if mode == "batch" else 1
    clients = args.clients
    rate = 0.0
    if mode == "rate":
        # Enough connections that the schedule is kept while some wait for slow answers.
        clients = max(args.clients, 32)
        rate = args.rate
    server = Server(copy_store(store, args.workdir / "run.db"), args.workdir, args.workers)
    server.start()
    result = Run(mode, clients, size)
    if server.warm_s >= 1:
        result.note = f"warm-up {server.warm_s:.0f} s before the load"
    try:
        time.sleep(1)
        result.rss_start = server.rss_mib()
        sampler = Sampler(server)
        sampler.start()
        kind = "single" if mode == "rate" else mode
        script = lua(args.workdir, users, kind, size, rate, args.mix)
        numbers = wrk(server, script, clients, args.seconds)
        result.rss_end = server.rss_mib()
        result.drain, left = server.drain(args.drain_timeout)
        if left:
            result.note = f"{left:,} calls still unresolved after {args.drain_timeout:.0f} s"
        sampler.halt.set()
        result.lags = sampler.lags
        result.rss_max = max(sampler.rss_max, result.rss_end)
        result.reopens = sampler.reopens
        result.rss_reopened = sampler.rss_reopened
        result.checkpoints, result.checkpoint_s = sampler.checkpoints, sampler.checkpoint_s
        final = server.status()
        waits = dict(final.get("waits") or {})  # type: ignore[call-overload]
        result.batches = int(final.get("batches", 0))  # type: ignore[call-overload]
        result.batch_s = float(final.get("batch_s", 0.0))  # type: ignore[arg-type]
        result.waits = (float(waits.get("p50_s", 0)), float(waits.get("p95_s", 0)),
                        float(waits.get("p99_s", 0)))  # fmt: skip
        result.requests = int(numbers["requests"])
        result.seconds = numbers["duration_us"] / 1e6
        result.p50, result.p95, result.p99 = (numbers[p] / 1000 for p in ("p50", "p95", "p99"))
        result.errors = int(numbers["errors"] + numbers["non2xx"])
    finally:
        server.stop()
    if args.fresh_rss:
        result.rss_fresh = fresh_rss(server)
    return result


def fresh_rss(used: Server) -> float:
    """RSS of a service started again on the store a run left, once its state is in memory:
    what the data alone holds, against which the run's end RSS shows what the run kept."""
    server = Server(used.store, used.workdir, used.workers)
    server.start()
    try:
        time.sleep(1)
        return server.rss_mib()
    finally:
        server.stop()


def kill_run(args: argparse.Namespace, store: Path) -> Run:
    """kill -9 the main process under load; every call answered 200 must be stored once."""
    server = Server(copy_store(store, args.workdir / "run.db"), args.workdir, args.workers)
    server.start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    halt = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=5) as http:
            i = 0
            while not halt.is_set():
                message_id = f"kill-{n}-{i}"
                body = {"userId": f"kill-{n}-{i % 11}", "event": "Viewed", "timestamp": TS}
                i += 1
                try:
                    answer = http.post("/v1/track", json={**body, "messageId": message_id})
                except httpx.TransportError:
                    continue
                if answer.status_code == 200:
                    with lock:
                        acknowledged.append(message_id)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(min(args.seconds, 10))
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(30)
    halt.set()
    for thread in threads:
        thread.join(30)
    server.start()  # the same store: resume from the log
    try:
        drain, _ = server.drain(600)
    finally:
        server.stop()
    from idgraph.settings import open_store

    with open_store(server.store, read_only=True) as graph:
        rows = graph.query(
            "bench_kill_events",
            "MATCH (e:Event) WHERE e.id STARTS WITH $prefix RETURN e.id AS id",
            {"prefix": "http:kill-"},
        )
    stored = Counter(str(row["id"]).removeprefix("http:") for row in rows)
    lost = sum(1 for m in acknowledged if stored[m] == 0)
    twice = sum(1 for count in stored.values() if count > 1)
    result = Run("kill -9", 4, 1, drain=drain)
    result.note = f"{len(acknowledged):,} acknowledged, {lost} lost, {twice} stored twice"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="reuse this store instead of building one")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/idgraph-serve-load"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--modes", default="single,batch,rate,kill")
    parser.add_argument(
        "--fresh-rss",
        action="store_true",
        help="after each load, start the service again on the store it left and report its RSS",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=120.0, help="longest wait for the resolver"
    )
    parser.add_argument(
        "--mix",
        choices=sorted(MIXES),
        default="cdp",
        help="cdp: new users, known users and new visitors; known: known users' events only",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/serve_load.py needs wrk: apt-get install -y wrk")

    args.workdir.mkdir(parents=True, exist_ok=True)
    store = args.store or build_store(args.customers, args.workdir)
    users = args.workdir / "users.txt"
    users.write_text("\n".join(existing_users(store)) + "\n")
    rows = []
    for mode in args.modes.split(","):
        row = kill_run(args, store) if mode == "kill" else load_run(args, store, users, mode)
        print(row.line(args.workers), flush=True)
        rows.append(row)
    print(f"\nstore {store}, {args.seconds:.0f} s per mode, {os.cpu_count()} cores")
    print(
        "| mode | workers | clients | calls/request | requests/s | calls/s | p50 ms | p95 ms "
        "| p99 ms | errors | lag p50 s | lag p95 s | lag max s | wait p50 / p95 / p99 s "
        "| drain s | RSS MiB | store reopens | checkpoints (s) | micro-batches (s) | note |"
    )
    print("|---" * 20 + "|")
    for row in rows:
        print(row.line(args.workers))


if __name__ == "__main__":
    main()
