// Title: The whole identity graph of one customer
// Answers: Everything idgraph knows about one customer, drawn as a graph: the customer, its
//   records, their identifiers, the MATCHED evidence between them and their events.
//   One path per edge; the Neo4j Browser merges them into one picture.
// Param: customer_id string  a Customer.id, e.g. from `idgraph profile EMAIL`
// Engines: neo4j, ladybug
// Browser: :param customer_id => 'C-0123456789ab'
MATCH p = (:Customer {id: $customer_id})-[:HAS_RECORD|HAS_IDENTIFIER|MATCHED|PERFORMED*1..2]->()
RETURN p;
