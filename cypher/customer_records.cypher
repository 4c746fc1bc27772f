// Title: The records of one customer, one row each
// Answers: The same identity graph as customer_graph as a table: per record its source, name,
//   contacts, the identifiers it holds (kind:value, linking ones only), the records it MATCHED
//   (key and rule) and how many events it performed.
// Param: customer_id string  a Customer.id, e.g. from `idgraph profile EMAIL`
// Engines: neo4j, ladybug
// Browser: :param customer_id => 'C-0123456789ab'
MATCH (c:Customer {id: $customer_id})-[:HAS_RECORD]->(r:Record)
OPTIONAL MATCH (r)-[:HAS_IDENTIFIER]->(i:Identifier)
WHERE i.linking
WITH c, r, collect(DISTINCT i.key) AS identifiers
OPTIONAL MATCH (r)-[m:MATCHED]-(other:Record)<-[:HAS_RECORD]-(c)
WITH
  r,
  identifiers,
  collect(DISTINCT CASE WHEN other IS NULL THEN null
    ELSE other.key + ' (' + m.rule + ')' END) AS matched
RETURN
  r.key AS record_key,
  r.source AS source,
  r.first_name AS first_name,
  r.last_name AS last_name,
  r.email AS email,
  r.phone AS phone,
  r.birth_date AS birth_date,
  identifiers,
  matched,
  COUNT { MATCH (r)-[:PERFORMED]->(:Event) } AS events
ORDER BY record_key;
