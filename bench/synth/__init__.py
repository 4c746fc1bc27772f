"""Seeded synthetic customer records with ground truth, for idgraph's accuracy and speed benchmarks.

Independent of idgraph on purpose (it imports nothing from it), so the truth it writes does not
lean on the code being measured. `generate` builds everything in memory; `writers` and `sources`
put it on disk. See docs/generator.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from .noise import NoiseRates
from .people import People, make_people
from .records import COLUMNS, SOURCES, STABLE_FIELDS, Records, build_records, records_per_person
from .vec import stream
from .world import World

__all__ = [
    "COLUMNS",
    "SOURCES",
    "STABLE_FIELDS",
    "Dataset",
    "NoiseRates",
    "World",
    "generate",
]


@dataclass
class Dataset:
    """Persons, their records and the settings that produced them."""

    seed: int
    noise: float
    rates: NoiseRates
    world: World
    people: People
    records: Records


def generate(
    n_records: int,
    *,
    seed: int,
    noise: float = 1.0,
    mean_records: float = 2.5,
    rates: NoiseRates | None = None,
    world: World | None = None,
) -> Dataset:
    """Generate `n_records` records of persons with ground truth.

    Args:
        n_records: how many records (rows of people.csv).
        seed: the random seed; the same seed gives the same data, byte for byte.
        noise: multiplies every corruption rate (0 exact copies, 1 default, 2 heavy).
        mean_records: average records per person.
        rates: base corruption rates at noise 1 (default `NoiseRates()`).
        world: households, twins, shared mailboxes, name tails and source coverage (default
            `World()`); not scaled by `noise`.

    Returns:
        The dataset, with the clean values and the corruption masks kept for checking.

    Examples:
        >>> data = generate(50, seed=1, noise=0)
        >>> data.records.size, list(data.records.columns)[:3]
        (50, ['record_id', 'source', 'given_name'])
    """
    if n_records < 1:
        raise ValueError("n_records must be >= 1")
    scaled = (rates or NoiseRates()).scaled(noise)
    world = world or World()
    if not mean_records < (world.max_records + 1) / 2 or world.max_records < 2:
        raise ValueError(
            f"mean_records {mean_records} needs max_records > {2 * mean_records - 1:g}"
            f" (got {world.max_records})"
        )
    counts = records_per_person(
        stream(seed, "counts"), n_records, mean_records, most=world.max_records
    )
    people = make_people(int(counts.size), seed, world)
    records = build_records(people, counts, scaled, seed, world)
    return Dataset(
        seed=seed, noise=noise, rates=scaled, world=world, people=people, records=records
    )
