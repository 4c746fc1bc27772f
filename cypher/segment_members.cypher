// Title: Members of a segment
// Answers: The customers in a materialised segment, with the time (epoch ms) each one entered it.
// Param: segment string  a Segment.name, e.g. 'lapsed_high_spenders'
// Engines: neo4j, ladybug
// Browser: :param segment => 'lapsed_high_spenders'
MATCH (c:Customer)-[m:IN_SEGMENT]->(:Segment {name: $segment})
RETURN
  c.id AS customer_id,
  c.email AS email,
  c.first_name AS first_name,
  c.last_name AS last_name,
  c.country AS country,
  m.since_ts AS since_ts
ORDER BY customer_id;
