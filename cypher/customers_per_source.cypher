// Title: Customers and records per source
// Answers: For each source (crm, pos, web, ...), how many records it sent and how many distinct
//   customers those records resolved to.
// Engines: neo4j, ladybug
MATCH (c:Customer)-[:HAS_RECORD]->(r:Record)
RETURN r.source AS source, count(r) AS records, count(DISTINCT c) AS customers
ORDER BY source;
