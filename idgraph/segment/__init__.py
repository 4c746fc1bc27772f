"""Segments: YAML definitions compiled to parameterised Cypher and run on any graph store."""

from idgraph.segment.compile import CompiledQuery, compile_segment
from idgraph.segment.definition import SegmentDefinition, load_segment, parse_segment
from idgraph.segment.run import SegmentResult, explain_segment, folder_resolver, run_segment

__all__ = [
    "CompiledQuery",
    "SegmentDefinition",
    "SegmentResult",
    "compile_segment",
    "explain_segment",
    "folder_resolver",
    "load_segment",
    "parse_segment",
    "run_segment",
]
