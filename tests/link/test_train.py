"""EM recovers known parameters; term frequencies weigh rare agreement more."""

from __future__ import annotations

import numpy as np
import pandas as pd

from idgraph.link import LinkConfig, score_pairs, train_model
from idgraph.link.train import run_em

M = [np.array([0.8, 0.15, 0.05]), np.array([0.9, 0.1]), np.array([0.7, 0.2, 0.1])]
U = [np.array([0.02, 0.08, 0.9]), np.array([0.1, 0.9]), np.array([0.05, 0.15, 0.8])]


def test_em_recovers_m_and_lambda_from_a_known_model() -> None:
    rng = np.random.default_rng(7)
    n, true_lambda = 200_000, 0.2
    is_match = rng.random(n) < true_lambda
    levels = []
    for m, u in zip(M, U, strict=True):
        drawn = np.where(is_match, rng.choice(len(m), size=n, p=m), rng.choice(len(u), size=n, p=u))
        drawn[rng.random(n) < 0.05] = -1
        levels.append(drawn.astype(np.int8))
    initial = [np.linspace(2, 1, len(m)) / np.linspace(2, 1, len(m)).sum() for m in M]
    m_hat, lam, posterior, iterations = run_em(
        levels, U, initial, 0.5, max_iterations=200, tolerance=1e-7, floor=1e-6
    )
    assert abs(lam - true_lambda) < 0.01
    for estimated, truth in zip(m_hat, M, strict=True):
        np.testing.assert_allclose(estimated, truth, atol=0.02)
    assert 1 < iterations < 200
    assert posterior.shape == (n,)


def _tf_table() -> pd.DataFrame:
    surnames = ["smith"] * 40 + ["zbigniewski", "zbigniewski"] + [f"name{i}" for i in range(58)]
    return pd.DataFrame(
        {
            "id": range(len(surnames)),
            "surname": surnames,
            "city": ["x"] * len(surnames),
        }
    )


def test_rare_agreeing_value_weighs_more_than_a_common_one() -> None:
    df = _tf_table()
    config = LinkConfig.model_validate(
        {
            "unique_id": "id",
            "blocking": [["surname"]],
            "comparisons": [
                {"column": "surname", "levels": ["exact"], "term_frequency": True},
                {"column": "city", "levels": ["exact"]},
            ],
            "training": {"u_pairs": 5000, "prior": 0.01},
        }
    )
    model = train_model(df, config, labels=pd.Series(range(len(df))))
    scored = score_pairs(df, model)
    names = df.set_index("id").surname
    scored["surname"] = names[scored.left_id].to_numpy()
    smith = scored.loc[scored.surname == "smith", "weight_surname"].iloc[0]
    rare = scored.loc[scored.surname == "zbigniewski", "weight_surname"].iloc[0]
    assert rare > smith + 3
    params = model.params("surname")
    assert params.tf is not None
    assert params.tf["smith"] == 0.4
