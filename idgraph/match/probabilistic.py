"""Probabilistic evidence for ingest: the `idgraph.link` engine over idgraph's own records.

Identifier values a guard stopped (a shop's email typed at every till, a family tablet) are
blanked before scoring, so the same value cannot carry a pair in through the back door; emails
are compared by their local part for the same reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from idgraph.link import Model, load_link_config, score_pairs, shipped_link_config, train_model
from idgraph.link.config import LinkConfig
from idgraph.link.explain import PairExplanation, explain_pair
from idgraph.match.config import MatchConfig, ProbabilisticMatching
from idgraph.match.decide import IdentifierVerdict, identifier_verdicts
from idgraph.models import MatchEvidence, Record, identifier_key
from idgraph.normalize.fields import email_local_part
from idgraph.store.base import GraphStore

__all__ = ["PROBABILISTIC_RULE", "probabilistic_edges", "records_frame", "score_stored_pair"]

logger = logging.getLogger(__name__)

PROBABILISTIC_RULE = "probabilistic"
_TEXT_FIELDS = ("first_name", "last_name", "street", "city", "postcode", "birth_date")


def records_frame(
    records: Sequence[Record], verdicts: Mapping[str, IdentifierVerdict]
) -> pd.DataFrame:
    """One row per record: the fields the `customers` link config compares, as text."""

    def linking(kind: str, value: str | None) -> str:
        if not value:
            return ""
        verdict = verdicts.get(identifier_key(kind, value))
        return value if verdict is None or verdict.linking else ""

    rows = []
    for record in records:
        fields = record.fields
        email = linking("email", fields.get("email"))
        row = {"key": record.key, **{name: fields.get(name) or "" for name in _TEXT_FIELDS}}
        row["email_local"] = email_local_part(email).replace(".", "") if email else ""
        row["phone"] = linking("phone", fields.get("phone"))
        rows.append(row)
    columns = ["key", *_TEXT_FIELDS, "email_local", "phone"]
    return pd.DataFrame(rows, columns=columns, dtype=str)


def _link_config(name: str) -> LinkConfig:
    return load_link_config(name) if Path(name).exists() else shipped_link_config(name)


def _model(frame: pd.DataFrame, spec: ProbabilisticMatching, path: str | Path | None) -> Model:
    """The saved model at `path`, else one trained on `frame` as an ingest would."""
    if path is not None:
        return Model.load(path)
    return train_model(frame, _link_config(spec.config), seed=0)


def probabilistic_edges(
    records: Sequence[Record],
    verdicts: Mapping[str, IdentifierVerdict],
    spec: ProbabilisticMatching,
) -> tuple[list[MatchEvidence], int]:
    """Links for every pair at or above the threshold, strongest first, and pairs scored.

    The link's fields are its match-weight waterfall: `prior:-11.34` then
    `name=level:+7.02` for every comparison that moved the weight, adding up to log2 of the
    odds of its probability, so `idgraph explain` can show why the pair linked.
    """
    frame = records_frame(records, verdicts)
    if spec.model is None and len(frame) < spec.min_records:
        logger.info("probabilistic matching skipped: %d records < min_records", len(frame))
        return [], 0
    model = _model(frame, spec, spec.model)
    threshold = spec.threshold if spec.threshold is not None else model.config.threshold
    scored = score_pairs(frame, model)
    chosen = scored[(scored["probability"] >= threshold) & ~scored["conflict"]]
    weights = [c for c in scored.columns if c.startswith("weight_")]
    edges = []
    for row in chosen.itertuples(index=False):
        values = row._asdict()
        steps = [
            f"{c.removeprefix('weight_')}={values['level_' + c.removeprefix('weight_')]}"
            f":{values[c]:+.2f}"
            for c in weights
            if values[c]
        ]
        fields = (f"prior:{model.prior_weight:+.2f}", *steps)
        a, b = sorted((str(values["left_id"]), str(values["right_id"])))
        edges.append(MatchEvidence(a, b, PROBABILISTIC_RULE, fields, float(values["probability"])))
    edges.sort(key=lambda e: (-e.score, e.a, e.b))
    return edges, len(scored)


def score_stored_pair(
    store: GraphStore,
    record_a: str,
    record_b: str,
    *,
    match_config: MatchConfig,
    model_path: str | Path | None = None,
) -> PairExplanation:
    """The match-weight waterfall of two stored records: why they link, or why not.

    Uses the saved model of `model_path` (or of `match_config.probabilistic.model`), else
    trains one on the stored records as an ingest would.

    Raises:
        NotFoundError: either record key is not stored.
    """
    state = store.load_state()
    records = [state.records[k] for k in sorted(state.records)]
    verdicts = identifier_verdicts(records, state.links, match_config)
    frame = records_frame(records, verdicts)
    spec = match_config.probabilistic or ProbabilisticMatching()
    return explain_pair(frame, _model(frame, spec, model_path or spec.model), record_a, record_b)
