"""Which pairs may link: explicit links, shared identifiers under their guards, fuzzy rules.

Produces the edges in a deterministic order of strength — explicit links, then identifiers in
the configured order of kinds, then fuzzy matches by score — so clustering under identity
limits is reproducible, and a verdict for every identifier value: whether it may link the
records that carry it, and why not when it may not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from idgraph.block.keys import BlockingStats, BlockParts, candidate_pair_slices
from idgraph.match.comparisons import (
    STRING_METHODS,
    FieldArrays,
    FloatArray,
    pair_similarities,
    rounded,
)
from idgraph.match.config import FuzzyRule, MatchConfig
from idgraph.match.edges import EDGE_COLUMNS, FUZZY, IDENTIFIER, LINK
from idgraph.match.households import (
    alias_frame,
    clashing_pairs,
    household_pairs,
    learn_aliases,
)
from idgraph.match.identity import identity_classes
from idgraph.match.model import MatchModel
from idgraph.match.scored import (
    Frequencies,
    guarded_view,
    household_lift,
    learns,
    lifted_config,
    scored_matches,
)
from idgraph.match.tolerance import (
    TOLERANT_ATTRIBUTES,
    guard_values,
    personal_pairs,
    tolerant_classes,
)
from idgraph.match.view import VIEW_FIELDS, match_view, with_customer_ids
from idgraph.stages import Progress

__all__ = [
    "Evidence",
    "collect_evidence",
    "fuzzy_matches",
    "identifier_verdicts",
]


@dataclass(slots=True)
class Evidence:
    """All candidate links of the records being resolved, strongest first, and the verdicts.

    `edges` hold record positions (rows of the records frame); `verdicts` one row per
    identifier value: key (`kind:value`), kind, value, holders, linking, reason.
    """

    edges: pl.DataFrame
    verdicts: pl.DataFrame
    blocking: list[BlockingStats] = field(default_factory=list)
    pairs_compared: int = 0
    #: The match model that scored the pairs (None without scored rules), and whether this
    #: run learned it (then the store keeps it for incremental runs).
    model: MatchModel | None = None
    model_trained: bool = False
    #: Scored pairs over the threshold that a `must_agree` field stopped.
    vetoed: int = 0
    #: Pairs of holders of a shared identifier kept apart as two people of one household.
    households: int = 0
    #: Record-key pairs a personal identifier vouches for (`personal_pairs`); the clustering
    #: guards read them too.
    personal: pl.DataFrame | None = None


def _keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns((pl.col("kind") + pl.lit(":") + pl.col("value")).alias("key"))


def identifier_verdicts(
    records: pl.DataFrame,
    identifiers: pl.DataFrame,
    links: pl.DataFrame,
    config: MatchConfig,
    *,
    settled: pl.DataFrame | None = None,
    view: pl.DataFrame | None = None,
    personal: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Decide for every identifier value whether it may link the records that carry it.

    Args:
        records: the records being resolved (`key` and the strong attributes).
        identifiers: their (record, kind, value) rows.
        links: explicit links among them (identity classes for the limits).
        settled: verdicts decided earlier over all of an identifier's holders (key, linking,
            reason); an incremental ingest passes those of identifiers no incoming record
            carries, because `records` then holds only some of their holders.
        view: the records' match view, when already made (the name guard reads its
            first-name keys).
        personal: the records' `personal_pairs`, when already found.

    Returns:
        One row per identifier value: key, kind, value, holders, linking, reason (in no
        particular order: at a million records sorting two million keys costs a second, and
        every reader joins on the key).
    """
    keyed = _keys(identifiers)
    verdicts = keyed.group_by("key").agg(
        pl.col("kind").first(), pl.col("value").first(), pl.len().alias("holders")
    )
    rules = pl.DataFrame(
        {
            "kind": [r.kind for r in config.identifiers],
            "link": [r.link for r in config.identifiers],
            "max_records": [r.max_records for r in config.identifiers],
        },
        schema={"kind": pl.Utf8, "link": pl.Boolean, "max_records": pl.Int64},
    )
    verdicts = verdicts.join(rules, on="kind", how="left")
    reason = (
        pl.when(pl.col("link").is_null() | ~pl.col("link"))
        .then(pl.col("kind") + pl.lit(" is not a linking identifier"))
        .when(pl.col("holders") > pl.col("max_records"))
        .then(
            pl.lit("shared by ")
            + pl.col("holders").cast(pl.Utf8)
            + pl.lit(" records (max_records ")
            + pl.col("max_records").cast(pl.Utf8)
            + pl.lit(")")
        )
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )
    verdicts = verdicts.with_columns(reason.alias("reason"))
    if settled is not None and settled.height:
        verdicts = verdicts.join(
            settled.select(
                "key", pl.col("linking").alias("_s_link"), pl.col("reason").alias("_s_why")
            ),
            on="key",
            how="left",
        )
    else:
        verdicts = verdicts.with_columns(
            pl.lit(None, dtype=pl.Boolean).alias("_s_link"),
            pl.lit(None, dtype=pl.Utf8).alias("_s_why"),
        )
    open_ = verdicts.filter(pl.col("_s_link").is_null() & pl.col("reason").is_null())
    if personal is None:
        personal = _personal(records, identifiers, config, view)
    guard = _guard_reasons(
        open_.select("key"), keyed, records, identifiers, links, config, view, personal
    )
    verdicts = verdicts.join(guard, on="key", how="left").with_columns(
        pl.coalesce("reason", "_guard").alias("reason")
    )
    return verdicts.with_columns(
        pl.when(pl.col("_s_link").is_not_null())
        .then(pl.col("_s_link"))
        .otherwise(pl.col("reason").is_null())
        .alias("linking"),
        pl.when(pl.col("_s_link").is_not_null())
        .then(pl.col("_s_why").fill_null(""))
        .otherwise(pl.col("reason").fill_null(""))
        .alias("reason"),
    ).select("key", "kind", "value", pl.col("holders").cast(pl.Int64), "linking", "reason")


