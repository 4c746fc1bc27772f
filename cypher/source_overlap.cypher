// Title: Cross-source overlap
// Answers: For each pair of sources (source_a before source_b alphabetically), how many customers
//   have records in both. Pairs with no customer in common are not listed.
// Engines: neo4j, ladybug
MATCH (c:Customer)-[:HAS_RECORD]->(a:Record), (c)-[:HAS_RECORD]->(b:Record)
WHERE a.source < b.source
RETURN a.source AS source_a, b.source AS source_b, count(DISTINCT c) AS customers
ORDER BY source_a, source_b;
