"""Every read statement idgraph sends, by name, in the Cypher both engines accept.

Values are always parameters. The tests run each statement on the embedded engine and through
Neo4j's own linter, so keep them here rather than inline.
"""

from __future__ import annotations

import re
from typing import Final

from idgraph.types import FIELD_NAMES

READS: Final[dict[str, str]] = {
    "customer_by_id": "MATCH (c:Customer {id: $id}) RETURN c.id AS id",
    "customer_by_record": (
        "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record {key: $key}) RETURN c.id AS id"
    ),
    "customers_by_identifier": (
        "MATCH (c:Customer)-[:HAS_RECORD]->(:Record)-[:HAS_IDENTIFIER]->(i:Identifier) "
        "WHERE i.key IN $keys RETURN DISTINCT c.id AS id ORDER BY id"
    ),
    "customer_node": "MATCH (c:Customer {id: $id}) RETURN c AS customer",
    "customer_records": (
        "MATCH (c:Customer {id: $id})-[:HAS_RECORD]->(r:Record) RETURN r AS record ORDER BY r.key"
    ),
    "customer_identifiers": (
        "MATCH (c:Customer {id: $id})-[:HAS_RECORD]->(r:Record)-[:HAS_IDENTIFIER]->(i:Identifier) "
        "RETURN i.kind AS kind, i.value AS value, i.linking AS linking, i.reason AS reason, "
        "collect(r.key) AS records ORDER BY kind, value"
    ),
    "customer_events": (
        "MATCH (c:Customer {id: $id})-[:HAS_RECORD]->(r:Record)-[:PERFORMED]->(e:Event) "
        "RETURN e.id AS id, e.name AS name, e.ts AS ts, e.time AS time, e.source AS source, "
        "r.key AS record_key, e.properties AS properties ORDER BY ts DESC, id LIMIT $limit"
    ),
    "customer_event_count": (
        "MATCH (c:Customer {id: $id})-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(e:Event) "
        "RETURN count(e) AS n"
    ),
    "customer_evidence": (
        "MATCH (c:Customer {id: $id})-[:HAS_RECORD]->(a:Record)-[m:MATCHED]->(b:Record) "
        "RETURN a.key AS record_a, b.key AS record_b, m.rule AS rule, m.fields AS fields, "
        "m.score AS score "
        "ORDER BY record_a, record_b"
    ),
    "records_cannot_link": (
        "UNWIND $keys AS k MATCH (a:Record {key: k})-[c:CANNOT_LINK]->(b:Record) "
        "RETURN a.key AS a, b.key AS b, c.reason AS reason"
    ),
    "records_by_key": "UNWIND $keys AS k MATCH (r:Record {key: k}) RETURN r AS record",
    # Customers a group call may move in or out of segments: those of the calling records
    # and every member of the accounts the calls describe.
    "customers_of_records": (
        "UNWIND $keys AS k MATCH (c:Customer)-[:HAS_RECORD]->(:Record {key: k}) "
        "RETURN DISTINCT c.id AS id"
    ),
    "customers_of_accounts": (
        "UNWIND $ids AS aid MATCH (c:Customer)-[:HAS_RECORD]->(:Record)-[:MEMBER_OF]->"
        "(:Account {id: aid}) RETURN DISTINCT c.id AS id"
    ),
    "customer_accounts": (
        "MATCH (c:Customer {id: $id})-[:HAS_RECORD]->(r:Record)-[m:MEMBER_OF]->(a:Account) "
        "RETURN a AS account, r.key AS record, m.since_ts AS since_ts, "
        "m.updated_ts AS updated_ts ORDER BY a.id, r.key"
    ),
    "id_registry": (
        "MATCH (x:CustomerId {id: $id}) RETURN x.id AS id, x.created_ts AS created_ts, "
        "x.status AS status, x.retired_ts AS retired_ts"
    ),
    "id_merged_into": (
        "MATCH (:CustomerId {id: $id})-[m:MERGED_INTO]->(o:CustomerId) "
        "RETURN o.id AS other, m.ts AS ts, m.evidence AS detail, m.records AS records"
    ),
    "id_absorbed": (
        "MATCH (o:CustomerId)-[m:MERGED_INTO]->(:CustomerId {id: $id}) "
        "RETURN o.id AS other, m.ts AS ts, m.evidence AS detail, m.records AS records"
    ),
    "id_split_from": (
        "MATCH (:CustomerId {id: $id})-[m:SPLIT_FROM]->(o:CustomerId) "
        "RETURN o.id AS other, m.ts AS ts, m.reason AS detail, m.records AS records"
    ),
    "id_split_off": (
        "MATCH (o:CustomerId)-[m:SPLIT_FROM]->(:CustomerId {id: $id}) "
        "RETURN o.id AS other, m.ts AS ts, m.reason AS detail, m.records AS records"
    ),
    "id_moved_out": (
        "MATCH (:CustomerId {id: $id})-[m:MOVED_TO]->(o:CustomerId) "
        "RETURN o.id AS other, m.ts AS ts, m.reason AS detail, m.records AS records"
    ),
    "id_moved_in": (
        "MATCH (o:CustomerId)-[m:MOVED_TO]->(:CustomerId {id: $id}) "
        "RETURN o.id AS other, m.ts AS ts, "
        "CASE WHEN m.evidence <> '' THEN m.evidence ELSE m.reason END AS detail, "
        "m.records AS records"
    ),
    "identifier_holder_counts": (
        "UNWIND $keys AS k MATCH (:Identifier {key: k})<-[:HAS_IDENTIFIER]-(r:Record) "
        "RETURN k AS key, count(r) AS n"
    ),
    "erased_hashes": "MATCH (e:ErasedIdentifier) RETURN e.hash AS hash",
    "count_records": "MATCH (r:Record) RETURN count(r) AS n",
    "count_segments": "MATCH (s:Segment) RETURN count(s) AS n",
    "count_customers": "MATCH (c:Customer) RETURN count(c) AS n",
    "count_events": "MATCH (e:Event) RETURN count(e) AS n",
    "count_identifiers": (
        "MATCH (i:Identifier) RETURN i.kind AS kind, i.linking AS linking, count(i) AS n "
        "ORDER BY kind, linking"
    ),
    "records_per_source": (
        "MATCH (r:Record) RETURN r.source AS source, count(r) AS n ORDER BY source"
    ),
    "events_per_name": "MATCH (e:Event) RETURN e.name AS name, count(e) AS n ORDER BY name",
    # Whether any event has the name: stops at the first (Neo4j: the name-and-time index).
    "event_named": "MATCH (e:Event) WHERE e.name = $name RETURN e.name AS name LIMIT 1",
    "cluster_sizes": (
        "MATCH (c:Customer) RETURN c.record_count AS size, count(c) AS n ORDER BY size"
    ),
    # Name search (the web page): customers whose golden name matches, case-insensitive.
    "customers_by_name": (
        "MATCH (c:Customer) WHERE "
        "(toLower(c.first_name) = $first AND toLower(c.last_name) = $last) "
        "OR toLower(c.last_name) = $whole OR toLower(c.first_name) = $whole "
        "RETURN c.id AS id, c.email AS email, c.first_name AS first_name, "
        "c.last_name AS last_name, c.country AS country, c.record_count AS record_count "
        "ORDER BY last_name, first_name, id LIMIT $limit"
    ),
    "customer_summaries": (
        "UNWIND $ids AS cid MATCH (c:Customer {id: cid}) "
        "RETURN c.id AS id, c.email AS email, c.first_name AS first_name, "
        "c.last_name AS last_name, c.country AS country, c.record_count AS record_count "
        "ORDER BY id"
    ),
    "largest_customers": (
        "MATCH (c:Customer) RETURN c.id AS id, c.record_count AS size, c.sources AS sources "
        "ORDER BY size DESC, id LIMIT $limit"
    ),
    "segment_get": (
        "MATCH (s:Segment {name: $name}) RETURN s.name AS name, s.description AS description, "
        "s.definition AS definition, s.updated_ts AS updated_ts, s.last_run_ts AS last_run_ts, "
        "s.size AS size"
    ),
    "segment_list": (
        "MATCH (s:Segment) RETURN s.name AS name, s.description AS description, "
        "s.definition AS definition, s.updated_ts AS updated_ts, s.last_run_ts AS last_run_ts, "
        "s.size AS size ORDER BY name"
    ),
    "segment_member_ids": (
        "MATCH (c:Customer)-[m:IN_SEGMENT]->(:Segment {name: $name}) "
        "RETURN c.id AS id, m.since_ts AS since_ts"
    ),
    "segment_member_count": (
        "MATCH (:Customer)-[:IN_SEGMENT]->(:Segment {name: $name}) RETURN count(*) AS n"
    ),
    "segment_members_page": (
        "MATCH (c:Customer)-[m:IN_SEGMENT]->(:Segment {name: $name}) "
        "RETURN c.id AS customer_id, c.email AS email, c.first_name AS first_name, "
        "c.last_name AS last_name, c.country AS country, c.record_count AS record_count, "
        "m.since_ts AS since_ts ORDER BY customer_id SKIP $offset LIMIT $limit"
    ),
    "segment_runs": (
        "MATCH (r:SegmentRun) WHERE r.segment = $name RETURN r.ts AS ts, r.as_of_ts AS as_of_ts, "
        "r.size AS size, r.entered AS entered, r.exited AS exited ORDER BY ts"
    ),
    "segment_members_of": (
        "UNWIND $ids AS cid MATCH (c:Customer {id: cid})-[:IN_SEGMENT]->(s:Segment) "
        "RETURN c.id AS customer, s.name AS segment"
    ),
    "segment_changes": (
        "MATCH (x:SegmentChange) WHERE x.segment = $name AND x.ts >= $since "
        "RETURN x.customer AS customer, x.change AS change, x.cause AS cause, x.ts AS ts "
        "ORDER BY ts, customer, change SKIP $offset LIMIT $limit"
    ),
    "customer_segments": (
        "MATCH (:Customer {id: $id})-[m:IN_SEGMENT]->(s:Segment) "
        "RETURN s.name AS name, m.since_ts AS since_ts ORDER BY name"
    ),
    "customer_in_segment": (
        "MATCH (:Customer {id: $id})-[m:IN_SEGMENT]->(:Segment {name: $name}) "
        "RETURN m.since_ts AS since_ts"
    ),
    "all_customers": "MATCH (c:Customer) RETURN c AS customer",
    "customer_events_by_name": (
        "MATCH (c:Customer)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(e:Event) "
        "WHERE e.name IN $names AND e.ts <= $as_of "
        "RETURN c.id AS customer, e.name AS name, e.ts AS ts, e.properties AS properties"
    ),
    # Only customers that can hold a doubt: flagged ones (the parts of a split component
    # may be single records), and those with several distinct raw values, which may still
    # be one name once normalized (review.py checks); one value never becomes two.
    "review_customer_records": (
        "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) "
        "WHERE c.record_count > 1 OR c.flagged = true "
        "WITH c, collect(DISTINCT r.birth_date) AS birth_dates, "
        "collect(DISTINCT r.first_name) AS first_names, "
        "collect(DISTINCT r.last_name) AS last_names "
        "WHERE c.flagged OR size(birth_dates) > 1 OR size(first_names) > 1 "
        "OR size(last_names) > 1 "
        "RETURN c.id AS id, c.record_count AS record_count, c.flagged AS flagged, "
        "c.flag_reason AS flag_reason, birth_dates, first_names, last_names"
    ),
    "review_shared_identifiers": (
        "MATCH (c:Customer)-[:HAS_RECORD]->(:Record)-[:HAS_IDENTIFIER]->(i:Identifier) "
        "WHERE i.linking = false "
        "RETURN DISTINCT c.id AS id, c.record_count AS record_count, i.kind AS kind, "
        "i.value AS value, i.reason AS reason"
    ),
    "export_clusters": (
        "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) "
        "RETURN r.key AS record_key, c.id AS customer_id ORDER BY record_key"
    ),
}

