"""The probabilistic linkage engine from the command line: models and blocking."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from idgraph.cli._app import (
    FormatOption,
    OutputOption,
    _check_format,
    _emit,
    _errors,
    _rows_as,
    blocking_app,
    console,
    model_app,
)

LinkConfigOption = Annotated[
    str,
    typer.Option(
        "--config",
        "-c",
        help="Link config YAML, or the name of a shipped one (people). See docs/linking.md.",
    ),
]


def _read_table(path: Path) -> Any:
    """A CSV as text columns (empty = missing), for the linkage engine."""
    import pandas as pd

    from idgraph.errors import InputError

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(str(exc).splitlines()[0], path=path) from exc


def _link_config(value: str) -> Any:
    from idgraph.link import load_link_config, shipped_link_config

    return load_link_config(value) if Path(value).exists() else shipped_link_config(value)


@model_app.command("train")
def model_train(
    table: Annotated[Path, typer.Argument(help="Records as CSV, one per row.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model (JSON).")],
    config: LinkConfigOption = "people",
    labels: Annotated[
        str | None,
        typer.Option(help="A truth column: learn m from labelled pairs instead of by EM."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the random pairs u is estimated from.")] = 0,
) -> None:
    """Estimate m and u probabilities (and term frequencies) for a link config and save them.

    u comes from random record pairs; m from expectation-maximisation without labels, or from
    labelled pairs with --labels. In Python: idgraph.link.train_model(df, config).
    """
    from idgraph.link import train_model

    with _errors():
        frame = _read_table(table)
        model = train_model(frame, _link_config(config), labels=labels, seed=seed)
        model.save(output)
    console.print(f"saved model to {output} ({len(frame)} records)", highlight=False)


@model_app.command("show")
def model_show(
    path: Annotated[Path, typer.Argument(help="A saved model (JSON).", show_default=False)],
    fmt: FormatOption = "table",
) -> None:
    """Print a model's parameters: per comparison and level, m, u, Bayes factor and weight.

    In Python: idgraph.link.Model.load(path).describe().
    """
    from idgraph.errors import ConfigError
    from idgraph.link import Model

    fmt = _check_format(fmt)
    with _errors():
        try:
            model = Model.load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"not a saved model: {exc}", path=path) from exc
    rows = [
        {
            **row,
            **{
                k: None if row[k] is None else f"{row[k]:.4g}"
                for k in ("m", "u", "bayes_factor", "weight")
                if fmt != "json"
            },
        }
        for row in model.describe()
    ]
    columns = ["comparison", "level", "m", "u", "bayes_factor", "weight"]
    _emit(_rows_as(fmt, columns, rows, f"model {path.name}"), None)


@model_app.command("explain")
def model_explain(
    table: Annotated[Path, typer.Argument(help="Records as CSV, one per row.", show_default=False)],
    record_a: Annotated[str, typer.Argument(help="A record's unique id.", show_default=False)],
    record_b: Annotated[str, typer.Argument(help="Another record's unique id.")],
    model: Annotated[Path, typer.Option("--model", help="A model saved by `model train`.")],
    fmt: FormatOption = "table",
) -> None:
    """Show why two records of a CSV score as they do (a match-weight waterfall).

    The prior, then each comparison's level, the two values and its weight, adding up to the
    match weight and probability; and whether blocking proposes the pair and a guard refuses it.

    In Python: idgraph.link.explain.explain_pair(df, Model.load(path), a, b).
    """
    from dataclasses import asdict

    from idgraph.errors import ConfigError
    from idgraph.link import Model
    from idgraph.link.explain import explain_pair

    fmt = _check_format(fmt)
    with _errors():
        frame = _read_table(table)
        try:
            trained = Model.load(model)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"not a saved model: {exc}", path=model) from exc
        pair = explain_pair(frame, trained, record_a, record_b)
    if fmt == "json":
        data = {**asdict(pair), "links": pair.links}
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    rows: list[dict[str, Any]] = [
        {
            "step": "(prior)",
            "weight": f"{pair.prior_weight:+.2f}",
            "total": f"{pair.prior_weight:+.2f}",
        }
    ]
    rows += [
        {
            "step": s.comparison,
            "level": s.level,
            "a": s.left,
            "b": s.right,
            "weight": f"{s.weight:+.2f}",
            "total": f"{s.cumulative:+.2f}",
        }
        for s in pair.steps
    ]
    columns = ["step", "level", "a", "b", "weight", "total"]
    _emit(_rows_as(fmt, columns, rows, f"{record_a} vs {record_b}"), None)
    verdict = "links" if pair.links else "does not link"
    why = []
    if pair.blocked_by is None:
        why.append("no blocking rule proposes this pair")
    else:
        why.append(f"proposed by blocking rule {pair.blocked_by}")
    if pair.deterministic:
        why.append("a deterministic key agrees")
    if pair.conflict:
        why.append("a guard refuses it (conflicting values)")
    console.print(
        f"weight {pair.weight:+.2f}, probability {pair.probability:.4f} "
        f"(threshold {pair.threshold}): {verdict}; " + "; ".join(why),
        highlight=False,
        markup=False,
    )


@blocking_app.command("report")
def blocking_report_command(
    table: Annotated[Path, typer.Argument(help="Records as CSV, one per row.", show_default=False)],
    config: LinkConfigOption = "people",
    truth: Annotated[
        str | None,
        typer.Option(
            help="A truth column of the table, or a CSV file of (record id, person id) rows: "
            "also report the share of true pairs blocking keeps (pair recall)."
        ),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Report what blocking finds: pairs per rule and, with --truth, pair recall.

    Pairs each rule makes, pairs new to the union, blocks skipped for size, and with --truth
    the true matching pairs kept.

    In Python: idgraph.link.blocking_report(df, config, labels=...).
    """
    from idgraph.link import blocking_report

    fmt = _check_format(fmt)
    with _errors():
        frame = _read_table(table)
        link_config = _link_config(config)
        labels: Any = truth
        if truth is not None and truth not in frame.columns and Path(truth).is_file():
            pairs = _read_table(Path(truth))
            if len(pairs.columns) < 2:
                raise typer.BadParameter(
                    "needs two columns: record id, person id", param_hint="--truth"
                )
            person = dict(zip(pairs.iloc[:, 0], pairs.iloc[:, 1], strict=True))
            ids = frame[link_config.unique_id]
            missing = [i for i in ids if i not in person]
            if missing:
                raise typer.BadParameter(
                    f"{len(missing)} record(s) have no person in {truth}, e.g. {missing[0]!r}",
                    param_hint="--truth",
                )
            labels = ids.map(person)
        report = blocking_report(frame, link_config, labels=labels)
    rows = report.as_rows()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    recall = report.pair_recall
    title = f"blocking: {len(frame)} records" + (
        "" if recall is None else f", pair recall {recall:.4f}"
    )
    _emit(_rows_as(fmt, columns, rows, title), None)


