"""Every statement the deliverer sends passes Neo4j's Cypher linter (the schema drawn in
cypher/schema.cypher includes the outbox)."""

from __future__ import annotations

from idgraph.activate.outbox import OUTBOX_QUERIES
from idgraph.activate.reads import CONTACT_IDENTIFIERS, CONTACT_QUERY, traits_cypher
from idgraph.store.queries import parameters_of
from tests import cypherlint


def test_delivery_statements_lint_clean() -> None:
    statements = {
        **OUTBOX_QUERIES,
        "contacts": CONTACT_QUERY,
        "contact_identifiers": CONTACT_IDENTIFIERS,
        "traits": traits_cypher(["email", "country", "id"]),
    }
    named = [(name, text, parameters_of(text)) for name, text in statements.items()]
    results = cypherlint.lint(named)
    assert len(results) == len(named)
    assert {r.name: r.errors for r in results if not r.ok} == {}
