// Title: Every customer holding one identifier
// Answers: Which customers have a record holding this identifier, and whether it links records
//   (linking = false: a shared device or junk value, `reason` says why). One row per customer.
// Param: kind string  identifier kind: email, phone, user_id, anonymous_id, device_id or customer_id
// Param: value string  the normalised value: emails lower case, phones E.164 (+393...), ids as sent
// Engines: neo4j, ladybug
// Browser: :param kind => 'device_id'
// Browser: :param value => 'B42372C8-1207-40F3-A36C-9E7FBFBF5592'
MATCH (i:Identifier {kind: $kind, value: $value})<-[:HAS_IDENTIFIER]-(r:Record)
MATCH (c:Customer)-[:HAS_RECORD]->(r)
RETURN
  i.key AS identifier,
  i.linking AS linking,
  i.reason AS reason,
  c.id AS customer_id,
  c.first_name AS first_name,
  c.last_name AS last_name,
  c.record_count AS record_count,
  collect(r.key) AS records
ORDER BY customer_id;
