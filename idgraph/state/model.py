"""The match model a store keeps: what its last full run learned, read by every later run,
by `idgraph explain` and by the query module alike, so all judge pairs as that run did."""

from __future__ import annotations

from idgraph.match.config import MatchConfig
from idgraph.match.model import MatchModel
from idgraph.match.scored import MODEL_KEY, model_fits
from idgraph.store.base import GraphStore
from idgraph.store.queries import STATE_READS

__all__ = ["stored_model"]


def stored_model(graph: GraphStore, config: MatchConfig) -> MatchModel | None:
    """The match model the store's last full run learned, if it scores today's fields."""
    rows = graph.query("state_version", STATE_READS["state_version"], {"key": MODEL_KEY})
    text = rows[0]["version"] if rows else None
    if not text:
        return None
    model = MatchModel.from_json(text)
    return model if model_fits(model, config) else None
