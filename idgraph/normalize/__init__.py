"""Stage 2: pure normalization of raw source values into canonical values (no I/O)."""

from idgraph.normalize.junk import DEFAULT_JUNK, JunkConfig, KindJunk
from idgraph.normalize.record import NormalizeOptions

__all__ = [
    "DEFAULT_JUNK",
    "JunkConfig",
    "KindJunk",
    "NormalizeOptions",
]
