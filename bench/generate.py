"""Seeded synthetic customer records with ground truth, for accuracy and speed benchmarks.

Usage: python bench/generate.py --records N --seed S --noise LEVEL --out DIR [--sources]
    [--set NAME=VALUE ...]

Writes people.csv (one row per record, the truth in `person_id`), truth.csv, failure_modes.csv
(which failure modes touched each record) and manifest.json; with --sources also
idgraph-ingestible crm/support/pos CSVs with mappings, web.jsonl and sources_truth.csv. --set
turns one failure mode up or down: a corruption rate at noise 1 (`dob_digit=0.05`) or a
population or source setting (`households=0.3`, `source_coverage=0`). The same seed, noise and
settings give the same files byte for byte (manifest.json differs only in its timing fields).
See docs/generator.md. Imports nothing from idgraph.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.synth import NoiseRates, World, generate  # noqa: E402
from bench.synth.sources import write_sources  # noqa: E402
from bench.synth.world import world_field_kinds  # noqa: E402
from bench.synth.writers import write_manifest, write_people  # noqa: E402


def settings(pairs: list[str]) -> tuple[NoiseRates, World]:
    """`NAME=VALUE` pairs applied to the default corruption rates and world settings.

    Raises:
        ValueError: naming the pair, if a name is unknown or a value is not a number in range.
    """
    rates: dict[str, float] = {}
    world: dict[str, Any] = {}
    rate_names = set(NoiseRates().as_dict())
    world_kinds = world_field_kinds()
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or (name not in rate_names and name not in world_kinds):
            known = ", ".join(sorted(rate_names | set(world_kinds)))
            raise ValueError(f"--set {pair!r}: expected NAME=VALUE with NAME one of: {known}")
        kind = world_kinds.get(name, float)
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"--set {pair!r}: {text!r} is not a {kind.__name__}") from None
        if name in rate_names:
            if not 0 <= value <= 1:
                raise ValueError(f"--set {pair!r}: a rate must be in [0, 1]")
            rates[name] = value
        else:
            world[name] = value
    return dataclasses.replace(NoiseRates(), **rates), dataclasses.replace(World(), **world)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, required=True, help="number of records (rows)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--noise", type=float, default=1.0, help="corruption scale: 0 exact, 1 default, 2 heavy"
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--sources", action="store_true", help="also write idgraph multi-source files"
    )
    parser.add_argument(
        "--mean-records", type=float, default=2.5, help="average records per person (2.5)"
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one failure mode's rate or setting (repeatable; see docs/generator.md)",
    )
    args = parser.parse_args(argv)
    try:
        args.rates, args.world = settings(args.settings)
    except ValueError as error:
        parser.error(str(error))
    if args.records < 1:
        parser.error("--records must be at least 1")
    if args.noise < 0:
        parser.error("--noise must be >= 0")
    if args.mean_records < 1:
        parser.error("--mean-records must be >= 1")
    if not args.mean_records < (args.world.max_records + 1) / 2:
        parser.error(
            f"--mean-records {args.mean_records:g} needs --set max_records="
            f"{int(2 * args.mean_records)} or more (max_records is {args.world.max_records})"
        )
    return args


def run(
    *,
    records: int,
    seed: int,
    noise: float,
    out: Path,
    sources: bool,
    mean_records: float = 2.5,
    rates: NoiseRates | None = None,
    world: World | None = None,
) -> Path:
    """Generate and write everything into `out`; return the manifest path."""
    started = time.perf_counter()
    generated_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.mkdir(parents=True, exist_ok=True)
    data = generate(
        records, seed=seed, noise=noise, mean_records=mean_records, rates=rates, world=world
    )
    files = write_people(data, out)
    if sources:
        files += write_sources(data, out)
    return write_manifest(
        data, out, files, elapsed=time.perf_counter() - started, generated_at=generated_at
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    manifest = run(
        records=args.records,
        seed=args.seed,
        noise=args.noise,
        out=args.out,
        sources=args.sources,
        mean_records=args.mean_records,
        rates=args.rates,
        world=args.world,
    )
    print(f"wrote {args.records} records to {args.out} in {time.perf_counter() - started:.1f} s")
    print(f"manifest: {manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
