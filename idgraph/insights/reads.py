"""The read statements of `idgraph.insights`, by name; linted with every other statement.

Every value is a parameter; all of them aggregate in the engine, so a report on a large
store reads histograms and top-N lists, not rows per record.
"""

from __future__ import annotations

from typing import Final

from idgraph.run_record import READS as RUN_READS

READS: Final[dict[str, str]] = {
    **RUN_READS,
    "meta_value": "MATCH (m:Meta {key: $key}) RETURN m.value AS value",
    "flagged_customers": "MATCH (c:Customer) WHERE c.flagged = true RETURN count(c) AS n",
    "matched_scores": (
        "MATCH (:Record)-[m:MATCHED]->(:Record) "
        "RETURN m.rule AS rule, m.score AS score, count(*) AS n ORDER BY rule, score"
    ),
    "identifiers_off": (
        "MATCH (i:Identifier) WHERE i.linking = false "
        "RETURN i.kind AS kind, i.reason AS reason, count(i) AS n ORDER BY kind, reason"
    ),
    "identifiers_off_top": (
        "MATCH (i:Identifier)<-[:HAS_IDENTIFIER]-(r:Record) WHERE i.linking = false "
        "WITH i, count(r) AS n "
        "RETURN i.kind AS kind, i.value AS value, i.reason AS reason, n "
        "ORDER BY n DESC, kind, value LIMIT $limit"
    ),
    "segment_all_runs": (
        "MATCH (r:SegmentRun) RETURN r.segment AS segment, r.ts AS ts, r.size AS size, "
        "r.entered AS entered, r.exited AS exited ORDER BY segment, ts"
    ),
    "segment_overlap": (
        "MATCH (a:Segment)<-[:IN_SEGMENT]-(c:Customer)-[:IN_SEGMENT]->(b:Segment) "
        "WHERE a.name <> b.name RETURN a.name AS a, b.name AS b, count(c) AS n ORDER BY a, b"
    ),
    "segment_sizes": (
        "MATCH (s:Segment) OPTIONAL MATCH (c:Customer)-[:IN_SEGMENT]->(s) "
        "RETURN s.name AS name, s.description AS description, s.last_run_ts AS last_run_ts, "
        "count(c) AS size ORDER BY name"
    ),
}
