"""Benchmark of idgraph.link (not a test): `python -m tests.link.bench_link [PEOPLE]`.

Prints comparisons per second on about a million candidate pairs and the end-to-end time
(train + link) for the synthetic people table (45,000 people ~ 100k records).
"""

from __future__ import annotations

import sys
import time

from idgraph.link import LinkConfig, link, shipped_link_config, train_model
from idgraph.link.block import block
from idgraph.link.compare import compare_pairs
from idgraph.link.prepare import prepare
from tests.link.synth import people


def main(n_people: int) -> None:
    df = people(n_people, seed=1)
    config = shipped_link_config("people")
    print(f"records: {len(df):,}")
    prepared = prepare(df, config)
    candidates = block(prepared, config)
    take = min(1_000_000, len(candidates.left))
    compared = compare_pairs(prepared, config, candidates.left[:take], candidates.right[:take])
    rate = f"{compared.pairs_per_second:,.0f} pairs/s"
    print(f"compare: {take:,} pairs, {compared.seconds:.2f} s, {rate}")
    start = time.perf_counter()
    model = train_model(df, LinkConfig.model_validate(config.model_dump()))
    trained = time.perf_counter()
    result = link(df, model)
    done = time.perf_counter()
    assert result.report is not None
    print(f"train: {trained - start:.1f} s; link: {done - trained:.1f} s; "
          f"total: {done - start:.1f} s; candidate pairs: {result.report.candidate_pairs:,}; "
          f"stages: { {k: round(v, 2) for k, v in result.report.seconds.items()} }")  # fmt: skip
    print(f"clusters: {result.report.clusters:,}; splits: {len(result.splits)}; "
          f"largest: {result.report.largest_clusters[:3]}")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 45_000)
