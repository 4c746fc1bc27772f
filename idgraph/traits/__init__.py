"""Computed traits: per-customer aggregations of events, declared in a YAML traits config.

Computed at every ingest for every customer and stored on the `Customer` node beside the
golden fields, so segments filter on them like any other trait. See docs/traits.md.
"""

from idgraph.traits.compute import compute_traits, events_frame, quintile_scores
from idgraph.traits.config import TraitsConfig, TraitSpec, load_traits_config, parse_traits_config

__all__ = [
    "TraitSpec",
    "TraitsConfig",
    "compute_traits",
    "events_frame",
    "load_traits_config",
    "parse_traits_config",
    "quintile_scores",
]
