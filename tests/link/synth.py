"""Synthetic people with typos, for the link tests and the benchmark (own data, seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd

GIVEN = [
    "robert", "william", "elizabeth", "katherine", "james", "john", "mary", "patricia",
    "jennifer", "michael", "david", "richard", "joseph", "thomas", "charles", "daniel",
    "matthew", "anthony", "margaret", "susan", "jessica", "sarah", "karen", "nancy", "lisa",
    "emily", "olivia", "amelia", "charlotte", "isla", "mia", "grace", "harper", "zoe",
    "noah", "oliver", "jack", "leo", "henry", "lucas", "liam", "ethan", "mason", "hugo",
    "benjamin", "samuel", "alexander", "nicholas", "rebecca", "victoria", "hannah",
]  # fmt: skip
NICK = {"robert": "bob", "william": "bill", "elizabeth": "liz", "katherine": "kate",
        "james": "jim", "michael": "mike", "richard": "dick", "thomas": "tom",
        "joseph": "joe", "margaret": "peggy", "benjamin": "ben", "daniel": "dan"}  # fmt: skip
SURNAME_COMMON = ["smith", "jones", "williams", "brown", "wilson", "taylor", "nguyen", "johnson"]
SYLLABLES = [
    "ka", "zo", "bri", "mel", "ton", "ver", "lan", "dro", "ski", "ber",
    "gan", "rus", "pel", "hof", "man", "sen", "ric", "dal", "wen", "tor",
]  # fmt: skip
SUBURBS = ["carlton", "fitzroy", "richmond", "brunswick", "footscray", "hawthorn", "kew",
           "preston", "coburg", "st kilda", "prahran", "toorak", "box hill"]  # fmt: skip
STREETS = ["high", "main", "station", "church", "park", "victoria", "queen", "king", "george"]
KINDS = ["st", "rd", "ave", "cres"]


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 3:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(0, 3)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + "aeiourstn"[int(rng.integers(0, 9))] + word[i + 1 :]


def people(n_people: int, *, seed: int = 0, max_records: int = 4) -> pd.DataFrame:
    """About 2.2 records per person; `person_id` is the truth.

    Records copy their person with: name typos (10%), nicknames (8%), dob digit typos (5%) or
    day/month swaps (3%), postcode typos (5%), moved address (10%), and 10-30% missing values.
    """
    rng = np.random.default_rng(seed)
    surnames = [
        SURNAME_COMMON[int(rng.integers(0, len(SURNAME_COMMON)))]
        if rng.random() < 0.25
        else "".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 4))))
        for _ in range(n_people)
    ]
    rows = []
    record = 0
    for p in range(n_people):
        given = GIVEN[min(int(rng.zipf(1.3)) - 1, len(GIVEN) - 1)]
        surname = surnames[p]
        dob = pd.Timestamp("1940-01-01") + pd.Timedelta(days=int(rng.integers(0, 60 * 365)))
        postcode = f"{int(rng.integers(3000, 3999))}"
        suburb = SUBURBS[int(rng.integers(0, len(SUBURBS)))]
        street = f"{int(rng.integers(1, 200))} {rng.choice(STREETS)} {rng.choice(KINDS)}"
        email = f"{given}.{surname}{int(rng.integers(1, 99))}@example.com"
        phone = f"04{int(rng.integers(10_000_000, 99_999_999))}"
        national_id = f"{int(rng.integers(100_000_000, 999_999_999))}"
        copies = int(rng.integers(1, max_records + 1))
        for _ in range(copies):
            g, s, d = given, surname, dob.strftime("%Y-%m-%d")
            pc, sub, st = postcode, suburb, street
            if rng.random() < 0.08 and g in NICK:
                g = NICK[g]
            if rng.random() < 0.10:
                g = _typo(g, rng)
            if rng.random() < 0.10:
                s = _typo(s, rng)
            roll = rng.random()
            if roll < 0.05:
                pos = int(rng.choice([2, 3, 6, 9]))
                d = d[:pos] + str(int(rng.integers(0, 10))) + d[pos + 1 :]
            elif roll < 0.08 and dob.day <= 12:
                d = dob.strftime("%Y-%d-%m")
            if rng.random() < 0.05:
                pc = pc[:3] + str(int(rng.integers(0, 10)))
            if rng.random() < 0.10:
                pc = f"{int(rng.integers(3000, 3999))}"
                sub = SUBURBS[int(rng.integers(0, len(SUBURBS)))]
                st = f"{int(rng.integers(1, 200))} {rng.choice(STREETS)} {rng.choice(KINDS)}"
            rows.append(
                {
                    "record_id": f"r{record}",
                    "source": str(rng.choice(["crm", "pos", "web"])),
                    "given_name": g.title(),
                    "surname": s.upper() if rng.random() < 0.3 else s.title(),
                    "street": st if rng.random() > 0.1 else None,
                    "suburb": sub,
                    "postcode": pc,
                    "state": "VIC",
                    "dob": d if rng.random() > 0.1 else None,
                    "email": email if rng.random() > 0.3 else None,
                    "phone": phone if rng.random() > 0.3 else None,
                    "national_id": national_id if rng.random() > 0.6 else None,
                    "person_id": f"p{p}",
                }
            )
            record += 1
    return pd.DataFrame(rows)
