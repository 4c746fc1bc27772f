"""No silent refusals: a junk lookup says it is junk, `explain` says why two records are apart.

Every case runs on a real embedded store built from real files; the CLI, the query module and
the HTTP service must give the same answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.match.config import load_match_config
from idgraph.normalize.junk import JunkConfig, load_junk_config
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, Overrides, run_ingest
from idgraph.query import IdentityGraph
from tests.conftest import load_truth

runner = CliRunner()
HEADER = "id,first_name,last_name,email,phone,user_id,dob,zip\n"
MAPPING = """\
source: shop
id: id
columns:
  first_name: first_name
  last_name: last_name
  email: email
  phone: phone
  user_id: user_id
  birth_date: dob
  postcode: zip
default_region: IT
"""


def _table(folder: Path, rows: list[str], name: str = "shop") -> Path:
    table = folder / f"{name}.csv"
    table.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    (folder / f"{name}.mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return table


def _ingest(folder: Path, table: Path, **kwargs: object) -> Path:
    store = folder / "idgraph.db"
    run_ingest([table], store=store, rejects_path=folder / "rejects.jsonl", **kwargs)  # type: ignore[arg-type]
    return store


# --- lookups of junk values -------------------------------------------------------------------


@pytest.fixture(scope="module")
def junk_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Anna's record is stored, but her example.com email and 0000000000 phone are junk."""
    folder = tmp_path_factory.mktemp("junk")
    table = _table(
        folder,
        [
            "1,Anna,Verdi,anna.verdi@example.com,0000000000,,,",
            "2,Marco,Neri,info@myshop.it,,,,",
            "3,Lia,Neri,info@myshop.it,,,,",
        ],
    )
    junk = folder / "junk.yaml"
    junk.write_text("kinds:\n  email:\n    values: [info@myshop.it]\n", encoding="utf-8")
    options = NormalizeOptions(default_region="IT", junk=load_junk_config(junk))
    return _ingest(folder, table, options=options)


@pytest.mark.parametrize(
    ("value", "kinds"),
    [
        ("anna.verdi@example.com", ["email"]),
        ("0000000000", ["phone", "user_id", "anonymous_id", "device_id", "customer_id"]),
        (" TEST@test.com ", ["email"]),
    ],
)
def test_lookup_of_a_junk_value_says_it_is_junk(
    junk_store: Path, value: str, kinds: list[str]
) -> None:
    with IdentityGraph(junk_store, default_region="IT") as graph:
        assert graph.lookup(value) == []
        matches = graph.junk_matches(value)
        assert [m.kind for m in matches] == kinds
        assert {m.rule for m in matches} == {"built-in"}
        message = graph.why_not_found(value)
    assert message.startswith(f"no customer found for {value!r}: idgraph treats it as junk")
    assert "JunkConfig" in message and "--junk FILE" in message
    assert "use_defaults: false" in message and "docs/matching.md#junk-values" in message


def test_a_value_that_is_not_junk_gets_the_plain_answer(junk_store: Path) -> None:
    with IdentityGraph(junk_store) as graph:
        assert graph.junk_matches("anna.verdi@gmail.com") == []
        assert graph.why_not_found("anna.verdi@gmail.com") == (
            "no customer found for 'anna.verdi@gmail.com'"
        )


def test_the_junk_config_given_names_its_own_rule(junk_store: Path) -> None:
    extra = JunkConfig.model_validate({"kinds": {"email": {"values": ["info@myshop.it"]}}})
    with IdentityGraph(junk_store) as graph:
        assert graph.junk_matches("info@myshop.it") == []
    with IdentityGraph(junk_store, junk=extra) as graph:
        (match,) = graph.junk_matches("Info@MyShop.it")
        assert (match.kind, match.value, match.rule) == ("email", "info@myshop.it", "kinds.email")
        assert "kinds.email of the junk config" in graph.why_not_found("info@myshop.it")


def test_cli_profile_of_a_junk_value_explains_instead_of_a_bare_not_found(
    junk_store: Path, tmp_path: Path
) -> None:
    store = ["--store", str(junk_store), "--default-region", "IT"]
    anna = runner.invoke(app, ["profile", "shop:1", *store])
    assert anna.exit_code == 0, anna.output  # the record is there, only its email is not
    result = runner.invoke(app, ["profile", "anna.verdi@example.com", *store])
    assert result.exit_code == 2
    assert "treats it as junk, a placeholder email value" in result.output
    assert "JunkConfig" in result.output and "--junk FILE" in result.output
    phone = runner.invoke(app, ["profile", "0000000000", *store])
    assert phone.exit_code == 2 and "placeholder phone" in phone.output
    junk = tmp_path / "junk.yaml"
    junk.write_text("kinds:\n  email:\n    values: [info@myshop.it]\n", encoding="utf-8")
    shop = runner.invoke(app, ["profile", "info@myshop.it", *store, "--junk", str(junk)])
    assert shop.exit_code == 2 and "kinds.email of the junk config" in shop.output


