// Title: Identifiers held by more than one customer
// Answers: Shared devices, household emails and junk values: identifiers whose records belong to
//   several customers, most customers first (customer_ids in no particular order).
//   linking = false means idgraph refused to merge on it; `reason` says why.
// Param: limit int  (optional, default 50) how many identifiers to list
// Engines: neo4j, ladybug
// Browser: :param limit => 50
MATCH (i:Identifier)<-[:HAS_IDENTIFIER]-(:Record)<-[:HAS_RECORD]-(c:Customer)
WITH i, count(DISTINCT c) AS customers, collect(DISTINCT c.id) AS customer_ids
WHERE customers > 1
RETURN
  i.kind AS kind,
  i.value AS value,
  i.linking AS linking,
  i.reason AS reason,
  customers,
  customer_ids
ORDER BY customers DESC, kind, value
LIMIT $limit;