_FIELDS = ", ".join(f"r.{name} AS {name}" for name in FIELD_NAMES)
_RECORD = (
    "r.key AS key, r.source AS source, r.source_id AS source_id, r.kind AS kind, "
    f"r.updated_ts AS updated_ts, r.traits AS traits, {_FIELDS}"
)
_IDENTIFIER = (
    "i.key AS key, i.kind AS kind, i.value AS value, i.linking AS linking, i.reason AS reason"
)
_EVENT = "e.id AS id, e.name AS name, e.ts AS ts, e.properties AS properties"

#: The key of the `Meta` node holding the state version (`idgraph.state.mirror`).
STATE_KEY: Final = "state"

#: What the columnar mirror holds (`idgraph.state`), read from the graph when the mirror must
#: be rebuilt: whole-store reads, on both engines.
STATE_READS: Final[dict[str, str]] = {
    "state_version": "MATCH (m:Meta {key: $key}) RETURN m.value AS version",
    "state_records": f"MATCH (r:Record) RETURN {_RECORD}",
    "state_record_identifiers": (
        "MATCH (r:Record)-[:HAS_IDENTIFIER]->(i:Identifier) "
        "RETURN r.key AS record, i.kind AS kind, i.value AS value"
    ),
    "state_identifiers": f"MATCH (i:Identifier) RETURN {_IDENTIFIER}",
    "state_links": (
        "MATCH (a:Record)-[m:MATCHED]->(b:Record) WHERE m.rule IN $rules "
        "RETURN a.key AS a, b.key AS b, m.rule AS rule"
    ),
    "state_assignment": (
        "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN r.key AS record, c.id AS customer"
    ),
    "state_events": f"MATCH (r:Record)-[:PERFORMED]->(e:Event) RETURN r.key AS record, {_EVENT}",
    # OPTIONAL MATCH after the keyed MATCH makes LadybugDB find each record by its key and walk
    # its events (milliseconds for a micro-batch's records); a walk in the first MATCH is
    # planned as a join over a scan of every event.
    "state_events_of_records": (
        "UNWIND $keys AS k MATCH (r:Record {key: k}) "
        f"OPTIONAL MATCH (r)-[:PERFORMED]->(e:Event) RETURN k AS record, {_EVENT}"
    ),
    "state_stored_event_ids": "UNWIND $ids AS i MATCH (e:Event {id: i}) RETURN e.id AS id",
    "state_cannot_links": (
        "MATCH (a:Record)-[k:CANNOT_LINK]->(b:Record) "
        "RETURN a.key AS a, b.key AS b, k.reason AS reason, k.ts AS ts"
    ),
    "state_registry": (
        "MATCH (x:CustomerId) RETURN x.id AS id, x.created_ts AS created_ts, x.status AS status"
    ),
}


