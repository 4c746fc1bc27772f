"""The synthetic data generator (bench/generate.py, bench/synth/): determinism, shape, truth,
and the noise model measured from the files it writes."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rapidfuzz.distance import OSA

from bench.generate import parse_args, run
from bench.synth import COLUMNS, STABLE_FIELDS, Dataset, NoiseRates, World, generate
from bench.synth.names import COUNTRIES, SURNAMES
from bench.synth.noise import TYPO_KINDS
from bench.synth.people import GIVEN_TABLE, luhn_check_digit
from bench.synth.places import JUNK_EMAILS
from bench.synth.vec import fold, mailbox_keys
from idgraph.ingest.mapping import load_mapping

ROOT = Path(__file__).resolve().parents[2]
N_RATES = 40_000
#: No shared or second mailboxes and every field kept: the corruptions alone, measurable.
PLAIN = World(family_email=0, second_email=0, source_coverage=0)


def read_people(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "people.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def noisy() -> dict[float, tuple[Dataset, pd.DataFrame]]:
    """Datasets at noise 1 and 2, with people.csv as written and read back."""
    out: dict[float, tuple[Dataset, pd.DataFrame]] = {}
    for level in (1.0, 2.0):
        data = generate(N_RATES, seed=11, noise=level, world=PLAIN)
        frame = pd.DataFrame(data.records.columns, dtype=object)
        out[level] = (data, frame)
    return out


@pytest.fixture(scope="module")
def exact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, pd.DataFrame]:
    out = tmp_path_factory.mktemp("exact")
    run(records=6000, seed=3, noise=0.0, out=out, sources=False, world=PLAIN)
    return generate(6000, seed=3, noise=0.0, world=PLAIN), read_people(out)


@pytest.fixture(scope="module")
def with_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sources")
    run(records=2500, seed=8, noise=1.0, out=out, sources=True)
    return out


def files_of(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "manifest.json"}


def stable_manifest(out: Path) -> dict[str, object]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    del manifest["generated_at"], manifest["elapsed_seconds"]
    return manifest


# --- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("sources", [False, True])
def test_same_seed_same_bytes(tmp_path: Path, sources: bool) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    run(records=1500, seed=7, noise=1.0, out=a, sources=sources)
    run(records=1500, seed=7, noise=1.0, out=b, sources=sources)
    assert files_of(a) == files_of(b)
    assert stable_manifest(a) == stable_manifest(b)
    expected = {"people.csv", "truth.csv", "failure_modes.csv"}
    if sources:
        expected |= {"crm.csv", "pos.csv", "support.csv", "web.jsonl", "sources_truth.csv"}
    assert expected <= set(files_of(a))


@pytest.mark.parametrize(("seed", "noise"), [(8, 1.0), (7, 2.0)])
def test_other_seed_or_noise_other_bytes(tmp_path: Path, seed: int, noise: float) -> None:
    run(records=1500, seed=7, noise=1.0, out=tmp_path / "a", sources=False)
    run(records=1500, seed=seed, noise=noise, out=tmp_path / "b", sources=False)
    a = (tmp_path / "a" / "people.csv").read_bytes()
    b = (tmp_path / "b" / "people.csv").read_bytes()
    assert a != b


# --- shape and truth -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_counts_and_columns(tmp_path: Path, n: int) -> None:
    run(records=n, seed=1, noise=1.0, out=tmp_path, sources=False)
    with (tmp_path / "people.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == list(COLUMNS)
    people = read_people(tmp_path)
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str, keep_default_na=False)
    assert len(people) == len(truth) == n
    assert list(truth.columns) == ["record_id", "person_id"]
    assert people["record_id"].is_unique
    assert (truth["record_id"] == people["record_id"]).all()
    assert (truth["person_id"] == people["person_id"]).all()
    assert (people["person_id"] != "").all()
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["records"] == n
    assert manifest["counts"]["people"] == people["person_id"].nunique()
    assert sum(manifest["counts"]["sources"].values()) == n
    assert set(people["source"]) <= set(manifest["counts"]["sources"])


def test_records_per_person_distribution(noisy: dict[float, tuple[Dataset, pd.DataFrame]]) -> None:
    _, frame = noisy[1.0]
    per_person = frame["person_id"].value_counts()
    assert 2.3 <= per_person.mean() <= 2.7
    assert per_person.max() == 6
    share = per_person.value_counts(normalize=True)
    assert share[1] > share[2] > share[3] > share[5]
    assert share[1] > 0.3


def test_dob_is_iso_or_empty(noisy: dict[float, tuple[Dataset, pd.DataFrame]]) -> None:
    _, frame = noisy[2.0]
    dob = frame["dob"]
    present = dob[dob != ""]
    assert present.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert pd.to_datetime(present, format="%Y-%m-%d", errors="coerce").notna().all()


def test_surname_frequencies_vary(noisy: dict[float, tuple[Dataset, pd.DataFrame]]) -> None:
    data, _ = noisy[1.0]
    counts = pd.Series(data.people.surname).value_counts()
    assert counts.index[0] in {name for heads in SURNAMES.values() for name in heads[:6]}
    assert counts.iloc[0] >= 20 * counts.median()
    assert (counts <= 2).sum() >= 100


# --- noise 0: exact copies ------------------------------------------------------------------


def test_noise_zero_exact_copies(exact: tuple[Dataset, pd.DataFrame]) -> None:
    data, people = exact
    for field in STABLE_FIELDS:
        assert (people.groupby("person_id")[field].nunique() == 1).all(), field
        assert (people[field].to_numpy() == data.records.clean[field]).all(), field
    assert (people["dob"] != "").all()
    assert people["phone"].str.fullmatch(r"\+\d{8,13}").all()
    assert all(count == 0 for count in data.records.kinds.values())


def test_national_ids_pass_luhn(exact: tuple[Dataset, pd.DataFrame]) -> None:
    _, people = exact
    ids = people.loc[people["national_id"] != "", "national_id"]
    assert ids.str.fullmatch(r"[1-9]\d{8}").all()
    payload = ids.str[:8].astype(np.int64).to_numpy()
    assert (luhn_check_digit(payload) == ids.str[8].astype(np.int64).to_numpy()).all()
    share = people.drop_duplicates("person_id")["national_id"].ne("").mean()
    assert 0.3 < share < 0.5


# --- noise > 0: corruption kinds at about their rates, measured from the output -------------


def _nickname(given: str, clean: str, index: int) -> bool:
    return given in GIVEN_TABLE.nicknames[index] and given != clean


def _swapped_dob(clean: str) -> str:
    return f"{clean[:4]}-{clean[8:10]}-{clean[5:7]}"


def _measured(data: Dataset, frame: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """kind -> (measured share among eligible records, expected share)."""
    clean = data.records.clean
    rates = data.rates
    p = data.records.person
    out: dict[str, tuple[float, float]] = {}
    for field, kind in (
        ("dob", "dob_missing"),
        ("email", "email_missing"),
        ("phone", "phone_missing"),
        ("given_name", "given_missing"),
    ):
        out[kind] = (float((frame[field] == "").mean()), getattr(rates, kind))
    street_gone = (frame["street"] == "").mean()
    out["address_missing"] = (float(street_gone), rates.address_missing)
    postcode_only = ((frame["postcode"] == "") & (frame["street"] != "")).mean()
    out["postcode_missing"] = (
        float(postcode_only),
        rates.postcode_missing * (1 - rates.address_missing),
    )
    survive = 1 - rates.given_missing - rates.name_swap
    index = data.people.given_index[p]
    has_nick = np.array([len(GIVEN_TABLE.nicknames[i]) > 0 for i in index])
    given = frame["given_name"].to_numpy()
    nick = np.array(
        [
            _nickname(g, c, i) or _nickname(fold(g), c, i)
            for g, c, i in zip(
                given[has_nick], clean["given_name"][has_nick], index[has_nick], strict=True
            )
        ]
    )
    out["given_nickname"] = (
        float(nick.mean()),
        rates.given_nickname * (survive - rates.given_typo),
    )
    plain = frame["surname"].to_numpy()
    folded_clean = np.array([fold(s) for s in clean["surname"]])
    dist = np.array([OSA.distance(fold(a), b) for a, b in zip(plain, folded_clean, strict=True)])
    one_off = (dist == 1) & (plain != "")
    out["surname_typo"] = (
        float(one_off.mean()),
        rates.surname_typo * (1 - rates.surname_missing - rates.name_swap),
    )
    swapped = (frame["given_name"].to_numpy() == clean["surname"]) & (
        frame["surname"].to_numpy() == clean["given_name"]
    )
    out["name_swap"] = (float(swapped.mean()), rates.name_swap * (1 - 0.3 * rates.given_typo))
    dob = frame["dob"].to_numpy()
    cdob = clean["dob"]
    day, month = np.array([c[8:] for c in cdob]), np.array([c[5:7] for c in cdob])
    eligible = (day <= "12") & (day != month)
    swapped_dob = np.array(
        [d == _swapped_dob(c) for d, c in zip(dob[eligible], cdob[eligible], strict=True)]
    )
    out["dob_day_month_swap"] = (
        float(swapped_dob.mean()),
        rates.dob_day_month_swap * (1 - rates.dob_digit) * (1 - rates.dob_missing),
    )
    digit_off = np.array(
        [
            len(d) == 10 and sum(a != b for a, b in zip(d, c, strict=True)) == 1
            for d, c in zip(dob, cdob, strict=True)
        ]
    )
    out["dob_digit"] = (float(digit_off.mean()), rates.dob_digit * (1 - rates.dob_missing))
    new_street = data.people.new_home.street[p]
    moved = (frame["street"].to_numpy() == new_street) & (new_street != clean["street"])
    out["address_moved"] = (
        float(moved.mean()),
        rates.address_moved * 0.5 * (1 - rates.address_missing - rates.street_typo - 0.05),
    )
    email = frame["email"]
    out["email_junk"] = (float(email.isin(JUNK_EMAILS).mean()), rates.email_junk)
    plus = email.str.contains(r"\+[a-z0-9]+@", regex=True).mean()
    out["email_plus_tag"] = (
        float(plus),
        rates.email_variant / 4 * (1 - rates.email_missing - rates.email_junk),
    )
    phone = frame["phone"]
    formatted = (phone != "") & ~phone.str.fullmatch(r"\+\d+")
    out["phone_format"] = (float(formatted.mean()), rates.phone_format * (1 - rates.phone_missing))
    nid, cnid = frame["national_id"].to_numpy(), clean["national_id"]
    holders = cnid != ""
    wrong = np.array(
        [
            len(a) == 9 and sum(x != y for x, y in zip(a, b, strict=True)) == 1
            for a, b in zip(nid, cnid, strict=True)
        ]
    )
    out["national_id_digit"] = (
        float(wrong[holders].mean()),
        rates.national_id_digit * (1 - rates.national_id_missing),
    )
    missing_nid = (nid == "") & holders
    out["national_id_missing"] = (float(missing_nid[holders].mean()), rates.national_id_missing)
    return out


KINDS = (
    "dob_missing",
    "email_missing",
    "phone_missing",
    "given_missing",
    "address_missing",
    "postcode_missing",
    "given_nickname",
    "surname_typo",
    "name_swap",
    "dob_day_month_swap",
    "dob_digit",
    "address_moved",
    "email_junk",
    "email_plus_tag",
    "phone_format",
    "national_id_digit",
    "national_id_missing",
)


@pytest.fixture(scope="module")
def measured(
    noisy: dict[float, tuple[Dataset, pd.DataFrame]],
) -> dict[float, dict[str, tuple[float, float]]]:
    return {level: _measured(*pair) for level, pair in noisy.items()}


@pytest.mark.parametrize("level", [1.0, 2.0])
@pytest.mark.parametrize("kind", KINDS)
def test_corruption_rate_measured_from_output(
    measured: dict[float, dict[str, tuple[float, float]]], level: float, kind: str
) -> None:
    got, expected = measured[level][kind]
    slack = 4 * math.sqrt(expected * (1 - expected) / 2_000) + 0.15 * expected
    assert abs(got - expected) <= slack, (got, expected)


@pytest.mark.parametrize("kind", NoiseRates().as_dict())
def test_rates_scale_with_noise(kind: str) -> None:
    base = NoiseRates().as_dict()[kind]
    assert NoiseRates().scaled(0).as_dict()[kind] == 0
    assert NoiseRates().scaled(2).as_dict()[kind] == pytest.approx(min(2 * base, 0.95))


def test_every_advertised_kind_happens(noisy: dict[float, tuple[Dataset, pd.DataFrame]]) -> None:
    data, _ = noisy[1.0]
    kinds = data.records.kinds
    for kind in NoiseRates().as_dict():
        assert kinds[kind] > 0, kind
    typo_total = sum(kinds[f"typo_{k}"] for k in TYPO_KINDS)
    for name in TYPO_KINDS:
        assert kinds[f"typo_{name}"] > 0.15 * typo_total, name
    for name in ("dots", "plus_tag", "domain", "case"):
        assert kinds[f"email_{name}"] > 0, name


def test_typos_are_one_edit(noisy: dict[float, tuple[Dataset, pd.DataFrame]]) -> None:
    data, frame = noisy[1.0]
    mask = data.records.applied["given_typo"] & ~data.records.applied["given_nickname"]
    mask &= ~data.records.applied["name_swap"] & (frame["given_name"] != "").to_numpy()
    out = frame["given_name"].to_numpy()[mask]
    clean = data.records.clean["given_name"][mask]
    dist = [OSA.distance(fold(a), fold(b)) for a, b in zip(out, clean, strict=True)]
    assert Counter(dist)[1] >= 0.95 * len(dist)


def test_junk_emails_shared_by_strangers(noisy: dict[float, tuple[Dataset, pd.DataFrame]]) -> None:
    _, frame = noisy[1.0]
    junk = frame[frame["email"].isin(JUNK_EMAILS)]
    assert junk.groupby("email")["person_id"].nunique().max() >= 5


# --- households: the hard negatives ---------------------------------------------------------


def test_family_members_share_home_not_identity(
    noisy: dict[float, tuple[Dataset, pd.DataFrame]],
) -> None:
    people = noisy[1.0][0].people
    frame = pd.DataFrame(
        {
            "household": people.household,
            "given": people.given,
            "surname": people.surname,
            "street": people.home.street,
            "postcode": people.home.postcode,
            "landline": people.landline,
            "device": people.device,
            "dob": people.dob,
            "twin": people.twin,
        }
    )
    families = frame[frame.groupby("household")["household"].transform("size") > 1]
    assert families["household"].nunique() > 500
    grouped = families.groupby("household")
    for field in ("surname", "street", "postcode", "landline", "device"):
        assert (grouped[field].nunique() == 1).all(), field
    assert (grouped["given"].nunique() == grouped.size()).all()
    non_twins = families[~families["twin"]]
    assert (
        non_twins.groupby("household")["dob"].nunique() == non_twins.groupby("household").size()
    ).all()
    twins = families[families["twin"]].groupby("household")
    assert twins.ngroups > 10
    assert (twins["dob"].nunique() == 1).all()
    assert (twins["given"].nunique() == 2).all()


def test_family_records_share_address_at_noise_zero(exact: tuple[Dataset, pd.DataFrame]) -> None:
    data, people = exact
    people = people.assign(household=data.people.household[data.records.person])
    members = people.groupby("household")["person_id"].transform("nunique")
    family = people[members > 1].groupby("household")
    assert family.ngroups > 50
    for field in ("surname", "street", "suburb", "postcode"):
        assert (family[field].nunique() == 1).all(), field
    assert (family["given_name"].nunique() == family["person_id"].nunique()).all()


# --- multi-source files ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["crm", "support", "pos"])
def test_source_csv_parses_with_its_mapping(with_sources: Path, name: str) -> None:
    mapping = load_mapping(with_sources / f"{name}.mapping.yaml")
    with (with_sources / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert set(mapping.required_columns()) <= set(rows[0])
    assert mapping.source == name


def test_web_jsonl_parses(with_sources: Path) -> None:
    load_mapping(with_sources / "web.mapping.yaml", stream=True)
    lines = (with_sources / "web.jsonl").read_text(encoding="utf-8").splitlines()
    calls = [json.loads(line) for line in lines]
    kinds = Counter(call["type"] for call in calls)
    assert set(kinds) == {"page", "identify"}
    identified = {
        c["anonymousId"]: c["userId"] for c in calls if c["type"] == "identify" and "userId" in c
    }
    identifies = {c["anonymousId"] for c in calls if c["type"] == "identify"}
    anonymous_pages = {c["anonymousId"] for c in calls if "userId" not in c}
    assert anonymous_pages <= identifies
    assert all(re.fullmatch(r"u-\d{7}", user) for user in identified.values())
    stamps = [c["timestamp"] for c in calls]
    assert stamps == sorted(stamps)
    devices: defaultdict[str, set[str]] = defaultdict(set)
    for call in calls:
        device = call["context"].get("device", {}).get("id")
        if device and "userId" in call:
            devices[device].add(call["userId"])
    assert any(len(users) > 1 for users in devices.values())


def test_sources_truth_keys_unique_and_complete(with_sources: Path) -> None:
    truth = pd.read_csv(with_sources / "sources_truth.csv", dtype=str, keep_default_na=False)
    assert list(truth.columns) == ["record_key", "person_id", "record_id"]
    assert truth["record_key"].is_unique
    people = read_people(with_sources)
    by_record = dict(zip(people["record_id"], people["person_id"], strict=True))
    assert (truth["record_id"].map(by_record) == truth["person_id"]).all()
    crm = pd.read_csv(with_sources / "crm.csv", dtype=str, keep_default_na=False)
    pos = pd.read_csv(with_sources / "pos.csv", dtype=str, keep_default_na=False)
    support = pd.read_csv(with_sources / "support.csv", dtype=str, keep_default_na=False)
    calls = [json.loads(x) for x in (with_sources / "web.jsonl").read_text().splitlines()]
    expected = (
        {f"crm:{x}" for x in crm["customer_number"]}
        | {f"support:{x}" for x in support["contact_id"]}
        | {f"pos:{x}" for x in pos["card_number"]}
        | {f"web:user:{c['userId']}" for c in calls if "userId" in c}
        | {f"web:anon:{c['anonymousId']}" for c in calls if "userId" not in c}
    )
    assert set(truth["record_key"]) == expected
    on_web = people["source"].isin(["web", "newsletter"])
    web_people = people.loc[people["source"] == "web", "person_id"].nunique()
    assert len(truth) == (~on_web).sum() + on_web.sum() + web_people
    assert (pos.groupby("card_number")["email"].nunique() <= 1).all()


# --- CLI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--records", "0", "--out", "x"],
        ["--records", "5", "--out", "x", "--noise", "-1"],
        ["--records", "5"],
    ],
)
def test_cli_rejects_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2


def test_cli_runs_as_a_script(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), "--records", "50", "--seed", "2",
         "--noise", "1", "--out", str(tmp_path), "--sources"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wrote 50 records" in result.stdout
    assert (tmp_path / "sources_truth.csv").exists()


# --- failure modes of real data (defaults: the realistic CDP-shaped set) --------------------


@pytest.fixture(scope="module")
def realistic() -> tuple[Dataset, pd.DataFrame]:
    data = generate(N_RATES, seed=5, noise=1.0)
    return data, pd.DataFrame(data.records.columns, dtype=object)


def test_each_source_keeps_only_the_fields_it_captures(
    realistic: tuple[Dataset, pd.DataFrame],
) -> None:
    _, frame = realistic
    captured = {
        "crm": set(STABLE_FIELDS),
        "pos": {"given_name", "surname", "phone", "email"},
        "web": {"given_name", "surname", "email", "phone", "dob"},
        "newsletter": {"email", "given_name"},
        "support": {"given_name", "surname", "email", "phone", "postcode", "dob", "national_id"},
    }
    assert set(frame["source"]) == set(captured)
    for source, fields in captured.items():
        rows = frame[frame["source"] == source]
        for name in STABLE_FIELDS:
            filled = (rows[name] != "").mean()
            if name in fields:
                assert filled > 0.2, (source, name)
            else:
                assert filled == 0, (source, name)
    newsletter = frame[frame["source"] == "newsletter"]
    assert (newsletter["email"] != "").all()
    assert 0.4 < (newsletter["given_name"] != "").mean() < 0.6
    pos_email = (frame.loc[frame["source"] == "pos", "email"] != "").mean()
    assert 0.5 < pos_email < 0.7


def test_source_coverage_zero_keeps_every_field(
    noisy: dict[float, tuple[Dataset, pd.DataFrame]],
) -> None:
    data, frame = noisy[1.0]
    assert not data.records.applied["source_cut"].any()
    assert (frame.loc[frame["source"] == "newsletter", "street"] != "").mean() > 0.8


def test_family_mailbox_shared_inside_one_household_only(
    realistic: tuple[Dataset, pd.DataFrame],
) -> None:
    data, frame = realistic
    household = data.people.household[data.records.person]
    plain = data.records.applied["family_email"] & ~data.records.applied["email_variant"]
    plain &= ~data.records.applied["email_typo"]
    family = frame.assign(household=household)[plain]
    assert len(family) > 200
    assert family["email"].str.match(r"(famiglia|familie|famille|family|familia)\.").all()
    assert (family.groupby("email")["household"].nunique() == 1).all()
    assert (family.groupby("email")["person_id"].nunique() > 1).sum() > 50


def test_second_mailbox_same_local_part_other_domain(
    realistic: tuple[Dataset, pd.DataFrame],
) -> None:
    data, frame = realistic
    rows = data.records.applied["second_email"] & ~data.records.applied["email_variant"]
    rows &= ~data.records.applied["email_typo"]
    got = frame["email"].to_numpy()[rows]
    first = data.people.email[data.records.person[rows]]
    assert rows.sum() > 500
    for a, b in zip(got, first, strict=True):
        assert a.split("@")[0] == b.split("@")[0] and a.split("@")[1] != b.split("@")[1]
    # Unchanged personal and second mailboxes are never someone else's, as Gmail reads them
    # too (dots ignored). (A record-level `email_variant` at another domain may land on a
    # stranger's mailbox, as in real data.)
    applied = data.records.applied
    own = ~applied["family_email"] & ~applied["email_junk"] & ~applied["email_variant"]
    own &= ~applied["email_typo"] & (frame["email"] != "").to_numpy()
    mine = frame[own]
    boxes = mailbox_keys(mine["email"].to_numpy())
    assert (mine.groupby(boxes)["person_id"].nunique() == 1).all()


def test_same_local_part_at_other_domains_for_different_people(
    realistic: tuple[Dataset, pd.DataFrame],
) -> None:
    data, _ = realistic
    email = pd.Series(data.people.email)
    local, domain = email.str.split("@").str[0], email.str.split("@").str[1]
    shared = pd.DataFrame({"local": local, "domain": domain}).groupby("local")["domain"]
    assert (shared.nunique() > 1).sum() > 30
    assert (shared.nunique() == shared.size()).all()


def test_twins_share_surname_birth_date_home_and_landline(
    realistic: tuple[Dataset, pd.DataFrame],
) -> None:
    people = realistic[0].people
    twins = pd.DataFrame(
        {
            "household": people.household[people.twin],
            "given": people.given[people.twin],
            "surname": people.surname[people.twin],
            "dob": people.dob[people.twin],
            "street": people.home.street[people.twin],
            "phone": people.landline[people.twin],
            "landline": people.uses_landline[people.twin],
        }
    )
    grouped = twins.groupby("household")
    assert grouped.ngroups > 30
    assert (grouped.size() == 2).all()
    for name in ("surname", "dob", "street", "phone"):
        assert (grouped[name].nunique() == 1).all(), name
    assert (grouped["given"].nunique() == 2).all()
    assert twins["landline"].all()


def test_households_of_two_to_five() -> None:
    people = generate(N_RATES, seed=5, world=World(households=0.13)).people
    sizes = np.bincount(people.household)
    assert set(np.unique(sizes)) == {1, 2, 3, 4, 5}
    in_family = sizes[sizes > 1].sum() / people.size
    assert 0.25 < in_family < 0.36
    none = generate(5000, seed=5, world=World(households=0)).people
    assert (np.bincount(none.household) == 1).all()


def test_name_frequencies_heavy_head_long_tail(realistic: tuple[Dataset, pd.DataFrame]) -> None:
    people = realistic[0].people
    frame = pd.DataFrame({"country": people.country, "surname": people.surname})
    for c, code in enumerate(COUNTRIES):
        counts = frame[frame["country"] == c]["surname"].value_counts(normalize=True)
        assert counts.index[0] in SURNAMES[code][:6], (code, counts.index[0])
        assert 0.004 < counts.iloc[0] < 0.03, (c, counts.iloc[0])
        assert len(counts) > 500
    given = pd.Series(people.given).value_counts()
    assert given.iloc[0] > 30 * given.median()


def test_namesakes_grow_faster_than_the_data() -> None:
    from bench.synth.modes import person_modes

    small = person_modes(generate(5000, seed=9))["namesake"].mean()
    large = person_modes(generate(80_000, seed=9))["namesake"].mean()
    assert large > 2 * small


def test_failure_modes_file_tags_every_record(with_sources: Path) -> None:
    modes = pd.read_csv(with_sources / "failure_modes.csv", dtype=str, keep_default_na=False)
    people = read_people(with_sources)
    assert list(modes.columns) == ["record_id", "person_id", "household_id", "modes"]
    assert (modes["record_id"] == people["record_id"]).all()
    assert (modes["person_id"] == people["person_id"]).all()
    tags = modes["modes"].str.split(";")
    # Person-level tags are the same on every record of a person.
    for tag in ("household", "twin", "namesake", "shared_landline"):
        has = tags.map(lambda t, tag=tag: tag in t)
        assert (has.groupby(modes["person_id"]).nunique() == 1).all(), tag
    # A household tag means another person shares the household label.
    household = tags.map(lambda t: "household" in t)
    members = modes.groupby("household_id")["person_id"].transform("nunique")
    assert (household == (members > 1)).all()
    # namesake: another person's records carry the same clean name; a cut name is never tagged.
    cut = tags.map(lambda t: "source_cut" in t)
    assert cut.any()
    assert not (cut & (people["source"] == "crm")).any()
    # A change to a field the source does not capture is not tagged.
    captured = {"dob_digit": {"crm", "support", "web"}, "address_moved": {"crm", "support"}}
    for tag, sources in captured.items():
        has = tags.map(lambda t, tag=tag: tag in t)
        assert has.any(), tag
        assert set(people.loc[has, "source"]) <= sources, tag


def test_sources_newsletter_signups_are_web_identifies(with_sources: Path) -> None:
    calls = [json.loads(x) for x in (with_sources / "web.jsonl").read_text().splitlines()]
    identifies = [c for c in calls if c["type"] == "identify"]
    newsletter = [c for c in identifies if "userId" not in c]
    people = read_people(with_sources)
    assert len(newsletter) == (people["source"] == "newsletter").sum()
    assert all(set(c["traits"]) <= {"email", "firstName"} for c in newsletter)
    assert all("device" not in c["context"] for c in newsletter)
    app = [c for c in identifies if "device" in c["context"]]
    assert app and all(c["userId"].startswith("u-") for c in app)


def test_a_person_logs_in_with_one_user_id(with_sources: Path) -> None:
    truth = pd.read_csv(with_sources / "sources_truth.csv", dtype=str, keep_default_na=False)
    person = dict(zip(truth["record_key"], truth["person_id"], strict=True))
    calls = [json.loads(x) for x in (with_sources / "web.jsonl").read_text().splitlines()]
    users: defaultdict[str, set[str]] = defaultdict(set)
    for call in calls:
        if "userId" in call:
            users[call["userId"]].add(person[f"web:anon:{call['anonymousId']}"])
    assert all(len(owners) == 1 for owners in users.values())
    people = read_people(with_sources)
    logins = people[people["source"] == "web"]
    assert len(users) == logins["person_id"].nunique() < len(logins)
    assert all(person[f"web:user:{user}"] in owners for user, owners in users.items())


# --- --set: every failure mode's rate from the command line ---------------------------------


def test_set_changes_a_rate_and_a_world_setting(tmp_path: Path) -> None:
    args = parse_args(
        ["--records", "9", "--out", "x", "--set", "dob_digit=0.5", "--set", "households=0"]
    )
    assert args.rates.dob_digit == 0.5
    assert args.world.households == 0
    run(records=3000, seed=4, noise=1.0, out=tmp_path, sources=False, rates=args.rates,
        world=args.world)  # fmt: skip
    modes = pd.read_csv(tmp_path / "failure_modes.csv", dtype=str, keep_default_na=False)
    assert not modes["modes"].str.contains("household").any()
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rates"]["dob_digit"] == 0.5
    assert manifest["world"]["households"] == 0


@pytest.mark.parametrize(
    "pair", ["nope=1", "dob_digit", "dob_digit=x", "dob_digit=1.5", "given_tail=2.5", "twins=-1"]
)
def test_set_rejects_bad_pairs(pair: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(["--records", "5", "--out", "x", "--set", pair])
    assert info.value.code == 2
    assert pair.split("=")[0] in capsys.readouterr().err


def test_records_per_person_capped_by_max_records() -> None:
    data = generate(5000, seed=2, world=World(max_records=3), mean_records=1.5)
    assert np.bincount(data.records.person).max() == 3
    with pytest.raises(ValueError, match="max_records"):
        generate(100, seed=2, world=World(max_records=4))
    with pytest.raises(SystemExit):
        parse_args(["--records", "5", "--out", "x", "--mean-records", "4"])
