"""Scored links: the match model judges every candidate pair of the scored blocking rules.

Candidate pairs come from the rules' blocks (one pair once, whichever rules found it); each
gets its Fellegi-Sunter match weight (`idgraph.match.model`) with term-frequency adjusted
exact levels; a pair links when its match probability reaches the threshold and no
`must_agree` field plainly disagrees. The link's fields are the fields that agreed
(`first_name,last_name:typo,address`) and its score the match probability; `idgraph explain
--score` gives each field's weight.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from idgraph.block.keys import BlockingStats, BlockParts, candidate_pair_slices
from idgraph.frames import VALUE_COUNTS
from idgraph.match.config import MatchConfig
from idgraph.match.edges import EDGE_COLUMNS, FUZZY
from idgraph.match.households import alias_frame, no_households
from idgraph.match.levels import FIELD_LEVELS, TYPO_ONLY, ScoringView
from idgraph.match.model import (
    FLOOR,
    MatchModel,
    Training,
    pair_weights,
    probability,
    train_model,
)

__all__ = [
    "COUNTED_FIELDS",
    "COUNTED_VIEW",
    "MODEL_KEY",
    "SCORED_RULE",
    "Frequencies",
    "ScoredMatches",
    "count_rows",
    "counted_frequencies",
    "guarded_view",
    "model_fits",
    "possible_links",
    "scored_matches",
    "shipped_model",
    "value_frequencies",
]

logger = logging.getLogger(__name__)

Ints = npt.NDArray[np.int64]

#: The rule name of a link the model made.
SCORED_RULE = "match_model"
#: The `Meta` key the learned model is kept under in the store.
MODEL_KEY = "match_model"

#: Per field, (value, count) rows of the records holding each value, and their total.
Frequencies = Mapping[str, tuple[pl.DataFrame, int]]


@dataclass(slots=True)
class ScoredMatches:
    """The model's links (strongest first), how many pairs it scored, and the model used."""

    edges: pl.DataFrame
    compared: int
    model: MatchModel
    trained: bool
    vetoed: int = 0


#: The store size the shipped weights' prior is set for (the smallest store that learned its
#: own model until `scoring.min_records` fell to 1,000; kept so small stores link as before).
SHIPPED_PRIOR_RECORDS = 2000


def shipped_model(config: MatchConfig) -> MatchModel:
    """Weights learned on generated people data, for stores too small to learn their own.

    The prior (the chance two records are one person) falls as a store grows: a person has
    a few records while the pairs grow with the square. It is set for a store of
    `SHIPPED_PRIOR_RECORDS` records, at least as many as any store that uses these weights,
    and does not follow the store's size: a link's weight must not change as unrelated
    records arrive, or an incremental run and a full run of the same records would disagree
    on it. The file names the levels it learned; a level or field added since, or one the
    generated data cannot teach (`customer_id`: its ids have no typos), scores 0.
    """
    text = resources.files("idgraph.match").joinpath("shipped_model.json").read_text("utf-8")
    model = MatchModel.from_json(text)
    learned: dict[str, list[str]] = orjson.loads(text).get("levels", {})
    fields = list(config.scoring.fields)
    trained_on = float(str(model.notes.get("records", SHIPPED_PRIOR_RECORDS)))
    size = max(SHIPPED_PRIOR_RECORDS, config.scoring.min_records)

    def placed(table: dict[str, list[float]], name: str) -> list[float]:
        known = dict(zip(learned.get(name, ()), table.get(name, ()), strict=True))
        return [known.get(level, FLOOR) for level in FIELD_LEVELS[name]]

    return MatchModel(
        {f: placed(model.m, f) for f in fields},
        {f: placed(model.u, f) for f in fields},
        min(model.prior * trained_on / size, 0.5),
        {"shipped": True},
    )


def model_fits(model: MatchModel, config: MatchConfig) -> bool:
    """Whether a stored model scores exactly the configured fields with today's levels."""
    fields = list(config.scoring.fields)
    return model.fields == fields and all(len(model.m[f]) == len(FIELD_LEVELS[f]) for f in fields)


