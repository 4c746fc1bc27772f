"""Stage 2: pure normalization of raw source values into canonical records (no I/O)."""

from idgraph.normalize.junk import DEFAULT_JUNK, JunkConfig, KindJunk
from idgraph.normalize.record import NormalizeOptions, full_name_key, to_record

__all__ = [
    "DEFAULT_JUNK",
    "JunkConfig",
    "KindJunk",
    "NormalizeOptions",
    "full_name_key",
    "to_record",
]
