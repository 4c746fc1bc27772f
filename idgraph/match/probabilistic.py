"""Probabilistic evidence for ingest: the `idgraph.link` engine over idgraph's own records.

Identifier values a guard stopped (a shop's email typed at every till, a family tablet) are
blanked before scoring, so the same value cannot carry a pair in through the back door; emails
are compared by their local part for the same reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import polars as pl

from idgraph.link import Model, load_link_config, score_pairs, shipped_link_config, train_model
from idgraph.link.config import LinkConfig
from idgraph.link.explain import PairExplanation, explain_pair
from idgraph.match.config import MatchConfig, ProbabilisticMatching
from idgraph.match.edges import EDGE_COLUMNS, FUZZY
from idgraph.store.base import GraphStore

__all__ = ["PROBABILISTIC_RULE", "probabilistic_edges", "records_frame", "score_stored_pair"]

logger = logging.getLogger(__name__)

PROBABILISTIC_RULE = "probabilistic"
_TEXT_FIELDS = ("first_name", "last_name", "street", "city", "postcode", "birth_date")


def records_frame(records: pl.DataFrame, verdicts: pl.DataFrame) -> pd.DataFrame:
    """One row per record: the fields the `customers` link config compares, as text.

    An email or phone whose identifier does not link is blanked, so a shared value cannot
    carry a pair in through the back door.
    """
    refused = verdicts.filter(~pl.col("linking")).select("kind", "value")

    def linking(kind: str) -> pl.Expr:
        blocked = refused.filter(pl.col("kind") == kind)["value"].implode()
        column = pl.col(kind)
        return pl.when(column.is_in(blocked)).then(pl.lit(None)).otherwise(column)

    frame = records.sort("key").select(
        "key",
        *[pl.col(name) for name in _TEXT_FIELDS],
        linking("email").alias("email"),
        linking("phone").alias("phone"),
    )
    frame = frame.with_columns(
        pl.col("email")
        .str.replace(r"@[^@]*$", "")
        .str.replace_all(".", "", literal=True)
        .alias("email_local")
    ).select("key", *_TEXT_FIELDS, "email_local", "phone")
    return frame.fill_null("").to_pandas().astype(str)


def _link_config(name: str) -> LinkConfig:
    return load_link_config(name) if Path(name).exists() else shipped_link_config(name)


def _model(frame: pd.DataFrame, spec: ProbabilisticMatching, path: str | Path | None) -> Model:
    """The saved model at `path`, else one trained on `frame` as an ingest would."""
    if path is not None:
        return Model.load(path)
    return train_model(frame, _link_config(spec.config), seed=0)


def probabilistic_edges(
    records: pl.DataFrame, verdicts: pl.DataFrame, spec: ProbabilisticMatching
) -> tuple[pl.DataFrame, int]:
    """Links for every pair at or above the threshold, strongest first, and pairs scored.

    Edges are record positions (rows of `records`, sorted by key). The link's fields are its
    match-weight waterfall: `prior:-11.34` then `name=level:+7.02` for every comparison that
    moved the weight, adding up to log2 of the odds of its probability, so `idgraph explain`
    can show why the pair linked.
    """
    frame = records_frame(records, verdicts)
    empty = pl.DataFrame(schema=EDGE_COLUMNS)
    if spec.model is None and len(frame) < spec.min_records:
        logger.info("probabilistic matching skipped: %d records < min_records", len(frame))
        return empty, 0
    model = _model(frame, spec, spec.model)
    threshold = spec.threshold if spec.threshold is not None else model.config.threshold
    scored = score_pairs(frame, model)
    chosen = scored[(scored["probability"] >= threshold) & ~scored["conflict"]]
    weights = [c for c in scored.columns if c.startswith("weight_")]
    position = {key: i for i, key in enumerate(frame["key"].tolist())}
    rows: list[tuple[int, int, str, float]] = []
    for row in chosen.itertuples(index=False):
        values = row._asdict()
        steps = [
            f"{c.removeprefix('weight_')}={values['level_' + c.removeprefix('weight_')]}"
            f":{values[c]:+.2f}"
            for c in weights
            if values[c]
        ]
        fields = ",".join((f"prior:{model.prior_weight:+.2f}", *steps))
        a, b = sorted((position[str(values["left_id"])], position[str(values["right_id"])]))
        rows.append((a, b, fields, float(values["probability"])))
    if not rows:
        return empty, len(scored)
    edges = pl.DataFrame(
        {
            "a": [r[0] for r in rows],
            "b": [r[1] for r in rows],
            "rule": [PROBABILISTIC_RULE] * len(rows),
            "fields": [r[2] for r in rows],
            "score": [r[3] for r in rows],
            "class": [FUZZY] * len(rows),
        },
        schema=EDGE_COLUMNS,
    ).sort(pl.col("score"), "a", "b", descending=[True, False, False])
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
    # Imported here: the mirror pulls in the resolution core.
    from idgraph.state.rebuild import open_mirror
    from idgraph.state.snapshot import take_snapshot

    snapshot = take_snapshot(open_mirror(store, match_config))
    frame = records_frame(snapshot.records, snapshot.verdicts)
    spec = match_config.probabilistic or ProbabilisticMatching()
    return explain_pair(frame, _model(frame, spec, model_path or spec.model), record_a, record_b)