def _personal(
    records: pl.DataFrame,
    identifiers: pl.DataFrame,
    config: MatchConfig,
    view: pl.DataFrame | None,
) -> pl.DataFrame | None:
    """The pairs personal identifiers vouch for; None when no attribute must agree. Where
    first names need not agree (no households), whatever the holders' names."""
    if not config.strong_attributes:
        return None
    any_names = "first_name" not in config.scoring.must_agree
    return personal_pairs(
        records, identifiers, config.personal_kinds, view=view, any_names=any_names
    )


def _guard_reasons(
    open_: pl.DataFrame,
    keyed: pl.DataFrame,
    records: pl.DataFrame,
    identifiers: pl.DataFrame,
    links: pl.DataFrame,
    config: MatchConfig,
    view: pl.DataFrame | None,
    personal: pl.DataFrame | None,
) -> pl.DataFrame:
    """Identity limits, strong attributes and first names over each open identifier's
    holders; the typo tests run only where a value has two spellings or more."""
    holders = keyed.join(open_, on="key", how="semi").select("key", "record")
    checks: list[pl.DataFrame] = []
    position = 0
    if config.limits:
        classes = identity_classes(identifiers, links, config.limits)
        for kind, limit in config.limits.items():
            found = (
                holders.join(
                    classes.filter(pl.col("kind") == kind).select("record", "cls"), on="record"
                )
                .group_by("key")
                .agg(pl.col("cls").n_unique().alias("n"))
                .filter(pl.col("n") > limit)
                .select(
                    "key",
                    pl.lit(position).alias("rank"),
                    (
                        pl.lit("joins ")
                        + pl.col("n").cast(pl.Utf8)
                        + pl.lit(f" distinct {kind} (limit {limit})")
                    ).alias("_guard"),
                )
            )
            checks.append(found)
            position += 1
    for name in config.strong_attributes:
        values = records.select(pl.col("key").alias("record")).with_columns(
            guard_values(records, name, view).alias("value")
        )
        held = _crowded(holders.join(values.filter(pl.col("value").is_not_null()), on="record"), 1)
        found = (
            tolerant_classes(
                held.rename({"key": "group"}), TOLERANT_ATTRIBUTES.get(name), bridges=personal
            )
            .group_by(pl.col("group").alias("key"))
            .agg(pl.col("cls").n_unique().alias("n"))
            .filter(pl.col("n") > 1)
            .select(
                "key",
                pl.lit(position).alias("rank"),
                (
                    pl.lit("joins records with ")
                    + pl.col("n").cast(pl.Utf8)
                    + pl.lit(f" different {name}")
                ).alias("_guard"),
            )
        )
        checks.append(found)
        position += 1
    named = [(str(r.kind), r.max_names) for r in config.identifiers if r.max_names is not None]
    if named:
        checks.append(_name_guard(holders, keyed, records, named, position, view))
    if not checks:
        return pl.DataFrame(schema={"key": pl.Utf8, "_guard": pl.Utf8})
    return (
        pl.concat(checks)
        .sort("key", "rank")
        .group_by("key", maintain_order=True)
        .first()
        .select("key", "_guard")
    )