def value_frequencies(
    view: pl.DataFrame, fields: Sequence[str]
) -> dict[str, tuple[pl.DataFrame, int]]:
    """How many records hold each value of each scored field (the values its term-frequency
    codes are made of: `address` is street and postcode)."""
    if "address" in fields:
        view = view.with_columns(
            pl.concat_str(["street", "postcode"], separator="|").alias("address")
        )
    out: dict[str, tuple[pl.DataFrame, int]] = {}
    for name in fields:
        counts = (
            view.select(pl.col(name).drop_nulls().value_counts(sort=False))
            .unnest(name)
            .rename({name: "value"})
            .with_columns(pl.col("count").cast(pl.Int64))
        )
        out[name] = (counts, int(counts["count"].sum()))
    return out


#: The fields whose value counts the store keeps: every field the model can score whose exact
#: level weighs anything.
COUNTED_FIELDS = tuple(name for name in FIELD_LEVELS if name not in TYPO_ONLY)
#: The match keys `count_rows` reads (the view columns the counted fields come from).
COUNTED_VIEW = (
    "first_name",
    "last_name",
    "birth_date",
    "email_local",
    "phone",
    "street",
    "postcode",
)
#: The row of a field's value counts that holds its total (no match key is empty).
TOTAL = ""


def count_rows(view: pl.DataFrame) -> pl.DataFrame:
    """How many of `view`'s records hold each value of each counted field, as (field, value,
    count) rows, with each field's total as its `TOTAL` row: the store keeps these and every
    run adds what it changes, so term frequencies never need a pass over every record."""
    parts = []
    for name, (counts, total) in value_frequencies(view, COUNTED_FIELDS).items():
        parts.append(counts.select(pl.lit(name).alias("field"), "value", "count"))
        parts.append(pl.DataFrame({"field": [name], "value": [TOTAL], "count": [total]}))
    return pl.concat([part.cast(VALUE_COUNTS) for part in parts])  # type: ignore[arg-type]


def counted_frequencies(rows: pl.DataFrame, fields: Sequence[str]) -> Frequencies:
    """`Frequencies` of `fields` from (field, value, count) rows holding at least the values
    to be scored and each field's total."""
    out: dict[str, tuple[pl.DataFrame, int]] = {}
    for name in fields:
        if name in TYPO_ONLY:
            continue
        mine = rows.filter(pl.col("field") == name)
        total = mine.filter(pl.col("value") == TOTAL)["count"].sum()
        out[name] = (mine.filter(pl.col("value") != TOTAL).select("value", "count"), int(total))
    return out


def _shares(
    scoring: ScoringView, name: str, frequencies: Frequencies | None
) -> npt.NDArray[np.float64]:
    """Per distinct value of the field's codes, the share of records holding it: of these
    records alone, or of the whole store where `frequencies` holds the store's counts."""
    codes = scoring.tf_codes(name)
    local = codes.counts().astype(np.float64)
    if frequencies is None or name not in frequencies:
        result: npt.NDArray[np.float64] = local / max(local.sum(), 1.0)
        return result
    table, total = frequencies[name]
    stored = (
        pl.DataFrame({"value": codes.values})
        .join(table, on="value", how="left")["count"]
        .fill_null(0)
        .to_numpy()
        .astype(np.float64)
    )
    result = np.maximum(stored, local) / max(float(total), local.sum(), 1.0)
    return result


