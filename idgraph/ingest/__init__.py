"""Stage 1: read input files into records, events and links; every bad line becomes a reject.

Event streams (`.jsonl`, `.ndjson`, `.json`) follow the Segment / RudderStack spec; tables
(`.csv`) are read through a per-source mapping (`X.mapping.yaml` beside `X.csv`).
"""

from idgraph.ingest.batch import iter_inputs, read_inputs
from idgraph.ingest.collect import SourceBatch
from idgraph.ingest.mapping import SourceMapping, load_mapping
from idgraph.ingest.rejects import FileCounts, Reject, RejectsWriter

__all__ = [
    "FileCounts",
    "Reject",
    "RejectsWriter",
    "SourceBatch",
    "SourceMapping",
    "iter_inputs",
    "load_mapping",
    "read_inputs",
]
