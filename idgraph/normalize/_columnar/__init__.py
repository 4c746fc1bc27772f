"""Vectorised fast paths behind `idgraph.normalize.columns`; private, no public API.

Each fast path turns a whole column of raw strings into normalized values and says, row by row,
whether its answer is certainly the one the per-value normalizer gives; `columns` sends every
other row to that normalizer.
"""