def _rule_pairs(
    view: pl.DataFrame,
    config: MatchConfig,
    block_sizes: pl.DataFrame | None,
    stats: list[BlockingStats] | None,
) -> list[tuple[frozenset[str] | None, Ints, Ints]]:
    """Each scored rule's pairs, with the fields it blocks on (None: the model does not learn
    from the rule's pairs)."""
    found: list[tuple[frozenset[str] | None, Ints, Ints]] = []
    known = BlockParts(view)
    for rule in config.fuzzy:
        if not rule.scored:
            continue
        slices, rule_stats = candidate_pair_slices(
            view, rule, max_block_size=config.block_cap(rule.name), sizes=block_sizes,
            known=known,
        )  # fmt: skip
        parts = list(slices)
        if stats is not None:
            stats.append(rule_stats)
        a = (
            np.concatenate([p[0] for p in parts]).astype(np.int64)
            if parts
            else np.zeros(0, np.int64)
        )
        b = (
            np.concatenate([p[1] for p in parts]).astype(np.int64)
            if parts
            else np.zeros(0, np.int64)
        )
        found.append((rule.blocked_fields() if rule.train else None, a, b))
    return found


def guarded_view(view: pl.DataFrame, records: pl.DataFrame, refused: pl.Series) -> pl.DataFrame:
    """The view with the email local part and phone blanked where the record's email or
    phone is an identifier a guard stopped (`refused`: its `kind:value` keys): a value shared
    by a shop's till or a family cannot carry a pair in through the model either.
    """
    blanks = []
    for kind, column in (("email", "email_local"), ("phone", "phone")):
        if kind not in records.columns or column not in view.columns:
            continue
        stopped = (pl.lit(f"{kind}:") + records[kind]).is_in(refused.implode()).fill_null(False)
        flags = records.select(stopped.alias("stopped"))["stopped"]
        blanks.append(
            pl.when(flags).then(pl.lit(None, dtype=pl.Utf8)).otherwise(pl.col(column)).alias(column)
        )
    return view.with_columns(blanks) if blanks else view


def _candidates(
    view: pl.DataFrame,
    config: MatchConfig,
    block_sizes: pl.DataFrame | None,
    stats: list[BlockingStats] | None,
) -> tuple[Ints, Ints, list[tuple[frozenset[str], npt.NDArray[np.bool_]]]]:
    """Every candidate pair once (positions a < b), and per scored rule the fields it blocks
    on and which pairs it made (a bit per rule, set by a hash group-by: no sort)."""
    pairs = _rule_pairs(view, config, block_sizes, stats)
    n = np.int64(max(view.height, 1))
    if not pairs:
        empty = np.zeros(0, np.int64)
        return empty, empty, []
    keyed = pl.DataFrame(
        {
            "key": np.concatenate([a * n + b for _, a, b in pairs]),
            "bit": np.concatenate(
                [np.full(len(a), 1 << i, dtype=np.int64) for i, (_, a, _) in enumerate(pairs)]
            ),
        }
    )
    union = keyed.group_by("key").agg(pl.col("bit").sum())
    keys = union["key"].to_numpy()
    bits = union["bit"].to_numpy()
    members = [
        (blocked, (bits & (1 << i)) != 0)
        for i, (blocked, _, _) in enumerate(pairs)
        if blocked is not None
    ]
    return keys // n, keys % n, members


#: How far under the threshold (bits of match weight) a pair may score when an incremental
#: run looks for its scope and still be taken in: the run itself adds its own records to the
#: value counts, which moves a weight a little.
SCOPE_MARGIN = 2.0


@dataclass(frozen=True, slots=True)
class Lift:
    """A learning run's household check (`idgraph.match.households.no_households`): the
    guards it lifts (none where the records hold households), with the counts behind it,
    which the model keeps in its notes."""

    fields: list[str]
    counts: dict[str, int]


def learns(view: pl.DataFrame, config: MatchConfig, records_total: int | None) -> bool:
    """Whether a run over `view` learns its model (given none): a full run over at least
    `scoring.min_records` records, with scored rules."""
    return (
        any(rule.scored for rule in config.fuzzy)
        and view.height >= config.scoring.min_records
        and (records_total is None or records_total == view.height)
    )


#: The strong attributes that keep a household's members apart (a father and a son of one
#: name at one address), lifted with the first-name veto where the data hold no households.
HOUSEHOLD_GUARDS = ("birth_date",)


