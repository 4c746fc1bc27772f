// Title: The largest customers (over-merge suspects)
// Answers: Customers with the most records. Several first names or birth dates among one
//   customer's records, or flagged = true, suggest records of different people were merged.
// Param: limit int  (optional, default 20) how many customers to list
// Engines: neo4j, ladybug
// Browser: :param limit => 20
MATCH (c:Customer)-[:HAS_RECORD]->(r:Record)
WITH
  c,
  count(DISTINCT toLower(r.first_name)) AS first_names,
  count(DISTINCT r.birth_date) AS birth_dates
RETURN
  c.id AS customer_id,
  c.record_count AS record_count,
  c.sources AS sources,
  c.flagged AS flagged,
  c.flag_reason AS flag_reason,
  first_names,
  birth_dates
ORDER BY record_count DESC, first_names DESC, birth_dates DESC, customer_id
LIMIT $limit;
