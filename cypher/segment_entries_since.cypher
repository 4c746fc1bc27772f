// Title: Customers who entered a segment recently
// Answers: Every (segment, customer) membership that started at or after $since_ts (epoch ms),
//   newest first: who to greet, who to add to a campaign audience.
// Param: since_ts int  epoch milliseconds, e.g. 1790812800000 for 2026-10-01T00:00Z
// Engines: neo4j, ladybug
// Browser: :param since_ts => 1790812800000
MATCH (c:Customer)-[m:IN_SEGMENT]->(s:Segment)
WHERE m.since_ts >= $since_ts
RETURN
  s.name AS segment,
  c.id AS customer_id,
  c.email AS email,
  c.first_name AS first_name,
  c.last_name AS last_name,
  m.since_ts AS since_ts
ORDER BY since_ts DESC, segment, customer_id;
