"""The waterfall of one pair adds up, and agrees with score_pairs for blocked pairs."""

from __future__ import annotations

import pytest

from idgraph.errors import NotFoundError
from idgraph.link import score_pairs, shipped_link_config, train_model
from idgraph.link.explain import explain_pair
from tests.link.synth import people


def test_waterfall_matches_score_pairs_and_adds_up() -> None:
    df = people(300, seed=5)
    model = train_model(df, shipped_link_config("people"), seed=1)
    scored = score_pairs(df, model)
    for row in scored.head(25).itertuples():
        pair = explain_pair(df, model, str(row.left_id), str(row.right_id))
        assert pair.blocked_by is not None
        assert pair.weight == pytest.approx(row.weight)
        total = pair.prior_weight + sum(s.weight for s in pair.steps)
        assert pair.weight == pytest.approx(total)
        assert pair.steps[-1].cumulative == pytest.approx(pair.weight)
        for step in pair.steps:
            assert step.weight == pytest.approx(getattr(row, f"weight_{step.comparison}"))
            assert step.level == str(getattr(row, f"level_{step.comparison}"))


def test_unknown_record_is_not_found() -> None:
    df = people(20, seed=5)
    model = train_model(df, shipped_link_config("people"), seed=1)
    with pytest.raises(NotFoundError, match="no record 'nope'"):
        explain_pair(df, model, str(df["record_id"].iloc[0]), "nope")