def household_lift(view: pl.DataFrame, config: MatchConfig) -> Lift | None:
    """The household check of a run that learns its model, or None where it does not apply
    (`scoring.lift_without_households` off, or the first name not a `must_agree` field).

    Records that hold no households lift the first-name veto and the household guards
    among the strong attributes: both are there to keep a family's members apart, and
    where one surname at one address is one person, a first name or a birth date that
    differs is one of that person's records gone wrong."""
    if not checks_households(config):
        return None
    found, counts = no_households(view)
    return lift_of(found, counts, config)


def checks_households(config: MatchConfig) -> bool:
    """Whether a learning run makes the household check: the setting on, and a first-name
    veto there to lift."""
    settings = config.scoring
    return settings.lift_without_households and "first_name" in settings.must_agree


def lift_of(found: bool, counts: dict[str, int], config: MatchConfig) -> Lift:
    """The guards lifted when the check `found` no households (none otherwise)."""
    if not found:
        return Lift([], counts)
    guards = [str(name) for name in config.strong_attributes if name in HOUSEHOLD_GUARDS]
    return Lift(["first_name", *guards], counts)


def lifted_config(config: MatchConfig, lifted: Collection[str]) -> MatchConfig:
    """`config` with the `lifted` fields out of `scoring.must_agree` and `strong_attributes`:
    the config a store whose model lifted them is resolved with (the scored veto, the
    households of shared identifiers and what personal identifiers vouch for read
    `must_agree`; the identifier guards and the clusters read `strong_attributes`)."""
    gone = set(lifted)
    if not gone & {*config.scoring.must_agree, *config.strong_attributes}:
        return config
    kept = [name for name in config.scoring.must_agree if name not in gone]
    scoring = config.scoring.model_copy(update={"must_agree": kept})
    strong = [name for name in config.strong_attributes if name not in gone]
    return config.model_copy(update={"scoring": scoring, "strong_attributes": strong})


def vetoing(config: MatchConfig, model: MatchModel | None) -> list[str]:
    """The `must_agree` fields whose plain disagreement stops a link under `model`: the
    config's, less those the model's data lifted (`MatchModel.lifted`)."""
    lifted = set(model.lifted) if model is not None else set()
    return [str(name) for name in config.scoring.must_agree if name not in lifted]


def possible_links(
    view: pl.DataFrame,
    config: MatchConfig,
    model: MatchModel | None = None,
    frequencies: Frequencies | None = None,
) -> tuple[Ints, Ints]:
    """Candidate pairs of the scored rules that the store's model could link. An incremental
    run takes the stored block mates these pair with a new record into its scope.

    Without a stored model (a small store: the shipped weights), every pair no `must_agree`
    field stops. With one, and the store's value counts (`frequencies`), only pairs that
    score within `SCOPE_MARGIN` of the threshold: two records that share only a common name
    (the `full_name` rule) are no possible link, and their customers need no re-resolving.
    """
    left, right, _ = _candidates(view, config, None, None)
    scoring = ScoringView(view, alias_frame(model.aliases) if model is not None else None)
    fields: list[str] = list(config.scoring.fields)
    levels: dict[str, npt.NDArray[np.int8]] = {
        name: scoring.levels(name, left, right) for name in fields
    }
    keep = np.ones(len(left), dtype=bool)
    for name in vetoing(config, model):
        keep &= levels[name] != len(FIELD_LEVELS[name]) - 1
    if model is not None and model_fits(model, config) and keep.any():
        shares: dict[str, npt.NDArray[np.float64]] = {
            name: _shares(scoring, name, frequencies) for name in fields
        }
        weights, _, _ = pair_weights(model, scoring, left, right, shares, levels)
        threshold = min(config.scoring.threshold, 1 - 1e-12)
        keep &= weights >= math.log2(threshold / (1 - threshold)) - SCOPE_MARGIN
    return left[keep], right[keep]


