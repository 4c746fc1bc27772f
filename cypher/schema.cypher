// idgraph graph schema (Neo4j 5). Apply with `idgraph schema apply`.
// The embedded LadybugDB store creates the same labels, relationship types and property names
// with its own DDL (idgraph/store/dialect.py); primary keys there are the properties below.
//
// (:Record {key, source, source_id, kind, email, phone, first_name, last_name, birth_date,
//           street, city, postcode, country, updated_ts, traits})          one input record
// (:Identifier {key, kind, value, linking, reason})                        key = kind + ':' + value
// (:Customer {id, email, phone, first_name, last_name, birth_date, street, city, postcode,
//             country, record_count, sources, first_seen_ts, last_seen_ts, flagged, flag_reason,
//             updated_ts, ...traits})                                      one unified customer
// (:Event {id, name, ts, time, source, record_key, properties, ...scalar properties})
// (:Segment {name, definition, updated_ts})
// (:Customer)-[:HAS_RECORD]->(:Record)
// (:Record)-[:HAS_IDENTIFIER]->(:Identifier)
// (:Record)-[:MATCHED {rule, fields, score}]->(:Record)                   fuzzy / alias evidence
// (:Record)-[:PERFORMED]->(:Event)
// (:Customer)-[:IN_SEGMENT {since_ts}]->(:Segment)
// Timestamps (ts, *_ts) are epoch milliseconds; `time` is the same instant as ISO 8601 text.

CREATE CONSTRAINT record_key IF NOT EXISTS FOR (r:Record) REQUIRE r.key IS UNIQUE;
CREATE CONSTRAINT identifier_key IF NOT EXISTS FOR (i:Identifier) REQUIRE i.key IS UNIQUE;
CREATE CONSTRAINT customer_id IF NOT EXISTS FOR (c:Customer) REQUIRE c.id IS UNIQUE;
CREATE CONSTRAINT event_id IF NOT EXISTS FOR (e:Event) REQUIRE e.id IS UNIQUE;
CREATE CONSTRAINT segment_name IF NOT EXISTS FOR (s:Segment) REQUIRE s.name IS UNIQUE;
CREATE INDEX event_name_ts IF NOT EXISTS FOR (e:Event) ON (e.name, e.ts);
CREATE INDEX record_source IF NOT EXISTS FOR (r:Record) ON (r.source);