# --- explain: why two records are not one customer ---------------------------------------------


@pytest.fixture(scope="module")
def graph(fixture_store: tuple[Path, IngestReport]) -> IdentityGraph:
    return IdentityGraph(fixture_store[0])


@pytest.mark.parametrize(
    ("a", "b", "identifier", "reason", "setting"),
    [
        (
            "web:user:u-1005",
            "web:user:u-1007",
            "anonymous_id:tab-7f3a",
            "joins 3 distinct user_id (limit 1)",
            "limits.user_id",
        ),
        (
            "crm:C1031",
            "crm:C1034",
            "email:famiglia.greco@libero.it",
            "joins 2 distinct user_id (limit 1)",
            "limits.user_id",
        ),
        (
            "crm:C1026",
            "crm:C1028",
            "phone:+390248192277",
            "joins records with 2 different birth_date",
            "strong_attributes",
        ),
        (
            "pos:LC456719",
            "pos:LC804291",
            "email:cassa.milano@ortensia-store.com",
            "held by 10 different first names (max_names 3)",
            "identifiers[kind=email].max_names",
        ),
    ],
)
def test_explain_gives_each_shared_identifier_that_does_not_link_with_its_reason(
    graph: IdentityGraph, a: str, b: str, identifier: str, reason: str, setting: str
) -> None:
    truth = load_truth()
    assert truth[a] != truth[b]
    path = graph.explain(a, b)
    assert not path.same_customer and path.steps == []
    refusal = next(r for r in path.refusals if r.identifier == identifier)
    assert (refusal.kind, refusal.reason, refusal.setting) == ("identifier", reason, setting)
    assert {a, b} <= set(refusal.records)
    assert setting.split("[")[0] in refusal.change and "match config" in refusal.change
    # The same verdict `profile` shows for the identifier, not a second opinion.
    shown = {
        f"{i.kind}:{i.value}": i.reason for i in graph.profile(path.customer_a or "").identifiers
    }
    assert shown[identifier] == reason


def test_explain_of_one_customer_has_no_refusals(graph: IdentityGraph) -> None:
    path = graph.explain("crm:C1097", "web:user:u-1019")
    assert path.same_customer and path.steps and path.refusals == []


def test_cli_explain_says_why_not_with_the_setting(
    fixture_store: tuple[Path, IngestReport],
) -> None:
    store = ["--store", str(fixture_store[0])]
    result = runner.invoke(app, ["explain", "crm:C1031", "crm:C1034", *store])
    assert result.exit_code == 1
    assert "different customers" in result.output
    assert "email:famiglia.greco@libero.it" in result.output
    assert "joins 2 distinct user_id (limit 1)" in result.output
    assert "setting: limits.user_id" in result.output
    as_json = runner.invoke(app, ["explain", "crm:C1031", "crm:C1034", *store, "-f", "json"])
    assert '"refusals"' in as_json.stdout and "limits.user_id" in as_json.stdout
    strangers = runner.invoke(app, ["explain", "crm:C1003", "crm:C1004", *store])
    assert strangers.exit_code == 1
    assert "share no identifier" in strangers.output


def test_a_linking_identifier_between_two_customers_names_the_guard(tmp_path: Path) -> None:
    """r1 and r2 share a phone that links, but r2 joined r3 (another login) by email first."""
    table = _table(
        tmp_path,
        [
            "r1,Ada,Rossi,,3331234567,u1,,",
            "r2,Ada,Rossi,ada@mail.it,3331234567,,,",
            "r3,Ada,Rossi,ada@mail.it,,u2,,",
        ],
    )
    store = _ingest(tmp_path, table, options=NormalizeOptions(default_region="IT"))
    with IdentityGraph(store) as graph:
        path = graph.explain("shop:r1", "shop:r2")
    assert not path.same_customer
    (refusal,) = [r for r in path.refusals if r.identifier == "phone:+393331234567"]
    assert refusal.kind == "guard"
    assert refusal.reason == "would give one customer 2 distinct user_id (limit 1)"
    assert refusal.setting == "limits.user_id"


def test_an_oversized_block_names_max_block_size(tmp_path: Path) -> None:
    """Two Maria Bianchi at one postcode would match by name and postcode, but the block of
    that key holds three records, over max_block_size 2, so the pair is never compared (the
    shipped `full_name` rule is left out: it would compare them; so is
    `initials_and_postcode`, whose block of the three would be named too)."""
    table = _table(
        tmp_path,
        [
            "1,Maria,Bianchi,,,,,20100",
            "2,Maria,Bianchi,,,,,20100",
            "3,Mario,Bianchi,,,,,20100",
        ],
    )
    shipped = load_match_config()
    rules = [r for r in shipped.fuzzy if r.name not in ("full_name", "initials_and_postcode")]
    config = shipped.model_copy(update={"max_block_size": 2, "fuzzy": rules})
    store = _ingest(tmp_path, table, match_config=config)
    with IdentityGraph(store) as graph:
        default = graph.explain("shop:1", "shop:2")
    assert not default.same_customer and default.refusals == []  # 3 is under the default 200
    with IdentityGraph(store, match_config=config) as graph:
        path = graph.explain("shop:1", "shop:2")
    (refusal,) = path.refusals
    assert refusal.kind == "block" and refusal.setting == "max_block_size"
    assert refusal.identifier == "name_and_postcode:BNX|20100|m"
    assert refusal.reason.startswith("blocking key shared by 3 records (max_block_size 2)")