#: Saved segments and their materialised membership, on both engines; `segment/saved.py`
#: runs the ones of one change in a single transaction.
SEGMENT_WRITES: Final[dict[str, str]] = {
    "segment_upsert": (
        "MERGE (s:Segment {name: $name}) SET s.description = $description, "
        "s.definition = $definition, s.updated_ts = $ts"
    ),
    "segment_remove_members": (
        "UNWIND $ids AS cid MATCH (:Customer {id: cid})-[m:IN_SEGMENT]->(:Segment {name: $name}) "
        "DELETE m"
    ),
    "segment_add_members": (
        "MATCH (s:Segment {name: $name}) UNWIND $ids AS cid MATCH (c:Customer {id: cid}) "
        "CREATE (c)-[:IN_SEGMENT {since_ts: $ts}]->(s)"
    ),
    "segment_mark_run": "MATCH (s:Segment {name: $name}) SET s.last_run_ts = $ts, s.size = $size",
    "segment_record_run": (
        "CREATE (:SegmentRun {id: $id, segment: $name, ts: $ts, as_of_ts: $as_of_ts, "
        "size: $size, entered: $entered, exited: $exited})"
    ),
    "segment_delete_runs": "MATCH (r:SegmentRun) WHERE r.segment = $name DELETE r",
    "segment_delete_changes": "MATCH (x:SegmentChange) WHERE x.segment = $name DELETE x",
    "segment_adjust_size": (
        "MATCH (s:Segment {name: $name}) SET s.size = coalesce(s.size, 0) + $delta"
    ),
    "segment_record_changes": (
        "UNWIND $rows AS row CREATE (:SegmentChange {id: row.id, segment: row.segment, "
        "customer: row.customer, ts: row.ts, change: row.change, cause: row.cause}) "
        # The outbox (idgraph.activate) gets each change in the same transaction.
        "CREATE (:OutboxChange {id: row.id, segment: row.segment, customer: row.customer, "
        "ts: row.ts, change: row.change, cause: row.cause, done: ''})"
    ),
    "segment_delete": "MATCH (s:Segment {name: $name}) DETACH DELETE s",
}


def parameters_of(text: str) -> tuple[str, ...]:
    """The `$parameters` a statement takes, sorted."""
    return tuple(sorted(set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", text))))


#: Parameters each statement takes, for the linter and for callers.
PARAMETERS: Final[dict[str, tuple[str, ...]]] = {
    name: parameters_of(text) for name, text in (READS | STATE_READS | SEGMENT_WRITES).items()
}