def _name_guard(
    holders: pl.DataFrame,
    keyed: pl.DataFrame,
    records: pl.DataFrame,
    named: list[tuple[str, int]],
    rank: int,
    view: pl.DataFrame | None,
) -> pl.DataFrame:
    """Identifier values whose holders carry more first names than their kind's `max_names`
    (a typo or a nickname is no second name)."""
    limits = pl.DataFrame(
        {"kind": [k for k, _ in named], "max_names": [m for _, m in named]},
        schema={"kind": pl.Utf8, "max_names": pl.Int64},
    )
    names = records.select(pl.col("key").alias("record")).with_columns(
        guard_values(records, "first_name", view).alias("value")
    )
    held = _crowded(
        holders.join(keyed.select("key", "kind").unique("key"), on="key")
        .join(limits, on="kind", how="semi")
        .join(names.filter(pl.col("value").is_not_null()), on="record"),
        min(m for _, m in named),
    )
    counted = (
        tolerant_classes(held.rename({"key": "group"}), TOLERANT_ATTRIBUTES["first_name"])
        .group_by(pl.col("group").alias("key"))
        .agg(pl.col("kind").first(), pl.col("cls").n_unique().alias("n"))
        .join(limits, on="kind")
    )
    return counted.filter(pl.col("n") > pl.col("max_names")).select(
        "key",
        pl.lit(rank).alias("rank"),
        (
            pl.lit("held by ")
            + pl.col("n").cast(pl.Utf8)
            + pl.lit(" different first names (max_names ")
            + pl.col("max_names").cast(pl.Utf8)
            + pl.lit(")")
        ).alias("_guard"),
    )


def _crowded(held: pl.DataFrame, allowed: int) -> pl.DataFrame:
    """The (key, record, value) rows of identifiers whose holders spell more than `allowed`
    values: only these can break a guard, typos or not."""
    many = held.group_by("key").agg(pl.col("value").n_unique().alias("_n"))
    return held.join(many.filter(pl.col("_n") > allowed).select("key"), on="key", how="semi")


