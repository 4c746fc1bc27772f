"""What one micro-batch of the service's resolver costs, without HTTP, workers or a load tool.

Usage: python bench/micro_batches.py --store STORE [--calls 200] [--batches 12]
       [--workdir DIR] [--seed 1] [--resolver-cpu auto|off|N]

Copies STORE (and its mirror folder) into --workdir, keeps the mirror in memory as
`idgraph serve` does, reads it in first (`warm_mirror`), then applies --batches micro-batches
of --calls calls with `ingest_batches`, the resolver's own call: the mix of
bench/serve_load.py (40% identify of a new user with an email, 40% track of an existing user,
20% page of a new visitor), parsed as the service parses its call log. Prints each batch's
seconds and stages, and the median of all but the first two. Pauses show as outliers:
a checkpoint inside a commit, mirror compactions. Each micro-batch runs pinned to one CPU
with Polars' pool as the service's resolver does (`--resolver-cpu`, default `auto`; `off` to
compare). Numbers go to docs/serve.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.serve_load import existing_users  # noqa: E402
from bench.store_copy import copy_store  # noqa: E402
from idgraph.match.config import load_match_config  # noqa: E402
from idgraph.pipeline import ingest_batches  # noqa: E402
from idgraph.serve.affinity import CpuPin, check_cpu, parse_cpu  # noqa: E402
from idgraph.serve.calls import log_body, parse_logged, parse_single  # noqa: E402
from idgraph.serve.settings import ServeSettings  # noqa: E402
from idgraph.settings import open_store  # noqa: E402
from idgraph.state.cache import keep_mirror_in_memory  # noqa: E402
from idgraph.state.rebuild import warm_mirror  # noqa: E402
from idgraph.traits.config import load_traits_config  # noqa: E402

TS = "2026-01-15T10:00:00Z"


class Calls:
    """Calls of the serve_load mix, as the bodies the call log holds."""

    def __init__(self, users: list[str], seed: int) -> None:
        self.users = users
        self.random = random.Random(seed)
        self.settings = ServeSettings()
        self.n = 0

    def one(self) -> tuple[str, dict[str, object]]:
        self.n += 1
        n, pick = self.n, self.random.random()
        if pick < 0.4:
            traits = {"email": f"mb-{n}@loadtest.io", "firstName": "Load"}
            return "identify", {"userId": f"mb-{n}", "timestamp": TS, "traits": traits}
        if pick < 0.8:
            user = self.random.choice(self.users)
            properties = {"sku": f"S{n % 500}", "price": 9.5}
            call = {"userId": user, "timestamp": TS, "event": "Product Viewed"}
            return "track", {**call, "properties": properties, "messageId": f"mb-m-{n}"}
        return "page", {"anonymousId": f"mb-visitor-{n}", "timestamp": TS, "name": "Home"}

    def bodies(self, count: int) -> list[bytes]:
        out = []
        for _ in range(count):
            kind, call = self.one()
            parsed = parse_single(orjson.dumps(call), kind, label="bench", settings=self.settings)
            out.append(log_body(parsed))
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/idgraph-micro-batches"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resolver-cpu", default="auto", help="auto, off, or a CPU number")
    args = parser.parse_args()
    pin = CpuPin(check_cpu(parse_cpu(args.resolver_cpu)))
    users = existing_users(args.store)
    target = copy_store(args.store, args.workdir / "micro-batches.db")
    keep_mirror_in_memory(True)
    match_config, traits = load_match_config(None), load_traits_config(None)
    calls = Calls(users, args.seed)
    seconds: list[float] = []
    with open_store(target) as store:
        started = time.perf_counter()
        warm_mirror(store, match_config)
        print(f"warm-up: {time.perf_counter() - started:.2f} s")
        for number in range(args.batches):
            bodies = calls.bodies(args.calls)
            started = time.perf_counter()
            with pin.hold():
                logged = parse_logged(bodies, calls.settings)
                assert logged.batch is not None
                report = ingest_batches(
                    store,
                    [logged.batch],
                    match_config=match_config,
                    traits=traits,
                    summary=False,
                    meta={"serve_log_offset:bench": str(number + 1)},
                )
            seconds.append(time.perf_counter() - started)
            stages = ", ".join(f"{t.stage} {t.seconds:.3f}" for t in report.timings)
            print(f"batch {number + 1}: {seconds[-1]:.3f} s ({stages})", flush=True)
    steady = seconds[2:] or seconds
    print(
        f"{args.calls} calls per micro-batch: median {statistics.median(steady):.3f} s, "
        f"max {max(steady):.3f} s over {len(steady)} batches after the first two"
    )


if __name__ == "__main__":
    main()