@model_app.command("link")
def link_command(
    table: Annotated[Path, typer.Argument(help="Records as CSV, one per row.", show_default=False)],
    model: Annotated[Path, typer.Option("--model", help="A model saved by `model train`.")],
    output: OutputOption = None,
    threshold: Annotated[
        float | None, typer.Option(help="Match probability to link at; default the config's.")
    ] = None,
) -> None:
    """Cluster the records of a CSV with a trained probabilistic model.

    Writes `unique_id,cluster_id` as CSV and prints the run's counts.

    In Python: idgraph.link.link(df, Model.load(path)).labels.
    """
    from idgraph.errors import ConfigError
    from idgraph.link import Model, link

    with _errors():
        frame = _read_table(table)
        try:
            trained = Model.load(model)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"not a saved model: {exc}", path=model) from exc
        result = link(frame, trained, threshold=threshold)
    unique = trained.config.unique_id
    rows = [
        {unique: rid, "cluster_id": cid}
        for rid, cid in zip(frame[unique], result.labels, strict=True)
    ]
    _emit(_rows_as("csv", [unique, "cluster_id"], rows, ""), output)
    r = result.report
    if r is None:
        return
    console.print(
        f"{r.records} records, {r.candidate_pairs} candidate pairs, {r.links} links, "
        f"{r.clusters} clusters, {len(result.splits)} oversized split(s), "
        f"{r.pairs_per_second:,.0f} pairs/s",
        highlight=False,
    )