def _identifier_edges(
    keyed: pl.DataFrame, verdicts: pl.DataFrame, positions: pl.DataFrame, config: MatchConfig
) -> pl.DataFrame:
    """Every pair of holders of each linking identifier, by (rule, value, holders).

    Not a star from one holder: when the guards refuse that holder's customer, the other
    holders still share the value and must still be linked. `max_records` bounds a linking
    value's holders, so its pairs stay few (at most 45 at the default 10); in components
    without a conflict the extra pairs only close cycles and are never replayed.
    """
    order = pl.DataFrame(
        {
            "kind": [r.kind for r in config.identifiers],
            "_order": list(range(len(config.identifiers))),
        },
        schema={"kind": pl.Utf8, "_order": pl.Int64},
    )
    linking = verdicts.filter(pl.col("linking") & (pl.col("holders") >= 2)).select("key", "kind")
    holders = (
        keyed.join(linking.select("key"), on="key", how="semi")
        .join(positions, left_on="record", right_on="key")
        .select("key", "kind", "pos")
    )
    edges = (
        holders.join(holders.select("key", pl.col("pos").alias("other")), on="key")
        .filter(pl.col("pos") < pl.col("other"))
        .join(order, on="kind", how="left")
        .with_columns(pl.col("_order").fill_null(99))
        .sort("_order", "key", "pos", "other")
        .select(
            pl.col("pos").alias("a"),
            pl.col("other").alias("b"),
            (pl.lit("same_") + pl.col("kind")).alias("rule"),
            pl.col("kind").alias("fields"),
            pl.lit(1.0).alias("score"),
            pl.lit(IDENTIFIER, dtype=pl.Int8).alias("class"),
            "key",
        )
    )
    return edges


def _link_edges(links: pl.DataFrame, positions: pl.DataFrame) -> pl.DataFrame:
    return (
        links.join(positions.rename({"key": "a", "pos": "pa"}), on="a")
        .join(positions.rename({"key": "b", "pos": "pb"}), on="b")
        .filter(pl.col("a") != pl.col("b"))
        .sort("a", "b")
        .select(
            pl.col("pa").alias("a"),
            pl.col("pb").alias("b"),
            "rule",
            pl.lit("id").alias("fields"),
            pl.lit(1.0).alias("score"),
            pl.lit(LINK, dtype=pl.Int8).alias("class"),
        )
    )


def fuzzy_matches(
    view: pl.DataFrame,
    config: MatchConfig,
    *,
    block_sizes: pl.DataFrame | None = None,
    stats: list[BlockingStats] | None = None,
) -> tuple[pl.DataFrame, int]:
    """The fuzzy rules' matches among the records of `view`, before any guard or limit.

    Returns:
        Edges (record positions a < b by key order, rule, fields, score), best rule per pair
        (ties: the first rule), strongest first; and the number of pairs compared.
    """
    found: list[tuple[npt.NDArray[np.integer], npt.NDArray[np.integer], FloatArray, int]] = []
    compared = 0
    fields: dict[str, FieldArrays] = {}
    fixed = [rule for rule in config.fuzzy if rule.compare is not None]
    known = BlockParts(view)
    for order, rule in enumerate(fixed):
        slices, rule_stats = candidate_pair_slices(
            view, rule, max_block_size=config.block_cap(rule.name), sizes=block_sizes,
            known=known,
        )  # fmt: skip
        if stats is not None:
            stats.append(rule_stats)
        compared += rule_stats.pairs
        for left, right in slices:
            kept = _passing(rule, fields, view, left, right)
            if kept is not None:
                found.append((left[kept[0]], right[kept[0]], kept[1], order))
    if not found:
        return _empty_edges(), compared
    a = np.concatenate([f[0] for f in found]).astype(np.int64)
    b = np.concatenate([f[1] for f in found]).astype(np.int64)
    score = np.concatenate([f[2] for f in found])
    rules = np.concatenate([np.full(len(f[0]), f[3], dtype=np.int64) for f in found])
    pair = (a << 32) | b
    # Per pair the best score, the first rule on a tie; then strongest first, by pair. Scores
    # have four decimals, so (weakness, rule) fits one integer and two sorts do.
    weakness = 10_000 - np.rint(score * 10_000).astype(np.int64)
    by_quality = np.argsort(weakness * len(fixed) + rules, kind="stable")
    _, first_at = np.unique(pair[by_quality], return_index=True)
    first = by_quality[first_at]
    ranked = first[np.lexsort((pair[first], weakness[first]))]
    chosen_rules = pl.Series(rules[ranked])
    names = pl.Series([rule.name for rule in fixed], dtype=pl.Utf8)
    compared_fields = pl.Series(
        [",".join(c.field for c in rule.compare or ()) for rule in fixed], dtype=pl.Utf8
    )
    best = pl.DataFrame(
        {
            "a": a[ranked],
            "b": b[ranked],
            "rule": names.gather(chosen_rules),
            "fields": compared_fields.gather(chosen_rules),
            "score": score[ranked],
            "class": np.full(len(ranked), FUZZY, dtype=np.int8),
        },
        schema_overrides={"a": pl.UInt32, "b": pl.UInt32, "score": pl.Float64},
    )
    return best, compared


