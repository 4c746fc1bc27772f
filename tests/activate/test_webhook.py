"""Webhook delivery against a real loopback receiver: every change arrives, signed, repeats
keep their idempotency key, failures end in the dead-letter file and can be resent."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.activate.config import load_destinations
from idgraph.activate.deliver import drain
from idgraph.activate.status import delivery_status, outbox_size
from idgraph.settings import open_store
from tests.activate.conftest import SECRET, webhook_yaml, write_config
from tests.activate.receiver import Behaviour, Receiver, verifies


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_HOOK_SECRET", SECRET)


def test_every_change_arrives_signed_with_traits(
    ran_store: tuple[Path, int], tmp_path: Path
) -> None:
    store, entered = ran_store
    with Receiver() as hook:
        config = load_destinations(write_config(tmp_path, webhook_yaml(hook.url, batch_size=7)))
        with open_store(store) as graph:
            assert outbox_size(graph) == entered
            report = drain(graph, config)
            assert outbox_size(graph) == 0
            (status,) = delivery_status(graph, config)
    changes = hook.changes()
    assert report.sent == entered == len(changes) == status.sent > 7
    assert status.pending == 0 and status.dead == 0
    assert all(verifies(r, SECRET.encode()) for r in hook.accepted)
    assert len(hook.accepted) == -(-entered // 7)
    assert len({c["idempotency_key"] for c in changes}) == entered
    assert {c["change"] for c in changes} == {"entered"}
    assert all(set(c["traits"]) == {"email", "country"} for c in changes)
    assert any(c["traits"]["email"] for c in changes)
    assert all(r.json["segment"] == "everyone" for r in hook.accepted)


def test_refused_attempts_are_retried_with_the_same_keys(
    ran_store: tuple[Path, int], tmp_path: Path
) -> None:
    store, entered = ran_store
    with Receiver(Behaviour(refuse=3)) as hook:
        yaml = (
            webhook_yaml(hook.url, batch_size=1000) + "    retry: {attempts: 5, backoff_s: 0.01}\n"
        )
        config = load_destinations(write_config(tmp_path, yaml))
        with open_store(store) as graph:
            drain(graph, config)
            (status,) = delivery_status(graph, config)
    assert len(hook.attempts) == 4 and len(hook.accepted) == 1
    keys = [[c["idempotency_key"] for c in r.json["changes"]] for r in hook.attempts]
    assert all(k == keys[0] for k in keys) and len(keys[0]) == entered
    assert len({r.headers["idempotency-key"] for r in hook.attempts}) == 1
    assert status.sent == entered and status.failed == 3 and status.pending == 0
    assert status.last_error == "HTTP 503 Service Unavailable"


def test_slow_then_gone_receiver_dead_letters_then_retry_dead_resends(
    ran_store: tuple[Path, int], tmp_path: Path
) -> None:
    store, entered = ran_store
    slow = Receiver(Behaviour(delay=1.0))
    yaml = webhook_yaml(slow.url, batch_size=1000, timeout_s=0.2)
    yaml += "    retry: {attempts: 2, backoff_s: 0.01}\n"
    config = load_destinations(write_config(tmp_path, yaml))
    with open_store(store) as graph:
        report = drain(graph, config)
        (status,) = delivery_status(graph, config)
        assert outbox_size(graph) == 0  # dead-lettered, so not pending any more
    slow.stop()
    assert report.dead == entered == status.dead and status.sent == 0
    assert "timed out" in (status.last_error or "")
    dead = tmp_path / "dead-letter" / "crm_hook.jsonl"
    assert dead.is_file() and "timed out" in dead.read_text()
    # Gone: nothing listens on the port any more; the entry stays, with the new reason.
    with open_store(store) as graph:
        from idgraph.activate.deliver import Deliverer

        deliverer = Deliverer(graph, config)
        again = deliverer.retry_dead()
        deliverer.close()
    assert again.sent == 0 and again.dead == entered
    assert "Connection refused" in dead.read_text() or "ConnectionRefused" in dead.read_text()
    with Receiver() as hook:
        yaml = (
            webhook_yaml(hook.url, batch_size=1000) + "    retry: {attempts: 2, backoff_s: 0.01}\n"
        )
        config = load_destinations(write_config(tmp_path, yaml))
        with open_store(store) as graph:
            deliverer = Deliverer(graph, config)
            resent = deliverer.retry_dead()
            deliverer.close()
            (status,) = delivery_status(graph, config)
    assert resent.sent == entered and not dead.exists()
    assert status.dead == 0 and status.sent == entered
    assert len(hook.changes()) == entered and all(
        verifies(r, SECRET.encode()) for r in hook.accepted
    )


def test_cli_deliver_and_status_and_the_query_module_agree(
    ran_store: tuple[Path, int], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from idgraph.cli import app
    from idgraph.query import IdentityGraph

    store, entered = ran_store
    runner = CliRunner()
    with Receiver(Behaviour(refuse=1)) as hook:
        yaml = webhook_yaml(hook.url) + "    retry: {attempts: 3, backoff_s: 0.01}\n"
        path = write_config(tmp_path, yaml)
        common = ["--store", str(store), "--destinations", str(path)]
        pending = runner.invoke(app, ["deliver", "status", *common, "-f", "json"])
        assert pending.exit_code == 0, pending.output
        assert json_of(pending.output)[0]["pending"] == entered
        done = runner.invoke(app, ["deliver", *common])
        assert done.exit_code == 0, done.output
        assert f"crm_hook: {entered} sent, 1 failed attempt(s), 0 dead-lettered" in done.output
    shown = runner.invoke(app, ["deliver", "status", *common, "-f", "json"])
    (row,) = json_of(shown.output)
    assert (row["pending"], row["sent"], row["failed"], row["dead"]) == (0, entered, 1, 0)
    with IdentityGraph(store) as graph:
        (status,) = graph.destinations(path)
    assert status.model_dump() == row
    missing = runner.invoke(app, ["deliver", "--store", str(store), "--destinations", "nope.yaml"])
    assert missing.exit_code == 2 and "no destinations file" in missing.output


def json_of(output: str) -> list[dict[str, object]]:
    import json

    return list(json.loads(output[output.index("[") :]))


def test_segment_run_deliver_runs_then_delivers(
    ran_store: tuple[Path, int], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from idgraph.cli import app
    from idgraph.segment.definition import parse_segment
    from idgraph.segment.saved import save_segment

    store, _ = ran_store
    with open_store(store) as graph:
        save_segment(
            graph,
            parse_segment(
                {"name": "italians", "where": {"trait": "country", "op": "=", "value": "IT"}},
                source="-",
            ),
        )
    with Receiver() as hook:
        yaml = webhook_yaml(hook.url).replace("segments: [everyone]", "segments: [italians]")
        path = write_config(tmp_path, yaml)
        ran = CliRunner().invoke(
            app,
            ["segment", "run", "italians", "--store", str(store), "--deliver",
             "--destinations", str(path), "--changes", "-f", "json"],
        )  # fmt: skip
        assert ran.exit_code == 0, ran.output
    changes = hook.changes()
    assert changes and {c["traits"]["country"] for c in changes} == {"IT"}
    assert f"crm_hook: {len(changes)} sent" in ran.output
    with open_store(store) as graph:
        # The "everyone" changes no destination takes now are dropped, not kept pending.
        assert outbox_size(graph) == 0


def test_an_unknown_trait_or_a_missing_secret_stops_delivery_with_a_clear_error(
    ran_store: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from idgraph.cli import app

    store, entered = ran_store
    runner = CliRunner()
    path = write_config(
        tmp_path, webhook_yaml("http://127.0.0.1:9/hook").replace("country]", "lifetime_valu]")
    )
    typo = runner.invoke(app, ["deliver", "--store", str(store), "--destinations", str(path)])
    assert typo.exit_code == 2
    assert "destinations.crm_hook.traits: 'lifetime_valu' is not a customer property" in (
        typo.output
    )
    monkeypatch.delenv("CRM_HOOK_SECRET")
    path = write_config(tmp_path, webhook_yaml("http://127.0.0.1:9/hook"))
    unset = runner.invoke(app, ["deliver", "--store", str(store), "--destinations", str(path)])
    assert unset.exit_code == 2 and "CRM_HOOK_SECRET (secret_env) is not set" in unset.output
    with open_store(store, read_only=True) as graph:
        assert outbox_size(graph) == entered  # nothing was sent, nothing was dropped


def test_status_never_shows_a_batch_both_pending_and_sent(
    ran_store: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery thread marks a batch done between the status's reads of the outbox and of
    the totals (the race `idgraph serve --workers` showed): the status still adds up."""
    from idgraph.activate.outbox import mark_done, read_pending

    store, entered = ran_store
    config = load_destinations(write_config(tmp_path, webhook_yaml("http://127.0.0.1:9/")))
    with open_store(store) as graph:
        (page, *_) = read_pending(graph)
        batch = page[:3]
        reads = graph.query

        def marked_after_the_outbox(name: str, cypher: str, params: object = None) -> object:
            rows = reads(name, cypher, params)  # type: ignore[arg-type]
            if name == "outbox_count" and batch:
                wanted = {"everyone": frozenset({"crm_hook"})}
                mark_done(
                    graph, "crm_hook", batch, wanted, sent=len(batch), dead=0, failed=0,
                    last_error=None, ts=1,
                )  # fmt: skip
                batch.clear()
            return rows

        monkeypatch.setattr(graph, "query", marked_after_the_outbox)
        (status,) = delivery_status(graph, config)
    assert status.sent == 3
    assert status.pending + status.sent == entered
