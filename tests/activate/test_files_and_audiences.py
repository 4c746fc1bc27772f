"""File and audience destinations, and erasure reaching the audiences a customer was sent to."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from idgraph.activate.config import load_destinations
from idgraph.activate.deliver import drain
from idgraph.activate.status import delivery_status, outbox_size
from idgraph.erasure import forget
from idgraph.errors import ConfigError
from idgraph.query import IdentityGraph
from idgraph.settings import open_store
from tests.activate.conftest import write_config
from tests.conftest import AS_OF, as_of_ms

#: Federica Santoro: a CRM row and a web login (fixtures/README.md).
EMAIL = "federica.santoro@gmail.com"

CONFIG = """\
destinations:
  - name: exports
    kind: file
    folder: out/{fmt}
    format: {fmt}
    segments: [everyone]
    traits: [email, country]
  - name: ads
    kind: audience
    folder: out/ads
    default_region: IT
    segments: [everyone]
"""


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_file_destination_writes_one_file_per_run(
    ran_store: tuple[Path, int], tmp_path: Path, fmt: str
) -> None:
    store, entered = ran_store
    config = load_destinations(write_config(tmp_path, CONFIG.format(fmt=fmt)))
    with open_store(store) as graph:
        drain(graph, config)
        assert outbox_size(graph) == 0
    (written,) = (tmp_path / "out" / fmt).glob(f"everyone-*.{fmt}")
    if fmt == "csv":
        frame = pl.read_csv(written)
    elif fmt == "jsonl":
        frame = pl.read_ndjson(written)
    else:
        frame = pl.read_parquet(written)
    assert frame.height == entered
    assert frame.columns == ["idempotency_key", "customer_id", "change", "reason", "ts", "email",
                             "country"]  # fmt: skip
    assert frame["idempotency_key"].n_unique() == entered


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_audience_hashes_identifiers_and_erasure_removes_them(
    ran_store: tuple[Path, int], tmp_path: Path
) -> None:
    store, entered = ran_store
    config = load_destinations(write_config(tmp_path, CONFIG.format(fmt="csv")))
    with open_store(store) as graph:
        customer = IdentityGraph.over(graph, default_region="IT").lookup(EMAIL)[0]
        held = graph.query(
            "t",
            "MATCH (:Customer {id: $id})-[:HAS_RECORD]->(r:Record) "
            "RETURN r.email AS e, r.phone AS p",
            {"id": customer},
        )
        drain(graph, config)
    ads = tmp_path / "out" / "ads"
    (added,) = ads.glob("*.added.csv")
    rows = pl.read_csv(added)
    assert set(rows.columns) == {"type", "sha256"}
    assert rows["sha256"].str.len_chars().to_list() == [64] * rows.height
    assert rows.height == rows.unique().height  # one row per identifier
    federica = {_sha(r["e"].strip().lower()) for r in held if r["e"]}
    assert federica and federica <= set(rows["sha256"].to_list())
    phones = [r["p"] for r in held if r["p"]]
    assert all(p.startswith("+") for p in phones)  # records keep E.164 already
    assert {_sha(p) for p in phones} <= set(rows["sha256"].to_list())
    assert EMAIL not in added.read_text() and EMAIL not in (ads / ".ledger.json").read_text()

    with open_store(store) as graph:
        forget(graph, EMAIL, default_region="IT", as_of_ms=as_of_ms(AS_OF))
        assert outbox_size(graph) == 1
        drain(graph, config)
        statuses = {s.name: s for s in delivery_status(graph, config)}
    (removed,) = [p for p in ads.glob("*.removed.csv") if pl.read_csv(p).height]
    assert set(pl.read_csv(removed)["sha256"].to_list()) == federica | {_sha(p) for p in phones}
    (exit_file,) = [p for p in (tmp_path / "out" / "csv").glob("*.csv")
                    if "exited" in p.read_text()]  # fmt: skip
    exit_rows = pl.read_csv(exit_file)
    assert exit_rows["customer_id"].to_list() == [customer]
    assert exit_rows["reason"].to_list() == ["erased"]
    assert statuses["ads"].pending == 0 and statuses["ads"].sent == entered + 1


def test_bad_yaml_names_the_file_and_every_location(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "destinations:\n"
        "  - name: Bad Name\n    kind: webhook\n    url: ftp://x\n    segments: []\n"
        "  - name: f\n    kind: sftp\n    segments: [a]\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_destinations(path)
    text = str(caught.value)
    assert str(path) in text
    assert "destinations.0.webhook.name" in text and "destinations.0.webhook.url" in text
    assert "destinations.0.webhook.segments" in text and "destinations.1" in text
    syntax = write_config(tmp_path, "destinations:\n  - name: [\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+"):
        load_destinations(syntax)