def _passing(
    rule: FuzzyRule,
    fields: dict[str, FieldArrays],
    view: pl.DataFrame,
    left: npt.NDArray[np.integer],
    right: npt.NDArray[np.integer],
) -> tuple[npt.NDArray[np.intp], FloatArray] | None:
    """The pairs (positions in `left`/`right`) that reach every threshold of `rule`, and
    their rounded mean score; None when no pair does.

    Cheap comparisons run first, and each on the pairs still passing.
    """
    chosen = np.arange(len(left))
    scores: dict[int, FloatArray] = {}
    compare = rule.compare or []
    for position in sorted(range(len(compare)), key=lambda p: compare[p].method in STRING_METHODS):
        comparison = compare[position]
        if comparison.field not in fields:
            fields[comparison.field] = FieldArrays(view[comparison.field])
        found_scores = pair_similarities(
            comparison,
            fields[comparison.field],
            left[chosen],
            right[chosen],
            cutoff=comparison.threshold,
        )
        keep = found_scores >= comparison.threshold
        chosen = chosen[keep]
        scores = {p: s[keep] for p, s in scores.items()}
        scores[position] = found_scores[keep]
        if not len(chosen):
            return None
    total = np.zeros(len(chosen), dtype=np.float64)
    for position in range(len(compare)):
        total += scores[position]
    return chosen, rounded(total / len(compare), 4)


def _empty_edges() -> pl.DataFrame:
    return pl.DataFrame(schema=EDGE_COLUMNS)


def learned_aliases(
    records: pl.DataFrame,
    identifiers: pl.DataFrame,
    linking: pl.Series,
    config: MatchConfig,
    view: pl.DataFrame,
) -> pl.DataFrame | None:
    """The first-name aliases a full run learns from the holders of shared identifiers, for
    a run that learns its model apart from `collect_evidence` (Spark's driver): the same
    pairs, given the keys of the identifier values that link.

    None when the config does not keep households apart (nothing to learn them for).
    """
    if "first_name" not in config.scoring.must_agree:
        return None
    keyed = _keys(identifiers)
    verdicts = (
        keyed.group_by("key", "kind")
        .agg(pl.len().alias("holders"))
        .with_columns(pl.col("key").is_in(linking.implode()).alias("linking"))
    )
    positions = records.select("key").with_row_index("pos")
    shared = _identifier_edges(keyed, verdicts, positions, config)
    return learn_aliases(clashing_pairs(shared, view), view)


