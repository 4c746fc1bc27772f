"""Deduplicate a people.csv with Splink 4 (DuckDB), for comparison with idgraph's linker.

Run only by the Splink virtual environment (bench/.venv-splink, made by bench/splink_env.py); it
must not import idgraph, so the two tools share nothing but the input file.

Usage: bench/.venv-splink/bin/python bench/splink_run.py PEOPLE_CSV --labels OUT.csv
       --timings OUT.json [--threshold 0.9] [--seed 0] [--max-pairs 1e7]

The model follows Splink's own deduplication tutorials (febrl3, historical_50k, fake_1000):
blocking on pairs of names, date of birth, postcode and on each strong identifier; name,
date-of-birth, email and fuzzy-string comparisons with term-frequency adjustments; lambda from
deterministic rules, u from random sampling, m from EM on two blocking rules; predictions and
clusters at one probability threshold. Writes one row per record (record_id, cluster_id) and a
JSON of wall times and pair counts.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import duckdb
import splink
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import cumulative_comparisons_to_be_scored_from_blocking_rules_data

TEXT_COLUMNS = ["given_name", "surname", "street", "suburb", "state", "dob", "email"]

# Standard preparation a Splink user does before linking: trimmed lower case, empty -> NULL,
# postcode without spaces, phone as its last 9 digits (drops country and trunk prefixes, so
# +44 7951 ... and 07951 ... agree), national id as letters and digits, and the name
# concatenation that ForenameSurnameComparison needs for term frequencies on the full name.
PREPARE_SQL = """
select
    record_id as unique_id,
    {text_columns},
    nullif(replace(lower(trim(postcode)), ' ', ''), '') as postcode,
    nullif(right(regexp_replace(phone, '[^0-9]', '', 'g'), 9), '') as phone,
    nullif(upper(regexp_replace(national_id, '[^0-9A-Za-z]', '', 'g')), '') as national_id,
    nullif(lower(trim(given_name)) || ' ' || lower(trim(surname)), ' ') as name_concat
from read_csv('{path}', all_varchar = true, header = true)
"""

BLOCKING_RULES = [
    block_on("national_id"),
    block_on("email"),
    block_on("phone"),
    block_on("given_name", "surname"),
    block_on("surname", "dob"),
    block_on("given_name", "dob"),
    block_on("postcode", "given_name"),
    block_on("postcode", "surname"),
    block_on("dob", "postcode"),
    block_on("substr(given_name,1,2)", "substr(surname,1,2)", "substr(dob,1,4)"),
]

DETERMINISTIC_RULES = [
    block_on("national_id"),
    block_on("given_name", "surname", "dob"),
    block_on("email", "dob"),
]


def settings() -> SettingsCreator:
    """The linkage model: one comparison per field, the tutorials' comparison choices."""
    return SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        comparisons=[
            cl.ForenameSurnameComparison(
                "given_name", "surname", forename_surname_concat_col_name="name_concat"
            ),
            cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d"),
            cl.EmailComparison("email"),
            cl.DamerauLevenshteinAtThresholds("phone", [1]).configure(
                term_frequency_adjustments=True
            ),
            cl.DamerauLevenshteinAtThresholds("national_id", [2]),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.8]),
            cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run(
    people_csv: Path, *, threshold: float, seed: int, max_pairs: float
) -> tuple[Any, dict[str, Any]]:
    """Train, predict and cluster; return the (unique_id, cluster_id) frame and the timings."""
    con = duckdb.connect()
    text = ",\n    ".join(f"nullif(lower(trim({c})), '') as {c}" for c in TEXT_COLUMNS)
    sql = PREPARE_SQL.format(text_columns=text, path=str(people_csv).replace("'", "''"))
    started = time.perf_counter()
    table = con.sql(sql).df()
    load_s = time.perf_counter() - started

    db_api = DuckDBAPI(connection=con)
    started = time.perf_counter()
    linker = Linker(table, settings(), db_api=db_api, set_up_basic_logging=False)
    linker.training.estimate_probability_two_random_records_match(DETERMINISTIC_RULES, recall=0.7)
    u_started = time.perf_counter()
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    u_sampling_s = time.perf_counter() - u_started
    for rule in (block_on("given_name", "surname"), block_on("dob")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    train_s = time.perf_counter() - started

    started = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    predict_s = time.perf_counter() - started
    started = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    ).as_pandas_dataframe()
    cluster_s = time.perf_counter() - started
    links = int(predictions.as_duckdbpyrelation().aggregate("count(*)").fetchall()[0][0])

    counts = cumulative_comparisons_to_be_scored_from_blocking_rules_data(
        table_or_tables=table,
        blocking_rules=BLOCKING_RULES,
        link_type="dedupe_only",
        db_api=DuckDBAPI(),
    )
    timings = {
        "splink_version": splink.__version__,
        "duckdb_version": duckdb.__version__,
        "records": len(table),
        "load_s": load_s,
        "train_s": train_s,
        "u_sampling_s": u_sampling_s,
        "u_sampling_pairs": max_pairs,
        "predict_s": predict_s,
        "cluster_s": cluster_s,
        "link_s": predict_s + cluster_s,
        "pairs_compared": int(counts["row_count"].sum()),
        "pairs_above_threshold": links,
        "threshold": threshold,
    }
    return clusters[["unique_id", "cluster_id"]], timings


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: read the CSV, run Splink, write labels and timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("people_csv", type=Path)
    parser.add_argument("--labels", type=Path, required=True, help="output CSV of cluster ids")
    parser.add_argument("--timings", type=Path, required=True, help="output JSON of timings")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-pairs", type=float, default=1e7, help="u-sampling pairs")
    parser.add_argument("--verbose", action="store_true", help="show Splink's training log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # Splink warns about every level EM could not observe; useful when tuning, noise here.
    logging.getLogger("splink").setLevel(logging.INFO if args.verbose else logging.ERROR)
    clusters, timings = run(
        args.people_csv, threshold=args.threshold, seed=args.seed, max_pairs=args.max_pairs
    )
    clusters.rename(columns={"unique_id": "record_id"}).to_csv(args.labels, index=False)
    args.timings.write_text(json.dumps(timings, indent=2) + "\n")


if __name__ == "__main__":
    main()
