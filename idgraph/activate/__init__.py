"""Activation: deliver segment changes (entered/exited customers) to the tools that use them.

Data flow: a segment run or refresh writes each change to the store's outbox in the same
transaction as the membership (`idgraph.store.queries`); `deliver.drain` reads the outbox,
hands batches to each destination that takes the segment (`destinations/`), retries with
backoff, dead-letters what still fails (`deadletter`), and removes what every destination has.
"""