def collect_evidence(
    records: pl.DataFrame,
    identifiers: pl.DataFrame,
    links: pl.DataFrame,
    config: MatchConfig,
    *,
    settled: pl.DataFrame | None = None,
    block_sizes: pl.DataFrame | None = None,
    view: pl.DataFrame | None = None,
    progress: Progress | None = None,
    model: MatchModel | None = None,
    frequencies: Frequencies | None = None,
    records_total: int | None = None,
) -> Evidence:
    """Every candidate link among `records` (sorted by key), strongest first.

    An incremental ingest passes only the records it re-resolves, with the store-wide facts
    that decide the guards and scores: `settled` identifier verdicts and `block_sizes` (see
    `identifier_verdicts` and `candidate_pairs`), the store's `model`, value `frequencies`
    and `records_total` (see `scored_matches`); a full run learns its model. `progress`
    gets the identifier values judged and the candidate pairs compared, each as (step, 0, 1)
    then (step, n, n).
    """
    positions = records.select("key").with_row_index("pos")
    known = records["key"].implode()
    links = links.filter(pl.col("a").is_in(known) & pl.col("b").is_in(known))
    if progress is not None:
        progress("identifiers", 0, 1)
    if view is None:
        view = match_view(with_customer_ids(records, identifiers), VIEW_FIELDS)
    lift = None
    if model is not None:
        config = lifted_config(config, model.lifted)
    elif learns(view, config, records_total):
        lift = household_lift(view, config)
        config = lifted_config(config, lift.fields if lift is not None else [])
    personal = _personal(records, identifiers, config, view)
    verdicts = identifier_verdicts(
        records, identifiers, links, config, settled=settled, view=view, personal=personal
    )
    if progress is not None:
        progress("identifiers", verdicts.height, verdicts.height)
        progress("candidate pairs", 0, 1)
    keyed = _keys(identifiers)
    stats: list[BlockingStats] = []
    fuzzy, compared = fuzzy_matches(view, config, block_sizes=block_sizes, stats=stats)
    shared = _identifier_edges(keyed, verdicts, positions, config)
    households = "first_name" in config.scoring.must_agree
    clashing = clashing_pairs(shared, view) if households else None
    learned = learn_aliases(clashing, view) if clashing is not None and model is None else None
    scored = None
    if any(rule.scored for rule in config.fuzzy):
        refused = verdicts.filter(~pl.col("linking"))["key"]
        scored = scored_matches(
            guarded_view(view, records, refused),
            config,
            model=model,
            frequencies=frequencies,
            block_sizes=block_sizes,
            stats=stats,
            records_total=records_total,
            aliases=learned,
            lift=lift,
        )
        compared += scored.compared
        fuzzy = _strongest_first(fuzzy, scored.edges)
    kept_apart = 0
    if clashing is not None:
        aliases = scored.model.aliases if scored is not None else []
        kinds = [str(r.kind) for r in config.identifiers if r.max_names is not None]
        apart = household_pairs(shared, view, alias_frame(aliases), clashing)
        apart &= shared["fields"].is_in(kinds).to_numpy()
        kept_apart = int(apart.sum())
        shared = shared.filter(pl.Series(~apart))
    shared = shared.drop("key")
    parts = [_link_edges(links, positions), shared, fuzzy]
    edges = pl.concat([part.cast(EDGE_COLUMNS) for part in parts])  # type: ignore[arg-type]
    if progress is not None:
        progress("candidate pairs", compared, compared)
    if scored is None:
        return Evidence(edges, verdicts, stats, compared, households=kept_apart, personal=personal)
    return Evidence(
        edges,
        verdicts,
        stats,
        compared,
        scored.model,
        scored.trained,
        scored.vetoed,
        kept_apart,
        personal,
    )


def _strongest_first(fixed: pl.DataFrame, scored: pl.DataFrame) -> pl.DataFrame:
    """Fixed rules' and the model's links in one order: by score (a similarity, a match
    probability), strongest first, then by pair; a pair both found keeps its best link."""
    if not fixed.height:
        return scored
    if not scored.height:
        return fixed
    both = pl.concat([fixed.cast(EDGE_COLUMNS), scored.cast(EDGE_COLUMNS)])  # type: ignore[arg-type]
    return both.sort(
        ["score", "a", "b"], descending=[True, False, False], maintain_order=True
    ).unique(["a", "b"], keep="first", maintain_order=True)
