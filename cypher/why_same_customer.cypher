// Title: Why two records are one customer
// Answers: The shortest chain of evidence joining two records: MATCHED edges (fuzzy or alias
//   rules, see m.rule and m.fields) and identifiers both records hold (linking ones only).
//   No row: the records are not joined by evidence (they belong to different customers).
// Param: record_a string  a Record.key, e.g. 'crm:C1003'
// Param: record_b string  another Record.key, e.g. 'crm:C1493'
// Engines: neo4j
// Why Neo4j-only: shortestPath() is Neo4j syntax; on the embedded store run
//   `idgraph explain RECORD_A RECORD_B`, which asks the dialect layer for each engine's spelling.
// Browser: :param record_a => 'crm:C1003'
// Browser: :param record_b => 'crm:C1493'
MATCH (a:Record {key: $record_a})
MATCH (b:Record {key: $record_b})
MATCH p = shortestPath((a)-[:MATCHED|HAS_IDENTIFIER*..16]-(b))
WHERE all(n IN nodes(p) WHERE NOT n:Identifier OR n.linking)
RETURN p;