def test_a_reviewers_split_is_given_as_the_reason(tmp_path: Path) -> None:
    table = _table(tmp_path, ["1,Ugo,Sala,ugo@mail.it,,,,", "2,Ugo,Sala,ugo@mail.it,,,,"])
    store = _ingest(tmp_path, table)
    run_ingest(
        [], store=store, overrides=Overrides(cannot_link=[("shop:1", "shop:2")], reason="twins")
    )
    with IdentityGraph(store) as graph:
        path = graph.explain("shop:1", "shop:2")
    kinds = [r.kind for r in path.refusals]
    assert not path.same_customer
    assert kinds == ["override", "history"], path.refusals
    assert path.refusals[0].reason == "a reviewer split these records apart: twins"
    assert path.refusals[0].setting == "idgraph split"
    assert "split by a reviewer: twins" in path.refusals[1].reason


def test_cli_explain_score_shows_the_models_waterfall(
    fixture_store: tuple[Path, IngestReport],
) -> None:
    """Hélène Lefèvre's two CRM rows (accents dropped in one) agree on names and address."""
    store = ["--store", str(fixture_store[0])]
    result = runner.invoke(app, ["explain", "crm:C1016", "crm:C1423", *store, "--score"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "score: weight" in said and "shipped weights" in said
    for step in (
        "first_name │ exact",
        "last_name │ exact",
        "address │ exact",
        "email_local │ else",
    ):
        assert step in said
    assert "at or above the threshold 0.99" in said and "one customer" in said


def test_cli_explain_score_as_json_is_one_document_with_the_waterfall(
    fixture_store: tuple[Path, IngestReport],
) -> None:
    """`-f json` is for programs: the score goes inside the answer, not after it as a table."""
    store = ["--store", str(fixture_store[0])]
    args = ["explain", "crm:C1016", "crm:C1423", *store, "--score", "-f", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["same_customer"] and answer["steps"]
    score = answer["score"]
    assert score["links"] is True and score["probability"] >= score["threshold"] == 0.99
    levels = {step["field"]: step["level"] for step in score["steps"]}
    assert levels["first_name"] == levels["last_name"] == levels["address"] == "exact"
    total = score["prior_weight"] + sum(step["weight"] for step in score["steps"])
    assert abs(total - score["weight"]) < 1e-9


def test_cli_explain_score_refuses_csv_rather_than_write_a_table_after_it(
    fixture_store: tuple[Path, IngestReport],
) -> None:
    """CSV holds one table: a waterfall printed after the path would break a reader of it."""
    store = ["--store", str(fixture_store[0])]
    args = ["explain", "crm:C1016", "crm:C1423", *store, "--score", "-f", "csv"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "--score" in said and "-f json" in said
    assert "crm:C1016" not in result.stdout


def _namesakes(count: int, start: int = 1) -> list[str]:
    """Maria Bianchi born in a different year each, but for the first two: one person whose
    birth date has a typo, who share nothing else."""
    rows = ["1,Maria,Bianchi,,,,1980-01-01,", "2,Maria,Bianchi,,,,1980-01-07,"]
    rows += [f"{n},Maria,Bianchi,,,,{1930 + n}-05-05," for n in range(3, count + 1)]
    return rows[start - 1 :]


def test_a_rules_own_block_cap_is_kept_by_full_and_incremental_runs(tmp_path: Path) -> None:
    """`full_name` caps its blocks at 10 records: ten Maria Bianchi are compared (the two with
    one birth date link), an eleventh closes the block whether it comes in the same run or
    later, and `explain` names the rule's cap."""
    ten = _ingest(tmp_path / "ten", _table(_made(tmp_path / "ten"), _namesakes(10)))
    with IdentityGraph(ten) as graph:
        assert graph.explain("shop:1", "shop:2").same_customer
    whole = _ingest(tmp_path / "whole", _table(_made(tmp_path / "whole"), _namesakes(11)))
    later = _made(tmp_path / "later")
    store = _ingest(later, _table(later, _namesakes(10)))
    _ingest(later, _table(_made(later / "more"), _namesakes(11, start=11)))
    for built in (whole, store):
        with IdentityGraph(built) as graph:
            path = graph.explain("shop:1", "shop:2")
        assert not path.same_customer
        (refusal,) = [r for r in path.refusals if r.kind == "block"]
        assert refusal.identifier.startswith("full_name:")
        assert refusal.reason.startswith("blocking key shared by 11 records (max_block_size 10")


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
