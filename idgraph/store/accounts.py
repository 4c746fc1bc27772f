"""Accounts and memberships from `group` calls, as both stores write them.

A `group` call says that a person (the call's record) belongs to an account (Segment's
`groupId`: a company, a household, a team) and describes the account with `traits`. The store
keeps one `(:Account {id})` per groupId and one `(:Record)-[:MEMBER_OF]->(:Account)` per
person and account. Memberships hang on records, not customers, so they follow the person
through every merge and split, like events do.

An account's traits are those of its newest group call, merged key by key over older ones:
a newer call overwrites the keys it sends and keeps the others; a call older than what the
store holds (a late retry) changes nothing but `first_seen_ts`. `traits` keeps the newest
call's traits as JSON, and every scalar trait is also a property of its own (snake_case, held
to the allowlist pattern), which segments compare (`account:` conditions). Property types
follow the first value seen, as customer traits do: a later value of another kind is
converted to that type, or left out of the column (it stays in `traits`) when it cannot be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl

from idgraph.errors import ConfigError
from idgraph.store.rows import coerce
from idgraph.store.schema import NODE_TABLES, ColumnType, check_property_name

__all__ = ["AccountWrites", "account_writes", "ladybug_account_statement"]

_FIXED = NODE_TABLES["Account"]


@dataclass(frozen=True, slots=True)
class AccountWrites:
    """The rows of one ingest's account writes.

    `accounts` rows hold `id`, `first_seen_ts`, `updated_ts`, `traits` (JSON text) and `props`
    (the trait properties, converted to their column types, `traits` included); `members`
    rows hold `record`, `account`, `since_ts`, `updated_ts`; `new_columns` are the trait
    properties the store does not have yet.
    """

    accounts: list[dict[str, Any]]
    members: list[dict[str, Any]]
    columns: dict[str, ColumnType]
    new_columns: dict[str, ColumnType]


def _kind(value: Any) -> ColumnType:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "DOUBLE"
    return "STRING"


def _allowed(name: str) -> bool:
    if name in _FIXED:
        return False
    try:
        check_property_name(name, what="account trait")
    except ConfigError:
        return False
    return True


def account_writes(groups: pl.DataFrame, existing: Mapping[str, ColumnType]) -> AccountWrites:
    """What the `groups` rows (`idgraph.frames.GROUPS`) write, given the `Account` columns the
    store has (`existing`).

    Examples:
        >>> g = pl.DataFrame(
        ...     {"line": [1, 2], "record_key": ["w:user:u1", "w:user:u2"], "account": ["a", "a"],
        ...      "ts": [5, 9], "traits": ['{"plan":"pro","seats":3.0}', '{"plan":"enterprise"}']}
        ... )
        >>> w = account_writes(g, {})
        >>> w.accounts[0]["props"]["plan"], w.accounts[0]["props"]["seats"], w.new_columns
        ('enterprise', 3.0, {'plan': 'STRING', 'seats': 'DOUBLE'})
        >>> [(m["record"], m["since_ts"]) for m in w.members]
        [('w:user:u1', 5), ('w:user:u2', 9)]
    """
    if groups.height == 0:
        return AccountWrites([], [], dict(existing), {})
    members = (
        groups.group_by("record_key", "account")
        .agg(pl.col("ts").min().alias("since_ts"), pl.col("ts").max().alias("updated_ts"))
        .sort("account", "record_key")
        .rename({"record_key": "record"})
        .to_dicts()
    )
    columns: dict[str, ColumnType] = dict(existing)
    new_columns: dict[str, ColumnType] = {}
    accounts: list[dict[str, Any]] = []
    ordered = groups.sort("account", "ts", "line")
    for (account,), calls in ordered.group_by("account", maintain_order=True):
        merged: dict[str, Any] = {}
        newest = "{}"
        for text in calls["traits"].to_list():
            newest = text or "{}"
            merged.update(orjson.loads(newest))
        props: dict[str, Any] = {"traits": newest}
        for name, value in merged.items():
            if not _allowed(name):
                continue
            kind = columns.get(name)
            if kind is None:
                kind = columns[name] = new_columns[name] = _kind(value)
            converted = coerce(value, kind)
            if converted is not None:
                props[name] = converted
        stamps = calls["ts"]
        accounts.append(
            {
                "id": account,
                "first_seen_ts": stamps.min(),
                "updated_ts": stamps.max(),
                "traits": newest,
                "props": props,
            }
        )
    return AccountWrites(accounts, members, columns, new_columns)


def ladybug_account_statement(columns: Mapping[str, ColumnType]) -> tuple[str, list[str]]:
    """LadybugDB's account upsert for the given trait columns, and the row keys it reads.

    The embedded engine has no `SET a += map`, so each trait column is set on its own from
    `row.c<i>` (column names are back-quoted after the allowlist check; row keys are plain).
    """
    names = [name for name in columns if name not in _FIXED and _allowed(name)]
    sets = ["a.traits = CASE WHEN newer THEN row.traits ELSE a.traits END"]
    for position, name in enumerate(names):
        sets.append(
            f"a.`{name}` = CASE WHEN newer AND row.c{position} IS NOT NULL "
            f"THEN row.c{position} ELSE a.`{name}` END"
        )
    sets.append(
        "a.first_seen_ts = CASE WHEN row.first_seen_ts < a.first_seen_ts "
        "THEN row.first_seen_ts ELSE a.first_seen_ts END"
    )
    sets.append("a.updated_ts = CASE WHEN newer THEN row.updated_ts ELSE a.updated_ts END")
    statement = (
        "UNWIND $rows AS row MERGE (a:Account {id: row.id}) "
        "ON CREATE SET a.first_seen_ts = row.first_seen_ts, a.updated_ts = row.updated_ts "
        "WITH a, row, row.updated_ts >= a.updated_ts AS newer SET " + ", ".join(sets)
    )
    return statement, names