def _agreements(levels: Mapping[str, npt.NDArray[np.int8]], rows: Ints) -> pl.Series:
    """Each linked pair's agreeing fields, `address:postcode` where the level is not exact
    (`idgraph explain --score` gives every field's weight): short, since every link keeps
    it in the store."""
    columns: dict[str, object] = {}
    steps = []
    for name, found in levels.items():
        agreeing = [lv for lv in FIELD_LEVELS[name] if lv != "else"]
        labels = [name if lv == "exact" else f"{name}:{lv}" for lv in agreeing]
        columns[name] = found[rows].astype(np.int64)
        level = pl.col(name)
        steps.append(
            pl.when((level >= 0) & (level < len(agreeing))).then(
                level.clip(0, len(agreeing) - 1).replace_strict(
                    list(range(len(agreeing))), labels, return_dtype=pl.Utf8
                )
            )
        )
    if not rows.size:
        return pl.Series("fields", [], dtype=pl.Utf8)
    return pl.DataFrame(columns).select(
        pl.concat_str(steps, separator=",", ignore_nulls=True).alias("fields")
    )["fields"]


def scored_matches(
    view: pl.DataFrame,
    config: MatchConfig,
    *,
    model: MatchModel | None = None,
    frequencies: Frequencies | None = None,
    block_sizes: pl.DataFrame | None = None,
    stats: list[BlockingStats] | None = None,
    records_total: int | None = None,
    aliases: pl.DataFrame | None = None,
    lift: Lift | None = None,
) -> ScoredMatches:
    """Score the candidate pairs of the scored rules among the records of `view`.

    Args:
        model: the store's model; None learns one from these records (a full run), or uses
            the shipped weights when they are fewer than `scoring.min_records`.
        frequencies: the whole store's value counts when `view` holds only part of it (an
            incremental run), so a common value stays common.
        block_sizes: store-wide block sizes (as for the fixed rules).
        records_total: the store's records when `view` holds only part of them (the
            shipped weights' prior depends on how many records there are).
        aliases: first-name aliases learned from these records, for a model trained here
            (and kept with it); a given model brings its own, the shipped one has none.
        lift: the run's household check (`household_lift`), for a model trained here to
            keep; `config` is already `lifted_config` by it.
    """
    settings = config.scoring
    fields = list(settings.fields)
    left, right, members = _candidates(view, config, block_sizes, stats)
    trained = model is None and learns(view, config, records_total) and len(left) > 0
    if model is not None:
        aliases = alias_frame(model.aliases)
    elif not trained:
        aliases = None
    scoring = ScoringView(view, aliases)
    levels: dict[str, npt.NDArray[np.int8]] = {
        name: scoring.levels(name, left, right) for name in fields
    }
    if model is None:
        if trained:
            training = Training(settings.random_pairs, settings.max_iterations)
            model = train_model(scoring, fields, levels, members, training)
            model.aliases = aliases.rows() if aliases is not None else []
            if lift is not None:
                model.notes["households"] = {**lift.counts, "found": not lift.fields}
                model.lifted = list(lift.fields)
        else:
            model = shipped_model(config)
    # On a few hundred records every value looks common (a person's two records hold it
    # twice): frequencies mean something only where there is enough data to learn from.
    learned = trained or not model.notes.get("shipped")
    shares: dict[str, npt.NDArray[np.float64]] | None = (
        {name: _shares(scoring, name, frequencies) for name in fields} if learned else None
    )
    weights, levels, _ = pair_weights(model, scoring, left, right, shares, levels)
    chance = probability(weights)
    keep = chance >= settings.threshold
    vetoed = 0
    for name in vetoing(config, model):
        plain = levels[name] == len(FIELD_LEVELS[name]) - 1
        vetoed += int((keep & plain).sum())
        keep &= ~plain
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((right[rows], left[rows], -weights[rows]))]
    edges = pl.DataFrame(
        {
            "a": left[rows],
            "b": right[rows],
            "rule": [SCORED_RULE] * len(rows),
            "fields": _agreements(levels, rows),
            "score": chance[rows],
            "class": np.full(len(rows), FUZZY, dtype=np.int8),
        },
        schema=EDGE_COLUMNS,
    )
    return ScoredMatches(edges, len(left), model, trained, vetoed)
