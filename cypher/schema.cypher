// Title: The graph schema: uniqueness constraints and indexes (Neo4j 5)
// Apply with `idgraph schema apply`; `idgraph schema show` prints it.
// Engines: neo4j
// Why Neo4j-only: constraints and indexes are Neo4j DDL; the embedded store creates its own
//   tables from idgraph/store/schema.py when it opens.
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
// (:Segment {name, description, definition, updated_ts, last_run_ts, size})  a saved segment
// (:SegmentRun {id, segment, ts, as_of_ts, size, entered, exited})        one run, for history
// (:SegmentChange {id, segment, customer, ts, change, cause})    one entered/exited, with its cause
// (:OutboxChange {id, segment, customer, ts, change, cause, done}) a change still to deliver
// (:DeliveryState {name, sent, failed, dead, last_error, last_ts}) one destination's totals
// (:CustomerId {id, created_ts, status, retired_ts})   every customer id ever issued; status is
//                                                     active, merged or erased
// (:ErasedIdentifier {hash, kind, ts})        a forgotten identifier, as a one-way hash only
// (:Meta {key, value})           key 'state': the version of the columnar mirror beside the
//                                store (idgraph/state/mirror.py), stamped by every write;
//                                key 'run:<epoch ms>': one ingest's aggregates (idgraph report)
// (:Account {id, traits, first_seen_ts, updated_ts, ...scalar traits})   an account (company,
//                                household, team) from `group` calls; id = the groupId
// (:Customer)-[:HAS_RECORD]->(:Record)
// (:Record)-[:HAS_IDENTIFIER]->(:Identifier)
// (:Record)-[:MATCHED {rule, fields, score}]->(:Record)                   fuzzy / alias evidence
// (:Record)-[:PERFORMED]->(:Event)
// (:Record)-[:MEMBER_OF {since_ts, updated_ts}]->(:Account)             a group call's membership
// (:Customer)-[:IN_SEGMENT {since_ts}]->(:Segment)                       materialised membership
// (:Record)-[:CANNOT_LINK {reason, ts}]->(:Record)                     a reviewer's split
// (:CustomerId)-[:MERGED_INTO {ts, evidence, records}]->(:CustomerId)    an absorbed id
// (:CustomerId)-[:SPLIT_FROM {ts, reason, records}]->(:CustomerId)       a part split off
// (:CustomerId)-[:MOVED_TO {ts, reason, evidence, records}]->(:CustomerId)  records that left
//                                for another customer that lives on (neither id retired)
// Timestamps (ts, *_ts) are epoch milliseconds; `time` is the same instant as ISO 8601 text.

CREATE CONSTRAINT record_key IF NOT EXISTS FOR (n:Record) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT identifier_key IF NOT EXISTS FOR (n:Identifier) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT customer_id IF NOT EXISTS FOR (n:Customer) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT event_id IF NOT EXISTS FOR (n:Event) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT segment_name IF NOT EXISTS FOR (n:Segment) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT segment_run_id IF NOT EXISTS FOR (n:SegmentRun) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT segment_change_id IF NOT EXISTS FOR (n:SegmentChange) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT outbox_change_id IF NOT EXISTS FOR (n:OutboxChange) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT delivery_state_name IF NOT EXISTS FOR (n:DeliveryState) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT customer_id_id IF NOT EXISTS FOR (n:CustomerId) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT erased_identifier_hash IF NOT EXISTS FOR (n:ErasedIdentifier) REQUIRE n.hash IS UNIQUE;
CREATE CONSTRAINT meta_key IF NOT EXISTS FOR (n:Meta) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT account_id IF NOT EXISTS FOR (n:Account) REQUIRE n.id IS UNIQUE;
CREATE INDEX event_name_ts IF NOT EXISTS FOR (n:Event) ON (n.name, n.ts);
CREATE INDEX record_source IF NOT EXISTS FOR (n:Record) ON (n.source);
CREATE INDEX identifier_kind IF NOT EXISTS FOR (n:Identifier) ON (n.kind);
CREATE INDEX segment_change_segment_ts IF NOT EXISTS FOR (n:SegmentChange) ON (n.segment, n.ts);
CREATE INDEX outbox_change_ts IF NOT EXISTS FOR (n:OutboxChange) ON (n.ts, n.segment, n.customer);
