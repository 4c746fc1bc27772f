"""Segments: YAML definitions compiled to parameterised Cypher and run on any graph store."""

from idgraph.segment.compile import CompiledQuery, compile_segment
from idgraph.segment.definition import SegmentDefinition, load_segment, parse_segment
from idgraph.segment.run import SegmentResult, run_segment

__all__ = [
    "CompiledQuery",
    "SegmentDefinition",
    "SegmentResult",
    "compile_segment",
    "load_segment",
    "parse_segment",
    "run_segment",
]
